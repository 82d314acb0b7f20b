package operations

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// roleRestart records that a restore in place or a cold migration stopped
// a running VM, so the VM is started again when the operation ends, however
// it ends.
const roleRestart = "restart"

// recordRestart records, before the executor stops vm, that it starts it
// again, and the run strategy vm had when that is not Always: the VM is
// started under Always and given its own back once it runs (a Manual VM
// keeps running under Manual, but would not start under it).
func recordRestart(op *v1alpha1.VMOperation, vm *kvv1.VirtualMachine) {
	record(op, v1alpha1.ResourceReference{Kind: "VirtualMachine", APIVersion: kvv1.GroupVersion.String(),
		Namespace: op.Namespace, Name: op.Spec.VMName, Role: roleRestart})
	if s := vm.Spec.RunStrategy; s != nil && *s != kvv1.RunStrategyAlways {
		record(op, v1alpha1.ResourceReference{Kind: "RunStrategy", Name: string(*s), Role: "previous"})
	}
}

// giveRunStrategyBack gives a VM the executor started again, now running,
// the run strategy recordRestart recorded.
func (e *Executor) giveRunStrategyBack(ctx context.Context, op *v1alpha1.VMOperation) error {
	prev := recorded(op, "RunStrategy", "previous")
	if prev == nil {
		return nil
	}
	return e.setRunStrategy(ctx, op.Namespace, op.Spec.VMName, kvv1.VirtualMachineRunStrategy(prev.Name))
}

// notSnapshotOf says why snap is not a snapshot of VM vmName, or "". An
// operation is authorized on its VM: a snapshot of another VM, which the
// caller may have no rights on, is not its to restore or clone.
func notSnapshotOf(snap *snapshotv1.VirtualMachineSnapshot, vmName string) string {
	src := snap.Spec.Source
	if ptr.Deref(src.APIGroup, "") != kvv1.GroupVersion.Group || src.Kind != "VirtualMachine" || src.Name != vmName {
		return fmt.Sprintf("is a snapshot of %s %s, not of this VM", src.Kind, src.Name)
	}
	return ""
}

