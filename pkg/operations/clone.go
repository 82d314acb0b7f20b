package operations

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clonev1 "kubevirt.io/api/clone/v1beta1"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// clone copies a VM (or one of its snapshots) to a new VM. Within a
// namespace KubeVirt's VirtualMachineClone does it; across namespaces, which
// KubeVirt's clone cannot, HyperSDK snapshots the source and creates the VM
// from the snapshot's content in the target namespace. Then, optionally, the
// clone starts.
func (e *Executor) clone(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	spec := op.Spec.Clone
	targetNS := spec.TargetNamespace
	if targetNS == "" {
		targetNS = op.Namespace
	}
	if recorded(op, "VirtualMachine", "clone") == nil {
		var s step
		var err error
		if targetNS == op.Namespace {
			s, err = e.cloneInNamespace(ctx, op)
		} else {
			s, err = e.cloneAcross(ctx, op, targetNS)
		}
		if err != nil || !s.done || s.failed != nil {
			return s, err
		}
		vm, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(targetNS).Get(ctx, spec.TargetName, metav1.GetOptions{})
		if err != nil {
			return step{}, err
		}
		if spec.LinkedClone {
			// Real linked clones share the source's disks copy-on-write
			// through the storage driver; KubeVirt has no such flag, so the
			// relation is recorded where tools can see it.
			if vm.Annotations == nil {
				vm.Annotations = map[string]string{}
			}
			vm.Annotations[linkedCloneAnnotation] = op.Namespace + "/" + op.Spec.VMName
			if vm, err = e.cfg.KubeVirt.KubevirtV1().VirtualMachines(targetNS).Update(ctx, vm, metav1.UpdateOptions{}); err != nil {
				return step{}, err
			}
		}
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachine", APIVersion: kvv1.GroupVersion.String(),
			Namespace: targetNS, Name: spec.TargetName, UID: vm.UID, Role: "clone"})
		return step{progress: 80, message: "cloned to " + targetNS + "/" + spec.TargetName}, nil
	}
	if !spec.PowerOnAfter {
		return step{progress: 100, message: "cloned to " + targetNS + "/" + spec.TargetName, done: true}, nil
	}
	if err := e.setRunStrategy(ctx, targetNS, spec.TargetName, kvv1.RunStrategyAlways); err != nil {
		return vmGone(err)
	}
	vmi, err := e.getVMI(ctx, targetNS, spec.TargetName)
	if err != nil {
		return step{}, err
	}
	p, msg := instanceProgress(vmi)
	return step{progress: 80 + p/5, message: "clone " + msg, done: running(vmi)}, nil
}

func (e *Executor) cloneInNamespace(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	spec := op.Spec.Clone
	clones := e.cfg.KubeVirt.CloneV1beta1().VirtualMachineClones(op.Namespace)
	name := kubevirtName(op)
	c, err := clones.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		source := &corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: op.Spec.VMName}
		if spec.SnapshotRef != "" {
			source = &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapshotv1.SchemeGroupVersion.Group), Kind: "VirtualMachineSnapshot", Name: spec.SnapshotRef}
		}
		c, err = clones.Create(ctx, &clonev1.VirtualMachineClone{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{ownerAnnotation: op.Name}},
			Spec: clonev1.VirtualMachineCloneSpec{
				Source:            source,
				Target:            &corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: spec.TargetName},
				LabelFilters:      spec.LabelFilters,
				AnnotationFilters: spec.AnnotationFilters,
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return step{}, fmt.Errorf("creating clone: %w", err)
		}
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachineClone", APIVersion: clonev1.SchemeGroupVersion.String(),
			Namespace: op.Namespace, Name: name, UID: c.UID, Role: "kubevirt-clone"})
		return step{progress: 10, message: "clone requested"}, nil
	}
	if err != nil {
		return step{}, err
	}
	switch c.Status.Phase {
	case clonev1.Succeeded:
		return step{progress: 75, done: true}, nil
	case clonev1.Failed:
		msg := "clone failed"
		for _, cond := range c.Status.Conditions {
			if cond.Message != "" {
				msg = cond.Message
			}
		}
		return step{failed: fmt.Errorf("%s", msg)}, nil
	}
	progress := map[clonev1.VirtualMachineClonePhase]int32{
		clonev1.SnapshotInProgress: 25, clonev1.CreatingTargetVM: 45, clonev1.RestoreInProgress: 60,
	}[c.Status.Phase]
	return step{progress: progress, message: "clone " + string(c.Status.Phase)}, nil
}

