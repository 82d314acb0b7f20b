package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	clonev1 "kubevirt.io/api/clone/v1beta1"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

const (
	// roleTemporary marks a recorded object the operation made for itself
	// only; it goes when the operation ends, however it ends.
	roleTemporary = "temporary"
	// conditionCleanedUp is True once an ended operation has removed what
	// it made for itself (and, when it failed or was cancelled, the
	// half-made result); False with the reason while a delete keeps failing.
	conditionCleanedUp = "CleanedUp"
	// reasonWaiting is CleanedUp False while the clean-up has done its part
	// and waits for KubeVirt to do the rest.
	reasonWaiting = "WaitingForKubeVirt"
	// reasonGaveUp is CleanedUp False for good: a step kept failing for
	// coldMigrationTimeout after the operation ended, and the clean-up no
	// longer acts on the VM, so the VM's next operations may.
	reasonGaveUp = "GaveUp"
)

// waitingError is a clean-up step that did what it does and waits for
// KubeVirt to follow: the clean-up is not done, and runs again with
// backoff, until it sees that KubeVirt did.
type waitingError struct{ msg string }

func (w waitingError) Error() string { return w.msg }

// waitsOnly reports whether every error of a clean-up is a wait.
func waitsOnly(errs []error) bool {
	for _, err := range errs {
		if !errors.As(err, new(waitingError)) {
			return false
		}
	}
	return len(errs) > 0
}

// cleanUp deletes, once an operation has ended, its temporary objects and,
// unless it succeeded, the VM a clone or a restore into a new VM had begun
// to make, and starts again a VM a restore or a cold migration stopped
// (without the cold migration's pin), so a failed or cancelled operation
// leaves nothing half done. A delete that fails is reported in the
// CleanedUp condition and retried with backoff, until coldMigrationTimeout
// after the end: then it gives up, and says so.
func (e *Executor) cleanUp(ctx context.Context, op *v1alpha1.VMOperation) error {
	if cond := meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp); cond != nil &&
		(cond.Status == metav1.ConditionTrue || cond.Reason == reasonGaveUp) {
		return nil
	}
	var deleted []string
	var errs []error
	if op.Status.Phase != v1alpha1.VMOperationSucceeded {
		// Before the temporary objects go, which it may need: the
		// VirtualMachineClone says which restore made the clone's VM.
		if gone, err := e.rollBackNewVM(ctx, op); err != nil {
			errs = append(errs, err)
		} else if gone != "" {
			deleted = append(deleted, gone)
		}
	}
	for _, ref := range op.Status.Resources {
		if ref.Role != roleTemporary || len(errs) > 0 {
			continue
		}
		if err := e.deleteRef(ctx, op, ref); err != nil {
			errs = append(errs, err)
		} else {
			deleted = append(deleted, ref.Kind+" "+ref.Name)
		}
	}
	if op.Status.Phase != v1alpha1.VMOperationSucceeded && op.Spec.Type == v1alpha1.VMOperationMigrate {
		did, err := e.abortMigration(ctx, op) // what it did, also while it waits
		if did != "" {
			deleted = append(deleted, did)
		}
		if err != nil {
			errs = append(errs, err)
		}
		did, err = e.rollBackColdMigration(ctx, op) // what it did, also while it waits
		if did != "" {
			deleted = append(deleted, did)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if op.Status.Phase != v1alpha1.VMOperationSucceeded && op.Spec.Type == v1alpha1.VMOperationSnapshot {
		if did, err := e.rollBackSnapshot(ctx, op); err != nil {
			errs = append(errs, err)
		} else if did != "" {
			deleted = append(deleted, did)
		}
	}
	if op.Status.Phase != v1alpha1.VMOperationSucceeded && op.Spec.Type == v1alpha1.VMOperationResize {
		if did, err := e.rollBackResize(ctx, op); err != nil {
			errs = append(errs, err)
		} else if did != "" {
			deleted = append(deleted, did)
		}
	}
	if op.Status.Phase != v1alpha1.VMOperationSucceeded && op.Spec.Type == v1alpha1.VMOperationRestore {
		if did, err := e.restartAfterRestore(ctx, op); err != nil {
			errs = append(errs, err)
		} else if did != "" {
			deleted = append(deleted, did)
		}
	}
	if op.Status.Phase != v1alpha1.VMOperationSucceeded && len(errs) == 0 {
		// After the VM was started again, and it is not waited for.
		if did, err := e.runStrategyBackAfterCleanUp(ctx, op); err != nil {
			errs = append(errs, err)
		} else if did != "" {
			deleted = append(deleted, did)
		}
	}
	nothing := false
	if len(deleted) == 0 && len(errs) == 0 {
		switch {
		case cleanUpWaited(op):
			deleted = append(deleted, "nothing left to wait for") // a wait that ended says so
		case len(op.Status.Resources) == 0 || op.Status.Phase == v1alpha1.VMOperationSucceeded:
			// Nothing recorded, or a success (whose records nothing undoes):
			// nothing can be undone later either, no status to write.
			return nil
		default:
			// Said, so it is not looked at again: what the records name
			// may by then be another operation's doing (a later resize to
			// the same size), which a later pass would undo.
			nothing = true
		}
	}
	updated := op.DeepCopy()
	now := metav1.NewTime(e.cfg.Clock.Now())
	var err error = utilerrors.NewAggregate(errs)
	switch {
	case waitsOnly(errs):
		var waits []string
		for _, w := range errs {
			waits = append(waits, w.Error())
		}
		err = waitingError{strings.Join(waits, "; ")}
		setCondition(&updated.Status, conditionCleanedUp, metav1.ConditionFalse, reasonWaiting, strings.Join(append(deleted, err.Error()), "; "), now)
	case err != nil && e.waitedOut(op):
		setCondition(&updated.Status, conditionCleanedUp, metav1.ConditionFalse, reasonGaveUp,
			fmt.Sprintf("gave up %s after the end: %v", coldMigrationTimeout, err), now)
		err = nil
	case err != nil:
		setCondition(&updated.Status, conditionCleanedUp, metav1.ConditionFalse, "DeleteFailed", err.Error(), now)
	case nothing:
		setCondition(&updated.Status, conditionCleanedUp, metav1.ConditionTrue, "NothingToUndo", "nothing was left to delete or undo", now)
	default:
		setCondition(&updated.Status, conditionCleanedUp, metav1.ConditionTrue, "Deleted", fmt.Sprintf("deleted %v", deleted), now)
	}
	before, after := meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp), meta.FindStatusCondition(updated.Status.Conditions, conditionCleanedUp)
	if before != nil && before.Status == after.Status && before.Reason == after.Reason && before.Message == after.Message {
		return err // said already: a clean-up that waits writes only what changes
	}
	if _, uerr := e.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(op.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); uerr != nil && !apierrors.IsNotFound(uerr) {
		return utilerrors.NewAggregate([]error{err, uerr})
	}
	return err
}