// checkRestore: the snapshot must exist, be of this VM and be ready to use;
// a new VM's name must be free.
func (p *Prechecker) checkRestore(ctx context.Context, op *hypersdk.VMOperation, r refusal) error {
	spec := op.Spec.Restore
	snap, err := p.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(op.Namespace).Get(ctx, spec.SnapshotName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(snapshotResource, spec.SnapshotName)
	}
	if err != nil {
		return err
	}
	if msg := notSnapshotOf(snap, op.Spec.VMName); msg != "" {
		return r.invalid(field.ErrorList{field.Invalid(r.root.Child("snapshotName"), spec.SnapshotName, msg)})
	}
	if snap.Status == nil || !ptr.Deref(snap.Status.ReadyToUse, false) {
		return apierrors.NewConflict(snapshotResource, spec.SnapshotName, fmt.Errorf("the snapshot is not ready to use"))
	}
	if spec.TargetName == "" {
		return nil
	}
	if spec.TargetName == op.Spec.VMName {
		return r.invalid(field.ErrorList{field.Invalid(r.root.Child("targetName"), spec.TargetName,
			"is this VM: omit targetName to restore the VM itself")})
	}
	if _, err := p.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace).Get(ctx, spec.TargetName, metav1.GetOptions{}); err == nil {
		return apierrors.NewAlreadyExists(hypersdk.Resource("virtualmachines"), op.Namespace+"/"+spec.TargetName)
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// restore brings the VM back to a snapshot through a KubeVirt
// VirtualMachineRestore, or makes a new VM from it. KubeVirt restores a VM
// only while it is stopped, so a running VM is stopped first and started
// again after; that it was running is recorded before it is stopped, so a
// restarted executor, and the clean-up of a restore that fails or is
// cancelled, start it again.
func (e *Executor) restore(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	spec := op.Spec.Restore
	target := spec.TargetName
	inPlace := target == ""
	if inPlace {
		target = op.Spec.VMName
	}
	name := kubevirtName(op)
	made := recorded(op, "VirtualMachineRestore", roleTemporary)
	if made != nil {
		name = made.Name // as recorded: one made before names were cut keeps its own
	}
	if !inPlace && recorded(op, "VirtualMachine", "target") == nil {
		// KubeVirt restores onto a VM of that name if one exists: the name
		// must be free, and stay free of other operations' VMs.
		return e.reserveTarget(ctx, op, op.Namespace, target, "restoring")
	}
	if inPlace && made == nil {
		vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
		if err != nil {
			return step{}, err
		}
		if vmi != nil {
			if recorded(op, "VirtualMachine", roleRestart) == nil {
				vm, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace).Get(ctx, op.Spec.VMName, metav1.GetOptions{})
				if err != nil {
					return vmGone(err)
				}
				recordRestart(op, vm)
				return step{progress: 5, message: "stopping the VM to restore it"}, nil // persist the record before acting
			}
			if failed := e.stoppedInTime(op, vmi); failed != nil {
				return step{failed: failed}, nil
			}
			if err := e.setRunStrategy(ctx, op.Namespace, op.Spec.VMName, kvv1.RunStrategyHalted); err != nil {
				return vmGone(err)
			}
			return step{progress: 15, message: "stopping the VM to restore it"}, nil
		}
	}
	if made == nil {
		// Recorded before it is made, as a migration is: a restore this
		// operation made but had not recorded (the executor restarted, or
		// the status write lost) would otherwise be taken, once the VM runs
		// again, for one still to come, and the VM stopped again for it.
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachineRestore", APIVersion: snapshotv1.SchemeGroupVersion.String(),
			Namespace: op.Namespace, Name: name, Role: roleTemporary})
		return step{progress: 25, message: "requesting the restore"}, nil
	}
	restores := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineRestores(op.Namespace)
	r, err := restores.Get(ctx, name, metav1.GetOptions{})
	if err == nil && !madeBy(op, r, made) {
		return notMadeBy(op, r, "VirtualMachineRestore", func(o metav1.DeleteOptions) error { return restores.Delete(ctx, name, o) })
	}
	if apierrors.IsNotFound(err) {
		if made.UID != "" {
			return step{failed: fmt.Errorf("VirtualMachineRestore %s was deleted before it completed", name)}, nil
		}
		if failed, err := e.snapshotOfVM(ctx, op, spec.SnapshotName); failed != nil || err != nil {
			return step{failed: failed}, err
		}
		r, err = restores.Create(ctx, &snapshotv1.VirtualMachineRestore{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{ownerAnnotation: op.Name, ownerUIDAnnotation: string(op.UID)}},
			Spec: snapshotv1.VirtualMachineRestoreSpec{
				Target:                     corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: target},
				VirtualMachineSnapshotName: spec.SnapshotName,
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return step{}, fmt.Errorf("creating restore: %w", err)
		}
		made.UID = r.UID
		return step{progress: 30, message: "restore requested"}, nil
	}
	if err != nil {
		return step{}, err
	}
	if made.UID == "" {
		made.UID = r.UID // made on a pass whose status write was lost
	}
	if r.Status == nil || !ptr.Deref(r.Status.Complete, false) {
		msg := "restoring snapshot " + spec.SnapshotName
		if r.Status != nil {
			for _, c := range r.Status.Conditions {
				if c.Type == snapshotv1.ConditionProgressing && c.Reason != "" {
					msg += ": " + c.Reason
				}
			}
		}
		return step{progress: 50, message: msg}, nil
	}
	if !inPlace {
		return step{progress: 100, message: fmt.Sprintf("restored snapshot %s as new VM %s (stopped)", spec.SnapshotName, target), done: true}, nil
	}
	if recorded(op, "VirtualMachine", roleRestart) == nil {
		return step{progress: 100, message: "restored snapshot " + spec.SnapshotName, done: true}, nil
	}
	if err := e.setRunStrategy(ctx, op.Namespace, op.Spec.VMName, kvv1.RunStrategyAlways); err != nil {
		return vmGone(err)
	}
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return step{}, err
	}
	p, msg := instanceProgress(vmi)
	if !running(vmi) {
		return step{progress: 70 + p*3/10, message: "restored snapshot " + spec.SnapshotName + "; starting: " + msg}, nil
	}
	if err := e.giveRunStrategyBack(ctx, op); err != nil {
		return vmGone(err)
	}
	return step{progress: 100, message: "restored snapshot " + spec.SnapshotName + "; " + msg, done: true}, nil
}

