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
	capped, _, within, err := CostCapped(ctx, sim, budget)
	if err != nil || !within {
		t.Fatalf("capped: within %v, %v", within, err)
	}
	if capped.Dollars > budget || capped.Grams >= cheapest.Grams || capped.Grams < greenest.Grams {
		t.Errorf("capped spends $%.4f of $%.4f for %.1f g; want within budget, between %.1f and %.1f g",
			capped.Dollars, budget, capped.Grams, greenest.Grams, cheapest.Grams)
	}
	if _, _, within, err := CostCapped(ctx, sim, cheapest.Dollars/2); err != nil || within {
		t.Errorf("half the cheapest spend: within %v, %v; want not within", within, err)
	}

	all := make([]bool, len(sim.VMs))
	for i := range all {
		all[i] = true
	}
	for _, b := range []float64{budget, greenest.Dollars * 2} {
		bound, err := Bound(sim, all, b)
		if err != nil {
			t.Fatal(err)
		}
		// Capacity never binds here, so the bound is the best placement
		// within the budget's grams up to the greedy's integrality.
		if bound > capped.Grams+1e-9 || bound < greenest.Grams-1e-9 {
			t.Errorf("bound at $%.4f = %.2f g, want between the greenest %.2f and the capped oracle's %.2f", b, bound, greenest.Grams, capped.Grams)
		}
	}
	if bound, err := Bound(sim, all, cheapest.Dollars/2); err != nil || !math.IsInf(bound, 1) {
		t.Errorf("bound under the cheapest spend = %v, %v; want +Inf", bound, err)
	}
}
