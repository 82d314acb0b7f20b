package kubevirtsim

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	snapshotapi "github.com/kubernetes-csi/external-snapshotter/client/v4/apis/volumesnapshot/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// syncSnapshot takes a VirtualMachineSnapshot: InProgress, then a
// VirtualMachineSnapshotContent holding the VM's definition and its volumes'
// backups, then Succeeded and ReadyToUse, as virt-controller does.
func (s *Simulator) syncSnapshot(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := s.snapshotInformer.GetIndexer().GetByKey(key.String())
	if err != nil || !exists {
		return err
	}
	snap := obj.(*snapshotv1.VirtualMachineSnapshot)
	if snap.DeletionTimestamp != nil || snap.Status != nil && (snap.Status.Phase == snapshotv1.Succeeded || snap.Status.Phase == snapshotv1.Failed) {
		return nil
	}
	updated := snap.DeepCopy()
	if updated.Status == nil {
		updated.Status = &snapshotv1.VirtualMachineSnapshotStatus{}
	}
	st := updated.Status
	now := s.now()
	switch {
	case snap.Spec.Source.Kind != "VirtualMachine":
		st.Phase = snapshotv1.Failed
		st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionFailure, corev1.ConditionTrue, "InvalidSource",
			fmt.Sprintf("cannot snapshot a %s", snap.Spec.Source.Kind), now)
	case st.Phase == snapshotv1.PhaseUnset:
		st.Phase = snapshotv1.InProgress
		st.ReadyToUse = ptr.To(false)
		st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionProgressing, corev1.ConditionTrue, "Operation in progress", "", now)
		st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionReady, corev1.ConditionFalse, "Not ready", "", now)
		s.snapshots.after(key, s.cfg.StepDelay)
	default:
		vmObj, ok, err := s.vmInformer.GetIndexer().GetByKey(snap.Namespace + "/" + snap.Spec.Source.Name)
		if err != nil {
			return err
		}
		if !ok {
			st.Phase = snapshotv1.Failed
			st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionFailure, corev1.ConditionTrue, "SourceNotFound",
				fmt.Sprintf("VirtualMachine %s does not exist", snap.Spec.Source.Name), now)
			break
		}
		vm := vmObj.(*kvv1.VirtualMachine)
		content, err := s.ensureSnapshotContent(ctx, snap, vm)
		if err != nil {
			return err
		}
		st.SourceUID = ptr.To(vm.UID)
		st.VirtualMachineSnapshotContentName = ptr.To(content.Name)
		st.CreationTime = &now
		st.ReadyToUse = ptr.To(true)
		st.Phase = snapshotv1.Succeeded
		st.Indications, st.SourceIndications = s.snapshotIndications(vm)
		st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionProgressing, corev1.ConditionFalse, "Operation complete", "", now)
		st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionReady, corev1.ConditionTrue, "Operation complete", "", now)
	}
	if equality.Semantic.DeepEqual(snap.Status, updated.Status) {
		return nil
	}
	_, err = s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(snap.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreNotFound(err)
}

// snapshotIndications says how the VM was when it was snapshotted, as
// virt-controller does: a running VM is snapshotted online, its file systems
// frozen through the guest agent when one is connected.
func (s *Simulator) snapshotIndications(vm *kvv1.VirtualMachine) ([]snapshotv1.Indication, []snapshotv1.SourceIndication) {
	vmi := s.runningVMI(vm.Namespace, vm.Name)
	if vmi == nil {
		return nil, nil
	}
	ind := []snapshotv1.SourceIndication{{Indication: snapshotv1.VMSnapshotOnlineSnapshotIndication,
		Message: "the snapshot was taken while the VM was running"}}
	if hasCondition(vmi, kvv1.VirtualMachineInstanceAgentConnected) {
		ind = append(ind, snapshotv1.SourceIndication{Indication: snapshotv1.VMSnapshotGuestAgentIndication,
			Message: "the guest file systems were frozen through the guest agent"})
	} else {
		ind = append(ind, snapshotv1.SourceIndication{Indication: snapshotv1.VMSnapshotNoGuestAgentIndication,
			Message: "no guest agent: the snapshot is crash-consistent"})
	}
	if hasCondition(vmi, kvv1.VirtualMachineInstancePaused) {
		ind = append(ind, snapshotv1.SourceIndication{Indication: snapshotv1.VMSnapshotPausedIndication, Message: "the VM was paused"})
	}
	var legacy []snapshotv1.Indication
	for _, i := range ind {
		legacy = append(legacy, i.Indication)
	}
	return legacy, ind
}

