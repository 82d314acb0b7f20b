package hostnode

import (
	"context"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// Provisioner is the name the StorageClass of the host node's volumes names.
const Provisioner = "hypersdk.io/sandbox-host-path"

// StorageClass is the default StorageClass whose claims the host node's
// provisioner serves with directories of this machine.
func StorageClass(name string) *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       Provisioner,
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimRetain),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate),
	}
}

// provisioner makes a hostPath PersistentVolume for every pending claim of
// its class, bound to that claim; kube-controller-manager completes the
// binding, and the claim's data outlives its pods.
type provisioner struct {
	kube   kubernetes.Interface
	claims corelisters.PersistentVolumeClaimLister
	dir    string
	class  string
}

func (p *provisioner) sync(ctx context.Context) {
	claims, err := p.claims.List(everything)
	if err != nil {
		return
	}
	for _, c := range claims {
		if c.Spec.VolumeName != "" || c.Status.Phase != corev1.ClaimPending || ptr.Deref(c.Spec.StorageClassName, "") != p.class {
			continue
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pvc-" + string(c.UID),
				Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": Provisioner}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: c.Spec.Resources.Requests[corev1.ResourceStorage]},
				AccessModes:                   c.Spec.AccessModes,
				StorageClassName:              p.class,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
					Namespace: c.Namespace, Name: c.Name, UID: c.UID},
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
					Path: filepath.Join(p.dir, string(c.UID)), Type: ptr.To(corev1.HostPathDirectoryOrCreate)}},
			},
		}
		_, err := p.kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			klog.FromContext(ctx).Error(err, "Provisioning a volume", "claim", klog.KObj(c))
		}
	}
}
