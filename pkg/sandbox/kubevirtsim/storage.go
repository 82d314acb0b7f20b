package kubevirtsim

import (
	"context"
	"fmt"
	"strings"

	snapshotapi "github.com/kubernetes-csi/external-snapshotter/client/v4/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// The simulated storage is what a CSI driver with snapshot support and CDI
// give KubeVirt on a real cluster: every claim gets its own volume (a
// PersistentVolume the simulator provisions and kube-controller-manager
// binds), a VolumeSnapshot keeps what a volume held, and a claim or
// DataVolume restored from a snapshot gets a new volume holding that. What a
// volume holds is a name, in an annotation, since no bytes exist here.
const (
	// StorageDriver is the CSI driver name of simulated volumes.
	StorageDriver = "sim.hypersdk.io"
	// ContentAnnotation on a PersistentVolume or VolumeSnapshot names the data
	// it holds: the handle of the volume the data was first written to,
	// carried through snapshots to every copy.
	ContentAnnotation = "sandbox.hypersdk.io/content"
	// RestoredFromAnnotation on a PersistentVolume names the VolumeSnapshot
	// (namespace/name) it was restored from, or "claim namespace/name" it
	// was cloned from.
	RestoredFromAnnotation = "sandbox.hypersdk.io/restored-from"
	// populateFromAnnotation on a claim CDI made for a DataVolume names the
	// VolumeSnapshot (namespace/name) it is populated from, which may be in
	// another namespace, as CDI's cross-namespace clone allows.
	populateFromAnnotation = "sandbox.hypersdk.io/populate-from"
	// populateFromClaimAnnotation names the claim (namespace/name) a
	// DataVolume with a claim source copies.
	populateFromClaimAnnotation = "sandbox.hypersdk.io/populate-from-claim"
	// ClonedFromAnnotation on a PersistentVolume names the volume it is a
	// CSI clone of: it shares that volume's blocks copy-on-write.
	ClonedFromAnnotation    = "sandbox.hypersdk.io/cloned-from"
	provisionedByAnnotation = "pv.kubernetes.io/provisioned-by"
	volumeSnapshotKind      = "VolumeSnapshot"
)

// syncClaim provisions a volume for a claim that has none, as a CSI
// external-provisioner does: a PersistentVolume bound in advance to the
// claim (kube-controller-manager completes the binding), empty or restored
// from the claim's VolumeSnapshot source once that is ready.
func (s *Simulator) syncClaim(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := s.pvcInformer.GetIndexer().GetByKey(key.String())
	if err != nil || !exists {
		return err
	}
	pvc := obj.(*corev1.PersistentVolumeClaim)
	if pvc.DeletionTimestamp != nil || pvc.Spec.VolumeName != "" || !s.provisions(pvc) {
		return nil
	}
	name := "pvc-" + string(pvc.UID)
	if _, ok, _ := s.pvInformer.GetIndexer().GetByKey(name); ok {
		return nil
	}
	content, from, clonedFrom := "vol-"+string(pvc.UID), "", ""
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if ref := pvc.Spec.DataSource; ref != nil && ref.Kind == "PersistentVolumeClaim" && ptr.Deref(ref.APIGroup, "") == "" {
		// CSI volume cloning: the new volume shares the source's blocks.
		obj, ok, _ := s.pvcInformer.GetIndexer().GetByKey(pvc.Namespace + "/" + ref.Name)
		if !ok || obj.(*corev1.PersistentVolumeClaim).Spec.VolumeName == "" {
			s.claims.after(key, s.cfg.StepDelay)
			return nil // the external-provisioner waits for its source
		}
		srcPV, err := s.cfg.Kube.CoreV1().PersistentVolumes().Get(ctx, obj.(*corev1.PersistentVolumeClaim).Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		content, clonedFrom = srcPV.Annotations[ContentAnnotation], srcPV.Name
	} else if source := pvc.Annotations[populateFromClaimAnnotation]; source != "" {
		ns, claim, _ := strings.Cut(source, "/")
		src, err := s.cfg.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
		if err == nil && src.Spec.VolumeName != "" {
			srcPV, err := s.cfg.Kube.CoreV1().PersistentVolumes().Get(ctx, src.Spec.VolumeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			content, from = srcPV.Annotations[ContentAnnotation], "claim "+source
		} else if err != nil && !apierrors.IsNotFound(err) {
			return err
		} else {
			s.claims.after(key, s.cfg.StepDelay)
			return nil // CDI waits for the source claim
		}
	} else if source := restoreSource(pvc); source != "" {
		ns, vsName, _ := strings.Cut(source, "/")
		vs, err := s.cfg.VolumeSnapshots.SnapshotV1().VolumeSnapshots(ns).Get(ctx, vsName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			s.claims.after(key, s.cfg.StepDelay)
			return nil // the snapshot may yet appear, as CSI waits for it
		}
		if err != nil {
			return err
		}
		if vs.Status == nil || !ptr.Deref(vs.Status.ReadyToUse, false) {
			s.claims.after(key, s.cfg.StepDelay)
			return nil
		}
		content, from = vs.Annotations[ContentAnnotation], source
		if r := vs.Status.RestoreSize; r != nil && size.Cmp(*r) < 0 {
			size = r.DeepCopy()
		}
	}
	accessModes := pvc.Spec.AccessModes
	if len(accessModes) == 0 {
		accessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
			provisionedByAnnotation: StorageDriver, ContentAnnotation: content,
		}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   accessModes,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              ptr.Deref(pvc.Spec.StorageClassName, ""),
			VolumeMode:                    pvc.Spec.VolumeMode,
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: StorageDriver, VolumeHandle: "vol-" + string(pvc.UID),
			}},
		},
	}
	if from != "" {
		pv.Annotations[RestoredFromAnnotation] = from
	}
	if clonedFrom != "" {
		pv.Annotations[ClonedFromAnnotation] = clonedFrom
	}
	if _, err := s.cfg.Kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("provisioning a volume for claim %s: %w", key, err)
	}
	return nil
}

