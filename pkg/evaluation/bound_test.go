package evaluation

import (
	"math"
	"testing"
	"time"
)

// capacitySim: a small clean node and a big dirty one. The VMs overlap, so
// the clean node cannot hold them all at once: dropping capacities would
// put every VM there.
func capacitySim() *Simulation {
	clean, dirty := node("clean", "C", 4, 16), node("dirty", "D", 16, 64)
	var vms []VM
	for i, span := range []struct{ at, d time.Duration }{{0, 5 * time.Hour}, {0, 3 * time.Hour}, {time.Hour, 4 * time.Hour},
		{90 * time.Minute, 2 * time.Hour}, {2 * time.Hour, 6 * time.Hour}, {6 * time.Hour, 2 * time.Hour}} {
		v := vm(string(rune('a'+i)), span.at, span.d, 2)
		v.Utilization = 0.2 + 0.1*float64(i)
		vms = append(vms, v)
	}
	return &Simulation{Nodes: []Node{clean, dirty}, VMs: vms, End: t0.Add(12 * time.Hour),
		Traces: traceMap(trace("C", t0, repeat(50, 24)...), trace("D", t0, repeat(500, 24)...))}
}

// leastGrams is the best placement of all of sim's VMs within budget that
// never overcommits a node, by trying every assignment.
func leastGrams(t *testing.T, sim *Simulation, budget float64) float64 {
	t.Helper()
	n, best := len(sim.Nodes), math.Inf(1)
	for code := range int(math.Pow(float64(n), float64(len(sim.VMs)))) {
		on := make([]int, len(sim.VMs))
		grams, dollars := 0.0, 0.0
		for k, c := 0, code; k < len(sim.VMs); k, c = k+1, c/n {
			on[k] = c % n
			u, err := Account(&sim.VMs[k], &sim.Nodes[on[k]], sim.Traces, sim.End)
			if err != nil {
				t.Fatal(err)
			}
			grams, dollars = grams+u.Grams, dollars+u.Dollars
		}
		if dollars > budget || grams >= best {
			continue
		}
		fits := true
		// A node is fullest just after an arrival.
		for _, arriving := range sim.VMs {
			cpu := make([]int64, n)
			for k := range sim.VMs {
				if v := &sim.VMs[k]; !arriving.Arrival.Before(v.Arrival) && arriving.Arrival.Before(v.Departure) {
					cpu[on[k]] += v.CPUMilli()
				}
			}
			for i := range cpu {
				fits = fits && cpu[i] <= sim.Nodes[i].CPUMilli
			}
		}
		if fits {
			best = grams
		}
	}
	return best
}

func TestBoundCountsCapacity(t *testing.T) {
	sim := capacitySim()
	all := []bool{true, true, true, true, true, true}
	// allOn is the grams of every VM on node i.
	allOn := func(i int) float64 {
		sum := 0.0
		for k := range sim.VMs {
			u, err := Account(&sim.VMs[k], &sim.Nodes[i], sim.Traces, sim.End)
			if err != nil {
				t.Fatal(err)
			}
			sum += u.Grams
		}
		return sum
	}
	// Every VM on the clean node is what the bound was with capacities
	// dropped and the budget loose; every VM on the dirty one is feasible.
	dropped, allDirty := allOn(0), allOn(1)
	budget := 1e6
	best := leastGrams(t, sim, budget)
	if !(dropped < best) {
		t.Fatalf("capacity does not bind: %.1f g with every VM on the clean node, %.1f g at best", dropped, best)
	}
	bound, err := Bound(sim, all, budget, allDirty)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dropped %.2f, bound %.2f, best %.2f, all dirty %.2f", dropped, bound, best, allDirty)
	if bound > best+1e-6 {
		t.Errorf("bound %.2f g is above the best placement's %.2f g", bound, best)
	}
	if closed := (bound - dropped) / (best - dropped); closed < 0.9 {
		t.Errorf("bound %.2f g closes %.0f%% of the gap from %.2f g (capacities dropped) to the best %.2f g; want at least 90%%",
			bound, closed*100, dropped, best)
	}
	if none, err := Bound(sim, make([]bool, len(sim.VMs)), budget, 0); err != nil || none != 0 {
		t.Errorf("bound with nothing placed = %v, %v; want 0", none, err)
	}
}
