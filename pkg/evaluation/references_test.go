package evaluation

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/pkg/cost"
)

// A clean dear zone and a dirty cheap one, room for all VMs in either. The
// VMs' utilisations differ, so moving each to the clean zone saves a
// different number of grams for the same dollars: a price of cost moves
// them one by one.
func tradeOffSim() *Simulation {
	clean, dirty := node("clean", "C", 16, 64), node("dirty", "D", 16, 64)
	clean.Pricing = cost.NodePricing{CPUCoreHour: 0.06, MemoryGiBHour: 0.004}
	var vms []VM
	for i := range 6 {
		v := vm(string(rune('a'+i)), time.Duration(i)*time.Hour, 3*time.Hour, 2)
		v.Utilization = 0.1 + 0.15*float64(i)
		vms = append(vms, v)
	}
	return &Simulation{Nodes: []Node{clean, dirty}, VMs: vms, End: t0.Add(12 * time.Hour),
		Traces: traceMap(trace("C", t0, repeat(30, 24)...), trace("D", t0, repeat(600, 24)...))}
}

func TestCostCappedSpendsTheBudgetOnCarbon(t *testing.T) {
	ctx := context.Background()
	sim := tradeOffSim()
	greenest, err := sim.Run(ctx, Strategy{Name: "oracle", Placer: NewPricedOracle(sim.Traces, sim.End, 0)})
	if err != nil {
		t.Fatal(err)
	}
	cheapest, err := sim.Run(ctx, Strategy{Name: "cheap", Placer: NewPricedOracle(sim.Traces, sim.End, 1e9)})
	if err != nil {
		t.Fatal(err)
	}
	if !(cheapest.Dollars < greenest.Dollars && greenest.Grams < cheapest.Grams) {
		t.Fatalf("no trade-off to test: cheapest %+v, greenest %+v", cheapest.Usage, greenest.Usage)
	}
	budget := (cheapest.Dollars + greenest.Dollars) / 2
	capped, _, within, err := CostCapped(ctx, sim, budget, Foresight)
	if err != nil || !within {
		t.Fatalf("capped: within %v, %v", within, err)
	}
	if capped.Dollars > budget || capped.Grams >= cheapest.Grams || capped.Grams < greenest.Grams {
		t.Errorf("capped spends $%.4f of $%.4f for %.1f g; want within budget, between %.1f and %.1f g",
			capped.Dollars, budget, capped.Grams, greenest.Grams, cheapest.Grams)
	}
	if _, _, within, err := CostCapped(ctx, sim, cheapest.Dollars/2, Foresight); err != nil || within {
		t.Errorf("half the cheapest spend: within %v, %v; want not within", within, err)
	}

	// The intensities never change, so the current hour tells what the
	// future does: the hindsight price finds the same trade-off.
	now, _, within, err := CostCapped(ctx, sim, budget, CurrentHour)
	if err != nil || !within || now.Grams != capped.Grams || now.Dollars != capped.Dollars {
		t.Errorf("hindsight price: within %v, %v, %.1f g for $%.4f; want the capped oracle's %.1f g for $%.4f", within, err,
			now.Grams, now.Dollars, capped.Grams, capped.Dollars)
	}

	all := make([]bool, len(sim.VMs))
	for i := range all {
		all[i] = true
	}
	for _, b := range []struct{ budget, feasible float64 }{{budget, capped.Grams}, {greenest.Dollars * 2, greenest.Grams}} {
		bound, err := Bound(sim, all, b.budget, b.feasible)
		if err != nil {
			t.Fatal(err)
		}
		// Capacity never binds here, so the bound is the best placement
		// within the budget's grams up to the greedy's integrality.
		if bound > capped.Grams+1e-9 || bound < greenest.Grams-1e-9 {
			t.Errorf("bound at $%.4f = %.2f g, want between the greenest %.2f and the capped oracle's %.2f", b.budget, bound, greenest.Grams, capped.Grams)
		}
	}
	if bound, err := Bound(sim, all, cheapest.Dollars/2, cheapest.Grams); err != nil || !math.IsInf(bound, 1) {
		t.Errorf("bound under the cheapest spend = %v, %v; want +Inf", bound, err)
	}
}

// TestHindsightPriceSeesOnlyTheCurrentHour: zone A is the cleaner when
// the VM arrives and far dirtier for the rest of its life. The oracle,
// knowing that, takes B; the hindsight price takes A, as any placement on
// the current hour would, and at a high enough price both take the
// cheaper B.
func TestHindsightPriceSeesOnlyTheCurrentHour(t *testing.T) {
	ctx := context.Background()
	a, b := node("a", "A", 8, 32), node("b", "B", 8, 32)
	a.Pricing = cost.NodePricing{CPUCoreHour: 0.06, MemoryGiBHour: 0.004}
	sim := &Simulation{Nodes: []Node{a, b}, VMs: []VM{vm("v", 0, 10*time.Hour, 2)}, End: t0.Add(12 * time.Hour),
		Traces: traceMap(trace("A", t0, append([]float64{50}, repeat(900, 23)...)...), trace("B", t0, repeat(300, 24)...))}
	for _, c := range []struct {
		name   string
		placer Placer
		want   string
	}{
		{"the oracle", NewPricedOracle(sim.Traces, sim.End, 0), "B"},
		{"the hindsight price at 0 g/$", NewHindsightPrice(sim.Traces, 0), "A"},
		{"the hindsight price at 1e9 g/$", NewHindsightPrice(sim.Traces, 1e9), "B"},
	} {
		r, err := sim.Run(ctx, Strategy{Name: "x", Placer: c.placer})
		if err != nil {
			t.Fatal(err)
		}
		if r.ZoneCPUHours[c.want] != 20 {
			t.Errorf("%s: CPU-hours %v, want all 20 in %s", c.name, r.ZoneCPUHours, c.want)
		}
	}
}

