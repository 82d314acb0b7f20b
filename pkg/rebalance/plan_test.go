package rebalance

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

const gib = 1 << 30

var now = time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)

func node(name, zone string, intensity, cpuUsedPct float64) Node {
	return Node{Labels: map[string]string{"name": name}, Snapshot: placement.NodeSnapshot{
		Name: name, Zone: zone, AllocatableCPU: 16, AllocatableMemory: 64 * gib,
		UsageCPU: 16 * cpuUsedPct / 100, UsageMemory: 8 * gib, UsageKnown: true,
		CarbonIntensity: intensity, CarbonKnown: intensity > 0,
		Pricing: cost.NodePricing{CPUCoreHour: 0.03, MemoryGiBHour: 0.004},
	}}
}

// place puts vm on its node, adding its requests and usage.
func place(in *Input, vm VM) {
	for i := range in.Nodes {
		if s := &in.Nodes[i].Snapshot; s.Name == vm.Node {
			s.RequestedCPU += vm.Request.CPUCores
			s.RequestedMemory += vm.Request.MemoryBytes
		}
	}
	in.VMs = append(in.VMs, vm)
}

func vm(name, node string, cpus, usedCPU, memGiB float64) VM {
	return VM{Namespace: "ns", Name: name, Node: node, LiveMigratable: true, UsageKnown: true, Started: now.Add(-24 * time.Hour),
		Request: placement.VMRequest{Namespace: "ns", Name: name, CPUCores: cpus, MemoryBytes: memGiB * gib, UsageCPU: usedCPU}}
}

func spec(triggers ...v1alpha1.RebalanceTrigger) *v1alpha1.RebalancePolicySpec {
	return &v1alpha1.RebalancePolicySpec{Mode: v1alpha1.RebalanceAutomatic, MaxInFlight: 5, MaxInFlightPerNode: 2,
		Cooldown: &metav1.Duration{Duration: time.Hour}, Triggers: triggers}
}

func pressure(forDur time.Duration) v1alpha1.RebalanceTrigger {
	return v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalancePressure, Pressure: &v1alpha1.PressureTrigger{
		LowThresholdPercent: 30, HighThresholdPercent: 70, For: &metav1.Duration{Duration: forDur}}}
}

func moves(p Plan) string {
	var out []string
	for _, m := range p.Moves {
		out = append(out, fmt.Sprintf("%s:%s->%s", m.VMName, m.FromNode, m.ToNode))
	}
	return strings.Join(out, " ")
}

func TestPressureMovesBusiestVMsWithinTheNodeLimit(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("hot", "ES", 200, 100), node("cool", "ES", 200, 10), node("mid", "ES", 200, 50)},
		Armed: map[string]time.Time{pressureKey("hot"): now.Add(-10 * time.Minute)}}
	// After the two busiest leave, hot is still at 73%: a third would go
	// but for the limit of two per node.
	for i, used := range []float64{2.2, 2.1, 2, 1.9, 1.8, 1.7} {
		place(in, vm(fmt.Sprintf("vm%d", i), "hot", 4, used, 2))
	}
	plan, err := Compute(spec(pressure(5*time.Minute)), in)
	if err != nil {
		t.Fatal(err)
	}
	// Two at most out of one node at once, the busiest first, only to the
	// node under the low threshold; "mid" sits between the thresholds.
	if got := moves(plan); got != "vm0:hot->cool vm1:hot->cool" {
		t.Errorf("moves = %q", got)
	}
	for _, m := range plan.Moves {
		if m.Trigger != v1alpha1.RebalancePressure || !strings.Contains(m.Reason, "above 70% for 10m0s") {
			t.Errorf("move %+v: want a pressure reason naming the threshold and how long", m)
		}
	}
	if len(plan.Held) == 0 || !strings.Contains(plan.Held[0], "maxInFlightPerNode: 2 migrations already planned or in flight on node hot") {
		t.Errorf("held = %q, want the third VM held by the node limit", plan.Held)
	}
	if !plan.Armed[pressureKey("hot")].Equal(now.Add(-10 * time.Minute)) {
		t.Errorf("armed = %v, want the earlier since kept", plan.Armed)
	}
}

func TestPressureWaitsForSustainedLoadAndRespectsInFlight(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("hot", "ES", 200, 95), node("cool", "ES", 200, 10)}}
	place(in, vm("a", "hot", 4, 4, 2))
	plan, err := Compute(spec(pressure(5*time.Minute)), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Moves) != 0 || !plan.Armed[pressureKey("hot")].Equal(now) {
		t.Fatalf("first sight of the load: moves %q, armed %v; want none and armed now", moves(plan), plan.Armed)
	}
	// Later, but one migration out of hot and one into cool are running
	// with a per-node limit of one.
	in.Now, in.Armed = now.Add(6*time.Minute), plan.Armed
	in.InFlight = []Flight{{Namespace: "ns", VMName: "other", From: "hot", To: "cool"}}
	s := spec(pressure(5 * time.Minute))
	s.MaxInFlightPerNode = 1
	if plan, _ = Compute(s, in); len(plan.Moves) != 0 || len(plan.Held) != 1 {
		t.Errorf("with the node's limit reached: moves %q, held %q; want none and one held", moves(plan), plan.Held)
	}
	// Load gone: disarmed.
	in.InFlight, in.Nodes[0].Snapshot.UsageCPU = nil, 4
	if plan, _ = Compute(s, in); len(plan.Armed) != 0 || len(plan.Moves) != 0 {
		t.Errorf("after the load fell: armed %v, moves %q", plan.Armed, moves(plan))
	}
}

