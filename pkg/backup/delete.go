package backup

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// snapshotClient is the part of KubeVirt's snapshot client pruning uses.
type snapshotClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*snapshotv1.VirtualMachineSnapshot, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// operationAnnotation names, on a VirtualMachineSnapshot, the VMOperation
// that made it (set by the executor).
const operationAnnotation = "hypersdk.io/operation"

// errNotOurs: the snapshot under that name was not made by the schedule.
var errNotOurs = errors.New("not made by the schedule")

// deleteOwn deletes a snapshot the schedule made: one that is gone already
// is done, and one not made by the schedule's operation (the name reused
// since by someone else) is never deleted: errNotOurs.
func deleteOwn(ctx context.Context, snaps snapshotClient, snap v1alpha1.ScheduledSnapshot) error {
	cur, err := snaps.Get(ctx, snap.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading snapshot %s: %w", snap.Name, err)
	}
	if cur.Annotations[operationAnnotation] != snap.Operation {
		return fmt.Errorf("snapshot %s, operation %s: %w", snap.Name, snap.Operation, errNotOurs)
	}
	err = snaps.Delete(ctx, snap.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting snapshot %s: %w", snap.Name, err)
	}
	return nil
}