// TestRebalancingMovesAndCharges: zone A is clean for the first two hours
// and then far dirtier than B for good; kube-scheduler puts a long VM on
// A's bigger node. The carbon trigger arms at 02:00 and may fire from
// 03:00, but the move waits until the saving over the VM's expected
// remaining life (its age) beats the migration: copying its 8.25 GiB at
// 800 g/kWh costs about 60 g, moving saves about 10 g/h, so at 06:00. The
// run is charged A's span, B's span and the migration, and emits less than
// without.
func TestRebalancingMovesAndCharges(t *testing.T) {
	ctx := context.Background()
	a, b := node("a", "A", 16, 64), node("b", "B", 8, 64)
	values := append(repeat(20, 2), repeat(800, 46)...)
	sim := &Simulation{Nodes: []Node{a, b}, VMs: []VM{vm("long", 0, 24*time.Hour, 4)}, End: t0.Add(24 * time.Hour),
		Traces: traceMap(trace("A", t0, values...), trace("B", t0, repeat(100, 48)...))}
	sim.VMs[0].Utilization = 0.9
	plain, err := sim.Run(ctx, Strategy{Name: "ds", Placer: NewDefaultScheduler(1)})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := sim.Run(ctx, Strategy{Name: "ds+rebalance", Placer: NewDefaultScheduler(1), Rebalance: DefaultRebalancing()})
	if err != nil {
		t.Fatal(err)
	}
	if plain.ZoneCPUHours["B"] != 0 || moved.Migrations != 1 {
		t.Fatalf("without: %v; with: %d migrations, want the VM on A, then one move", plain.ZoneCPUHours, moved.Migrations)
	}
	v := &sim.VMs[0]
	onA, err := AccountSpan(v, &a, sim.Traces, t0, t0.Add(6*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	onB, err := AccountSpan(v, &b, sim.Traces, t0.Add(6*time.Hour), sim.End)
	if err != nil {
		t.Fatal(err)
	}
	want := onA.Grams + onB.Grams + moved.MigrationGrams
	if math.Abs(moved.Grams-want) > 1e-9 || moved.MigrationGrams <= 0 || moved.MigrationDollars <= 0 {
		t.Errorf("charged %.3f g (migration %.3f g, $%.5f), want A's %.3f + B's %.3f + the migration", moved.Grams,
			moved.MigrationGrams, moved.MigrationDollars, onA.Grams, onB.Grams)
	}
	// After the move the VM emits on B what it would have emitted more
	// on A over the same 18 hours.
	stayed, err := AccountSpan(v, &a, sim.Traces, t0.Add(6*time.Hour), sim.End)
	if err != nil {
		t.Fatal(err)
	}
	if saved := stayed.Grams - onB.Grams; saved <= 0 || math.Abs(moved.MovedSavedGrams-saved) > 1e-9 {
		t.Errorf("moved VMs saved %.3f g, want A's %.3f - B's %.3f over the same span", moved.MovedSavedGrams, stayed.Grams, onB.Grams)
	}
	if plain.MovedSavedGrams != 0 {
		t.Errorf("without moves the moved VMs saved %.3f g, want 0", plain.MovedSavedGrams)
	}
	if moved.Grams >= plain.Grams || moved.ZoneCPUHours["B"] != 4*18 {
		t.Errorf("with the rebalancer %.1f g and %v CPU-hours, want less than %.1f g and 72 on B", moved.Grams, moved.ZoneCPUHours, plain.Grams)
	}
}

// TestRebalancerGivesTheDaysStarts: the planner sees every placement of
// the last rebalance.DisplacementWindow, departed VMs too, as the
// controller remembers them, and the older ones are dropped.
func TestRebalancerGivesTheDaysStarts(t *testing.T) {
	var rb rebalancer
	rb.started("a", t0.Add(-30*time.Hour), 4)
	rb.started("b", t0.Add(-10*time.Hour), 2)
	rb.started("a", t0.Add(-time.Hour), 8)
	got := rb.recentStarts(t0)
	if len(got) != 2 || got[0].Node != "b" || got[1].CPUCores != 8 {
		t.Fatalf("starts = %+v, want b's 2 CPUs 10h ago and a's 8 CPUs 1h ago", got)
	}
	if got := rb.recentStarts(t0.Add(20 * time.Hour)); len(got) != 1 || got[0].CPUCores != 8 {
		t.Errorf("starts 20h later = %+v, want only a's last", got)
	}
}