func (s *Simulator) ensureSnapshotContent(ctx context.Context, snap *snapshotv1.VirtualMachineSnapshot, vm *kvv1.VirtualMachine) (*snapshotv1.VirtualMachineSnapshotContent, error) {
	contents := s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshotContents(snap.Namespace)
	name := "vmsnapshot-content-" + string(snap.UID)
	existing, err := contents.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		if ptr.Deref(existing.Status, snapshotv1.VirtualMachineSnapshotContentStatus{}).ReadyToUse != nil {
			return existing, nil
		}
		return s.snapshotVolumes(ctx, existing)
	} else if !apierrors.IsNotFound(err) {
		return nil, err
	}
	var backups []snapshotv1.VolumeBackup
	if vm.Spec.Template != nil {
		for _, v := range vm.Spec.Template.Spec.Volumes {
			claim, ok := kubevirt.ClaimOf(v)
			if !ok {
				continue // container disks are images: nothing to back up
			}
			// The backup keeps the claim as it was, so a restore can make
			// one like it.
			pvc, err := s.cfg.Kube.CoreV1().PersistentVolumeClaims(vm.Namespace).Get(ctx, claim, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			backups = append(backups, snapshotv1.VolumeBackup{
				VolumeName: v.Name,
				PersistentVolumeClaim: snapshotv1.PersistentVolumeClaim{
					ObjectMeta: metav1.ObjectMeta{Name: claim, Labels: pvc.Labels},
					Spec:       *pvc.Spec.DeepCopy(),
				},
				VolumeSnapshotName: ptr.To(fmt.Sprintf("vmsnapshot-%s-volume-%s", snap.UID, v.Name)),
			})
		}
	}
	content := &snapshotv1.VirtualMachineSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: snap.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(snap,
				snapshotv1.SchemeGroupVersion.WithKind("VirtualMachineSnapshot"))},
		},
		Spec: snapshotv1.VirtualMachineSnapshotContentSpec{
			VirtualMachineSnapshotName: ptr.To(snap.Name),
			Source: snapshotv1.SourceSpec{VirtualMachine: &snapshotv1.VirtualMachine{
				ObjectMeta: metav1.ObjectMeta{Name: vm.Name, Namespace: vm.Namespace, UID: vm.UID,
					Labels: vm.Labels, Annotations: vm.Annotations},
				Spec: *vm.Spec.DeepCopy(),
			}},
			VolumeBackups: backups,
		},
	}
	created, err := contents.Create(ctx, content, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating snapshot content: %w", err)
	}
	return s.snapshotVolumes(ctx, created)
}

// snapshotVolumes takes the VolumeSnapshots a content's volume backups name,
// owned by the content, then marks the content ready.
func (s *Simulator) snapshotVolumes(ctx context.Context, content *snapshotv1.VirtualMachineSnapshotContent) (*snapshotv1.VirtualMachineSnapshotContent, error) {
	owner := *metav1.NewControllerRef(content, snapshotv1.SchemeGroupVersion.WithKind("VirtualMachineSnapshotContent"))
	for _, b := range content.Spec.VolumeBackups {
		if err := s.snapshotVolume(ctx, owner, content.Namespace, ptr.Deref(b.VolumeSnapshotName, ""), b.PersistentVolumeClaim.Name); err != nil {
			return nil, err
		}
	}
	now := s.now()
	content.Status = &snapshotv1.VirtualMachineSnapshotContentStatus{CreationTime: &now, ReadyToUse: ptr.To(true)}
	return s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshotContents(content.Namespace).UpdateStatus(ctx, content, metav1.UpdateOptions{})
}

