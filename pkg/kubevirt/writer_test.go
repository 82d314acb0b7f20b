package kubevirt

import (
	"context"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	kvfake "kubevirt.io/client-go/kubevirt/fake"
)

// TestUpdateAdmittedOnAnOlderVM: an update whose start, stop or resize was
// admitted against a cached view older than the VirtualMachine is now is
// refused as stale (Admitted), also when the client asked unconditionally,
// so that it is admitted again on what the VM is now; one admitted against
// the current version is written.
func TestUpdateAdmittedOnAnOlderVM(t *testing.T) {
	ctx := context.Background()
	vm := &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm", ResourceVersion: "9"},
		Spec: kvv1.VirtualMachineSpec{RunStrategy: ptr.To(kvv1.RunStrategyHalted),
			Template: &kvv1.VirtualMachineInstanceTemplateSpec{}},
	}
	w := NewWriter(kvfake.NewSimpleClientset(vm))
	view := View(vm, nil)
	view.Spec.Running = ptr.To(true)

	_, _, err := w.Update(ctx, view, 0, 7, nil)
	var stale *StaleError
	if !errors.As(err, &stale) || !stale.Admitted || stale.Current != 9 {
		t.Fatalf("update admitted at 7 of a VM at 9: %v, want a StaleError marked Admitted at 9", err)
	}
	if _, _, err := w.Update(ctx, view, 0, 9, nil); err != nil {
		t.Errorf("update admitted at the VM's version: %v", err)
	}
}