// provisions says whether a claim is the simulated driver's: one without a
// storage class, or of a class it provisions.
func (s *Simulator) provisions(pvc *corev1.PersistentVolumeClaim) bool {
	class := ptr.Deref(pvc.Spec.StorageClassName, "")
	if class == "" {
		return true
	}
	obj, ok, _ := s.classInformer.GetIndexer().GetByKey(class)
	return ok && obj.(*storagev1.StorageClass).Provisioner == StorageDriver
}

// syncStorageProfile publishes, as CDI does, a StorageProfile for each
// storage class (and deletes it with the class) saying how it clones: csi-clone for the simulated driver's
// classes (it clones volumes copy-on-write), a full copy for any other, or
// what the profile's spec asks for.
func (s *Simulator) syncStorageProfile(ctx context.Context, key cache.ObjectName) error {
	profiles := s.cfg.CDI.CdiV1beta1().StorageProfiles()
	obj, exists, err := s.classInformer.GetIndexer().GetByKey(key.Name)
	if err != nil {
		return err
	}
	if !exists {
		return ignoreNotFound(profiles.Delete(ctx, key.Name, metav1.DeleteOptions{}))
	}
	class := obj.(*storagev1.StorageClass)
	profile, err := profiles.Get(ctx, class.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		profile, err = profiles.Create(ctx, &cdiv1.StorageProfile{ObjectMeta: metav1.ObjectMeta{Name: class.Name}}, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("storage profile of %s: %w", class.Name, err)
	}
	strategy := cdiv1.CloneStrategyHostAssisted
	if class.Provisioner == StorageDriver {
		strategy = cdiv1.CloneStrategyCsiClone
	}
	if profile.Spec.CloneStrategy != nil {
		strategy = *profile.Spec.CloneStrategy
	}
	want := cdiv1.StorageProfileStatus{StorageClass: ptr.To(class.Name), Provisioner: ptr.To(class.Provisioner), CloneStrategy: ptr.To(strategy)}
	if equality.Semantic.DeepEqual(profile.Status, want) {
		return nil
	}
	profile.Status = want
	_, err = profiles.UpdateStatus(ctx, profile, metav1.UpdateOptions{})
	return err
}

// cloneStrategy is how CDI clones a claim of class: its profile's strategy.
func (s *Simulator) cloneStrategy(ctx context.Context, class string) cdiv1.CDICloneStrategy {
	profile, err := s.cfg.CDI.CdiV1beta1().StorageProfiles().Get(ctx, class, metav1.GetOptions{})
	if err != nil || profile.Status.CloneStrategy == nil {
		return cdiv1.CloneStrategyHostAssisted
	}
	return *profile.Status.CloneStrategy
}

// restoreSource is the VolumeSnapshot (namespace/name) a claim is to be
// populated from, or "".
func restoreSource(pvc *corev1.PersistentVolumeClaim) string {
	if from := pvc.Annotations[populateFromAnnotation]; from != "" {
		return from
	}
	if ref := pvc.Spec.DataSourceRef; ref != nil && ref.Kind == volumeSnapshotKind && ptr.Deref(ref.APIGroup, "") == snapshotapi.GroupName {
		return ptr.Deref(ref.Namespace, pvc.Namespace) + "/" + ref.Name
	}
	if ref := pvc.Spec.DataSource; ref != nil && ref.Kind == volumeSnapshotKind && ptr.Deref(ref.APIGroup, "") == snapshotapi.GroupName {
		return pvc.Namespace + "/" + ref.Name
	}
	return ""
}

// syncVolume deletes a simulated volume whose claim is gone, as the CSI
// external-provisioner does for the Delete reclaim policy.
func (s *Simulator) syncVolume(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := s.pvInformer.GetIndexer().GetByKey(key.Name)
	if err != nil || !exists {
		return err
	}
	pv := obj.(*corev1.PersistentVolume)
	if pv.Annotations[provisionedByAnnotation] != StorageDriver || pv.DeletionTimestamp != nil ||
		pv.Status.Phase != corev1.VolumeReleased || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	err = s.cfg.Kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pv.UID}})
	return ignoreNotFound(err)
}

