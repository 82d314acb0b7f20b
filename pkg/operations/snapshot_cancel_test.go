package operations

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// TestCancelledSnapshotLeavesNone: a snapshot operation cancelled while
// KubeVirt takes the snapshot deletes it; another's snapshot of another
// name stays.
func TestCancelledSnapshotLeavesNone(t *testing.T) {
	other := &snapshotv1.VirtualMachineSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: "ns"}}
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), other)
	key := h.create("snap", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationSnapshot, Snapshot: &v1alpha1.SnapshotSpec{Name: "s1"}})
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "snapshot requested" })
	h.cancelOp(key)
	if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationCancelled {
		t.Fatalf("cancelled snapshot ended %+v", op.Status)
	}
	h.cleanUp(key)
	snaps := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns")
	if _, err := snaps.Get(h.ctx, "s1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the cancelled operation's snapshot: %v, want it deleted", err)
	}
	if _, err := snaps.Get(h.ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("another snapshot: %v, want it kept", err)
	}
}
