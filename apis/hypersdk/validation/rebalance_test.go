package validation

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

func TestValidateRebalancePolicy(t *testing.T) {
	d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
	nodes := &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "a"}}
	window := func() *hypersdk.MaintenanceTrigger {
		return &hypersdk.MaintenanceTrigger{Name: "kernel", Schedule: "0 2 * * 6", Duration: metav1.Duration{Duration: 2 * time.Hour},
			DrainBefore: d(time.Hour), NodeSelector: nodes}
	}
	for _, tc := range []struct {
		name   string
		change func(*hypersdk.RebalancePolicySpec)
		want   string
	}{
		{"valid", func(*hypersdk.RebalancePolicySpec) {}, ""},
		{"no triggers", func(s *hypersdk.RebalancePolicySpec) { s.Triggers = nil }, "spec.triggers"},
		{"unknown trigger", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers = append(s.Triggers, hypersdk.RebalanceTrigger{Type: "Weather"})
		}, "spec.triggers[5].type"},
		{"member of another type", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers[0].Cost = &hypersdk.CostTrigger{ThresholdPercent: 10}
		}, "spec.triggers[0].cost"},
		{"overlapping thresholds", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers[0].Pressure.LowThresholdPercent, s.Triggers[0].Pressure.HighThresholdPercent = 80, 70
		}, "spec.triggers[0].pressure.lowThresholdPercent"},
		{"empty window", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers[3].Maintenance.Duration = metav1.Duration{}
		}, "spec.triggers[3].maintenance.duration"},
		{"bad schedule, every node", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers[3].Maintenance.Schedule, s.Triggers[3].Maintenance.NodeSelector = "at two", &metav1.LabelSelector{}
		}, "spec.triggers[3].maintenance.schedule,spec.triggers[3].maintenance.nodeSelector"},
		{"window on a date that never comes", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers[3].Maintenance.Schedule = "0 2 30 2 *"
		}, "spec.triggers[3].maintenance.schedule"},
		// robfig/cron panics on the first and runs the second in Berlin.
		{"time zone prefix alone", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers[3].Maintenance.Schedule = "CRON_TZ=UTC"
		}, "spec.triggers[3].maintenance.schedule"},
		{"time zone prefix", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers[3].Maintenance.Schedule = "CRON_TZ=Europe/Berlin 30 2 * * *"
		}, "spec.triggers[3].maintenance.schedule"},
		{"two windows of one name", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers = append(s.Triggers, hypersdk.RebalanceTrigger{Type: hypersdk.RebalanceMaintenance, Maintenance: window()})
		}, "spec.triggers[5].maintenance.name"},
		{"two pressure triggers", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers = append(s.Triggers, s.Triggers[0])
		}, "spec.triggers[5].type"},
		{"negative price, limits above the operation limits", func(s *hypersdk.RebalancePolicySpec) {
			s.CarbonPricePerTonne, s.MaxInFlight, s.MaxInFlightPerNode = -1, 6, 3
		}, "spec.maxInFlight,spec.maxInFlightPerNode,spec.carbonPricePerTonne"},
		{"cost budget out of range", func(s *hypersdk.RebalancePolicySpec) {
			b := int32(1001)
			s.CostBudgetPercent = &b
		}, "spec.costBudgetPercent"},
		{"cost budget with a carbon price", func(s *hypersdk.RebalancePolicySpec) {
			b := int32(10)
			s.CostBudgetPercent, s.CarbonPricePerTonne = &b, 200
		}, "spec.costBudgetPercent"},
		{"unknown mode, short cooldown", func(s *hypersdk.RebalancePolicySpec) {
			s.Mode, s.Cooldown = "Sometimes", d(time.Second)
		}, "spec.mode,spec.cooldown"},
		// The backoff stops at a day: a week would be cut to it.
		{"cooldown over a day", func(s *hypersdk.RebalancePolicySpec) { s.Cooldown = d(168 * time.Hour) }, "spec.cooldown"},
		{"cooldown of a day", func(s *hypersdk.RebalancePolicySpec) { s.Cooldown = d(24 * time.Hour) }, ""},
		{"drain without nodes, carbon threshold out of range", func(s *hypersdk.RebalancePolicySpec) {
			s.Triggers[4].Drain.NodeSelector = nil
			s.Triggers[1].Carbon.ThresholdPercent = 0
		}, "spec.triggers[1].carbon.thresholdPercent,spec.triggers[4].drain.nodeSelector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &hypersdk.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"},
				Spec: hypersdk.RebalancePolicySpec{Mode: hypersdk.RebalanceAutomatic, MaxInFlight: 5, MaxInFlightPerNode: 2,
					Cooldown: d(time.Hour), Triggers: []hypersdk.RebalanceTrigger{
						{Type: hypersdk.RebalancePressure, Pressure: &hypersdk.PressureTrigger{LowThresholdPercent: 20, HighThresholdPercent: 80, For: d(time.Minute)}},
						{Type: hypersdk.RebalanceCarbon, Carbon: &hypersdk.CarbonTrigger{ThresholdPercent: 20, For: d(time.Hour), ForecastHorizon: d(4 * time.Hour)}},
						{Type: hypersdk.RebalanceCost, Cost: &hypersdk.CostTrigger{ThresholdPercent: 10}},
						{Type: hypersdk.RebalanceMaintenance, Maintenance: window()},
						{Type: hypersdk.RebalanceDrain, Drain: &hypersdk.DrainTrigger{NodeSelector: nodes}},
					}}}
			tc.change(&p.Spec)
			if got := fields(ValidateRebalancePolicy(p)); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidatePlacementPolicyCarbonPrice(t *testing.T) {
	for _, tc := range []struct {
		price int32
		want  string
	}{{0, ""}, {200, ""}, {100000, ""}, {-1, "spec.carbonPricePerTonne"}, {100001, "spec.carbonPricePerTonne"}} {
		p := &hypersdk.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: hypersdk.PlacementPolicySpec{CarbonPricePerTonne: &tc.price}}
		if got := fields(ValidatePlacementPolicy(p)); got != tc.want {
			t.Errorf("price %d: failing fields %q, want %q", tc.price, got, tc.want)
		}
	}
}

