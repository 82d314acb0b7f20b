package operations

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
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
)

// cleanUp deletes, once an operation has ended, its temporary objects and,
// unless it succeeded, the VM a clone or a restore into a new VM had begun
// to make, and starts again a VM a restore or a cold migration stopped
// (without the cold migration's pin), so a failed or cancelled operation
// leaves nothing half done. A delete that fails is reported in the
// CleanedUp condition and retried with backoff.
func (e *Executor) cleanUp(ctx context.Context, op *v1alpha1.VMOperation) error {
	if meta.IsStatusConditionTrue(op.Status.Conditions, conditionCleanedUp) {
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
		if err := e.deleteRef(ctx, ref); err != nil {
			errs = append(errs, err)
		} else {
			deleted = append(deleted, ref.Kind+" "+ref.Name)
		}
	}
	if op.Status.Phase != v1alpha1.VMOperationSucceeded && op.Spec.Type == v1alpha1.VMOperationMigrate {
		if did, err := e.rollBackColdMigration(ctx, op); err != nil {
			errs = append(errs, err)
		} else if did != "" {
			deleted = append(deleted, did)
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
	if len(deleted) == 0 && len(errs) == 0 {
		return nil // nothing was made: no status to write
	}
	updated := op.DeepCopy()
	now := metav1.NewTime(e.cfg.Clock.Now())
	err := utilerrors.NewAggregate(errs)
	if err != nil {
		setCondition(&updated.Status, conditionCleanedUp, metav1.ConditionFalse, "DeleteFailed", err.Error(), now)
	} else {
		setCondition(&updated.Status, conditionCleanedUp, metav1.ConditionTrue, "Deleted", fmt.Sprintf("deleted %v", deleted), now)
	}
	if _, uerr := e.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(op.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); uerr != nil && !apierrors.IsNotFound(uerr) {
		return utilerrors.NewAggregate([]error{err, uerr})
	}
	return err
}

// deleteRef deletes a recorded temporary object; one already gone is fine.
func (e *Executor) deleteRef(ctx context.Context, ref v1alpha1.ResourceReference) error {
	var err error
	switch ref.Kind {
	case "VirtualMachineSnapshot":
		err = e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{})
	case "VirtualMachineRestore":
		err = e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineRestores(ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{})
	case "VirtualMachineClone":
		err = e.cfg.KubeVirt.CloneV1beta1().VirtualMachineClones(ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{})
	default:
		return fmt.Errorf("no way to delete a temporary %s", ref.Kind)
	}
	if err != nil && !apierrors.IsNotFound(err) {
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
		return "", nil
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
	dom := &vm.Spec.Template.Spec.Domain
	spec := op.Spec.Resize
	if spec.CPUs != nil && kubevirt.CPUCount(dom.CPU) != *spec.CPUs {
		return "", nil
	}
	if g := kubevirt.GuestMemory(&vm.Spec.Template.Spec); spec.Memory != nil && (g == nil || g.Cmp(*spec.Memory) != 0) {
		return "", nil
	}
	if err := applySize(dom, prev.Name); err != nil {
		return "", err
	}
	if _, err := vms.Update(ctx, vm, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("giving VM %s its size back: %w", op.Spec.VMName, err)
	}
	return "gave VM " + op.Spec.VMName + " its size back", nil
}

// rollBackColdMigration undoes what a failed or cancelled cold migration
// did to the VM: the pin to the target node comes off, so the VM may run
// anywhere again, and a VM it stopped is started, in one patch. It returns
// what it did.
func (e *Executor) rollBackColdMigration(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
	pin, stopped := recorded(op, "Node", "target"), recorded(op, "VirtualMachine", roleRestart) != nil
	if pin == nil && !stopped {
		return "", nil
	}
	vms := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace)
	vm, err := e.vmAfter(ctx, op)
	if vm == nil || err != nil {
		return "", err
	}
	spec := map[string]any{}
	var did []string
	if pin != nil && vm.Spec.Template != nil && vm.Spec.Template.Spec.NodeSelector[hostnameLabel] == pin.Name {
		spec["template"] = map[string]any{"spec": map[string]any{"nodeSelector": map[string]any{hostnameLabel: nil}}}
		did = append(did, "unpinned VM "+op.Spec.VMName+" from "+pin.Name)
	}
	if stopped {
		spec["running"], spec["runStrategy"] = nil, kvv1.RunStrategyAlways
		did = append(did, startedAgain(op))
	}
	if len(did) > 0 {
		patch, err := json.Marshal(map[string]any{"spec": spec})
		if err != nil {
			return "", err
		}
		if _, err := vms.Patch(ctx, op.Spec.VMName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("undoing the cold migration of VM %s: %w", op.Spec.VMName, err)
		}
	}
	// An instance made while pinned keeps the pin: one that never got to
	// run there goes, so KubeVirt makes it again from the unpinned template.
	// Also when the VM was unpinned by an earlier run of this clean-up that
	// stopped (a restart) before it got here.
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return "", err
	}
	if vmi != nil && pin != nil && !running(vmi) && vmi.Spec.NodeSelector[hostnameLabel] == pin.Name {
		uid := vmi.UID
		err := e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(op.Namespace).Delete(ctx, vmi.Name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return "", fmt.Errorf("replacing the instance of VM %s pinned to %s: %w", op.Spec.VMName, pin.Name, err)
		}
		did = append(did, "replaced the instance of VM "+op.Spec.VMName+" pinned to "+pin.Name)
	}
	return strings.Join(did, " and "), nil
}