// snapshotVolume takes a VolumeSnapshot of a VM's claim for a snapshot
// content, owned by the content as virt-controller makes it, and ready at
// once as a CSI snapshotter with instant snapshots reports it. It holds the
// claim's volume's content; a claim not yet bound cannot be snapshotted.
func (s *Simulator) snapshotVolume(ctx context.Context, owner metav1.OwnerReference, namespace, name, claim string) error {
	snaps := s.cfg.VolumeSnapshots.SnapshotV1().VolumeSnapshots(namespace)
	if _, err := snaps.Get(ctx, name, metav1.GetOptions{}); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	pvc, err := s.cfg.Kube.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("snapshotting volume %s: %w", claim, err)
	}
	if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
		return fmt.Errorf("snapshotting volume %s: the claim is not bound yet", claim)
	}
	pv, err := s.cfg.Kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("snapshotting volume %s: %w", claim, err)
	}
	vs, err := snaps.Create(ctx, &snapshotapi.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, OwnerReferences: []metav1.OwnerReference{owner},
			Annotations: map[string]string{ContentAnnotation: pv.Annotations[ContentAnnotation]}},
		Spec: snapshotapi.VolumeSnapshotSpec{Source: snapshotapi.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To(claim)}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating VolumeSnapshot of %s: %w", claim, err)
	}
	now := s.now()
	size := pv.Spec.Capacity[corev1.ResourceStorage]
	vs.Status = &snapshotapi.VolumeSnapshotStatus{ReadyToUse: ptr.To(true), CreationTime: &now, RestoreSize: &size}
	_, err = snaps.UpdateStatus(ctx, vs, metav1.UpdateOptions{})
	return err
}

