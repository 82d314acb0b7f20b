package evaluation

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// runAll runs every contender on sim, which starts at t0, and returns the
// results by name.
func runAll(t *testing.T, sim *Simulation, seed uint64) map[string]Result {
	t.Helper()
	strategies, err := Contenders(sim.Traces, t0, sim.End, seed)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Result{}
	for _, s := range strategies {
		r, err := sim.Run(context.Background(), s)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		out[s.Name] = r
	}
	return out
}

// The rebalanced strategies: kube-scheduler's and HyperSDK's default and
// carbon-only placements under the API's default RebalancePolicy, and the
// budgeted placements under the same policy with the same budget.
func TestContendersRebalanceABudgetWithinIt(t *testing.T) {
	traces := traceMap(trace("A", t0, repeat(100, 24)...))
	strategies, err := Contenders(traces, t0, t0.Add(24*time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	budgets := map[string]any{}
	for _, s := range strategies {
		if s.Rebalance == nil {
			continue
		}
		rb, ok := s.Rebalance.(*Rebalancing)
		if !ok {
			t.Fatalf("%s moves VMs with %T, want the rebalancer", s.Name, s.Rebalance)
		}
		var b any = "none"
		if p := rb.Policy.CostBudgetPercent; p != nil {
			b = *p
		}
		budgets[s.Name] = b
	}
	want := map[string]any{"default-scheduler+rebalance": "none", SpotTaintedStrategy + "+rebalance": "none", "hypersdk+rebalance": "none",
		WeightedStrategy + "+rebalance": "none", "hypersdk-carbon+rebalance": "none", "hypersdk-forecast+rebalance": "none",
		BudgetStrategy(RebalancedBudget) + "+rebalance": int32(RebalancedBudget)}
	if !reflect.DeepEqual(budgets, want) {
		t.Errorf("rebalanced strategies and their cost budgets = %v, want %v", budgets, want)
	}
}

// Two zones: A is always 100 g/kWh; B is 50 in the first hour, then 500.
// Node a (zone A) is small, node b (zone B) big, so the default scheduler's
// LeastAllocated prefers b. VM 1 runs 4 hours from 0:00, VM 2 one hour from
// 1:00, both 2 CPUs:
//
//	default-scheduler  both on b: 50 + 3×500 + 500 = 2050 g/kWh·h
//	hypersdk-carbon    sees B=50 at 0:00, A<B at 1:00: 50 + 3×500 + 100 = 1650
//	oracle             knows B turns dirty, both on a: 4×100 + 100 = 500
func TestOracleBeatsCarbonAwareBeatsDefault(t *testing.T) {
	sim := &Simulation{
		Nodes:  []Node{node("a", "A", 8, 32), node("b", "B", 32, 128)},
		VMs:    []VM{vm("vm1", 0, 4*time.Hour, 2), vm("vm2", time.Hour, time.Hour, 2)},
		End:    t0.Add(24 * time.Hour),
		Traces: traceMap(trace("A", t0, repeat(100, 48)...), trace("B", t0, append([]float64{50}, repeat(500, 47)...)...)),
	}
	results := runAll(t, sim, 1)
	gramsPer := watts2CPUs / 1000 * placement.DefaultPUE
	for _, tc := range []struct {
		strategy       string
		intensityHours float64
	}{
		{"default-scheduler", 2050},
		{"hypersdk-carbon", 1650},
		{"oracle", 500},
	} {
		r := results[tc.strategy]
		if want := tc.intensityHours * gramsPer; math.Abs(r.Grams-want) > 1e-9 {
			t.Errorf("%s emits %.6f g, want %.6f (%v g/kWh·h)", tc.strategy, r.Grams, want, tc.intensityHours)
		}
		if r.Placed != 2 || r.Rejected != 0 {
			t.Errorf("%s placed %d and rejected %d, want 2 and 0", tc.strategy, r.Placed, r.Rejected)
		}
	}
	for name, r := range results {
		if r.Grams < results["oracle"].Grams {
			t.Errorf("%s (%.4f g) beats the oracle (%.4f g)", name, r.Grams, results["oracle"].Grams)
		}
	}
}

func TestRunCountsRejections(t *testing.T) {
	traces := traceMap(trace("A", t0, repeat(100, 24)...))
	end := t0.Add(12 * time.Hour)
	spotVM := vm("spot-ok", 0, time.Hour, 1)
	spotVM.AllowSpot = true
	for _, tc := range []struct {
		name  string
		nodes []Node
		vms   []VM
		// want is placed, rejected and rejected with room by strategy;
		// missing strategies want the same as default-scheduler.
		want map[string][3]int
	}{
		{
			name:  "full node, then freed at departure",
			nodes: []Node{node("a", "A", 4, 64)},
			vms:   []VM{vm("big", 0, 2*time.Hour, 4), vm("rejected", time.Hour, time.Hour, 1), vm("after", 2*time.Hour, time.Hour, 2)},
			// Nothing had room for the rejected VM.
			want: map[string][3]int{"default-scheduler": {2, 1, 0}},
		},
		{
			name:  "spot node without the label",
			nodes: []Node{spotNode("s", "A", 4, 64)},
			vms:   []VM{vm("on-demand", 0, time.Hour, 1), spotVM},
			// HyperSDK and the oracle fall back to spot when nothing
			// else fits; kube-scheduler with tainted spot nodes keeps the
			// VM off, and the node had room.
			want: map[string][3]int{"default-scheduler": {2, 0, 0}, SpotTaintedStrategy: {1, 1, 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := runAll(t, &Simulation{Nodes: tc.nodes, VMs: tc.vms, End: end, Traces: traces}, 1)
			for name, r := range results {
				want, ok := tc.want[strings.TrimSuffix(name, "+rebalance")]
				if !ok && (strings.HasPrefix(name, "hypersdk-$") || strings.HasPrefix(name, "hypersdk-budget+")) {
					want, ok = tc.want["hypersdk"]
				}
				if !ok {
					want = tc.want["default-scheduler"]
				}
				if got := [3]int{r.Placed, r.Rejected, r.RejectedWithRoom}; got != want {
					t.Errorf("%s: placed, rejected, rejected with room = %v, want %v", name, got, want)
				}
			}
		})
	}
}

// capacityCheck fails the test if any node is ever overcommitted when a
// VM arrives, whatever its placer did before.
type capacityCheck struct {
	t     *testing.T
	inner Placer
}

func (p capacityCheck) Place(ctx context.Context, vm *VM, now time.Time, c *Cluster) (int, error) {
	for i, n := range c.Nodes {
		if cpu, mem := c.Requested(i); cpu < 0 || mem < 0 || cpu > n.CPUMilli || mem > n.MemoryBytes {
			p.t.Fatalf("at %s node %s has %d/%d mCPU and %d/%d bytes requested", now, n.Name, cpu, n.CPUMilli, mem, n.MemoryBytes)
		}
	}
	return p.inner.Place(ctx, vm, now, c)
}

// At full load on the real fleet shapes, every strategy hits full nodes,
// rejects VMs, and still never overcommits.
func TestCapacityIsNeverExceeded(t *testing.T) {
	nodes, sim := fleetSimulation(t, 6, 4, 1.0, 5)
	strategies, err := Contenders(sim.Traces, t0, sim.End, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range strategies {
		s.Placer = capacityCheck{t: t, inner: s.Placer}
		r, err := sim.Run(context.Background(), s)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if r.Rejected == 0 {
			t.Errorf("%s rejected nothing at full load on %d nodes: the test does not reach capacity", s.Name, len(nodes))
		}
		if r.Placed+r.Rejected != len(sim.VMs) {
			t.Errorf("%s placed %d and rejected %d of %d VMs", s.Name, r.Placed, r.Rejected, len(sim.VMs))
		}
	}
}

// overcommitter puts every VM on node 0.
type overcommitter struct{}

func (overcommitter) Place(context.Context, *VM, time.Time, *Cluster) (int, error) { return 0, nil }

func TestRunRefusesOvercommit(t *testing.T) {
	sim := &Simulation{Nodes: []Node{node("a", "A", 2, 64)}, VMs: []VM{vm("v1", 0, time.Hour, 2), vm("v2", 0, time.Hour, 2)},
		End: t0.Add(2 * time.Hour), Traces: traceMap(trace("A", t0, 100, 100))}
	_, err := sim.Run(context.Background(), Strategy{Name: "greedy", Placer: overcommitter{}})
	if err == nil || !strings.Contains(err.Error(), "overcommits") {
		t.Errorf("Run = %v, want an overcommit error", err)
	}
}

func TestRunIsDeterministic(t *testing.T) {
	_, a := fleetSimulation(t, 12, 3, 0.6, 9)
	_, b := fleetSimulation(t, 12, 3, 0.6, 9)
	ra, rb := runAll(t, a, 9), runAll(t, b, 9)
	if !reflect.DeepEqual(ra, rb) {
		t.Errorf("two runs with seed 9 differ:\n%v\n%v", ra, rb)
	}
}

// fleetSimulation is days of generated VMs on the sandbox fleet of n nodes,
// with synthetic traces in its zones: a day of history, then a daily cycle
// whose phase differs by zone so the zones' order changes over the day.
func fleetSimulation(t *testing.T, n, days int, load float64, seed uint64) ([]Node, *Simulation) {
	t.Helper()
	nodes, err := NodesFromFleet(fleet.Plan(n), cost.DefaultModel())
	if err != nil {
		t.Fatal(err)
	}
	window := time.Duration(days) * 24 * time.Hour
	vms, err := Generate(WorkloadConfig{Start: t0, Window: window, Seed: seed, Load: load, CapacityCPUs: CapacityCPUs(nodes)})
	if err != nil {
		t.Fatal(err)
	}
	var traces []*carbon.Trace
	for z, zone := range fleet.Zones {
		values := make([]float64, (days+2)*24)
		for h := range values {
			values[h] = 200 + 150*math.Sin(2*math.Pi*float64(h+8*z)/24)
		}
		traces = append(traces, trace(zone, t0.Add(-24*time.Hour), values...))
	}
	if len(vms) == 0 {
		t.Fatalf("no VMs for %d days at load %v", days, load)
	}
	return nodes, &Simulation{Nodes: nodes, VMs: vms, End: t0.Add(window), Traces: traceMap(traces...)}
}