// cloneAcross snapshots the source (unless a snapshot is given) and creates
// the target VM, stopped, from the snapshot content in the other namespace.
func (e *Executor) cloneAcross(ctx context.Context, op *v1alpha1.VMOperation, targetNS string) (step, error) {
	spec := op.Spec.Clone
	snaps := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(op.Namespace)
	snapName := spec.SnapshotRef
	if snapName == "" {
		snapName = kubevirtName(op)
		if _, err := snaps.Get(ctx, snapName, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			snap, err := snaps.Create(ctx, &snapshotv1.VirtualMachineSnapshot{
				ObjectMeta: metav1.ObjectMeta{Name: snapName, Annotations: map[string]string{ownerAnnotation: op.Name}},
				Spec: snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{
					APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: op.Spec.VMName}},
			}, metav1.CreateOptions{})
			if err != nil {
				return step{}, fmt.Errorf("creating snapshot for the clone: %w", err)
			}
			record(op, v1alpha1.ResourceReference{Kind: "VirtualMachineSnapshot", APIVersion: snapshotv1.SchemeGroupVersion.String(),
				Namespace: op.Namespace, Name: snapName, UID: snap.UID, Role: "clone-snapshot"})
			return step{progress: 10, message: "snapshotting the source"}, nil
		} else if err != nil {
			return step{}, err
		}
	}
	snap, err := snaps.Get(ctx, snapName, metav1.GetOptions{})
	if err != nil {
		return step{}, err
	}
	if snap.Status == nil || snap.Status.ReadyToUse == nil || !*snap.Status.ReadyToUse || snap.Status.VirtualMachineSnapshotContentName == nil {
		if snap.Status != nil && snap.Status.Phase == snapshotv1.Failed {
			return step{failed: fmt.Errorf("snapshot %s failed", snapName)}, nil
		}
		return step{progress: 30, message: "waiting for snapshot " + snapName}, nil
	}
	content, err := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshotContents(op.Namespace).Get(ctx,
		*snap.Status.VirtualMachineSnapshotContentName, metav1.GetOptions{})
	if err != nil {
		return step{}, err
	}
	src := content.Spec.Source.VirtualMachine
	vm := &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{
			Name: spec.TargetName, Namespace: targetNS,
			Labels:      kubevirt.FilterKeys(src.Labels, spec.LabelFilters),
			Annotations: kubevirt.FilterKeys(src.Annotations, spec.AnnotationFilters),
		},
		Spec: *src.Spec.DeepCopy(),
	}
	vm.Spec.Running, vm.Spec.RunStrategy = nil, ptr.To(kvv1.RunStrategyHalted)
	if spec.NewMACAddresses && vm.Spec.Template != nil {
		for i := range vm.Spec.Template.Spec.Domain.Devices.Interfaces {
			vm.Spec.Template.Spec.Domain.Devices.Interfaces[i].MacAddress = ""
		}
	}
	if vm.Annotations == nil {
		vm.Annotations = map[string]string{}
	}
	vm.Annotations[ownerAnnotation] = op.Namespace + "/" + op.Name
	if _, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(targetNS).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return step{}, fmt.Errorf("creating the clone in %s: %w", targetNS, err)
		}
		existing, getErr := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(targetNS).Get(ctx, spec.TargetName, metav1.GetOptions{})
		if getErr != nil || existing.Annotations[ownerAnnotation] != op.Namespace+"/"+op.Name {
			return step{failed: fmt.Errorf("target VM %s/%s already exists", targetNS, spec.TargetName)}, nil
		}
	}
	if ref := recorded(op, "VirtualMachineSnapshot", "clone-snapshot"); ref != nil {
		_ = snaps.Delete(ctx, ref.Name, metav1.DeleteOptions{}) // temporary; the clone stands alone now
	}
	return step{progress: 75, done: true}, nil
}