// syncDataVolume populates a DataVolume's claim as CDI does: a claim of the
// DataVolume's name, owned by it, restored from a VolumeSnapshot source
// (in any namespace), copied from a claim source, else empty; the
// DataVolume Succeeds when its claim is bound.
func (s *Simulator) syncDataVolume(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := s.dvInformer.GetIndexer().GetByKey(key.String())
	if err != nil || !exists {
		return err
	}
	dv := obj.(*cdiv1.DataVolume)
	if dv.DeletionTimestamp != nil {
		return nil
	}
	var pvc *corev1.PersistentVolumeClaim
	if obj, ok, _ := s.pvcInformer.GetIndexer().GetByKey(key.String()); ok {
		pvc = obj.(*corev1.PersistentVolumeClaim)
	} else if pvc, err = s.createDataVolumeClaim(ctx, dv); err != nil {
		return err
	}
	updated := dv.DeepCopy()
	st := &updated.Status
	st.ClaimName = dv.Name
	now := s.now()
	switch {
	case pvc.Status.Phase == corev1.ClaimBound:
		st.Phase, st.Progress = cdiv1.Succeeded, "100.0%"
		st.Conditions = setDVCondition(st.Conditions, cdiv1.DataVolumeBound, corev1.ConditionTrue, "Bound", "PVC "+dv.Name+" Bound", now)
		st.Conditions = setDVCondition(st.Conditions, cdiv1.DataVolumeReady, corev1.ConditionTrue, "", "", now)
		st.Conditions = setDVCondition(st.Conditions, cdiv1.DataVolumeRunning, corev1.ConditionFalse, "Completed", "", now)
	default:
		st.Phase, st.Progress = dataVolumeInProgress(dv), "N/A"
		st.Conditions = setDVCondition(st.Conditions, cdiv1.DataVolumeBound, corev1.ConditionFalse, "Pending", "PVC "+dv.Name+" Pending", now)
		st.Conditions = setDVCondition(st.Conditions, cdiv1.DataVolumeReady, corev1.ConditionFalse, "", "", now)
		st.Conditions = setDVCondition(st.Conditions, cdiv1.DataVolumeRunning, corev1.ConditionTrue, "Populating", "", now)
	}
	if equality.Semantic.DeepEqual(dv.Status, updated.Status) {
		return nil
	}
	_, err = s.cfg.CDI.CdiV1beta1().DataVolumes(dv.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreNotFound(err)
}

func dataVolumeInProgress(dv *cdiv1.DataVolume) cdiv1.DataVolumePhase {
	switch src := dv.Spec.Source; {
	case src != nil && src.Snapshot != nil:
		return cdiv1.CloneFromSnapshotSourceInProgress
	case src != nil && src.PVC != nil:
		return cdiv1.CloneInProgress
	}
	return cdiv1.ImportInProgress
}

// createDataVolumeClaim makes the claim a DataVolume describes: restored
// from a snapshot source, a CSI clone of a claim source in its namespace
// when the class's profile says csi-clone, else a copy of it, else (an
// import, a blank disk) a new volume.
func (s *Simulator) createDataVolumeClaim(ctx context.Context, dv *cdiv1.DataVolume) (*corev1.PersistentVolumeClaim, error) {
	spec := corev1.PersistentVolumeClaimSpec{}
	switch {
	case dv.Spec.Storage != nil:
		st := dv.Spec.Storage
		spec.AccessModes, spec.Resources, spec.StorageClassName, spec.VolumeMode = st.AccessModes, st.Resources, st.StorageClassName, st.VolumeMode
	case dv.Spec.PVC != nil:
		spec = *dv.Spec.PVC.DeepCopy()
	}
	annotations := map[string]string{}
	if src := dv.Spec.Source; src != nil && src.Snapshot != nil {
		ns := src.Snapshot.Namespace
		if ns == "" {
			ns = dv.Namespace
		}
		annotations[populateFromAnnotation] = ns + "/" + src.Snapshot.Name
	}
	if src := dv.Spec.Source; src != nil && src.PVC != nil {
		ns := src.PVC.Namespace
		if ns == "" {
			ns = dv.Namespace
		}
		if ns == dv.Namespace && s.cloneStrategy(ctx, ptr.Deref(spec.StorageClassName, "")) == cdiv1.CloneStrategyCsiClone {
			// CDI's csi-clone: the claim names its source, and the CSI
			// driver clones the volume.
			spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: src.PVC.Name}
		} else {
			annotations[populateFromClaimAnnotation] = ns + "/" + src.PVC.Name
		}
	}
	if _, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	}
	pvc, err := s.cfg.Kube.CoreV1().PersistentVolumeClaims(dv.Namespace).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: dv.Name, Namespace: dv.Namespace, Annotations: annotations,
			Labels:          map[string]string{"app": "containerized-data-importer"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(dv, cdiv1.SchemeGroupVersion.WithKind("DataVolume"))}},
		Spec: spec,
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating the claim of DataVolume %s/%s: %w", dv.Namespace, dv.Name, err)
	}
	return pvc, nil
}

func setDVCondition(conds []cdiv1.DataVolumeCondition, typ cdiv1.DataVolumeConditionType, status corev1.ConditionStatus, reason, msg string, now metav1.Time) []cdiv1.DataVolumeCondition {
	for i := range conds {
		if conds[i].Type == typ {
			if conds[i].Status != status {
				conds[i].LastTransitionTime = now
			}
			conds[i].Status, conds[i].Reason, conds[i].Message = status, reason, msg
			return conds
		}
	}
	return append(conds, cdiv1.DataVolumeCondition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: now})
}

// dataVolumesReady creates the DataVolumes of a VM's dataVolumeTemplates
// that do not exist (owned by the VM, as virt-controller makes them) and
// says whether every DataVolume the VM's disks use has Succeeded, which
// KubeVirt waits for before it starts the VM.
func (s *Simulator) dataVolumesReady(ctx context.Context, vm *kvv1.VirtualMachine) (bool, error) {
	for _, t := range vm.Spec.DataVolumeTemplates {
		if _, ok, _ := s.dvInformer.GetIndexer().GetByKey(vm.Namespace + "/" + t.Name); ok {
			continue
		}
		_, err := s.cfg.CDI.CdiV1beta1().DataVolumes(vm.Namespace).Create(ctx, &cdiv1.DataVolume{
			ObjectMeta: metav1.ObjectMeta{Name: t.Name, Namespace: vm.Namespace, Labels: t.Labels, Annotations: t.Annotations,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(vm, kvv1.GroupVersion.WithKind("VirtualMachine"))}},
			Spec: *t.Spec.DeepCopy(),
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("creating DataVolume %s: %w", t.Name, err)
		}
	}
	for _, v := range vm.Spec.Template.Spec.Volumes {
		if v.DataVolume == nil {
			continue
		}
		obj, ok, _ := s.dvInformer.GetIndexer().GetByKey(vm.Namespace + "/" + v.DataVolume.Name)
		if !ok || obj.(*cdiv1.DataVolume).Status.Phase != cdiv1.Succeeded {
			return false, nil
		}
	}
	return true, nil
}
