package evaluation

import (
	"context"
	"fmt"
	"math"
	"time"
)

// CostCap is the extra spend over kube-scheduler (the baseline) the
// references may use: the "at no more than 5% extra cost".
const CostCap = 0.05

// Window is one evaluation window's figures: every contender, the
// cost-capped references, and the relaxation's bound, all within one
// budget.
type Window struct {
	// Results are the contenders', baseline first, then the cost-capped
	// oracle's without moves and with OracleMoves, then HindsightPrice's.
	Results []Result
	// Budget is the baseline's dollars times 1+CostCap.
	Budget float64
	// CappedGramsPerDollar is the price of cost at which the cost-capped
	// oracle stays within Budget; CappedWithinBudget is false when no
	// price got it there (its result is then its cheapest run, and no
	// share of its saving is defined).
	CappedGramsPerDollar float64
	CappedWithinBudget   bool
	// MovingGramsPerDollar and MovingWithinBudget are the same for the
	// cost-capped oracle with moves.
	MovingGramsPerDollar float64
	MovingWithinBudget   bool
	// HindsightGramsPerDollar and HindsightWithinBudget are the same for
	// HindsightPrice.
	HindsightGramsPerDollar float64
	HindsightWithinBudget   bool
	// BoundGrams is Bound over the VMs the baseline placed.
	BoundGrams float64
}

// Baseline is the first result, kube-scheduler's.
func (w *Window) Baseline() Result { return w.Results[0] }

// Capped is the cost-capped oracle's result.
func (w *Window) Capped() Result { return w.Results[len(w.Results)-3] }

// Moving is the cost-capped oracle's result with moves.
func (w *Window) Moving() Result { return w.Results[len(w.Results)-2] }

// Hindsight is HindsightPrice's result within the budget.
func (w *Window) Hindsight() Result { return w.Results[len(w.Results)-1] }

// Share is the part of a reference's saving over the baseline that r
// captures: (baseline − r) / (baseline − reference) grams, NaN when the
// reference saves nothing.
func (w *Window) Share(r Result, referenceGrams float64) float64 {
	saving := w.Baseline().Grams - referenceGrams
	if saving <= 0 || math.IsInf(referenceGrams, 1) {
		return math.NaN()
	}
	return (w.Baseline().Grams - r.Grams) / saving
}

// EvaluateWindow runs the contenders of a window over sim, then the
// references within the baseline's spend plus CostCap.
func EvaluateWindow(ctx context.Context, sim *Simulation, start time.Time, seed uint64) (*Window, error) {
	strategies, err := Contenders(sim.Traces, start, sim.End, seed)
	if err != nil {
		return nil, err
	}
	w := &Window{}
	for _, s := range strategies {
		r, err := sim.Run(ctx, s)
		if err != nil {
			return nil, err
		}
		w.Results = append(w.Results, r)
	}
	w.Budget = w.Baseline().Dollars * (1 + CostCap)
	for _, ref := range []struct {
		kind                 Reference
		name, suffix, signal string
		price                *float64
		within               *bool
	}{
		{Foresight, "oracle-capped", "", "TRUE FUTURE (offline)", &w.CappedGramsPerDollar, &w.CappedWithinBudget},
		{ForesightMoves, "oracle-capped", "+moves", "TRUE FUTURE (offline)", &w.MovingGramsPerDollar, &w.MovingWithinBudget},
		{CurrentHour, "hindsight-price", "", "current hour, price in hindsight", &w.HindsightGramsPerDollar, &w.HindsightWithinBudget},
	} {
		r, price, within, err := CostCapped(ctx, sim, w.Budget, ref.kind)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", ref.name, ref.suffix, err)
		}
		r.Strategy, r.Signal = fmt.Sprintf("%s+%.0f%%%s", ref.name, CostCap*100, ref.suffix), ref.signal
		*ref.price, *ref.within = price, within
		w.Results = append(w.Results, r)
	}
	if w.BoundGrams, err = Bound(sim, w.Baseline().PlacedVMs, w.Budget, w.Baseline().Grams); err != nil {
		return nil, fmt.Errorf("relaxation bound: %w", err)
	}
	return w, nil
}

// CappedShare is Share of the cost-capped oracle's saving; NaN when that
// oracle could not stay within the budget.
func (w *Window) CappedShare(r Result) float64 {
	if !w.CappedWithinBudget {
		return math.NaN()
	}
	return w.Share(r, w.Capped().Grams)
}

// MovingShare is Share of the cost-capped oracle's saving with moves; NaN
// when it could not stay within the budget.
func (w *Window) MovingShare(r Result) float64 {
	if !w.MovingWithinBudget {
		return math.NaN()
	}
	return w.Share(r, w.Moving().Grams)
}