// syncRestore restores a snapshot's VM definition onto its target: a new VM
// (stopped) when the target does not exist, else the target's spec, which
// must not be running, as KubeVirt requires.
func (s *Simulator) syncRestore(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := s.restoreInformer.GetIndexer().GetByKey(key.String())
	if err != nil || !exists {
		return err
	}
	restore := obj.(*snapshotv1.VirtualMachineRestore)
	if restore.DeletionTimestamp != nil || restore.Status != nil && restore.Status.Complete != nil && *restore.Status.Complete {
		return nil
	}
	updated := restore.DeepCopy()
	if updated.Status == nil {
		updated.Status = &snapshotv1.VirtualMachineRestoreStatus{Complete: ptr.To(false)}
	}
	st := updated.Status
	now := s.now()
	progressing := func(reason string) {
		st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionProgressing, corev1.ConditionTrue, reason, "", now)
		st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionReady, corev1.ConditionFalse, reason, "", now)
	}
	vm, err := s.restoredVM(ctx, restore)
	switch {
	case err != nil:
		progressing(err.Error())
		s.restores.after(key, s.cfg.StepDelay)
	case vm == nil:
		progressing("Operation in progress")
		s.restores.after(key, s.cfg.StepDelay)
	default:
		st.Complete = ptr.To(true)
		st.RestoreTime = &now
		st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionProgressing, corev1.ConditionFalse, "Operation complete", "", now)
		st.Conditions = setSnapshotCondition(st.Conditions, snapshotv1.ConditionReady, corev1.ConditionTrue, "Operation complete", "", now)
	}
	if equality.Semantic.DeepEqual(restore.Status, updated.Status) {
		return nil
	}
	_, err = s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineRestores(restore.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreNotFound(err)
}

// restoredVM writes the snapshot onto the target and returns it, or nil with
// a reason to wait.
func (s *Simulator) restoredVM(ctx context.Context, restore *snapshotv1.VirtualMachineRestore) (*kvv1.VirtualMachine, error) {
	snapObj, ok, err := s.snapshotInformer.GetIndexer().GetByKey(restore.Namespace + "/" + restore.Spec.VirtualMachineSnapshotName)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("waiting for snapshot %s", restore.Spec.VirtualMachineSnapshotName)
	}
	snap := snapObj.(*snapshotv1.VirtualMachineSnapshot)
	if snap.Status == nil || snap.Status.ReadyToUse == nil || !*snap.Status.ReadyToUse || snap.Status.VirtualMachineSnapshotContentName == nil {
		return nil, fmt.Errorf("waiting for snapshot %s to be ready", snap.Name)
	}
	content, err := s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshotContents(restore.Namespace).Get(ctx,
		*snap.Status.VirtualMachineSnapshotContentName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	source := content.Spec.Source.VirtualMachine
	vms := s.cfg.KubeVirt.KubevirtV1().VirtualMachines(restore.Namespace)
	target, err := vms.Get(ctx, restore.Spec.Target.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		annotations := map[string]string{}
		for k, v := range source.Annotations {
			annotations[k] = v
		}
		annotations[kubevirt.LastRestoreAnnotation] = kubevirt.RestoreMark(restore.Name, restore.UID)
		vm := &kvv1.VirtualMachine{
			ObjectMeta: metav1.ObjectMeta{Name: restore.Spec.Target.Name, Namespace: restore.Namespace,
				Labels: source.Labels, Annotations: annotations},
			Spec: *source.Spec.DeepCopy(),
		}
		// A restored copy starts stopped; whoever asked starts it. Its
		// disks are new claims restored from the volume backups.
		vm.Spec.Running = nil
		vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
		restoredClaims(vm, content, restore)
		if target, err = vms.Create(ctx, vm, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		return target, s.restoreClaims(ctx, target, content, restore)
	}
	if err != nil {
		return nil, err
	}
	if kubevirt.RestoredBy(target, restore.Name, restore.UID) {
		return target, s.restoreClaims(ctx, target, content, restore)
	}
	if vmiObj, running, _ := s.vmiInformer.GetIndexer().GetByKey(restore.Namespace + "/" + target.Name); running && !vmiObj.(*kvv1.VirtualMachineInstance).IsFinal() {
		return nil, fmt.Errorf("waiting for VirtualMachine %s to stop", target.Name)
	}
	keep := target.Spec.RunStrategy
	target.Spec = *source.Spec.DeepCopy()
	target.Spec.Running, target.Spec.RunStrategy = nil, keep
	if target.Annotations == nil {
		target.Annotations = map[string]string{}
	}
	target.Annotations[kubevirt.LastRestoreAnnotation] = kubevirt.RestoreMark(restore.Name, restore.UID)
	return vms.Update(ctx, target, metav1.UpdateOptions{})
}

// restoredClaimName is the claim a restore makes for a volume, as
// virt-controller names it.
func restoredClaimName(restore *snapshotv1.VirtualMachineRestore, volume string) string {
	return fmt.Sprintf("restore-%s-%s", restore.UID, volume)
}

// restoredClaims points the volumes of a VM restored as new at the claims
// the restore makes, and drops the DataVolume templates they came from.
func restoredClaims(vm *kvv1.VirtualMachine, content *snapshotv1.VirtualMachineSnapshotContent, restore *snapshotv1.VirtualMachineRestore) {
	replaced := map[string]bool{}
	for _, b := range content.Spec.VolumeBackups {
		for i := range vm.Spec.Template.Spec.Volumes {
			v := &vm.Spec.Template.Spec.Volumes[i]
			if v.Name != b.VolumeName {
				continue
			}
			if v.DataVolume != nil {
				replaced[v.DataVolume.Name] = true
			}
			v.VolumeSource = kvv1.VolumeSource{PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
				PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: restoredClaimName(restore, v.Name)},
			}}
		}
	}
	templates := vm.Spec.DataVolumeTemplates[:0]
	for _, t := range vm.Spec.DataVolumeTemplates {
		if !replaced[t.Name] {
			templates = append(templates, t)
		}
	}
	vm.Spec.DataVolumeTemplates = templates
}

