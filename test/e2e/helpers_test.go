package e2e

import (
	"context"
	corev1 "k8s.io/api/core/v1"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/test/framework"
)

// kubevirtVM is a KubeVirt VirtualMachine as a KubeVirt user would write it.
func kubevirtVM(name string, cpus uint32, memory string, labels map[string]string) *kvv1.VirtualMachine {
	return &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: kvv1.VirtualMachineSpec{
			RunStrategy: ptr.To(kvv1.RunStrategyAlways),
			Template: &kvv1.VirtualMachineInstanceTemplateSpec{
				Spec: kvv1.VirtualMachineInstanceSpec{
					Domain: kvv1.DomainSpec{
						CPU:    &kvv1.CPU{Cores: cpus},
						Memory: &kvv1.Memory{Guest: ptr.To(resource.MustParse(memory))},
					},
					Volumes: []kvv1.Volume{{Name: "rootdisk", VolumeSource: kvv1.VolumeSource{
						ContainerDisk: &kvv1.ContainerDiskSource{Image: "quay.io/containerdisks/fedora:41"},
					}}},
				},
			},
		},
	}
}

func createKubeVirtVM(t *testing.T, ns string, vm *kvv1.VirtualMachine) *kvv1.VirtualMachine {
	t.Helper()
	created, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Create(context.Background(), vm, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating KubeVirt VM %s: %v", vm.Name, err)
	}
	return created
}

func resourceQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// createRWOVM makes a running VM whose root disk is a ReadWriteOnce claim.
func createRWOVM(t *testing.T, ns, name string) {
	t.Helper()
	createKubeVirtVM(t, ns, withClaimDisk(t, ns, kubevirtVM(name, 1, "1Gi", nil)))
}

// withClaimDisk makes a ReadWriteOnce claim <vm>-root in ns and puts vm's
// root disk on it.
func withClaimDisk(t *testing.T, ns string, vm *kvv1.VirtualMachine) *kvv1.VirtualMachine {
	t.Helper()
	return withClaimDiskOf(t, ns, vm, "")
}

// withClaimDiskOf is withClaimDisk with the claim of a storage class ("":
// none).
func withClaimDiskOf(t *testing.T, ns string, vm *kvv1.VirtualMachine, class string) *kvv1.VirtualMachine {
	t.Helper()
	var className *string
	if class != "" {
		className = &class
	}
	if _, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Create(context.Background(), &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: vm.Name + "-root"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: className,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vm.Spec.Template.Spec.Volumes = []kvv1.Volume{{Name: "rootdisk", VolumeSource: kvv1.VolumeSource{
		PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
			PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: vm.Name + "-root"},
		},
	}}}
	return vm
}

// boundVolume waits for a claim to be bound and returns its volume.
func boundVolume(t *testing.T, ns, claim string) *corev1.PersistentVolume {
	t.Helper()
	var pv *corev1.PersistentVolume
	framework.Eventually(t, "claim "+ns+"/"+claim+" bound", func(ctx context.Context) (bool, error) {
		pvc, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
		if err != nil || pvc.Status.Phase != corev1.ClaimBound {
			return false, err
		}
		pv, err = env.Kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
		return err == nil, err
	})
	return pv
}