// restartAfterRestore starts a VM a restore in place stopped, when the
// restore failed or was cancelled: the VM runs again as it was (or, when
// the restore went through, as restored). It returns what it did.
func (e *Executor) restartAfterRestore(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
	if recorded(op, "VirtualMachine", roleRestart) == nil || cleanUpWaited(op) {
		return "", nil // nothing stopped, or started already: once, so a VM stopped since stays stopped
	}
	if err := e.setRunStrategy(ctx, op.Namespace, op.Spec.VMName, kvv1.RunStrategyAlways); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("starting VM %s again after the restore: %w", op.Spec.VMName, err)
	}
	return startedAgain(op), nil
}

// startedAgain says that the clean-up started the VM again, and under which
// run strategy: Always, so it starts, even when it had another (the
// clean-up gives that back once it sees the VM run again,
// runStrategyBackAfterCleanUp).
func startedAgain(op *v1alpha1.VMOperation) string {
	msg := "started VM " + op.Spec.VMName + " again"
	if prev := recorded(op, "RunStrategy", "previous"); prev != nil {
		msg += " under runStrategy Always (it was " + prev.Name + ")"
	}
	return msg
}

// runStrategyBackAfterCleanUp gives a VM that the clean-up of a failed or
// cancelled restore or cold migration started again under Always the run
// strategy it had, once it runs (a Manual VM would not start under its
// own), or once coldMigrationTimeout has passed since the operation ended
// without it running: the VM's spec is as it was either way. A VM whose
// strategy someone changed since is theirs, and left alone.
func (e *Executor) runStrategyBackAfterCleanUp(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
	prev := recorded(op, "RunStrategy", "previous")
	if prev == nil || recorded(op, "VirtualMachine", roleRestart) == nil {
		return "", nil
	}
	vm, err := e.vmAfter(ctx, op)
	if vm == nil || err != nil {
		return "", err
	}
	if s := ptr.Deref(vm.Spec.RunStrategy, ""); s != kvv1.RunStrategyAlways {
		if cleanUpWaited(op) {
			return "VM " + op.Spec.VMName + " was given runStrategy " + string(s) + " meanwhile", nil
		}
		return "", nil
	}
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return "", err
	}
	did := "gave VM " + op.Spec.VMName + " its runStrategy " + prev.Name + " back"
	if !running(vmi) {
		if !e.waitedOut(op) {
			return "", waitingError{"waiting for VM " + op.Spec.VMName + " to run before giving its runStrategy " + prev.Name + " back"}
		}
		did += " without seeing it run in " + coldMigrationTimeout.String()
	}
	if err := e.setRunStrategy(ctx, op.Namespace, op.Spec.VMName, kvv1.VirtualMachineRunStrategy(prev.Name)); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("giving VM %s its runStrategy back: %w", op.Spec.VMName, err)
	}
	return did, nil
}

// snapshotOfVM checks again, as it acts, that snapshot name is of the
// operation's VM: it may have been replaced since the operation was
// admitted. A snapshot of another VM fails the operation.
func (e *Executor) snapshotOfVM(ctx context.Context, op *v1alpha1.VMOperation, name string) (failed, err error) {
	snap, err := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(op.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("snapshot %s does not exist", name), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %s: %w", name, err)
	}
	if msg := notSnapshotOf(snap, op.Spec.VMName); msg != "" {
		return fmt.Errorf("snapshot %s %s", name, msg), nil
	}
	return nil, nil
}
