package placement

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// GPUPolicy says how GPU VMs share GPU servers.
type GPUPolicy string

const (
	// GPUBinpack fills partly used servers (and NUMA nodes) first, keeping
	// whole servers free for large VMs.
	GPUBinpack GPUPolicy = "binpack"
	// GPUSpread prefers the servers with the most free devices.
	GPUSpread GPUPolicy = "spread"
)

// PressureAlgorithm selects the load-aware pressure scorer.
type PressureAlgorithm string

const (
	// TargetLoadPacking packs nodes up to a target CPU utilisation and
	// spreads beyond it (TargetLoadPackingScore). It is the default: it only
	// needs current usage, which metrics.k8s.io gives. A node without
	// measured usage is scored by FitScore instead: past the target,
	// spreading requests would only fragment free capacity.
	TargetLoadPacking PressureAlgorithm = "TargetLoadPacking"
	// LoadVariationRiskBalancing balances mean plus variation of CPU and
	// memory usage (LoadVariationRiskScore); it needs usage history.
	LoadVariationRiskBalancing PressureAlgorithm = "LoadVariationRiskBalancing"
)

// DefaultTargetUtilization is the TargetLoadPacking target in percent. It is
// higher than Trimaran's 40 because VMs are long-lived and steadier than pods.
const DefaultTargetUtilization = 60

// Policy tunes Evaluate. Zero GPUPolicy, Pressure and TargetUtilization take
// their defaults.
type Policy struct {
	// Weights of the criteria in the total; zero leaves a criterion out.
	// GPUWeight only counts for VMs that ask for GPUs.
	CarbonWeight, CostWeight, PressureWeight, GPUWeight float64
	GPUPolicy                                           GPUPolicy
	Pressure                                            PressureAlgorithm
	// MaxCarbonIntensity filters nodes whose zone is dirtier, in g/kWh; zero
	// means no limit.
	MaxCarbonIntensity float64
	// MaxNodeUtilization filters nodes whose CPU or memory utilisation would
	// exceed it with the VM, in percent; zero means no limit.
	MaxNodeUtilization float64
	// TargetUtilization is TargetLoadPacking's target CPU utilisation in percent.
	TargetUtilization float64
	// CarbonPricePerTonne, in US dollars per tonne CO2eq, when positive
	// replaces the carbon and cost criteria by one: the VM's hourly price
	// plus its hourly emissions at this price (PricedCostPerHour), under
	// their two weights together. A user then states the trade-off in
	// money: at $100/t a node emitting 10 g/h more must be $0.001/h
	// cheaper to win.
	CarbonPricePerTonne float64
	// CostBudgetPercent, when set, states the trade-off as a budget: the
	// nodes where the VM costs at most this many percent more than on the
	// cheapest candidate are in budget, and among them carbon decides,
	// under the carbon and cost weights together (with pressure and GPU
	// fit at their weights); every node over budget ranks below every node
	// in budget, with a total of 0. At 5% a VM never pays more than 5%
	// over its cheapest option for carbon, whatever the intensities.
	// Exclusive with CarbonPricePerTonne.
	CostBudgetPercent *float64
	// CarbonHorizon is how far ahead callers average the intensity forecast
	// (MeanIntensity) when filling NodeSnapshot.CarbonIntensity; zero means
	// the current value. A VM runs for hours, so a forecast average ranks
	// zones better than one hour's value.
	CarbonHorizon time.Duration
}

// DefaultCostBudgetPercent is the default policy's cost budget: a VM pays
// at most a fifth more than on its cheapest feasible node for less carbon.
// A budget is a promise a user can check on every VM, where weights over
// min-max normalised criteria have no bound on what carbon may cost; and it
// must span more than one machine shape, or it only ever picks among the
// nodes of the cheapest shape, which then fill in every zone while the
// clean zones' other shapes idle (docs/placement-evaluation.md).
const DefaultCostBudgetPercent = 20