func TestValidatePlacementPolicyCostBudget(t *testing.T) {
	price := int32(200)
	for _, tc := range []struct {
		budget int32
		price  *int32
		want   string
	}{
		{0, nil, ""}, {5, nil, ""}, {1000, nil, ""},
		{-1, nil, "spec.costBudgetPercent"}, {1001, nil, "spec.costBudgetPercent"},
		{5, &price, "spec.costBudgetPercent"}, // a budget or a price, not both
	} {
		p := &hypersdk.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: hypersdk.PlacementPolicySpec{CostBudgetPercent: &tc.budget, CarbonPricePerTonne: tc.price}}
		if got := fields(ValidatePlacementPolicy(p)); got != tc.want {
			t.Errorf("budget %d, price %v: failing fields %q, want %q", tc.budget, tc.price, got, tc.want)
		}
	}
}

func TestValidatePlacementPolicyWeights(t *testing.T) {
	w := func(v int32) *int32 { return &v }
	for _, tc := range []struct {
		name                        string
		carbon, cost, pressure, gpu *int32
		want                        string
	}{
		{"unset", nil, nil, nil, nil, ""},
		{"carbon only", w(1), w(0), w(0), nil, ""},
		{"pressure left to its default", w(0), w(0), nil, w(0), ""},
		// A policy for GPU VMs may let GPU fit alone decide.
		{"gpu only", w(0), w(0), w(0), w(5), ""},
		{"all zero", w(0), w(0), w(0), w(0), "spec.carbonWeight"},
		{"out of range", w(101), w(-1), nil, nil, "spec.carbonWeight,spec.costWeight"},
	} {
		p := &hypersdk.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: hypersdk.PlacementPolicySpec{CarbonWeight: tc.carbon, CostWeight: tc.cost, PressureWeight: tc.pressure, GPUWeight: tc.gpu}}
		if got := fields(ValidatePlacementPolicy(p)); got != tc.want {
			t.Errorf("%s: failing fields %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestStoredWindowSchedulesInAZoneRun: a window stored with a time zone
// prefix before they were refused keeps running in its zone; one without
// a schedule after the prefix is an error, not a panic.
func TestStoredWindowSchedulesInAZoneRun(t *testing.T) {
	s, err := ParseStoredWindowSchedule("CRON_TZ=Europe/Madrid 0 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	if next := s.Next(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)); !next.Equal(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("next window at %v, want 01:00 UTC (02:00 in Madrid)", next.UTC())
	}
	if _, err := ParseStoredWindowSchedule("CRON_TZ=UTC"); err == nil {
		t.Error("a prefix alone: no error")
	}
	if _, err := ParseWindowSchedule("CRON_TZ=Europe/Madrid 0 2 * * *"); err == nil {
		t.Error("a new schedule with a prefix: no error")
	}
}