func TestPressureCountsVMsInFlightAsGone(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("hot", "ES", 200, 75), node("cool", "ES", 200, 10)},
		Armed: map[string]time.Time{pressureKey("hot"): now.Add(-time.Hour)}}
	place(in, vm("leaving", "hot", 4, 2.2, 2))
	place(in, vm("staying", "hot", 4, 2, 2))
	in.InFlight = []Flight{{Namespace: "ns", VMName: "leaving", From: "hot", To: "cool"}}
	// Measured at 75%, but 61% once the migration in flight ends.
	plan, err := Compute(spec(pressure(time.Minute)), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Moves) != 0 {
		t.Errorf("moves = %q: the VM already leaving brings hot under 70%%", moves(plan))
	}
}

func TestMaintenanceEmptiesNodesBeforeTheWindowAndKeepsThemEmpty(t *testing.T) {
	window := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceMaintenance, Maintenance: &v1alpha1.MaintenanceTrigger{
		Name: "kernel", Schedule: "0 11 * * *", Duration: metav1.Duration{Duration: time.Hour},
		DrainBefore:  &metav1.Duration{Duration: time.Hour},
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"name": "old"}}}}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("old", "ES", 200, 40), node("new", "ES", 200, 40)}}
	place(in, vm("a", "old", 2, 1, 2))
	place(in, vm("b", "old", 2, 1, 2))
	kept := vm("kept", "old", 2, 1, 2)
	kept.Excluded = true
	place(in, kept)
	// Cooling down does not keep a VM on a node going away.
	in.VMs[0].CooldownUntil = now.Add(time.Hour)
	plan, err := Compute(spec(window), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "a:old->new b:old->new" {
		t.Errorf("moves = %q", got)
	}
	if plan.Maintenance["old"] != MaintenanceDraining || len(plan.Maintenance) != 1 {
		t.Errorf("maintenance = %v, want old draining", plan.Maintenance)
	}
	if len(plan.Held) != 1 || !strings.Contains(plan.Held[0], "ns/kept: excluded") {
		t.Errorf("held = %q, want the excluded VM", plan.Held)
	}
	for _, at := range []struct {
		t    time.Time
		want string
	}{{now.Add(-31 * time.Minute), ""}, {now.Add(45 * time.Minute), MaintenanceOpen}, {now.Add(91 * time.Minute), ""}} {
		in.Now = at.t
		plan, _ = Compute(spec(window), in)
		if plan.Maintenance["old"] != at.want {
			t.Errorf("at %s: old is %q, want %q", at.t.Format(time.Kitchen), plan.Maintenance["old"], at.want)
		}
		if at.want == "" && len(plan.Moves) != 0 {
			t.Errorf("at %s outside the window: moves %q", at.t.Format(time.Kitchen), moves(plan))
		}
	}
}

func TestDrainEmptiesOnlyCordonedMatchingNodes(t *testing.T) {
	drain := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceDrain, Drain: &v1alpha1.DrainTrigger{
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"retire": "yes"}}}}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("a", "ES", 200, 40), node("b", "ES", 200, 40), node("c", "ES", 200, 40)}}
	in.Nodes[0].Labels["retire"], in.Nodes[1].Labels["retire"] = "yes", "yes"
	in.Nodes[0].Unschedulable = true
	place(in, vm("on-a", "a", 2, 1, 2))
	place(in, vm("on-b", "b", 2, 1, 2))
	plan, err := Compute(spec(drain), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "on-a:a->b" && got != "on-a:a->c" {
		t.Errorf("moves = %q, want on-a off the cordoned node only", got)
	}
}

// TestAVMWhoseMigrationFailedWaits: emptying a node ignores the cooldown,
// but a VM whose last migration failed waits out its backoff (held, named),
// and the next VM on the node moves meanwhile; failures of the last day
// double the backoff.
func TestAVMWhoseMigrationFailedWaits(t *testing.T) {
	drain := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceDrain, Drain: &v1alpha1.DrainTrigger{
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"retire": "yes"}}}}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("a", "ES", 200, 40), node("b", "ES", 200, 40)}}
	in.Nodes[0].Labels["retire"], in.Nodes[0].Unschedulable = "yes", true
	place(in, vm("failing", "a", 2, 1, 2))
	place(in, vm("other", "a", 2, 1, 2))
	failedAt := func(ago time.Duration) v1alpha1.VMOperation {
		return v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "m"},
			Spec:   v1alpha1.VMOperationSpec{VMName: "failing", Type: v1alpha1.VMOperationMigrate, Migrate: &v1alpha1.MigrateSpec{}},
			Status: v1alpha1.VMOperationStatus{Phase: v1alpha1.VMOperationFailed, CompletionTime: &metav1.Time{Time: now.Add(-ago)}}}
	}
	p := &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: *spec(drain)}
	p.Spec.MaxInFlightPerNode = 1
	flights(p, &cluster{migrations: []v1alpha1.VMOperation{failedAt(3 * time.Minute), failedAt(30 * time.Second)}}, in)
	if want := now.Add(90 * time.Second); !in.VMs[0].BackoffUntil.Equal(want) {
		t.Errorf("after two failures, the last 30s ago: backoff until %v, want %v (two minutes after it)", in.VMs[0].BackoffUntil, want)
	}
	plan, err := Compute(&p.Spec, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "other:a->b" {
		t.Errorf("moves = %q, want other alone, the failing VM waiting", got)
	}
	if !slices.ContainsFunc(plan.Held, func(h string) bool {
		return strings.HasPrefix(h, "ns/failing:") && strings.Contains(h, "last migration failed")
	}) {
		t.Errorf("held %+v, want the failing VM named", plan.Held)
	}
}

