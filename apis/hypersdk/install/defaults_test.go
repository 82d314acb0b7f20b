package install

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
)

// TestRebalanceTriggerByTypeAlone: a trigger written as its type alone
// (`- type: Cost`) is defaulted and then validated as the server does it.
// The ones whose every field has a default get their member with those
// defaults, so the planner acts on them; the ones that need the user's
// fields are rejected on the member's path.
func TestRebalanceTriggerByTypeAlone(t *testing.T) {
	scheme := runtime.NewScheme()
	Install(scheme)
	in := &v1alpha1.RebalancePolicy{Spec: v1alpha1.RebalancePolicySpec{Triggers: []v1alpha1.RebalanceTrigger{
		{Type: v1alpha1.RebalancePressure}, {Type: v1alpha1.RebalanceCarbon}, {Type: v1alpha1.RebalanceCost},
		{Type: v1alpha1.RebalanceMaintenance}, {Type: v1alpha1.RebalanceDrain},
	}}}
	in.Name = "by-type"
	scheme.Default(in)

	tr := in.Spec.Triggers
	if p := tr[0].Pressure; p == nil || p.LowThresholdPercent != 20 || p.HighThresholdPercent != 80 || p.For == nil {
		t.Errorf("pressure defaulted to %+v, want 20/80 for 5m", p)
	}
	if c := tr[1].Carbon; c == nil || c.ThresholdPercent != 20 || c.For == nil {
		t.Errorf("carbon defaulted to %+v, want 20%% for 1h", c)
	}
	if c := tr[2].Cost; c == nil || c.ThresholdPercent != 10 {
		t.Errorf("cost defaulted to %+v, want 10%%", c)
	}
	if tr[3].Maintenance != nil || tr[4].Drain != nil {
		t.Errorf("maintenance %+v and drain %+v were made up; only the user can name their nodes", tr[3].Maintenance, tr[4].Drain)
	}

	var internal hypersdk.RebalancePolicy
	if err := scheme.Convert(in, &internal, nil); err != nil {
		t.Fatalf("converting to the internal version: %v", err)
	}
	var got []string
	for _, e := range validation.ValidateRebalancePolicy(&internal) {
		got = append(got, e.Field)
	}
	if want := "spec.triggers[3].maintenance,spec.triggers[4].drain"; strings.Join(got, ",") != want {
		t.Errorf("rejected fields %v, want %s", got, want)
	}
}
