package evaluation

import (
	"context"
	"math"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// PricedOracle is the greedy oracle with cost priced in: it places each VM
// where its true future grams plus GramsPerDollar times its dollars are
// least. GramsPerDollar zero is the plain oracle.
type PricedOracle struct {
	traces         map[string]*carbon.Trace
	end            time.Time
	GramsPerDollar float64
}

// NewPricedOracle returns the oracle at a price of gramsPerDollar.
func NewPricedOracle(traces map[string]*carbon.Trace, end time.Time, gramsPerDollar float64) *PricedOracle {
	return &PricedOracle{traces: traces, end: end, GramsPerDollar: gramsPerDollar}
}

// Place implements Placer.
func (o *PricedOracle) Place(_ context.Context, vm *VM, _ time.Time, c *Cluster) (int, error) {
	best, bestScore, bestDollars := -1, 0.0, 0.0
	fallback := c.SpotFallback(vm)
	for i := range c.Nodes {
		if !c.Usable(i, vm, fallback) {
			continue
		}
		u, err := Account(vm, &c.Nodes[i], o.traces, o.end)
		if err != nil {
			return -1, err
		}
		score := u.Grams + o.GramsPerDollar*u.Dollars
		if best < 0 || score < bestScore || score == bestScore && u.Dollars < bestDollars {
			best, bestScore, bestDollars = i, score, u.Dollars
		}
	}
	return best, nil
}

// costCapSteps bounds the bisection of CostCapped: each step is one run.
const costCapSteps = 30

// CostCapped is the cost-capped oracle: the PricedOracle at the lowest
// price of cost (so the most carbon-minded) whose run spends at most
// budget dollars, found by bisection on the price over whole runs of sim.
// It returns that run and the price. A greedy placement's spend is not
// strictly monotonic in the price, so the run kept is the least-emitting
// one within budget of those tried. When no run is within budget (a
// baseline that ignores spot labels can be cheaper than any placement that
// honours them), it returns the cheapest run and within false.
func CostCapped(ctx context.Context, sim *Simulation, budget float64) (r Result, price float64, within bool, err error) {
	run := func(price float64) (Result, error) {
		return sim.Run(ctx, Strategy{Name: "oracle-capped", Signal: "TRUE FUTURE (offline)",
			Placer: NewPricedOracle(sim.Traces, sim.End, price)})
	}
	best, err := run(0)
	if err != nil || best.Dollars <= budget {
		return best, 0, err == nil, err
	}
	found, bestPrice := false, 0.0
	cheapest, cheapestPrice := best, 0.0
	lo, hi := math.Log(1e-3), math.Log(1e9) // grams per dollar
	for range costCapSteps {
		mid := (lo + hi) / 2
		r, err := run(math.Exp(mid))
		if err != nil {
			return Result{}, 0, false, err
		}
		if r.Dollars < cheapest.Dollars {
			cheapest, cheapestPrice = r, math.Exp(mid)
		}
		if r.Dollars <= budget {
			hi = mid
			if !found || r.Grams < best.Grams {
				best, bestPrice, found = r, math.Exp(mid), true
			}
		} else {
			lo = mid
		}
	}
	if !found {
		return cheapest, cheapestPrice, false, nil
	}
	return best, bestPrice, true, nil
}

// Bound is a lower bound on the grams any placement of the VMs marked in
// placed could emit for at most budget dollars, each VM on any node it fits
// when empty (spot too: any VM may fall back to spot): the Lagrangian dual
// of that assignment with node capacities relaxed,
//
//	max over λ >= 0 of  Σ_v min_n (g_vn + λ c_vn) − λ·budget
//
// with each VM's true future grams g and dollars c on node n. Every
// placement that respects capacities is one of the relaxation's, so none
// emits less; the dual is concave in λ, so a ternary search finds its
// maximum. It is +Inf when even the cheapest node for every VM costs more
// than budget.
func Bound(sim *Simulation, placed []bool, budget float64) (float64, error) {
	c, err := NewCluster(sim.Nodes)
	if err != nil {
		return 0, err
	}
	type option struct{ grams, dollars float64 }
	var options [][]option
	for k := range sim.VMs {
		if !placed[k] {
			continue
		}
		vm := &sim.VMs[k]
		var opts []option
		for i := range c.Nodes {
			// Any node, spot too: with capacities relaxed nothing says
			// when a VM would fall back to spot, and one that does is a
			// placement the bound must stay below.
			if !c.Fits(i, vm) {
				continue
			}
			u, err := Account(vm, &c.Nodes[i], sim.Traces, sim.End)
			if err != nil {
				return 0, err
			}
			opts = append(opts, option{u.Grams, u.Dollars})
		}
		if len(opts) > 0 {
			options = append(options, opts)
		}
	}
	cheapest := 0.0
	for _, opts := range options {
		least := math.Inf(1)
		for _, o := range opts {
			least = min(least, o.dollars)
		}
		cheapest += least
	}
	if cheapest > budget {
		// No placement of these VMs fits the budget: kube-scheduler, which
		// ignores spot labels, can be cheaper than any placement that
		// honours them.
		return math.Inf(1), nil
	}
	dual := func(lambda float64) float64 {
		sum := -lambda * budget
		for _, opts := range options {
			least := math.Inf(1)
			for _, o := range opts {
				least = min(least, o.grams+lambda*o.dollars)
			}
			sum += least
		}
		return sum
	}
	lo, hi := 0.0, 1.0
	for dual(hi) > dual(hi/2) && hi < 1e12 {
		hi *= 2
	}
	for range 200 {
		m1, m2 := lo+(hi-lo)/3, hi-(hi-lo)/3
		if dual(m1) < dual(m2) {
			lo = m1
		} else {
			hi = m2
		}
	}
	return max(dual(0), dual((lo+hi)/2)), nil
}
