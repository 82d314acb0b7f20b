package evaluation

import (
	"context"
	"fmt"
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
	return cheapestPriced(vm, c, o.GramsPerDollar, func(n *Node) (Usage, error) { return Account(vm, n, o.traces, o.end) })
}

// cheapestPriced returns the node vm may use (spot only if allowed, or as
// the fallback) where use's grams plus gramsPerDollar times its dollars
// are least, the cheaper on ties, then the earlier in the fleet; -1 when
// it fits nowhere.
func cheapestPriced(vm *VM, c *Cluster, gramsPerDollar float64, use func(n *Node) (Usage, error)) (int, error) {
	best, bestScore, bestDollars := -1, 0.0, 0.0
	fallback := c.SpotFallback(vm)
	for i := range c.Nodes {
		if !c.Usable(i, vm, fallback) {
			continue
		}
		u, err := use(&c.Nodes[i])
		if err != nil {
			return -1, err
		}
		score := u.Grams + gramsPerDollar*u.Dollars
		if best < 0 || score < bestScore || score == bestScore && u.Dollars < bestDollars {
			best, bestScore, bestDollars = i, score, u.Dollars
		}
	}
	return best, nil
}

// HindsightPrice places each VM where its grams per hour at the intensity
// of the hour it arrives in, plus GramsPerDollar times its dollars per
// hour, are least: a carbon price on the signal HyperSDK's default policy
// sees, and nothing else (no pressure, no forecast). The VM's lifetime
// scales both terms alike, so it does not change the choice: the placer
// needs nothing an online one lacks but its price. CostCapped sets that
// price with hindsight, over whole runs, so its run is the best that one
// carbon price on the current hour, tuned for the month, could do within
// the budget: how much of the capped oracle's saving is within reach
// without a forecast. A price that changes within the run could do
// better, so it is a reference, not a bound.
type HindsightPrice struct {
	traces         map[string]*carbon.Trace
	GramsPerDollar float64
}

// NewHindsightPrice returns the placer at a price of gramsPerDollar.
func NewHindsightPrice(traces map[string]*carbon.Trace, gramsPerDollar float64) *HindsightPrice {
	return &HindsightPrice{traces: traces, GramsPerDollar: gramsPerDollar}
}

// Place implements Placer.
func (h *HindsightPrice) Place(_ context.Context, vm *VM, now time.Time, c *Cluster) (int, error) {
	return cheapestPriced(vm, c, h.GramsPerDollar, func(n *Node) (Usage, error) {
		tr, ok := h.traces[n.Zone]
		if !ok {
			return Usage{}, fmt.Errorf("no carbon trace for zone %q of node %s", n.Zone, n.Name)
		}
		intensity, ok := tr.At(now)
		if !ok {
			return Usage{}, fmt.Errorf("zone %s trace has no value at %s", n.Zone, now.Format(time.RFC3339))
		}
		return usageOf(vm, n, intensity, 1), nil
	})
}

// Reference selects what CostCapped prices.
type Reference int

const (
	// Foresight is the PricedOracle: true future intensities over each
	// VM's true lifetime.
	Foresight Reference = iota
	// ForesightMoves is the PricedOracle with OracleMoves at the same
	// price.
	ForesightMoves
	// CurrentHour is HindsightPrice: the current hour's intensity, the
	// price alone chosen in hindsight.
	CurrentHour
)

// costCapSteps bounds the bisection of CostCapped: each step is one run.
const costCapSteps = 30

// CostCapped is a cost-capped reference: the PricedOracle (with
// OracleMoves at the same price for ForesightMoves), or HindsightPrice for
// CurrentHour, at the lowest price of cost (so the most carbon-minded)
// whose run spends at most budget dollars, found by bisection on the price
// over whole runs of sim.
// It returns that run and the price. A greedy placement's spend is not
// strictly monotonic in the price, so the run kept is the least-emitting
// one within budget of those tried. When no run is within budget (a
// baseline that ignores spot labels can be cheaper than any placement that
// honours them), it returns the cheapest run and within false.
func CostCapped(ctx context.Context, sim *Simulation, budget float64, ref Reference) (r Result, price float64, within bool, err error) {
	run := func(price float64) (Result, error) {
		if ref == CurrentHour {
			return sim.Run(ctx, Strategy{Name: "hindsight-price", Signal: "current hour, price in hindsight", Placer: NewHindsightPrice(sim.Traces, price)})
		}
		s := Strategy{Name: "oracle-capped", Signal: "TRUE FUTURE (offline)", Placer: NewPricedOracle(sim.Traces, sim.End, price)}
		if ref == ForesightMoves {
			s.Rebalance = &OracleMoves{GramsPerDollar: price}
		}
		return sim.Run(ctx, s)
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
