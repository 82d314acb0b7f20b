package statusrest

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// TestUnchangedSpecIsNotValidatedAgain: a spec stored under rules since
// made stricter stays writable for its metadata (labels, finalizers, the
// garbage collector's), and meets the rules once it is edited.
func TestUnchangedSpecIsNotValidatedAgain(t *testing.T) {
	policy := func(obj runtime.Object) *hypersdk.RebalancePolicy { return obj.(*hypersdk.RebalancePolicy) }
	s := strategy{kind: Kind{
		Spec: func(obj runtime.Object) any { return policy(obj).Spec },
		Validate: func(runtime.Object) field.ErrorList {
			return field.ErrorList{field.Invalid(field.NewPath("spec", "mode"), "", "stricter now")}
		},
	}}
	old := &hypersdk.RebalancePolicy{Spec: hypersdk.RebalancePolicySpec{Mode: "DryRun"}}
	relabelled := old.DeepCopy()
	relabelled.Labels = map[string]string{"team": "a"}
	if errs := s.ValidateUpdate(context.Background(), relabelled, old); len(errs) != 0 {
		t.Errorf("a label added to a stored spec: %v, want it accepted", errs)
	}
	edited := old.DeepCopy()
	edited.Spec.Mode = "Automatic"
	if errs := s.ValidateUpdate(context.Background(), edited, old); len(errs) == 0 {
		t.Error("an edited spec: accepted without validation")
	}
}