// TestAMigrationNotYetOnItsTargetTakesItsRoom: an in-flight migration
// whose target pod is not bound yet counts on its target's requests, so
// the next move does not count on the same room; once bound (Booked), the
// node's requests hold it already.
func TestAMigrationNotYetOnItsTargetTakesItsRoom(t *testing.T) {
	drain := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceDrain, Drain: &v1alpha1.DrainTrigger{
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"retire": "yes"}}}}
	for _, booked := range []bool{false, true} {
		in := &Input{Now: now, Placement: placement.DefaultPolicy(),
			Nodes: []Node{node("old", "ES", 200, 40), node("new", "ES", 200, 10)}}
		in.Nodes[0].Labels["retire"], in.Nodes[0].Unschedulable = "yes", true
		in.Nodes[1].Snapshot.RequestedCPU = 9
		place(in, vm("b", "old", 4, 1, 2))
		place(in, vm("c", "old", 4, 1, 2))
		if booked {
			in.Nodes[1].Snapshot.RequestedCPU += 4 // b's target pod, bound
		}
		in.InFlight = []Flight{{Namespace: "ns", VMName: "b", From: "old", To: "new", Booked: booked}}
		plan, err := Compute(spec(drain), in)
		if err != nil {
			t.Fatal(err)
		}
		if got := moves(plan); got != "" {
			t.Errorf("booked %v: moves = %q, want none: b's move takes new's last 4 free cores", booked, got)
		}
	}
}

func carbonTrigger(forDur time.Duration) v1alpha1.RebalanceTrigger {
	return v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceCarbon, Carbon: &v1alpha1.CarbonTrigger{
		ThresholdPercent: 30, For: &metav1.Duration{Duration: forDur}}}
}

func TestCarbonMovesOnlyWhenTheSavingBeatsTheMigration(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("dirty", "PL", 700, 40), node("clean", "NO", 30, 40)},
		Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour)}}
	// Busy with little memory: worth it. Nearly idle with lots of memory
	// and a fresh start (one hour of expected life): the copy costs more.
	place(in, vm("busy", "dirty", 8, 8, 1))
	big := vm("big", "dirty", 1, 0.05, 48)
	big.Started = now.Add(-time.Minute)
	place(in, big)
	plan, err := Compute(spec(carbonTrigger(time.Hour)), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "busy:dirty->clean" {
		t.Fatalf("moves = %q, want only busy", got)
	}
	m := plan.Moves[0]
	if m.SavedGramsCO2PerHour <= 0 || m.MigrationGramsCO2 <= 0 || m.SavedGramsCO2PerHour*m.ExpectedRemainingHours <= m.MigrationGramsCO2 {
		t.Errorf("move %+v: the saving over the remaining life must beat the migration", m)
	}
	bigMig := EstimateMigration(&big.Request, placement.NodeScore{}, 700)
	if bigMig.Grams < 100 {
		t.Errorf("copying 48 GiB at 700 g/kWh costs %.1f g; the model lost the copy's energy", bigMig.Grams)
	}
	// An internal carbon price does not make a money-losing move pay: the
	// clean node costs far more here.
	in.Nodes[1].Snapshot.Pricing = cost.NodePricing{CPUCoreHour: 3, MemoryGiBHour: 0.4}
	s := spec(carbonTrigger(time.Hour))
	s.CarbonPricePerTonne = 100
	if plan, _ = Compute(s, in); len(plan.Moves) != 0 {
		t.Errorf("at $100/t a move costing $24/h more moved: %q", moves(plan))
	}
}

// TestAVMPastItsCarbonCeilingMoves: a VM whose policy caps the intensity
// of its zone, which has since risen past the cap, is the VM a carbon move
// is most for: its own node is scored without that limit (it used to be
// filtered out, and the VM skipped without a word).
func TestAVMPastItsCarbonCeilingMoves(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("dirty", "PL", 500, 40), node("clean", "NO", 30, 40)},
		Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour)}}
	ceiling := placement.DefaultPolicy()
	ceiling.MaxCarbonIntensity = 300
	capped := vm("capped", "dirty", 8, 8, 1)
	capped.Placement = &ceiling
	place(in, capped)
	plan, err := Compute(spec(carbonTrigger(time.Hour)), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "capped:dirty->clean" {
		t.Errorf("moves = %q, want capped:dirty->clean", got)
	}
}

// TestCarbonMovesStayUnderThePressureThreshold: in a policy with a Pressure
// trigger, a carbon move does not push its target over the high threshold
// (a pressure move would then take a VM off it again).
func TestCarbonMovesStayUnderThePressureThreshold(t *testing.T) {
	for _, tc := range []struct {
		triggers []v1alpha1.RebalanceTrigger
		want     string
	}{
		{[]v1alpha1.RebalanceTrigger{carbonTrigger(time.Hour)}, "v:dirty->clean"},
		{[]v1alpha1.RebalanceTrigger{pressure(time.Hour), carbonTrigger(time.Hour)}, ""},
	} {
		in := &Input{Now: now, Placement: placement.DefaultPolicy(),
			Nodes: []Node{node("dirty", "PL", 700, 40), node("clean", "NO", 30, 60)},
			Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour)}}
		place(in, vm("v", "dirty", 2, 2, 1)) // 9.6 + 2 of 16 CPUs on clean: 72.5%
		plan, err := Compute(spec(tc.triggers...), in)
		if err != nil {
			t.Fatal(err)
		}
		if got := moves(plan); got != tc.want {
			t.Errorf("%d triggers: moves %q, want %q", len(tc.triggers), got, tc.want)
		}
	}
	// A VM whose usage is not measured yet does not move for carbon under
	// a Pressure trigger: it could push the target anywhere.
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("dirty", "PL", 700, 40), node("clean", "NO", 30, 10)},
		Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour)}}
	fresh := vm("fresh", "dirty", 2, 0, 1)
	fresh.UsageKnown = false
	place(in, fresh)
	if plan, err := Compute(spec(pressure(time.Hour), carbonTrigger(time.Hour)), in); err != nil || len(plan.Moves) != 0 {
		t.Errorf("a VM of unknown usage: moves %q (%v), want none", moves(plan), err)
	}
}