// DefaultPolicy states the carbon/cost trade-off as a cost budget
// (DefaultCostBudgetPercent), weighs carbon within it, pressure and GPU fit
// (for GPU VMs) equally, bin-packs GPUs and sets no hard limits.
func DefaultPolicy() Policy {
	budget := float64(DefaultCostBudgetPercent)
	return Policy{
		CarbonWeight: 1, CostWeight: 1, PressureWeight: 1, GPUWeight: 1,
		GPUPolicy:         GPUBinpack,
		Pressure:          TargetLoadPacking,
		TargetUtilization: DefaultTargetUtilization,
		CostBudgetPercent: &budget,
	}
}

// WeightedPolicy is DefaultPolicy with the carbon/cost trade-off left to
// the carbon and cost weights: no budget.
func WeightedPolicy() Policy {
	p := DefaultPolicy()
	p.CostBudgetPercent = nil
	return p
}

// withDefaults fills the zero fields that have defaults.
func (p Policy) withDefaults() Policy {
	if p.GPUPolicy == "" {
		p.GPUPolicy = GPUBinpack
	}
	if p.Pressure == "" {
		p.Pressure = TargetLoadPacking
	}
	if p.TargetUtilization == 0 {
		p.TargetUtilization = DefaultTargetUtilization
	}
	return p
}

// Validate reports every invalid field of p; Evaluate assumes a valid policy.
func (p Policy) Validate() error {
	var errs []error
	for _, w := range []struct {
		name string
		v    float64
	}{{"carbon", p.CarbonWeight}, {"cost", p.CostWeight}, {"pressure", p.PressureWeight}, {"GPU", p.GPUWeight}} {
		if !(w.v >= 0) || math.IsInf(w.v, 0) {
			errs = append(errs, fmt.Errorf("%s weight %v: want a finite number >= 0", w.name, w.v))
		}
	}
	switch p.GPUPolicy {
	case "", GPUBinpack, GPUSpread:
	default:
		errs = append(errs, fmt.Errorf("GPU policy %q: want %q or %q", p.GPUPolicy, GPUBinpack, GPUSpread))
	}
	switch p.Pressure {
	case "", TargetLoadPacking, LoadVariationRiskBalancing:
	default:
		errs = append(errs, fmt.Errorf("pressure algorithm %q: want %q or %q", p.Pressure, TargetLoadPacking, LoadVariationRiskBalancing))
	}
	if !(p.MaxCarbonIntensity >= 0) || math.IsInf(p.MaxCarbonIntensity, 0) {
		errs = append(errs, fmt.Errorf("max carbon intensity %v g/kWh: want a finite number >= 0", p.MaxCarbonIntensity))
	}
	if !(p.MaxNodeUtilization >= 0 && p.MaxNodeUtilization <= 100) {
		errs = append(errs, fmt.Errorf("max node utilisation %v%%: want 0..100", p.MaxNodeUtilization))
	}
	if !(p.TargetUtilization >= 0 && p.TargetUtilization < 100) {
		errs = append(errs, fmt.Errorf("target utilisation %v%%: want 0 (default) or in (0, 100)", p.TargetUtilization))
	}
	if !(p.CarbonPricePerTonne >= 0) || math.IsInf(p.CarbonPricePerTonne, 0) {
		errs = append(errs, fmt.Errorf("carbon price %v $/t: want a finite number >= 0", p.CarbonPricePerTonne))
	}
	if b := p.CostBudgetPercent; b != nil {
		if !(*b >= 0) || math.IsInf(*b, 0) {
			errs = append(errs, fmt.Errorf("cost budget %v%%: want a finite number >= 0", *b))
		}
		if p.CarbonPricePerTonne > 0 {
			errs = append(errs, errors.New("cost budget and carbon price: set one or the other"))
		}
	}
	if p.CarbonHorizon < 0 {
		errs = append(errs, fmt.Errorf("carbon horizon %s: want >= 0", p.CarbonHorizon))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid placement policy: %w", err)
	}
	return nil
}