// deleteRef deletes a recorded temporary object if op made it; one already
// gone, or someone else's of that name, is fine.
func (e *Executor) deleteRef(ctx context.Context, op *v1alpha1.VMOperation, ref v1alpha1.ResourceReference) error {
	var obj metav1.Object
	var del func(metav1.DeleteOptions) error
	var err error
	switch ref.Kind {
	case "VirtualMachineSnapshot":
		c := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ref.Namespace)
		obj, err = c.Get(ctx, ref.Name, metav1.GetOptions{})
		del = func(o metav1.DeleteOptions) error { return c.Delete(ctx, ref.Name, o) }
	case "VirtualMachineRestore":
		c := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineRestores(ref.Namespace)
		obj, err = c.Get(ctx, ref.Name, metav1.GetOptions{})
		del = func(o metav1.DeleteOptions) error { return c.Delete(ctx, ref.Name, o) }
	case "VirtualMachineClone":
		c := e.cfg.KubeVirt.CloneV1beta1().VirtualMachineClones(ref.Namespace)
		obj, err = c.Get(ctx, ref.Name, metav1.GetOptions{})
		del = func(o metav1.DeleteOptions) error { return c.Delete(ctx, ref.Name, o) }
	default:
		return fmt.Errorf("no way to delete a temporary %s", ref.Kind)
	}
	if err == nil {
		if !madeBy(op, obj, &ref) {
			return nil
		}
		uid := obj.GetUID()
		err = del(metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	}
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) { // a conflict: made again since, by someone else
		return fmt.Errorf("deleting %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err)
	}
	return nil
}

// rollBackNewVM deletes the VM a failed or cancelled clone, or restore
// into a new VM, had begun to make, and only that one: the operation
// reserved the name while it was free, and the VM there now is the one it
// recorded, or one made by it or for it (madeFor). A VM someone else made
// under that name since is left alone. It returns what it deleted.
func (e *Executor) rollBackNewVM(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
	target := recorded(op, "VirtualMachine", "target")
	if target == nil {
		return "", nil
	}
	vms := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(target.Namespace)
	vm, err := vms.Get(ctx, target.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", e.cloneStillMaking(ctx, op)
	}
	if err != nil {
		return "", fmt.Errorf("reading the half-made VM %s/%s: %w", target.Namespace, target.Name, err)
	}
	if ours, err := e.madeFor(ctx, op, vm); err != nil || !ours {
		return "", err
	}
	uid := vm.UID
	err = vms.Delete(ctx, vm.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return "", fmt.Errorf("deleting the half-made VM %s/%s: %w", target.Namespace, target.Name, err)
	}
	return "VirtualMachine " + target.Namespace + "/" + target.Name, nil
}