// A cost budget lets a carbon move go to the cleanest node within the
// budget over the VM's cheapest option, and nowhere when every cleaner node
// is over it.
func TestCarbonMovesWithinTheCostBudget(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("dirty", "PL", 700, 40), node("clean", "NO", 30, 40), node("fair", "SE", 100, 40)},
		Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour), carbonKey("PL", "SE"): now.Add(-2 * time.Hour)}}
	// Both cleaner nodes cost more than the dirty one: 15% and 4%.
	in.Nodes[1].Snapshot.Pricing = cost.NodePricing{CPUCoreHour: 0.03 * 1.15, MemoryGiBHour: 0.004 * 1.15}
	in.Nodes[2].Snapshot.Pricing = cost.NodePricing{CPUCoreHour: 0.03 * 1.04, MemoryGiBHour: 0.004 * 1.04}
	place(in, vm("busy", "dirty", 8, 8, 1))
	for _, tc := range []struct {
		budget *int32
		want   string
	}{
		{nil, "busy:dirty->clean"},
		{ptr(int32(20)), "busy:dirty->clean"},
		{ptr(int32(10)), "busy:dirty->fair"},
		{ptr(int32(4)), "busy:dirty->fair"},
		{ptr(int32(3)), ""},
		{ptr(int32(0)), ""},
	} {
		s := spec(carbonTrigger(time.Hour))
		s.CostBudgetPercent = tc.budget
		plan, err := Compute(s, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := moves(plan); got != tc.want {
			t.Errorf("budget %v%%: moves = %q, want %q", deref(tc.budget), got, tc.want)
		}
		if tc.budget != nil && tc.want != "" && !strings.Contains(plan.Moves[0].Reason, "cost budget") {
			t.Errorf("budget %v%%: reason %q does not state the budget", *tc.budget, plan.Moves[0].Reason)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func deref(p *int32) any {
	if p == nil {
		return "no"
	}
	return *p
}

func TestCarbonHysteresis(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("z1", "A", 100, 40), node("z2", "B", 75, 40)}}
	place(in, vm("v", "z1", 8, 8, 1))
	s := spec(carbonTrigger(time.Hour))
	// A 25% gap under a 30% threshold does not arm.
	plan, _ := Compute(s, in)
	if len(plan.Armed) != 0 {
		t.Fatalf("armed %v at a 25%% gap", plan.Armed)
	}
	// 40% arms; too recent to move.
	in.Nodes[1].Snapshot.CarbonIntensity = 60
	plan, _ = Compute(s, in)
	if !plan.Armed[carbonKey("A", "B")].Equal(now) || len(plan.Moves) != 0 {
		t.Fatalf("at 40%%: armed %v, moves %q", plan.Armed, moves(plan))
	}
	// Back to 25%, above half the threshold: still armed, and an hour on
	// it fires.
	in.Armed, in.Now, in.Nodes[1].Snapshot.CarbonIntensity = plan.Armed, now.Add(61*time.Minute), 75
	if plan, _ = Compute(s, in); moves(plan) != "v:z1->z2" {
		t.Errorf("armed zone at a 25%% gap after an hour: moves %q", moves(plan))
	}
	// 10%: disarmed.
	in.Nodes[1].Snapshot.CarbonIntensity = 90
	if plan, _ = Compute(s, in); len(plan.Armed) != 0 || len(plan.Moves) != 0 {
		t.Errorf("at 10%%: armed %v, moves %q", plan.Armed, moves(plan))
	}
}

func TestCostMovesToACheaperNodeAndHonoursCooldownAndLimits(t *testing.T) {
	trigger := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceCost, Cost: &v1alpha1.CostTrigger{ThresholdPercent: 20}}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("dear", "ES", 200, 40), node("cheap", "ES", 200, 20), node("same", "ES", 200, 20)}}
	in.Nodes[1].Snapshot.Pricing = cost.NodePricing{CPUCoreHour: 0.01, MemoryGiBHour: 0.001}
	place(in, vm("a", "dear", 2, 1, 2))
	place(in, vm("b", "dear", 2, 1, 2))
	cooling := vm("c", "dear", 2, 1, 2)
	cooling.CooldownUntil = now.Add(time.Minute)
	place(in, cooling)
	cold := vm("d", "dear", 2, 1, 2)
	cold.LiveMigratable = false
	place(in, cold)
	s := spec(trigger)
	// In one zone a move saves no grams to pay for the migration's: only
	// a carbon price lets it spend them (TestCostMovesDoNotRaiseEmissions...).
	if plan, _ := Compute(s, in); len(plan.Moves) != 0 {
		t.Errorf("moves = %q without a carbon price, want none inside one zone", moves(plan))
	}
	s.CarbonPricePerTonne = 100
	s.MaxInFlight = 1
	plan, err := Compute(s, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "a:dear->cheap" {
		t.Errorf("moves = %q, want one (the cluster limit) to the cheap node", got)
	}
	s.MaxInFlight = 5
	plan, _ = Compute(s, in)
	if got := moves(plan); got != "a:dear->cheap b:dear->cheap" {
		t.Errorf("moves = %q: the cooling VM and the one that cannot migrate live must stay, two per node", got)
	}
	s.AllowColdMigration, s.MaxInFlightPerNode = true, 2
	in.Nodes = append(in.Nodes, node("cheap2", "ES", 200, 20))
	in.Nodes[3].Snapshot.Pricing = in.Nodes[1].Snapshot.Pricing
	if plan, _ = Compute(s, in); len(plan.Moves) != 2 {
		t.Errorf("moves = %q: still two out of dear at once", moves(plan))
	}
}

