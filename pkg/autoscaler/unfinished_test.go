package autoscaler

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
	"github.com/hypersdk/hypersdk/pkg/operations"
)

func resizeOp(name, autoscaler, vm string, phase v1alpha1.VMOperationPhase, created time.Time) *v1alpha1.VMOperation {
	return &v1alpha1.VMOperation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{LabelAutoscaler: autoscaler},
			CreationTimestamp: metav1.NewTime(created.Truncate(time.Second)),
			Annotations:       map[string]string{operations.CreatedAtAnnotation: created.Format(time.RFC3339Nano)}},
		Spec:   v1alpha1.VMOperationSpec{VMName: vm, Type: v1alpha1.VMOperationResize},
		Status: v1alpha1.VMOperationStatus{Phase: phase},
	}
}

// A pass that created a Resize and lost its status write (a restart between
// the two) recorded no operation name; the next pass must still find the
// resize running, and only this autoscaler's on this VM.
func TestUnfinishedOperationIsFoundByLabel(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	a := New(Config{HyperSDK: hyperfake.NewSimpleClientset(
		resizeOp("done", "web", "a", v1alpha1.VMOperationSucceeded, now),
		resizeOp("failed", "web", "a", v1alpha1.VMOperationFailed, now),
		resizeOp("other-vm", "web", "b", v1alpha1.VMOperationRunning, now),
		resizeOp("other-autoscaler", "db", "a", v1alpha1.VMOperationRunning, now),
	)})
	vma := &v1alpha1.VirtualMachineAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	ctx := context.Background()

	onA := func() ([]v1alpha1.VMOperation, error) {
		ops, err := a.operations(ctx, vma)
		return slices.DeleteFunc(ops, func(op v1alpha1.VMOperation) bool { return op.Spec.VMName != "a" }), err
	}
	ops, err := onA()
	if got := unfinishedOf(ops); err != nil || got != nil {
		t.Fatalf("with only finished resizes of a and others' running: got %v (%v), want none", got, err)
	}
	if _, err := a.cfg.HyperSDK.HypersdkV1alpha1().VMOperations("ns").Create(ctx,
		resizeOp("lost", "web", "a", v1alpha1.VMOperationPending, now), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ops, err = onA()
	if got := unfinishedOf(ops); err != nil || got == nil || got.Name != "lost" {
		t.Fatalf("with a pending resize of a whose name the status lost: got %v (%v), want lost", got, err)
	}
}

// TestChangesTheStatusLostStillCount: a resize whose pass lost its status
// write counts as a change (for the cooldown and the daily limit) also once
// it finished; the status's own operation, resizes older than its last
// change, and those over a day old are not counted again.
func TestChangesTheStatusLostStillCount(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	recorded := now.Add(-3 * time.Hour)
	prev := v1alpha1.VirtualMachineRecommendationStatus{Name: "a", Operation: "recorded", Changes: []metav1.Time{{Time: recorded}}}
	lostAt := now.Add(-5 * time.Minute)
	ops := []v1alpha1.VMOperation{
		*resizeOp("recorded", "web", "a", v1alpha1.VMOperationSucceeded, recorded.Add(300*time.Millisecond)),
		*resizeOp("older", "web", "a", v1alpha1.VMOperationSucceeded, recorded.Add(-time.Hour)),
		*resizeOp("lost", "web", "a", v1alpha1.VMOperationSucceeded, lostAt),
	}
	missed, newest := missedChanges(ops, prev, now)
	if !slices.EqualFunc(missed, []metav1.Time{{Time: lostAt}}, func(a, b metav1.Time) bool { return a.Equal(&b) }) || newest != "lost" {
		t.Errorf("missed %v, newest %q; want the lost resize's time alone, and its name", missed, newest)
	}
	if missed, _ := missedChanges(ops, prev, lostAt.Add(24*time.Hour)); len(missed) != 0 {
		t.Errorf("a day later: missed %v, want none", missed)
	}
}
