package evaluation

import (
	"math"
	"time"
)

// Bound is a lower bound on the grams any placement of the VMs marked in
// placed could emit for at most budget dollars, each VM on any node it fits
// when empty (spot too: any VM may fall back to spot) and no node holding
// more than its allocatable CPU and memory at the top of any hour of the
// window. It is the Lagrangian dual of that assignment, the budget and the
// capacities priced in:
//
//	L(λ, μ) = Σ_v min_n (g_vn + λ c_vn/B + Σ_{h ∈ v's life} μ_nh·share_vn)
//	          − λ − Σ_nh μ_nh
//
// with each VM's true future grams g and dollars c on node n, B the budget
// and share its CPU (and, with a second μ, memory) requests over node n's
// allocatable. Every placement that respects the budget and the
// capacities (at every instant, so at the hours' tops too) is one of the
// relaxation's, so for any λ, μ ≥ 0 none emits less than L (weak
// duality): Bound returns the largest L it finds. It starts from the best
// λ with the capacities dropped (μ = 0, a ternary search: L is concave in
// λ) and climbs by projected subgradient steps (Polyak's, towards
// feasibleGrams, the grams of a placement known to meet both, such as
// kube-scheduler's). It is +Inf when even the cheapest node for every VM
// costs more than budget.
func Bound(sim *Simulation, placed []bool, budget, feasibleGrams float64) (float64, error) {
	r, err := newRelaxation(sim, placed, budget)
	if err != nil {
		return 0, err
	}
	if r.cheapest() > budget {
		// No placement of these VMs fits the budget: kube-scheduler, which
		// ignores spot labels, can be cheaper than any placement that
		// honours them.
		return math.Inf(1), nil
	}
	return r.maximise(feasibleGrams), nil
}

// The subgradient climb halves its step after boundPatience steps without
// a better L, and stops when the step is below boundLeastStep or after
// boundSteps. On June 2022's window (8,977 VMs, 30 nodes, 720 hours) it
// stops on the step after about 900 steps, 4 ms each on one core: the
// bound is then within 0.3% of what 60 steps of patience reach.
const (
	boundSteps     = 2000
	boundPatience  = 30
	boundLeastStep = 1e-3
)

// relaxation is Bound's problem: for each VM its options, and the hours
// (tops of the window's hours) it runs at.
type relaxation struct {
	vms    []relaxedVM
	nodes  int
	hours  int
	budget float64
}

type relaxedVM struct {
	options []relaxedOption
	// from and to are the hours [from, to) whose tops the VM runs at.
	from, to int
}

type relaxedOption struct {
	node             int
	grams, dollars   float64
	cpuShare, memory float64 // of the node's allocatable
}

func newRelaxation(sim *Simulation, placed []bool, budget float64) (*relaxation, error) {
	c, err := NewCluster(sim.Nodes)
	if err != nil {
		return nil, err
	}
	r := &relaxation{nodes: len(sim.Nodes), budget: budget}
	var start time.Time
	for k := range sim.VMs {
		if placed[k] && (start.IsZero() || sim.VMs[k].Arrival.Before(start)) {
			start = sim.VMs[k].Arrival
		}
	}
	if start.IsZero() {
		return r, nil // nothing placed: no hours to price
	}
	start = start.Truncate(time.Hour)
	r.hours = max(0, int(math.Ceil(sim.End.Sub(start).Hours())))
	// top is the first hour whose top is at or after t.
	top := func(t time.Time) int {
		h := int(math.Ceil(t.Sub(start).Hours()))
		return min(max(h, 0), r.hours)
	}
	for k := range sim.VMs {
		if !placed[k] {
			continue
		}
		vm := &sim.VMs[k]
		v := relaxedVM{from: top(vm.Arrival), to: top(earliest(vm.Departure, sim.End))}
		for i := range c.Nodes {
			// Any node, spot too: nothing in the relaxation says when a VM
			// would fall back to spot, and one that does is a placement
			// the bound must stay below.
			if !c.Fits(i, vm) {
				continue
			}
			u, err := Account(vm, &c.Nodes[i], sim.Traces, sim.End)
			if err != nil {
				return nil, err
			}
			n := &c.Nodes[i]
			v.options = append(v.options, relaxedOption{node: i, grams: u.Grams, dollars: u.Dollars,
				cpuShare: float64(vm.CPUMilli()) / float64(n.CPUMilli), memory: float64(vm.MemoryBytes()) / float64(n.MemoryBytes)})
		}
		if len(v.options) > 0 {
			r.vms = append(r.vms, v)
		}
	}
	return r, nil
}

// cheapest is the spend of every VM on its cheapest option.
func (r *relaxation) cheapest() float64 {
	sum := 0.0
	for _, v := range r.vms {
		least := math.Inf(1)
		for _, o := range v.options {
			least = min(least, o.dollars)
		}
		sum += least
	}
	return sum
}