func TestWindowState(t *testing.T) {
	m := &v1alpha1.MaintenanceTrigger{Name: "w", Schedule: "0 2 * * 6", Duration: metav1.Duration{Duration: 2 * time.Hour},
		DrainBefore: &metav1.Duration{Duration: 30 * time.Minute}}
	sat := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC) // a Saturday
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{sat.Add(time.Hour), ""},
		{sat.Add(90 * time.Minute), MaintenanceDraining},
		{sat.Add(2 * time.Hour), MaintenanceOpen},
		{sat.Add(4*time.Hour - time.Second), MaintenanceOpen},
		{sat.Add(4 * time.Hour), ""},
	} {
		got, reason, err := windowState(tc.at, m)
		if err != nil || got != tc.want {
			t.Errorf("at %s: %q (%s), %v; want %q", tc.at.Format(time.RFC3339), got, reason, err, tc.want)
		}
	}
}

// TestCarbonMovesOnlyToAZoneCleanerForLongEnough: B has been cleaner than
// A for two hours, C (cleaner still) only since now: VMs of A go to B. An
// hour later C's pair has fired too and wins.
func TestCarbonMovesOnlyToAZoneCleanerForLongEnough(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("a", "A", 500, 40), node("b", "B", 300, 40), node("c", "C", 100, 40)},
		Armed: map[string]time.Time{carbonKey("A", "B"): now.Add(-2 * time.Hour)}}
	place(in, vm("v", "a", 8, 8, 1))
	plan, err := Compute(spec(carbonTrigger(time.Hour)), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "v:a->b" {
		t.Errorf("moves = %q, want v to B, the zone cleaner for long enough", got)
	}
	if !plan.Armed[carbonKey("A", "C")].Equal(now) || !plan.Armed[carbonKey("B", "C")].Equal(now) || len(plan.Armed) != 3 {
		t.Errorf("armed = %v, want A->B kept and A->C, B->C from now", plan.Armed)
	}
	in.Now, in.Armed = now.Add(time.Hour), plan.Armed
	if plan, _ = Compute(spec(carbonTrigger(time.Hour)), in); moves(plan) != "v:a->c" {
		t.Errorf("an hour later: moves = %q, want v to C", moves(plan))
	}
}

// TestEachVMIsRankedWithItsOwnPlacementPolicy: emptying a node sends each
// VM where the scheduler extender would place it, by the PlacementPolicy
// that governs it: a carbon ceiling keeps one VM off the dirty node, a
// cost-only policy sends the other to the cheap one.
func TestEachVMIsRankedWithItsOwnPlacementPolicy(t *testing.T) {
	drain := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceDrain, Drain: &v1alpha1.DrainTrigger{
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"retire": "yes"}}}}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("a", "ES", 200, 40), node("cheap-dirty", "PL", 600, 30), node("clean", "FR", 40, 30)}}
	in.Nodes[0].Labels["retire"] = "yes"
	in.Nodes[0].Unschedulable = true
	in.Nodes[1].Snapshot.Pricing.CPUCoreHour = 0.01
	ceiling := placement.DefaultPolicy()
	ceiling.MaxCarbonIntensity = 100
	costOnly := placement.DefaultPolicy()
	costOnly.CarbonWeight, costOnly.PressureWeight = 0, 0
	clean, cheap := vm("clean-only", "a", 2, 1, 2), vm("cost-only", "a", 2, 1, 2)
	clean.Placement, cheap.Placement = &ceiling, &costOnly
	place(in, clean)
	place(in, cheap)
	plan, err := Compute(spec(drain), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "clean-only:a->clean cost-only:a->cheap-dirty" && got != "cost-only:a->cheap-dirty clean-only:a->clean" {
		t.Errorf("moves = %q, want clean-only to clean and cost-only to cheap-dirty", got)
	}
}

