package evaluation

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
)

// WriteTable prints results as aligned plain-text tables: the totals, with
// percentages relative to the first result (the baseline), then each
// strategy's share of CPU-hours by zone.
func WriteTable(w io.Writer, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	base := results[0]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	vs := "vs " + base.Strategy
	fmt.Fprintf(tw, "strategy\tcarbon signal\tplaced\trejected\twith room\tCPU-hours\tkg CO2eq\t%s\tcost $\t%s\tavg g/kWh\n", vs, vs)
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t%.1f\t%s\t%.2f\t%s\t%.1f\n",
			r.Strategy, r.Signal, r.Placed, r.Rejected, r.RejectedWithRoom, r.CPUHours,
			r.Grams/1000, percent(r.Grams, base.Grams), r.Dollars, percent(r.Dollars, base.Dollars), r.MeanIntensity())
	}
	zones := zonesOf(results)
	fmt.Fprintf(tw, "\nCPU-hours by zone\t")
	for _, z := range zones {
		fmt.Fprintf(tw, "\t%s", z)
	}
	fmt.Fprintln(tw)
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t", r.Strategy)
		for _, z := range zones {
			fmt.Fprintf(tw, "\t%s", share(r.ZoneCPUHours[z], r.CPUHours))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}

// WriteCSV writes results with a header row and unrounded figures, for
// other tools.
func WriteCSV(w io.Writer, results []Result) error {
	zones := zonesOf(results)
	header := []string{"strategy", "carbon_signal", "placed", "rejected", "rejected_with_room", "cpu_hours", "energy_kwh", "kg_co2eq", "cost_usd", "avg_g_per_kwh"}
	for _, z := range zones {
		header = append(header, "cpu_hours_"+z)
	}
	rows := [][]string{header}
	for _, r := range results {
		row := []string{r.Strategy, r.Signal, strconv.Itoa(r.Placed), strconv.Itoa(r.Rejected), strconv.Itoa(r.RejectedWithRoom),
			num(r.CPUHours), num(r.EnergyKWh), num(r.Grams / 1000), num(r.Dollars), num(r.MeanIntensity())}
		for _, z := range zones {
			row = append(row, num(r.ZoneCPUHours[z]))
		}
		rows = append(rows, row)
	}
	if err := csv.NewWriter(w).WriteAll(rows); err != nil {
		return fmt.Errorf("writing CSV: %w", err)
	}
	return nil
}

// zonesOf lists the zones any result used, sorted.
func zonesOf(results []Result) []string {
	set := map[string]bool{}
	for _, r := range results {
		for z := range r.ZoneCPUHours {
			set[z] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// percent is x's change from base, "+1.2%"; n/a when base is zero.
func percent(x, base float64) string {
	if base == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", (x/base-1)*100)
}

// share is part of whole in percent, "12.3%"; n/a when whole is zero.
func share(part, whole float64) string {
	if whole == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", part/whole*100)
}

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// WriteShares prints the references of a window and, for each strategy,
// its cost and emissions against the baseline and the share it captures
// of each reference's saving.
func WriteShares(w io.Writer, win *Window) error {
	base, capped := win.Baseline(), win.Capped()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "References spending at most $%.2f (%s's cost +%.0f%%), the oracles with the true future, the hindsight price with the current hour:\n", win.Budget, base.Strategy, CostCap*100)
	for _, ref := range []struct {
		r      Result
		price  float64
		within bool
	}{{capped, win.CappedGramsPerDollar, win.CappedWithinBudget}, {win.Moving(), win.MovingGramsPerDollar, win.MovingWithinBudget},
		{win.Hindsight(), win.HindsightGramsPerDollar, win.HindsightWithinBudget}} {
		note := fmt.Sprintf("(cost priced at %.3g g/$; %d migrations)", ref.price, ref.r.Migrations)
		if !ref.within {
			note = "(over budget even at its cheapest: no share of its saving)"
		}
		fmt.Fprintf(tw, "  %s\t%.1f kg CO2eq\t%s\tcost %s\t%s\n", ref.r.Strategy, ref.r.Grams/1000,
			percent(ref.r.Grams, base.Grams), percent(ref.r.Dollars, base.Dollars), note)
	}
	if math.IsInf(win.BoundGrams, 1) {
		fmt.Fprintf(tw, "  relaxation bound\tinfeasible: the cheapest node that honours spot labels for each VM %s placed costs more\n", base.Strategy)
	} else {
		fmt.Fprintf(tw, "  relaxation bound\t%.1f kg CO2eq\t%s\t\t(CPU and memory capacities at the top of each hour; the VMs %s placed)\n", win.BoundGrams/1000,
			percent(win.BoundGrams, base.Grams), base.Strategy)
	}
	fmt.Fprintf(tw, "\nstrategy\trejected\tcost vs %s\tCO2 vs %s\tshare of capped oracle's saving\tof capped+moves' saving\tof bound's saving\tmigrations\ttheir kg CO2eq\ttheir cost $\tkg the moved VMs saved\n",
		base.Strategy, base.Strategy)
	for _, r := range win.Results[1:] {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%.2f\t%.2f\t%.2f\n", r.Strategy, r.Rejected, percent(r.Dollars, base.Dollars), percent(r.Grams, base.Grams),
			ratio(win.CappedShare(r)), ratio(win.MovingShare(r)), ratio(win.Share(r, win.BoundGrams)), r.Migrations, r.MigrationGrams/1000, r.MigrationDollars, r.MovedSavedGrams/1000)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing shares: %w", err)
	}
	return nil
}

// ratio is a fraction in percent, n/a when undefined.
func ratio(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", x*100)
}