// prices are the multipliers: budget on the budget's share spent, cpu and
// memory per node and hour on the share of its allocatable requested.
type prices struct {
	budget      float64
	cpu, memory [][]float64
}

// dual is L at p, and each VM's option that attains it.
func (r *relaxation) dual(p *prices, chosen []int) float64 {
	sum := -p.budget
	cpu, mem := make([][]float64, r.nodes), make([][]float64, r.nodes)
	for n := range r.nodes {
		cpu[n], mem[n] = cumulative(p.cpu[n]), cumulative(p.memory[n])
		sum -= cpu[n][r.hours] + mem[n][r.hours]
	}
	for k, v := range r.vms {
		best := math.Inf(1)
		for j, o := range v.options {
			x := o.grams + p.budget*o.dollars/r.budget +
				(cpu[o.node][v.to]-cpu[o.node][v.from])*o.cpuShare + (mem[o.node][v.to]-mem[o.node][v.from])*o.memory
			if x < best {
				best, chosen[k] = x, j
			}
		}
		sum += best
	}
	return sum
}

// cumulative is the prefix sums of xs, len(xs)+1 long.
func cumulative(xs []float64) []float64 {
	out := make([]float64, len(xs)+1)
	for i, x := range xs {
		out[i+1] = out[i] + x
	}
	return out
}

// maximise climbs L from the capacities-dropped optimum and returns the
// largest value seen.
func (r *relaxation) maximise(feasibleGrams float64) float64 {
	p := &prices{cpu: make([][]float64, r.nodes), memory: make([][]float64, r.nodes)}
	for n := range r.nodes {
		p.cpu[n], p.memory[n] = make([]float64, r.hours), make([]float64, r.hours)
	}
	chosen := make([]int, len(r.vms))
	atBudget := func(lambda float64) float64 {
		p.budget = lambda
		return r.dual(p, chosen)
	}
	lo, hi := 0.0, 1.0
	for atBudget(hi) > atBudget(hi/2) && hi < 1e15 {
		hi *= 2
	}
	for range 100 {
		m1, m2 := lo+(hi-lo)/3, hi-(hi-lo)/3
		if atBudget(m1) < atBudget(m2) {
			lo = m1
		} else {
			hi = m2
		}
	}
	best := atBudget(0)
	p.budget = (lo + hi) / 2
	step, stale := 2.0, 0
	cpuUse, memUse := make([][]float64, r.nodes), make([][]float64, r.nodes)
	for range boundSteps {
		l := r.dual(p, chosen)
		if l > best {
			best, stale = l, 0
		} else if stale++; stale >= boundPatience {
			step, stale = step/2, 0
		}
		if best >= feasibleGrams || step < boundLeastStep {
			break
		}
		// The subgradient: each constraint's excess at the chosen options,
		// left out where its price is 0 and it is slack (the projection).
		spent := 0.0
		for n := range r.nodes {
			cpuUse[n], memUse[n] = make([]float64, r.hours+1), make([]float64, r.hours+1)
		}
		for k, v := range r.vms {
			o := v.options[chosen[k]]
			spent += o.dollars
			cpuUse[o.node][v.from] += o.cpuShare
			cpuUse[o.node][v.to] -= o.cpuShare
			memUse[o.node][v.from] += o.memory
			memUse[o.node][v.to] -= o.memory
		}
		norm := 0.0
		budgetExcess := projected(p.budget, spent/r.budget-1)
		norm += budgetExcess * budgetExcess
		for n := range r.nodes {
			for _, use := range [][]float64{cpuUse[n], memUse[n]} {
				running := 0.0
				for h := range r.hours {
					running += use[h]
					use[h] = running - 1
				}
			}
			for h := range r.hours {
				cpuUse[n][h] = projected(p.cpu[n][h], cpuUse[n][h])
				memUse[n][h] = projected(p.memory[n][h], memUse[n][h])
				norm += cpuUse[n][h]*cpuUse[n][h] + memUse[n][h]*memUse[n][h]
			}
		}
		if norm == 0 {
			break // every constraint met, priced ones tight: L is optimal
		}
		t := step * (feasibleGrams - l) / norm
		p.budget = max(0, p.budget+t*budgetExcess)
		for n := range r.nodes {
			for h := range r.hours {
				p.cpu[n][h] = max(0, p.cpu[n][h]+t*cpuUse[n][h])
				p.memory[n][h] = max(0, p.memory[n][h]+t*memUse[n][h])
			}
		}
	}
	return best
}

// projected is a constraint's excess as the projected subgradient sees it:
// nothing where the price is already 0 and the constraint is slack.
func projected(price, excess float64) float64 {
	if price <= 0 && excess < 0 {
		return 0
	}
	return excess
}