func TestCostMovesDoNotRaiseEmissionsWithoutACarbonPrice(t *testing.T) {
	trigger := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceCost, Cost: &v1alpha1.CostTrigger{ThresholdPercent: 20}}
	cheap := cost.NodePricing{CPUCoreHour: 0.01, MemoryGiBHour: 0.001}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("here", "ES", 200, 40), node("cheapest", "PL", 700, 20), node("clean", "NO", 30, 20)}}
	in.Nodes[1].Snapshot.Pricing = cheap
	in.Nodes[2].Snapshot.Pricing = cost.NodePricing{CPUCoreHour: 0.015, MemoryGiBHour: 0.0015}
	place(in, vm("a", "here", 2, 1, 2))
	sameZone := node("cheapES", "ES", 200, 20)
	sameZone.Snapshot.Pricing = cheap
	// Zones whose intensity could not be read (node's CarbonKnown false).
	dark := node("dark", "XX", 0, 20)
	dark.Snapshot.Pricing = cheap
	darkHere := node("here", "XX", 0, 40)
	for _, tc := range []struct {
		name  string
		nodes []Node
		price int32
		want  string
	}{
		{"a cheaper clean node wins over the cheapest dirty one", in.Nodes, 0, "a:here->clean"},
		{"only a dirtier node is cheaper", in.Nodes[:2], 0, ""},
		{"the cheaper node is as clean: the migration's grams are not paid back", []Node{in.Nodes[0], sameZone}, 0, ""},
		{"the same with a price on carbon", []Node{in.Nodes[0], sameZone}, 100, "a:here->cheapES"},
		{"the carbon price decides: $1 a tonne is less than the dollars saved", in.Nodes[:2], 1, "a:here->cheapest"},
		// 2.4 g/h more against $0.046/h saved: a move pays below about $19,000 a tonne.
		{"the carbon price decides: $100,000 a tonne is more", in.Nodes[:2], 100000, ""},
		// Unknown grams are not 0 grams: the trade cannot be told.
		{"the cheaper node's intensity is unknown", []Node{in.Nodes[0], dark}, 0, ""},
		{"the same with a price on carbon", []Node{in.Nodes[0], dark}, 1, ""},
		{"the VM's own intensity is unknown", []Node{darkHere, sameZone}, 1, ""},
	} {
		s := spec(trigger)
		s.CarbonPricePerTonne = tc.price
		in := *in
		in.Nodes = tc.nodes
		plan, err := Compute(s, &in)
		if err != nil {
			t.Fatal(err)
		}
		if got := moves(plan); got != tc.want {
			t.Errorf("%s: moves = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCarbonMoveCountsTheRoomArrivalsTake: a move into a clean zone saves
// only until arrivals would have filled the room it takes; when VMs keep
// arriving there, the saving over that shorter horizon must still beat the
// migration.
func TestCarbonMoveCountsTheRoomArrivalsTake(t *testing.T) {
	input := func(arrivedAgo time.Duration) *Input {
		in := &Input{Now: now, Placement: placement.DefaultPolicy(),
			Nodes: []Node{node("dirty", "PL", 700, 40), node("clean", "NO", 30, 40)},
			Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour)}}
		// 32 GiB to copy: about 180 g at 700 g/kWh, paid back in about 9
		// hours on the clean node.
		place(in, vm("busy", "dirty", 8, 8, 32))
		for i := range 4 {
			name := fmt.Sprintf("full-%d", i)
			in.Nodes = append(in.Nodes, node(name, "NO", 30, 90))
			v := vm("arrived-"+name, name, 16, 14, 8)
			v.Started = now.Add(-arrivedAgo)
			place(in, v)
		}
		return in
	}
	// 64 CPUs arrived in NO over the last day: the clean node's 16 free
	// CPUs would be taken in 6 hours, too soon to pay for the copy.
	plan, err := Compute(spec(carbonTrigger(time.Hour)), input(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Moves) != 0 {
		t.Errorf("moved %q although arrivals would fill the room in 6h", moves(plan))
	}
	// The same VMs arrived two days ago: nothing is arriving, the room
	// would stay free, and the 24 hours the VM is expected to run pay.
	if plan, err = Compute(spec(carbonTrigger(time.Hour)), input(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "busy:dirty->clean" {
		t.Fatalf("moves = %q, want busy:dirty->clean", got)
	}
	if !strings.Contains(plan.Moves[0].Reason, "over 24h0m") {
		t.Errorf("reason %q does not count the saving over the VM's 24h", plan.Moves[0].Reason)
	}
}

// TestArrivalsInDirtierZonesTakeTheCleanRoom: a VM that started in a zone
// dirtier than the target would have taken the target's room had it had
// any, so its start is an arrival into the target; a start in a cleaner
// zone is not.
func TestArrivalsInDirtierZonesTakeTheCleanRoom(t *testing.T) {
	cleaner := node("cleaner", "SE", 10, 40)
	cleaner.Unschedulable = true // no room: the move's target is NO
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("dirty", "PL", 700, 40), node("mid", "DE", 400, 40), node("clean", "NO", 30, 40), cleaner},
		Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour)}}
	place(in, vm("busy", "dirty", 8, 8, 32))
	// 64 CPUs started in SE in the last day: cleaner than NO, they had
	// room of their own, and NO's 16 free CPUs stay free for the VM's life.
	for i := range 8 {
		in.Starts = append(in.Starts, Start{Node: "cleaner", At: now.Add(-time.Duration(i+1) * time.Hour), CPUCores: 8})
	}
	plan, err := Compute(spec(carbonTrigger(time.Hour)), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "busy:dirty->clean" {
		t.Fatalf("moves = %q with starts only in a cleaner zone, want busy:dirty->clean", got)
	}
	// The same starts in DE, dirtier than NO: they went there for want of
	// room in NO and would have filled its 16 free CPUs in 6 hours.
	for i := range in.Starts {
		in.Starts[i].Node = "mid"
	}
	if plan, err = Compute(spec(carbonTrigger(time.Hour)), in); err != nil {
		t.Fatal(err)
	}
	if len(plan.Moves) != 0 {
		t.Errorf("moved %q although arrivals in a dirtier zone would refill NO in 6h", moves(plan))
	}
}

// TestDepartedVMsCountAsArrivals: VMs that arrived in the clean zone and
// have already left took its room while they ran, and the next ones will
// too; counting only the survivors would make arrivals look slower than
// they are and the room look free for longer.
func TestDepartedVMsCountAsArrivals(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("dirty", "PL", 700, 40), node("clean", "NO", 30, 40)},
		Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour)}}
	place(in, vm("busy", "dirty", 8, 8, 32))
	// Nothing running started in NO lately: the move pays over the VM's
	// expected 24 hours (TestCarbonMoveCountsTheRoomArrivalsTake).
	plan, err := Compute(spec(carbonTrigger(time.Hour)), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "busy:dirty->clean" {
		t.Fatalf("moves = %q, want busy:dirty->clean", got)
	}
	// 64 CPUs started on the clean node in the last day and are gone: its
	// 16 free CPUs would be taken again in 6 hours, too soon to pay. A
	// start on a node out of the policy's scope is no arrival in NO.
	for i := range 8 {
		in.Starts = append(in.Starts, Start{Node: "clean", At: now.Add(-time.Duration(i+1) * time.Hour), CPUCores: 8})
	}
	in.Starts = append(in.Starts, Start{Node: "elsewhere", At: now.Add(-time.Hour), CPUCores: 64})
	if plan, err = Compute(spec(carbonTrigger(time.Hour)), in); err != nil {
		t.Fatal(err)
	}
	if len(plan.Moves) != 0 {
		t.Errorf("moved %q although departed arrivals show the room refilled in 6h", moves(plan))
	}
	// Starts older than the window say nothing of today's arrivals.
	for i := range in.Starts {
		in.Starts[i].At = now.Add(-DisplacementWindow - time.Duration(i+1)*time.Hour)
	}
	if plan, err = Compute(spec(carbonTrigger(time.Hour)), in); err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "busy:dirty->clean" {
		t.Errorf("moves = %q with only old starts, want busy:dirty->clean", got)
	}
}