// restoreClaims makes, for a VM restored as new, a claim per volume backup
// from its VolumeSnapshot, owned by the VM so they go with it, and reports
// until they are bound.
func (s *Simulator) restoreClaims(ctx context.Context, vm *kvv1.VirtualMachine, content *snapshotv1.VirtualMachineSnapshotContent, restore *snapshotv1.VirtualMachineRestore) error {
	claims := s.cfg.Kube.CoreV1().PersistentVolumeClaims(vm.Namespace)
	for _, b := range content.Spec.VolumeBackups {
		spec := b.PersistentVolumeClaim.Spec.DeepCopy()
		spec.VolumeName, spec.DataSource = "", nil
		spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ptr.To(snapshotapi.GroupName), Kind: volumeSnapshotKind, Name: ptr.Deref(b.VolumeSnapshotName, "")}
		_, err := claims.Create(ctx, &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: restoredClaimName(restore, b.VolumeName), Labels: b.PersistentVolumeClaim.Labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(vm, kvv1.GroupVersion.WithKind("VirtualMachine"))}},
			Spec: *spec,
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("restoring volume %s: %w", b.VolumeName, err)
		}
	}
	// The restore is complete once every volume is: its snapshot may go then.
	for _, b := range content.Spec.VolumeBackups {
		name := restoredClaimName(restore, b.VolumeName)
		obj, ok, _ := s.pvcInformer.GetIndexer().GetByKey(vm.Namespace + "/" + name)
		if !ok || obj.(*corev1.PersistentVolumeClaim).Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("waiting for restored volume %s to be bound", name)
		}
	}
	return nil
}

func setSnapshotCondition(conds []snapshotv1.Condition, typ snapshotv1.ConditionType, status corev1.ConditionStatus, reason, msg string, now metav1.Time) []snapshotv1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			if conds[i].Status != status {
				conds[i].LastTransitionTime = now
			}
			conds[i].Status, conds[i].Reason, conds[i].Message = status, reason, msg
			return conds
		}
	}
	return append(conds, snapshotv1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: now})
}