// cloneStillMaking is a waitingError while KubeVirt may still make the VM
// of op's VirtualMachineClone: its restore has begun and not ended, so the
// VM may come after the clean-up looked, and deleting the clone then would
// leave that VM behind, no longer known as op's. It waits at most
// coldMigrationTimeout after the operation ended.
func (e *Executor) cloneStillMaking(ctx context.Context, op *v1alpha1.VMOperation) error {
	c := recorded(op, "VirtualMachineClone", roleTemporary)
	if c == nil {
		return nil
	}
	clone, err := e.cfg.KubeVirt.CloneV1beta1().VirtualMachineClones(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading VirtualMachineClone %s/%s: %w", c.Namespace, c.Name, err)
	case clone.Status.Phase != clonev1.CreatingTargetVM && clone.Status.Phase != clonev1.RestoreInProgress:
		return nil
	case e.waitedOut(op):
		return nil // its restore is taken to be stuck; deleting the clone stops it
	}
	return waitingError{"waiting for KubeVirt to make the VM of VirtualMachineClone " + c.Name + ", to delete it"}
}

// madeFor reports whether op made vm: it is the clone op recorded, or
// carries op's owner annotation (a clone across namespaces, or a linked
// one), or KubeVirt made it for op, restoring op's VirtualMachineRestore
// or the restore op's VirtualMachineClone made (KubeVirt marks the VM with
// the restore's name and UID; a clone's restore is known by its name).
func (e *Executor) madeFor(ctx context.Context, op *v1alpha1.VMOperation, vm *kvv1.VirtualMachine) (bool, error) {
	if vm.Annotations[ownerAnnotation] == op.Namespace+"/"+op.Name {
		return true, nil
	}
	if made := recorded(op, "VirtualMachine", "clone"); made != nil && made.UID == vm.UID {
		return true, nil
	}
	if r := recorded(op, "VirtualMachineRestore", roleTemporary); r != nil && kubevirt.RestoredBy(vm, r.Name, r.UID) {
		return true, nil
	}
	c := recorded(op, "VirtualMachineClone", roleTemporary)
	if c == nil {
		return false, nil
	}
	clone, err := e.cfg.KubeVirt.CloneV1beta1().VirtualMachineClones(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading VirtualMachineClone %s/%s: %w", c.Namespace, c.Name, err)
	}
	return clone.Status.RestoreName != nil && kubevirt.RestoredBy(vm, *clone.Status.RestoreName, ""), nil
}

// vmAfter reads the VM of an operation that has ended, for its clean-up:
// nil when it is gone, and so has nothing to undo.
func (e *Executor) vmAfter(ctx context.Context, op *v1alpha1.VMOperation) (*kvv1.VirtualMachine, error) {
	vm, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace).Get(ctx, op.Spec.VMName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading VM %s after its %s ended: %w", op.Spec.VMName, strings.ToLower(string(op.Spec.Type)), err)
	}
	return vm, nil
}

// rollBackSnapshot deletes the VirtualMachineSnapshot of a snapshot
// operation that was cancelled or failed, if the operation made it: a
// snapshot still being taken when the user asked for none, or one KubeVirt
// failed, is not a result to keep. It returns what it did.
func (e *Executor) rollBackSnapshot(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
	name := op.Spec.Snapshot.Name
	if name == "" {
		name = kubevirtName(op)
	}
	if made := recorded(op, "VirtualMachineSnapshot", "snapshot"); made != nil {
		name = made.Name // as recorded: one made before names were cut keeps its own
	}
	snaps := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(op.Namespace)
	snap, err := snaps.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	made := recorded(op, "VirtualMachineSnapshot", "snapshot")
	if snap.Annotations[ownerUIDAnnotation] != string(op.UID) && (made == nil || made.UID != snap.UID) {
		return "", nil // another's of that name
	}
	uid := snap.UID
	if err := snaps.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("deleting VirtualMachineSnapshot %s: %w", name, err)
	}
	return "VirtualMachineSnapshot " + name, nil
}