// TestSavingsNeverMoveAVMOntoSpotItDoesNotAllow: a cheaper spot node draws
// by cost only the VMs labelled to allow spot; a node being emptied falls
// back to it, as the scheduler would place the VM, when nothing else fits.
// A VM that fell back to spot is not moved off it for a saving either: the
// room it would take is what the next VMs without the label need.
func TestSavingsNeverMoveAVMOntoSpotItDoesNotAllow(t *testing.T) {
	trigger := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceCost, Cost: &v1alpha1.CostTrigger{ThresholdPercent: 20}}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("dear", "ES", 200, 40), node("spot", "ES", 200, 20)}}
	in.Nodes[1].Snapshot.CapacityType = cost.Spot
	in.Nodes[1].Snapshot.Pricing = cost.NodePricing{CPUCoreHour: 0.01, MemoryGiBHour: 0.001}
	place(in, vm("plain", "dear", 2, 1, 2))
	allowing := vm("allowing", "dear", 2, 1, 2)
	allowing.Request.AllowSpot = true
	place(in, allowing)
	s := spec(trigger)
	s.CarbonPricePerTonne = 100
	plan, err := Compute(s, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "allowing:dear->spot" {
		t.Errorf("moves = %q, want only the VM that allows spot on the spot node", got)
	}

	window := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceMaintenance, Maintenance: &v1alpha1.MaintenanceTrigger{
		Name: "kernel", Schedule: "0 11 * * *", Duration: metav1.Duration{Duration: time.Hour},
		DrainBefore:  &metav1.Duration{Duration: time.Hour},
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"name": "dear"}}}}
	in.VMs = in.VMs[:1]
	if plan, _ = Compute(spec(window), in); moves(plan) != "plain:dear->spot" {
		t.Errorf("moves = %q emptying the only on-demand node, want the VM on the spot node", moves(plan))
	}

	dirty := node("dirty", "PL", 700, 40)
	dirty.Snapshot.CapacityType = cost.Spot
	carbon := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{dirty, node("clean", "NO", 30, 40)},
		Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour)}}
	place(carbon, vm("fell-back", "dirty", 8, 8, 1))
	allowing = vm("allowing", "dirty", 8, 8, 1)
	allowing.Request.AllowSpot = true
	place(carbon, allowing)
	if plan, _ = Compute(spec(carbonTrigger(time.Hour)), carbon); moves(plan) != "allowing:dirty->clean" {
		t.Errorf("moves = %q by carbon, want only the VM that allows spot off the dirty spot node", moves(plan))
	}
}

// TestNoSavingsMoveOntoAnUnpricedNode: a node whose labels do not price it
// is not taken for a free one: a cost move goes to the cheapest priced
// node, and none goes to the unpriced one.
func TestNoSavingsMoveOntoAnUnpricedNode(t *testing.T) {
	trigger := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceCost, Cost: &v1alpha1.CostTrigger{ThresholdPercent: 20}}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("dear", "ES", 200, 40), node("unpriced", "ES", 200, 20), node("cheap", "ES", 200, 20)}}
	in.Nodes[1].Snapshot.Pricing, in.Nodes[1].Snapshot.PriceUnknown = cost.NodePricing{}, true
	in.Nodes[2].Snapshot.Pricing = cost.NodePricing{CPUCoreHour: 0.01, MemoryGiBHour: 0.001}
	place(in, vm("a", "dear", 2, 1, 2))
	s := spec(trigger)
	s.CarbonPricePerTonne = 100
	plan, err := Compute(s, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "a:dear->cheap" {
		t.Errorf("moves = %q, want a to the cheapest priced node", got)
	}
}

