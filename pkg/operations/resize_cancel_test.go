package operations

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// TestCancelledResizeWhoseRecordWasLost: the pass that resized the VM lost
// its status write (a conflict with the user's cancel, or a restart), so
// the operation never recorded that it had resized; the cancel still gives
// the VM its size back.
func TestCancelledResizeWhoseRecordWasLost(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("resize", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationResize,
		Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](4)}})
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return recorded(op, "Size", "previous") != nil })
	lost := false
	h.hyper.PrependReactor("update", "vmoperations", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" && !lost {
			lost = true
			return true, nil, apierrors.NewConflict(hypersdk.Resource("vmoperations"), "resize", nil)
		}
		return false, nil, nil
	})
	// The executor drops a conflicting status write and syncs again.
	if _, err := h.pass(key); err != nil || !lost {
		t.Fatalf("the resizing pass: %v, status write lost %t; want it lost", err, lost)
	}
	vm, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil || vm.Spec.Template.Spec.Domain.CPU.Sockets != 4 {
		t.Fatalf("VM after the resizing pass: %v %v, want 4 sockets", vm, err)
	}
	h.cancelOp(key)
	if op := h.until(key, 3, ended); op.Status.Phase != v1alpha1.VMOperationCancelled {
		t.Fatalf("cancelled resize ended %+v", op.Status)
	}
	h.cleanUp(key)
	vm, err = h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil || vm.Spec.Template.Spec.Domain.CPU.Sockets != 1 {
		t.Fatalf("VM after the cancel: %+v %v, want its 1 socket back", vm.Spec.Template.Spec.Domain.CPU, err)
	}
}

// TestCancelledResizeUndoesNothingLater: a resize cancelled before it
// changed the VM has nothing to undo, and says so once; a later resize to
// the same size by another operation is not undone when this one's
// clean-up runs again (at its deletion, after a restart).
func TestCancelledResizeUndoesNothingLater(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("resize", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationResize,
		Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](4)}})
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return recorded(op, "Size", "previous") != nil })
	vm, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil || vm.Spec.Template.Spec.Domain.CPU.Sockets != 1 {
		t.Fatalf("VM once the previous size is recorded: %v %v, want it unchanged", vm, err)
	}
	h.cancelOp(key)
	if op := h.until(key, 3, ended); op.Status.Phase != v1alpha1.VMOperationCancelled {
		t.Fatalf("cancelled resize ended %+v", op.Status)
	}
	h.cleanUp(key)
	// Another operation (or the user) resizes the VM to 4 since.
	vm, err = h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vm.Spec.Template.Spec.Domain.CPU.Sockets = 4
	if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Update(h.ctx, vm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.cleanUp(key)
	vm, err = h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil || vm.Spec.Template.Spec.Domain.CPU.Sockets != 4 {
		t.Errorf("VM after the cancelled resize's clean-up ran again: %+v %v, want the later 4 sockets kept", vm.Spec.Template.Spec.Domain.CPU, err)
	}
}