// rollBackResize gives a VM whose resize failed or was cancelled its size
// from before, when it has the size the resize gives (a change made since
// is left alone). That the resize was applied is not asked of the status:
// the pass that applied it may have lost its status write, and the size
// from before was recorded first. KubeVirt then applies it as it applied
// the resize: live within the hotplug bounds, else at the next restart (the
// VM shows RestartRequired). It returns what it did.
func (e *Executor) rollBackResize(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
	prev := recorded(op, "Size", "previous")
	if prev == nil {
		return "", nil
	}
	vms := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace)
	vm, err := e.vmAfter(ctx, op)
	if vm == nil || err != nil {
		return "", err
	}
	var did []string
	if hasNewSize(vm, op.Spec.Resize) {
		if err := applySize(&vm.Spec.Template.Spec.Domain, prev.Name); err != nil {
			return "", err
		}
		if vm, err = vms.Update(ctx, vm, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return "", nil
			}
			return "", fmt.Errorf("giving VM %s its size back: %w", op.Spec.VMName, err)
		}
		did = append(did, "gave VM "+op.Spec.VMName+" its size back")
	}
	// An instance the resize's restart made at the new size that does not
	// run (it fits no node, say) would keep the VM down: once the VM no
	// longer has that size, it is made again.
	plan := recorded(op, "Plan", "plan")
	if plan == nil || plan.Name != "restart" || hasNewSize(vm, op.Spec.Resize) || !kubevirt.RestartsWhenDeleted(vm) {
		return strings.Join(did, " and "), nil
	}
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil || vmi == nil || running(vmi) || vmi.DeletionTimestamp != nil || !sized(vmi, op.Spec.Resize) {
		return strings.Join(did, " and "), err
	}
	uid := vmi.UID
	err = e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(op.Namespace).Delete(ctx, vmi.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return "", fmt.Errorf("replacing the instance of VM %s made at the new size: %w", op.Spec.VMName, err)
	}
	return strings.Join(append(did, "replaced its instance made at the new size, which did not run"), " and "), nil
}

// hasNewSize reports whether vm's template has the size spec gives it.
func hasNewSize(vm *kvv1.VirtualMachine, spec *v1alpha1.ResizeSpec) bool {
	if spec.CPUs != nil && kubevirt.CPUCount(vm.Spec.Template.Spec.Domain.CPU) != *spec.CPUs {
		return false
	}
	g := kubevirt.GuestMemory(&vm.Spec.Template.Spec)
	return spec.Memory == nil || g != nil && g.Cmp(*spec.Memory) == 0
}

// rollBackColdMigration undoes what a failed or cancelled cold migration
// did to the VM: the pin to the target node comes off, so the VM may run
// anywhere again, and a VM it stopped is started, in one patch. It returns
// what it did.
//
// The pin is also on the instance made while the VM was pinned, and on its
// virt-launcher pod, where taking it off the VM does not reach (KubeVirt's
// LiveUpdate takes it off the instance's spec, not off the pod), and
// KubeVirt may make one more from the pinned VM its informer last saw. So
// the clean-up is done only once it sees the VM's instance running, or
// with a launcher pod free to go anywhere; it replaces one that waits
// pinned, and gives up waiting after coldMigrationTimeout. The patch is
// made once: while the clean-up waits, the VM is the user's again (one
// stopped meanwhile is left stopped).
func (e *Executor) rollBackColdMigration(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
	pin, stopped := recorded(op, "Node", "target"), recorded(op, "VirtualMachine", roleRestart) != nil
	if !stopped {
		return "", nil // the VM is pinned only after it was stopped
	}
	vms := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace)
	vm, err := e.vmAfter(ctx, op)
	if vm == nil || err != nil {
		return "", err
	}
	spec := map[string]any{}
	var did []string
	waited := cleanUpWaited(op)
	if pin != nil && !waited && vm.Spec.Template != nil && vm.Spec.Template.Spec.NodeSelector[hostnameLabel] == pin.Name {
		if own := recorded(op, "Node", rolePreviousPin); own != nil {
			spec["template"] = map[string]any{"spec": map[string]any{"nodeSelector": map[string]any{hostnameLabel: own.Name}}}
			did = append(did, "pinned VM "+op.Spec.VMName+" to "+own.Name+" again")
		} else {
			spec["template"] = map[string]any{"spec": map[string]any{"nodeSelector": map[string]any{hostnameLabel: nil}}}
			did = append(did, "unpinned VM "+op.Spec.VMName+" from "+pin.Name)
		}
	}
	if stopped && !waited {
		spec["running"], spec["runStrategy"] = nil, kvv1.RunStrategyAlways
		did = append(did, startedAgain(op))
	}
	if len(did) > 0 {
		patch, err := json.Marshal(map[string]any{"spec": spec})
		if err != nil {
			return "", err
		}
		patched, err := vms.Patch(ctx, op.Spec.VMName, types.MergePatchType, patch, metav1.PatchOptions{})
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("undoing the cold migration of VM %s: %w", op.Spec.VMName, err)
		}
		vm = patched
	}
	if pin == nil || !kubevirt.RestartsWhenDeleted(vm) {
		if waited {
			did = append(did, "VM "+op.Spec.VMName+" was stopped meanwhile")
		}
		return strings.Join(did, " and "), nil // no instance to wait for, or none to replace
	}
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return "", err
	}
	wait := "waiting for KubeVirt to make the instance of VM " + op.Spec.VMName
	if vmi != nil && vmi.DeletionTimestamp == nil {
		pods, err := e.launcherPods(ctx, vmi)
		if err != nil {
			return "", err
		}
		pinned := vmi.Spec.NodeSelector[hostnameLabel] == pin.Name
		free := false
		for _, pod := range pods {
			pinned = pinned || pod.Spec.NodeSelector[hostnameLabel] == pin.Name
			free = free || pod.Spec.NodeSelector[hostnameLabel] != pin.Name
		}
		switch {
		case running(vmi) || free && !pinned:
			if waited {
				did = append(did, "KubeVirt made the instance of VM "+op.Spec.VMName+" without the pin")
			}
			return strings.Join(did, " and "), nil
		case pinned:
			uid := vmi.UID
			err = e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(op.Namespace).Delete(ctx, vmi.Name,
				metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return "", fmt.Errorf("replacing the instance of VM %s pinned to %s: %w", op.Spec.VMName, pin.Name, err)
			}
			did = append(did, "deleted the instance of VM "+op.Spec.VMName+" made pinned to "+pin.Name)
			wait = "waiting for KubeVirt to make it again"
		default:
			wait = "waiting for KubeVirt to make the launcher pod of VM " + op.Spec.VMName
		}
	}
	if e.waitedOut(op) {
		did = append(did, "gave up "+wait+" after "+coldMigrationTimeout.String())
		return strings.Join(did, " and "), nil
	}
	return strings.Join(did, " and "), waitingError{wait}
}

