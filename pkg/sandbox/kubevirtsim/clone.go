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
	clonev1 "kubevirt.io/api/clone/v1beta1"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// syncClone clones as KubeVirt does, by snapshot and restore: a temporary
// snapshot of the source VM (skipped when the source is a snapshot), a
// restore onto the new VM, then the label and annotation filters and new MAC
// addresses; the temporary objects go away at the end.
func (s *Simulator) syncClone(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := s.cloneInformer.GetIndexer().GetByKey(key.String())
	if err != nil || !exists {
		return err
	}
	clone := obj.(*clonev1.VirtualMachineClone)
	if clone.DeletionTimestamp != nil || clone.Status.Phase == clonev1.Succeeded || clone.Status.Phase == clonev1.Failed {
		return nil
	}
	updated := clone.DeepCopy()
	st := &updated.Status
	now := s.now()
	fail := func(msg string) {
		st.Phase = clonev1.Failed
		st.Conditions = setCloneCondition(st.Conditions, clonev1.ConditionReady, corev1.ConditionFalse, "Failed", msg, now)
		st.Conditions = setCloneCondition(st.Conditions, clonev1.ConditionProgressing, corev1.ConditionFalse, "Failed", msg, now)
	}
	snaps := s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(clone.Namespace)
	restores := s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineRestores(clone.Namespace)
	target := fmt.Sprintf("clone-%s", clone.UID[:8])
	if clone.Spec.Target != nil && clone.Spec.Target.Name != "" {
		target = clone.Spec.Target.Name
	}

	switch st.Phase {
	case clonev1.PhaseUnset:
		if clone.Spec.Source == nil {
			fail("spec.source is required")
			break
		}
		if _, err := s.cfg.KubeVirt.KubevirtV1().VirtualMachines(clone.Namespace).Get(ctx, target, metav1.GetOptions{}); err == nil {
			fail(fmt.Sprintf("target VirtualMachine %s already exists", target))
			break
		}
		st.CreationTime = &now
		st.TargetName = ptr.To(target)
		st.Conditions = setCloneCondition(st.Conditions, clonev1.ConditionProgressing, corev1.ConditionTrue, "Progressing", "", now)
		st.Conditions = setCloneCondition(st.Conditions, clonev1.ConditionReady, corev1.ConditionFalse, "Progressing", "", now)
		switch clone.Spec.Source.Kind {
		case "VirtualMachine":
			snap := &snapshotv1.VirtualMachineSnapshot{
				ObjectMeta: metav1.ObjectMeta{Name: "tmp-snapshot-" + string(clone.UID), Namespace: clone.Namespace},
				Spec: snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{
					APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: clone.Spec.Source.Name,
				}},
			}
			if _, err := snaps.Create(ctx, snap, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
			st.SnapshotName = ptr.To(snap.Name)
			st.Phase = clonev1.SnapshotInProgress
		case "VirtualMachineSnapshot":
			st.SnapshotName = ptr.To(clone.Spec.Source.Name)
			st.Phase = clonev1.CreatingTargetVM
		default:
			fail(fmt.Sprintf("cannot clone a %s", clone.Spec.Source.Kind))
		}
	case clonev1.SnapshotInProgress:
		snap, err := snaps.Get(ctx, *st.SnapshotName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch {
		case snap.Status != nil && snap.Status.Phase == snapshotv1.Failed:
			fail("snapshot of the source failed")
		case snap.Status != nil && snap.Status.ReadyToUse != nil && *snap.Status.ReadyToUse:
			st.Phase = clonev1.CreatingTargetVM
		}
	case clonev1.CreatingTargetVM:
		restore := &snapshotv1.VirtualMachineRestore{
			ObjectMeta: metav1.ObjectMeta{Name: "tmp-restore-" + string(clone.UID), Namespace: clone.Namespace},
			Spec: snapshotv1.VirtualMachineRestoreSpec{
				Target:                     corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: target},
				VirtualMachineSnapshotName: *st.SnapshotName,
			},
		}
		if _, err := restores.Create(ctx, restore, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		st.RestoreName = ptr.To(restore.Name)
		st.Phase = clonev1.RestoreInProgress
	case clonev1.RestoreInProgress:
		restore, err := restores.Get(ctx, *st.RestoreName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if restore.Status == nil || restore.Status.Complete == nil || !*restore.Status.Complete {
			break
		}
		if err := s.applyCloneFilters(ctx, clone, target); err != nil {
			return err
		}
		if clone.Spec.Source.Kind == "VirtualMachine" {
			_ = snaps.Delete(ctx, *st.SnapshotName, metav1.DeleteOptions{})
		}
		_ = restores.Delete(ctx, *st.RestoreName, metav1.DeleteOptions{})
		st.Phase = clonev1.Succeeded
		st.Conditions = setCloneCondition(st.Conditions, clonev1.ConditionProgressing, corev1.ConditionFalse, "Succeeded", "", now)
		st.Conditions = setCloneCondition(st.Conditions, clonev1.ConditionReady, corev1.ConditionTrue, "Succeeded", "", now)
	}
	if equality.Semantic.DeepEqual(clone.Status, updated.Status) {
		// Waiting on the snapshot or restore: look again shortly.
		s.clones.after(key, s.cfg.StepDelay)
		return nil
	}
	_, err = s.cfg.KubeVirt.CloneV1beta1().VirtualMachineClones(clone.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreNotFound(err)
}

// applyCloneFilters keeps only the labels and annotations the filters select
// and gives interfaces their new MAC addresses.
func (s *Simulator) applyCloneFilters(ctx context.Context, clone *clonev1.VirtualMachineClone, target string) error {
	vms := s.cfg.KubeVirt.KubevirtV1().VirtualMachines(clone.Namespace)
	vm, err := vms.Get(ctx, target, metav1.GetOptions{})
	if err != nil {
		return err
	}
	vm.Labels = kubevirt.FilterKeys(vm.Labels, clone.Spec.LabelFilters)
	vm.Annotations = kubevirt.FilterKeys(vm.Annotations, clone.Spec.AnnotationFilters)
	if t := vm.Spec.Template; t != nil {
		t.ObjectMeta.Labels = kubevirt.FilterKeys(t.ObjectMeta.Labels, clone.Spec.Template.LabelFilters)
		t.ObjectMeta.Annotations = kubevirt.FilterKeys(t.ObjectMeta.Annotations, clone.Spec.Template.AnnotationFilters)
		for i, iface := range t.Spec.Domain.Devices.Interfaces {
			if mac, ok := clone.Spec.NewMacAddresses[iface.Name]; ok {
				t.Spec.Domain.Devices.Interfaces[i].MacAddress = mac
			} else if iface.MacAddress != "" {
				t.Spec.Domain.Devices.Interfaces[i].MacAddress = "" // a clone never reuses the source's MAC
			}
		}
	}
	_, err = vms.Update(ctx, vm, metav1.UpdateOptions{})
	return err
}

func setCloneCondition(conds []clonev1.Condition, typ clonev1.ConditionType, status corev1.ConditionStatus, reason, msg string, now metav1.Time) []clonev1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			if conds[i].Status != status {
				conds[i].LastTransitionTime = now
			}
			conds[i].Status, conds[i].Reason, conds[i].Message = status, reason, msg
			return conds
		}
	}
	return append(conds, clonev1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: now})
}
