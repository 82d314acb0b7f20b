package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/evaluation"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// windowLoads are the loads every window is evaluated at.
var windowLoads = []float64{0.55, 0.8}

// runWindows evaluates every month of --windows with and without GPU
// servers at each of windowLoads, prints a row per case and a summary per
// strategy, and plots the averaged trade-off curve if asked. A month
// without the trace of some zone runs on the fleet's nodes in the zones
// that have one (the 2023 files have no NO), and its rows name the zones
// left out; a month with fewer than two zones' traces is skipped.
func (o *options) runWindows(ctx context.Context, out, errOut io.Writer) error {
	from, to, err := parseMonths(o.windows)
	if err != nil {
		return err
	}
	began := time.Now()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "window\tGPU servers\tload\tdefault-scheduler rejected\tspot-tainted rejected\thypersdk rejected\tcost\tCO2\tshare of capped\tshare of bound\t"+
		"oracle-capped rejected\tcost\tCO2\tits carbon price\twith moves: cost\tCO2\tmigrations\thindsight price: cost\tCO2\tshare of capped\tits carbon price\tbound CO2\tzones left out\n")
	var wins, allZones []*evaluation.Window
	for m := from; !m.After(to); m = m.AddDate(0, 1, 0) {
		end := m.AddDate(0, 0, o.days)
		traces, missing, err := o.loadTraces(m, end)
		if err != nil {
			fmt.Fprintf(tw, "%s\tskipped: %v\n", m.Format("2006-01"), err)
			continue
		}
		leftOut := "-"
		if len(missing) > 0 {
			leftOut = strings.Join(missing, ",")
		}
		for _, gpus := range []bool{true, false} {
			nodes, err := evaluation.NodesFromFleet(inZones(planOf(o.nodes, gpus), traces), cost.DefaultModel())
			if err != nil {
				return err
			}
			for _, load := range windowLoads {
				vms, err := evaluation.Generate(evaluation.WorkloadConfig{Start: m, Window: end.Sub(m), Seed: o.seed,
					Load: load, CapacityCPUs: evaluation.CapacityCPUs(nodes)})
				if err != nil {
					return err
				}
				sim := evaluation.Simulation{Nodes: nodes, VMs: vms, End: end, Traces: traces}
				win, err := evaluation.EvaluateWindow(ctx, &sim, m, o.seed)
				if err != nil {
					return fmt.Errorf("window %s: %w", m.Format("2006-01"), err)
				}
				wins = append(wins, win)
				if len(missing) == 0 {
					allZones = append(allZones, win)
				}
				base, h, capped, moving, hindsight := win.Baseline(), find(win, "hypersdk"), win.Capped(), win.Moving(), win.Hindsight()
				fmt.Fprintf(tw, "%s\t%v\t%.2f\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Format("2006-01"), gpus, load,
					base.Rejected, find(win, evaluation.SpotTaintedStrategy).Rejected, h.Rejected, pct(h.Dollars, base.Dollars), pct(h.Grams, base.Grams),
					share(win.CappedShare(h)), share(win.Share(h, win.BoundGrams)),
					capped.Rejected, pct(capped.Dollars, base.Dollars), pct(capped.Grams, base.Grams), perTonne(win.CappedWithinBudget, win.CappedGramsPerDollar),
					pct(moving.Dollars, base.Dollars), pct(moving.Grams, base.Grams), moving.Migrations,
					pct(hindsight.Dollars, base.Dollars), pct(hindsight.Grams, base.Grams), share(hindsightShare(win, hindsight)),
					perTonne(win.HindsightWithinBudget, win.HindsightGramsPerDollar),
					pct(win.BoundGrams, base.Grams), leftOut)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(errOut, "Simulated %d cases in %s.\n", len(wins), time.Since(began).Round(time.Second))
	if len(wins) == 0 {
		return fmt.Errorf("no window of %s has carbon traces for two or more of the zones %v", o.windows, fleet.Zones)
	}
	if err := writeSummary(out, "", wins); err != nil {
		return err
	}
	if len(allZones) > 0 && len(allZones) < len(wins) {
		// The cases of the whole fleet alone, comparable with runs over
		// months that have every zone's trace.
		if err := writeSummary(out, " with every zone", allZones); err != nil {
			return err
		}
	}
	if o.plot != "" {
		return evaluation.PlotTradeOff(o.plot, wins)
	}
	return nil
}

// capturedShare is the share of the capped oracle's carbon saving that
// issue 13 asks HyperSDK's default to capture within the cost cap.
const capturedShare = 0.9

// writeSummary prints, for each strategy, its cost and emissions against
// kube-scheduler over all cases: the worst and the mean, the least and the
// mean share of the references' savings, and how often it rejected more
// VMs than kube-scheduler, with and without tainted spot nodes. Cost and
// emissions per CPU-hour placed are printed too: a strategy that rejects
// fewer VMs than kube-scheduler does more work, which costs and emits more
// in total. It counts the cases that meet issue 13's line (at most CostCap
// extra cost and at least capturedShare of the capped oracle's saving),
// after saying in how many that line is defined at all.
func writeSummary(out io.Writer, label string, wins []*evaluation.Window) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	saves := 0
	for _, w := range wins {
		if !math.IsNaN(w.CappedShare(w.Capped())) {
			saves++
		}
	}
	fmt.Fprintf(tw, "\nShares are over the cases where the reference stays within the budget.\n")
	fmt.Fprintf(tw, "The capped oracle saves carbon within the budget in %d of these %d cases; in the others no share of its saving is defined.\n", saves, len(wins))
	fmt.Fprintf(tw, "over %d cases%s\tworst cost\tmean cost\tmean CO2\tper CPU-hour: cost\tCO2\tcases within +%.0f%% cost\tleast share of capped\tpooled share of capped\tof capped+moves\tof bound\tcases within +%.0f%% and %.0f%% of capped\tcases rejecting more than default-scheduler\tthan %s\n",
		len(wins), label, evaluation.CostCap*100, evaluation.CostCap*100, capturedShare*100, evaluation.SpotTaintedStrategy)
	for _, r := range wins[0].Results[1:] {
		var worst, sumCost, sumCO2, sumCostPerHour, sumCO2PerHour float64
		var ofCapped, ofMoving, ofBound pooled
		least := math.Inf(1)
		within, met, more, moreTainted := 0, 0, 0, 0
		worst = math.Inf(-1)
		for _, w := range wins {
			x, base := find(w, r.Strategy), w.Baseline()
			c := x.Dollars/base.Dollars - 1
			worst, sumCost, sumCO2 = max(worst, c), sumCost+c, sumCO2+x.Grams/base.Grams-1
			work := x.CPUHours / base.CPUHours
			sumCostPerHour += x.Dollars/base.Dollars/work - 1
			sumCO2PerHour += x.Grams/base.Grams/work - 1
			capped := w.CappedShare(x)
			if c <= evaluation.CostCap+1e-9 {
				within++
				if capped >= capturedShare {
					met++
				}
			}
			if x.Rejected > base.Rejected {
				more++
			}
			if x.Rejected > find(w, evaluation.SpotTaintedStrategy).Rejected {
				moreTainted++
			}
			if !math.IsNaN(capped) {
				least = min(least, capped)
				ofCapped.add(base.Grams, x.Grams, w.Capped().Grams)
			}
			if !math.IsNaN(w.MovingShare(x)) {
				ofMoving.add(base.Grams, x.Grams, w.Moving().Grams)
			}
			if !math.IsNaN(w.Share(x, w.BoundGrams)) {
				ofBound.add(base.Grams, x.Grams, w.BoundGrams)
			}
		}
		n := float64(len(wins))
		fmt.Fprintf(tw, "%s\t%+.1f%%\t%+.1f%%\t%+.1f%%\t%+.1f%%\t%+.1f%%\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", r.Strategy, worst*100, sumCost/n*100, sumCO2/n*100,
			sumCostPerHour/n*100, sumCO2PerHour/n*100, within, share(least), share(ofCapped.share()), share(ofMoving.share()), share(ofBound.share()), met, more, moreTainted)
	}
	return tw.Flush()
}

// pooled is a pooled share of a reference's saving: the grams a strategy
// saved over all cases against the reference's, so that a case where the
// reference saves almost nothing does not swing the figure.
type pooled struct{ saved, reference float64 }

// add counts a case where the baseline emits base, the strategy x and the
// reference reference grams.
func (p *pooled) add(base, x, reference float64) {
	p.saved += base - x
	p.reference += base - reference
}

// share is NaN when the references saved nothing over the cases added.
func (p pooled) share() float64 {
	if p.reference <= 0 {
		return math.NaN()
	}
	return p.saved / p.reference
}

// inZones is the nodes of plan in the zones traces has.
func inZones(plan []fleet.Node, traces map[string]*carbon.Trace) []fleet.Node {
	var out []fleet.Node
	for _, n := range plan {
		if _, ok := traces[n.Zone]; ok {
			out = append(out, n)
		}
	}
	return out
}

func find(w *evaluation.Window, strategy string) evaluation.Result {
	for _, r := range w.Results {
		if r.Strategy == strategy {
			return r
		}
	}
	return evaluation.Result{}
}

func pct(x, base float64) string {
	if math.IsInf(x, 1) {
		return "infeasible"
	}
	if base == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", (x/base-1)*100)
}

// perTonne is the carbon price, US dollars per tonne, that a cost-capped
// reference's price of cost amounts to (a tonne is 1e6 g): what it paid
// for the carbon it saved at the margin. "none" when it stayed within the
// budget with cost left out (price 0), "n/a" when no price did (within is
// false).
func perTonne(within bool, gramsPerDollar float64) string {
	switch {
	case !within:
		return "n/a"
	case gramsPerDollar == 0:
		return "none"
	}
	return fmt.Sprintf("$%.0f/t", 1e6/gramsPerDollar)
}

func share(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", x*100)
}

// parseMonths reads "YYYY-MM..YYYY-MM" into the first instants of both
// months, UTC.
func parseMonths(s string) (time.Time, time.Time, error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		a, b = s, s
	}
	from, err1 := time.Parse("2006-01", a)
	to, err2 := time.Parse("2006-01", b)
	if err1 != nil || err2 != nil || to.Before(from) {
		return time.Time{}, time.Time{}, fmt.Errorf("--windows %q: want YYYY-MM..YYYY-MM, first month not after the last", s)
	}
	return from, to, nil
}

// hindsightShare is the share of the capped oracle's saving the hindsight
// price captures, NaN (n/a) when no price kept it within the budget: its
// row is then its cheapest run's, which is not a run within the line.
func hindsightShare(win *evaluation.Window, hindsight evaluation.Result) float64 {
	if !win.HindsightWithinBudget {
		return math.NaN()
	}
	return win.CappedShare(hindsight)
}