// cleaningUp reports whether op ended without success and its clean-up is
// not done: until then it may still act on the VM. Its waits for KubeVirt
// end within coldMigrationTimeout of the operation's end, and a step that
// keeps failing gives up then (reasonGaveUp).
func cleaningUp(op *v1alpha1.VMOperation) bool {
	if !op.Status.Phase.Final() || op.Status.Phase == v1alpha1.VMOperationSucceeded {
		return false
	}
	if cond := meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp); cond != nil {
		return cond.Status != metav1.ConditionTrue && cond.Reason != reasonGaveUp
	}
	return len(op.Status.Resources) > 0 // a clean-up with nothing recorded has nothing to do, and says nothing
}

// holdsGrants reports whether op, ended without success, keeps its
// reservations while its clean-up runs: a migration whose
// VirtualMachineInstanceMigration KubeVirt may still be aborting keeps its
// slot, and a clone or a restore into a new VM keeps the new VM's name,
// which its clean-up may still have to delete the VM of.
func holdsGrants(op *v1alpha1.VMOperation) bool {
	if !cleaningUp(op) {
		return false
	}
	return op.Spec.Type == v1alpha1.VMOperationMigrate && recorded(op, "VirtualMachineInstanceMigration", "migration") != nil ||
		recorded(op, "VirtualMachine", "target") != nil
}

// waitedOut reports whether op ended more than coldMigrationTimeout ago:
// how long its clean-up waits for KubeVirt, or retries a step that fails.
func (e *Executor) waitedOut(op *v1alpha1.VMOperation) bool {
	end := op.Status.CompletionTime
	return end != nil && e.cfg.Clock.Since(end.Time) > coldMigrationTimeout
}

// cleanUpWaited reports whether the clean-up of op has already done its
// part and waited for KubeVirt: what it changes on the VM it changes once.
func cleanUpWaited(op *v1alpha1.VMOperation) bool {
	cond := meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp)
	return cond != nil && cond.Reason == reasonWaiting
}

// launcherPods lists the virt-launcher pods of an instance that are not
// going.
func (e *Executor) launcherPods(ctx context.Context, vmi *kvv1.VirtualMachineInstance) ([]corev1.Pod, error) {
	list, err := e.cfg.Kube.CoreV1().Pods(vmi.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: kubevirt.CreatedByLabel + "=" + string(vmi.UID)})
	if err != nil {
		return nil, fmt.Errorf("listing the launcher pods of VM %s: %w", vmi.Name, err)
	}
	return slices.DeleteFunc(list.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil }), nil
}
