package operations

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
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
// unless it succeeded, the VM a clone had begun to make, and starts again a
// VM a restore stopped, so a failed or cancelled operation leaves nothing
// half done. A delete that fails is
// reported in the CleanedUp condition and retried with backoff.
func (e *Executor) cleanUp(ctx context.Context, op *v1alpha1.VMOperation) error {
	if meta.IsStatusConditionTrue(op.Status.Conditions, conditionCleanedUp) {
		return nil
	}
	var deleted []string
	var errs []error
	for _, ref := range op.Status.Resources {
		if ref.Role != roleTemporary {
			continue
		}
		if err := e.deleteRef(ctx, ref); err != nil {
			errs = append(errs, err)
		} else {
			deleted = append(deleted, ref.Kind+" "+ref.Name)
		}
	}
	if op.Status.Phase != v1alpha1.VMOperationSucceeded && op.Spec.Type == v1alpha1.VMOperationClone {
		if gone, err := e.rollBackClone(ctx, op); err != nil {
			errs = append(errs, err)
		} else if gone != "" {
			deleted = append(deleted, gone)
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

// rollBackClone deletes the VM a failed or cancelled clone made: the one it
// recorded, or the one carrying its owner annotation (made before the
// record was written). It returns what it deleted.
func (e *Executor) rollBackClone(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
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
		return "", fmt.Errorf("reading the clone %s/%s: %w", target.Namespace, target.Name, err)
	}
	made := recorded(op, "VirtualMachine", "clone")
	if vm.Annotations[ownerAnnotation] != op.Namespace+"/"+op.Name && (made == nil || made.UID != vm.UID) {
		return "", nil // not ours
	}
	uid := vm.UID
	err = vms.Delete(ctx, vm.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return "", fmt.Errorf("deleting the half-made clone %s/%s: %w", target.Namespace, target.Name, err)
	}
	return "VirtualMachine " + target.Namespace + "/" + target.Name, nil
}
