package evaluation

import (
	"fmt"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// ForecastHorizon is hypersdk-forecast's Policy.CarbonHorizon: a day covers
// the diurnal cycle of solar zones and the lifetime of most VMs.
const ForecastHorizon = 24 * time.Hour

// CarbonPrices are the carbon prices, US dollars per tonne CO2eq, the
// evaluation sweeps: from well below published social costs of carbon (US
// EPA 2023: $190/t for 2020 emissions) to the tens of thousands of dollars
// a tonne that the cost-capped oracle pays at the margin on the sandbox
// fleet (its carbon price, printed per case), so that the curve shows the
// whole trade-off.
var CarbonPrices = []float64{25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200}

// CostBudgets are the cost budgets, percent over the cheapest candidate
// node, the evaluation sweeps.
var CostBudgets = []float64{0, 5, 10, 20}

// SpotTaintedStrategy names kube-scheduler on a cluster with tainted spot
// nodes (NewSpotTaintedScheduler), the baseline for rejections: it keeps
// VMs off spot capacity as HyperSDK does.
const SpotTaintedStrategy = "default-scheduler-spot-tainted"

// RebalancedBudget is the cost budget, percent, of the budgeted strategy
// the evaluation also runs with the rebalancer, which then moves VMs for
// carbon within the same budget (RebalancePolicy.spec.costBudgetPercent).
const RebalancedBudget = 10

// WeightedStrategy names HyperSDK's default policy without its cost
// budget: carbon and cost traded by their weights, the default before the
// budget.
const WeightedStrategy = "hypersdk-weights"

// BudgetStrategy names the HyperSDK strategy with a cost budget.
func BudgetStrategy(percent float64) string { return fmt.Sprintf("hypersdk-budget+%.0f%%", percent) }

// PriceStrategy names the HyperSDK strategy at a carbon price.
func PriceStrategy(price float64) string { return fmt.Sprintf("hypersdk-$%.0f/t", price) }

// Contenders are the strategies of the evaluation: default-scheduler first
// as the baseline, kube-scheduler with tainted spot nodes, HyperSDK's (its
// default, its weights without the budget, carbon only, forecast, the
// carbon price sweep and the cost budget sweep), then each of these but
// the sweeps with the rebalancer, RebalancedBudget's point too, and the
// oracle last. Each is fresh: placers keep state.
func Contenders(traces map[string]*carbon.Trace, start, end time.Time, seed uint64) ([]Strategy, error) {
	carbonOnly := placement.Policy{CarbonWeight: 1}
	forecast := placement.DefaultPolicy()
	forecast.CarbonHorizon = ForecastHorizon
	out := []Strategy{{Name: "default-scheduler", Signal: "none", Placer: NewDefaultScheduler(seed)},
		{Name: SpotTaintedStrategy, Signal: "none", Placer: NewSpotTaintedScheduler(seed)}}
	type contender struct {
		name, signal string
		policy       placement.Policy
	}
	hypersdk := []contender{
		{"hypersdk", "current hour", placement.DefaultPolicy()},
		{WeightedStrategy, "current hour", placement.WeightedPolicy()},
		{"hypersdk-carbon", "current hour", carbonOnly},
		{"hypersdk-forecast", fmt.Sprintf("seasonal-naive %.0fh mean", ForecastHorizon.Hours()), forecast},
	}
	for _, price := range CarbonPrices {
		p := placement.WeightedPolicy()
		p.CarbonPricePerTonne = price
		hypersdk = append(hypersdk, contender{PriceStrategy(price), "current hour", p})
	}
	for _, b := range CostBudgets {
		p := placement.DefaultPolicy()
		p.CostBudgetPercent = &b
		hypersdk = append(hypersdk, contender{BudgetStrategy(b), "current hour", p})
	}
	for _, h := range hypersdk {
		p, err := NewHyperSDK(h.policy, sortedTraces(traces), start)
		if err != nil {
			return nil, fmt.Errorf("strategy %s: %w", h.name, err)
		}
		out = append(out, Strategy{Name: h.name, Signal: h.signal, Placer: p})
	}
	// With the rebalancer: kube-scheduler's placements (spot nodes
	// tainted or not) and HyperSDK's default, weights, carbon-only and
	// forecast ones, each moved afterwards by a RebalancePolicy with the
	// API's defaults, and HyperSDK's with a cost budget, moved within the
	// same budget.
	rebalanced := []Strategy{{Name: "default-scheduler+rebalance", Signal: "current hour (rebalancer)",
		Placer: NewDefaultScheduler(seed), Rebalance: DefaultRebalancing()},
		{Name: SpotTaintedStrategy + "+rebalance", Signal: "current hour (rebalancer)",
			Placer: NewSpotTaintedScheduler(seed), Rebalance: DefaultRebalancing()}}
	budgeted := DefaultRebalancing()
	budget := int32(RebalancedBudget)
	budgeted.Policy.CostBudgetPercent = &budget
	for _, h := range hypersdk {
		rb := DefaultRebalancing()
		switch h.name {
		case "hypersdk", WeightedStrategy, "hypersdk-carbon", "hypersdk-forecast":
		case BudgetStrategy(RebalancedBudget):
			rb = budgeted
		default:
			continue
		}
		p, err := NewHyperSDK(h.policy, sortedTraces(traces), start)
		if err != nil {
			return nil, fmt.Errorf("strategy %s: %w", h.name, err)
		}
		rebalanced = append(rebalanced, Strategy{Name: h.name + "+rebalance", Signal: h.signal, Placer: p, Rebalance: rb})
	}
	out = append(out, rebalanced...)
	out = append(out, Strategy{Name: "oracle", Signal: "TRUE FUTURE (offline)", Placer: NewOracle(traces, end)})
	return out, nil
}