// TestTargetsAreNodesTheVMFits: the least loaded, cleanest node is no
// target while it carries a taint the VM does not tolerate (a control
// plane's, another policy's maintenance window), and a node its required
// affinity rules out is none either: kube-scheduler would refuse the
// migration's target pod there.
func TestTargetsAreNodesTheVMFits(t *testing.T) {
	controlPlane := corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}
	input := func(v VM) *Input {
		in := &Input{Now: now, Placement: placement.DefaultPolicy(),
			Nodes: []Node{node("hot", "ES", 200, 90), node("cp", "ES", 50, 5), node("worker", "ES", 200, 10)},
			Armed: map[string]time.Time{pressureKey("hot"): now.Add(-time.Hour)}}
		in.Nodes[1].Taints = []corev1.Taint{controlPlane}
		in.Nodes[1].Labels["pool"], in.Nodes[2].Labels["pool"] = "system", "general"
		place(in, v)
		return in
	}
	affinity := func(pool string) *nodeaffinity.RequiredNodeAffinity {
		a := nodeaffinity.GetRequiredNodeAffinity(&corev1.Pod{Spec: corev1.PodSpec{NodeSelector: map[string]string{"pool": pool}}})
		return &a
	}
	tolerant := vm("busy", "hot", 8, 7, 4)
	tolerant.Tolerations = []corev1.Toleration{{Key: controlPlane.Key, Operator: corev1.TolerationOpExists}}
	pinned := vm("busy", "hot", 8, 7, 4)
	pinned.Affinity = affinity("elsewhere")
	for _, tc := range []struct {
		name string
		vm   VM
		want string
	}{
		{"taint not tolerated", vm("busy", "hot", 8, 7, 4), "busy:hot->worker"},
		{"taint tolerated", tolerant, "busy:hot->cp"},
		{"affinity matches no node", pinned, ""},
	} {
		plan, err := Compute(spec(pressure(time.Minute)), input(tc.vm))
		if err != nil {
			t.Fatal(err)
		}
		if got := moves(plan); got != tc.want {
			t.Errorf("%s: moves %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestPressureWithoutVMUsageMovesNothing: with the VMs' usage unread (they
// read as 0), no move would seem to relieve the node, and VMs would move
// until the limits ran out; the trigger holds instead and says why.
func TestPressureWithoutVMUsageMovesNothing(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(), VMUsageUnknown: true,
		Nodes: []Node{node("hot", "ES", 200, 90), node("cool", "ES", 200, 5), node("cold", "ES", 200, 5)},
		Armed: map[string]time.Time{pressureKey("hot"): now.Add(-time.Hour)}}
	for _, name := range []string{"a", "b", "c", "d"} {
		place(in, vm(name, "hot", 2, 0, 2))
	}
	plan, err := Compute(spec(pressure(time.Minute)), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Moves) != 0 || len(plan.Held) != 1 || !strings.Contains(plan.Held[0], "usage is unknown") {
		t.Errorf("moves %q, held %q; want none, and hot held for unknown usage", moves(plan), plan.Held)
	}
	if _, ok := plan.Armed[pressureKey("hot")]; !ok {
		t.Errorf("armed %v: the load is still seen, only not relieved", plan.Armed)
	}
}

// TestPressureMovesOnlyVMsOfMeasuredUsage: a VM whose usage metrics.k8s.io
// has not measured yet (its launcher just started) is held, not moved for
// relief it may not give; the busiest measured VM moves.
func TestPressureMovesOnlyVMsOfMeasuredUsage(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("hot", "ES", 200, 90), node("cool", "ES", 200, 5)},
		Armed: map[string]time.Time{pressureKey("hot"): now.Add(-time.Hour)}}
	fresh := vm("fresh", "hot", 2, 0, 2)
	fresh.UsageKnown = false
	place(in, fresh)
	place(in, vm("busy", "hot", 2, 1.8, 2))
	plan, err := Compute(spec(pressure(time.Minute)), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "busy:hot->cool" || !slices.ContainsFunc(plan.Held, func(h string) bool {
		return strings.HasPrefix(h, "ns/fresh:") && strings.Contains(h, "not measured")
	}) {
		t.Errorf("moves %q, held %q; want busy moved and fresh held", got, plan.Held)
	}
}

// TestNoMoveOntoANodeAnotherPolicyEmpties: a node another policy drains
// for maintenance (PreferNoSchedule) is no target, unless the VM
// tolerates the taint.
func TestNoMoveOntoANodeAnotherPolicyEmpties(t *testing.T) {
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("hot", "ES", 200, 90), node("draining", "ES", 200, 5)},
		Armed: map[string]time.Time{pressureKey("hot"): now.Add(-time.Hour)}}
	in.Nodes[1].Taints = []corev1.Taint{taintFor(MaintenanceDraining)}
	place(in, vm("busy", "hot", 2, 1.8, 2))
	plan, err := Compute(spec(pressure(time.Minute)), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "" {
		t.Errorf("moves %q, want none onto a node being drained", got)
	}
	in.VMs[0].Tolerations = []corev1.Toleration{{Key: TaintKey, Operator: corev1.TolerationOpExists}}
	if plan, err = Compute(spec(pressure(time.Minute)), in); err != nil || moves(plan) != "busy:hot->draining" {
		t.Errorf("a VM tolerating maintenance: moves %q (%v), want onto the node", moves(plan), err)
	}
}

// drainingOld is a drain trigger with node "old" cordoned under it and
// node "new" to take its VMs.
func drainingOld() (v1alpha1.RebalanceTrigger, *Input) {
	drain := v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceDrain, Drain: &v1alpha1.DrainTrigger{
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"retire": "yes"}}}}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Nodes: []Node{node("old", "ES", 200, 40), node("new", "ES", 200, 10)}}
	in.Nodes[0].Labels["retire"] = "yes"
	in.Nodes[0].Unschedulable = true
	return drain, in
}

// TestARefusedVMLeavesItsSlot: with one migration allowed at a time, a VM
// the requester may not migrate (sorted first) is held and says why, and
// the next VM takes the slot.
func TestARefusedVMLeavesItsSlot(t *testing.T) {
	drain, in := drainingOld()
	forbidden := vm("a", "old", 2, 1, 2)
	forbidden.Refused = "bob may not migrate it"
	place(in, forbidden)
	place(in, vm("b", "old", 2, 1, 2))
	s := spec(drain)
	s.MaxInFlight = 1
	plan, err := Compute(s, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "b:old->new" || !slices.Contains(plan.Held, "ns/a: bob may not migrate it") {
		t.Errorf("moves %q, held %q; want b moved and a held as refused", got, plan.Held)
	}
}

// TestEmptyingANodeNamesThePinnedVMs: a VM with passed-through devices is
// never moved, and a node being emptied says it stays rather than look
// empty.
func TestEmptyingANodeNamesThePinnedVMs(t *testing.T) {
	drain, in := drainingOld()
	in.Nodes[0].Pinned = []string{"ns/gpu"}
	place(in, vm("plain", "old", 2, 1, 2))
	plan, err := Compute(spec(drain), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := moves(plan); got != "plain:old->new" || !slices.ContainsFunc(plan.Held, func(h string) bool {
		return strings.HasPrefix(h, "ns/gpu: passed-through devices pin it to node old")
	}) {
		t.Errorf("moves %q, held %q; want plain moved and gpu named as staying", got, plan.Held)
	}
}
