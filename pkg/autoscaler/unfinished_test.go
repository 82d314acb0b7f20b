package autoscaler

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
)

// A pass that created a Resize and lost its status write (a restart between
// the two) recorded no operation name; the next pass must still find the
// resize running, and only this autoscaler's on this VM.
func TestUnfinishedOperationIsFoundByLabel(t *testing.T) {
	op := func(name, autoscaler, vm string, phase v1alpha1.VMOperationPhase) *v1alpha1.VMOperation {
		return &v1alpha1.VMOperation{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{LabelAutoscaler: autoscaler}},
			Spec:       v1alpha1.VMOperationSpec{VMName: vm, Type: v1alpha1.VMOperationResize},
			Status:     v1alpha1.VMOperationStatus{Phase: phase},
		}
	}
	a := New(Config{HyperSDK: hyperfake.NewSimpleClientset(
		op("done", "web", "a", v1alpha1.VMOperationSucceeded),
		op("failed", "web", "a", v1alpha1.VMOperationFailed),
		op("other-vm", "web", "b", v1alpha1.VMOperationRunning),
		op("other-autoscaler", "db", "a", v1alpha1.VMOperationRunning),
	)})
	vma := &v1alpha1.VirtualMachineAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	ctx := context.Background()

	if got, err := a.unfinishedOperation(ctx, vma, "a"); err != nil || got != nil {
		t.Fatalf("with only finished resizes of a and others' running: got %v (%v), want none", got, err)
	}
	if _, err := a.cfg.HyperSDK.HypersdkV1alpha1().VMOperations("ns").Create(ctx, op("lost", "web", "a", v1alpha1.VMOperationPending), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.unfinishedOperation(ctx, vma, "a"); err != nil || got == nil || got.Name != "lost" {
		t.Fatalf("with a pending resize of a whose name the status lost: got %v (%v), want lost", got, err)
	}
}
