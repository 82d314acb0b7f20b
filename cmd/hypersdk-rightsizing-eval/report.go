package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/hypersdk/hypersdk/pkg/cost"
)

// figures are a tally's reported numbers.
type figures struct {
	vmDays float64
	// cpuOver and memOver: idle allocation (allocated minus used where
	// positive) as a percentage of use.
	cpuOver, memOver float64
	// cpuUnder and memUnder: VM-minutes with use above the allocation.
	cpuUnder, memUnder float64
	// resizes and restarts per VM-day.
	resizes, restarts float64
	dollars           float64
}

func (t tally) figures() figures {
	f := figures{vmDays: t.minutes / (24 * 60), cpuUnder: t.cpuUnderMinutes, memUnder: t.memUnderMinutes, dollars: t.dollars}
	f.cpuOver = ratio(t.cpuIdle, t.cpuUsed) * 100
	f.memOver = ratio(t.memIdle, t.memUsed) * 100
	f.resizes = ratio(float64(t.resizes), f.vmDays)
	f.restarts = ratio(float64(t.restarts), f.vmDays)
	return f
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// rows are the table's lines: each month, then all months together.
func rows(results []monthResult) (labels []string, totals [][]tally) {
	for _, r := range results {
		labels = append(labels, r.month)
		totals = append(totals, r.total)
	}
	if len(results) > 1 {
		all := make([]tally, len(results[0].total))
		for _, r := range results {
			for i, t := range r.total {
				all[i].add(t)
			}
		}
		labels = append(labels, "all")
		totals = append(totals, all)
	}
	return labels, totals
}

func writeTable(w io.Writer, results []monthResult, prices cost.NodePricing) error {
	p := actuationPolicy()
	fmt.Fprintf(w, "Policy: %s, at most %d changes in 24 h, cooldown %s, restarts only %02d:00-%02d:00 UTC; actuation after a %gh warm-up.\n",
		p.Mode, p.MaxChangesPerDay, p.Cooldown, int(windowStart.Hours()), int((windowStart + windowLength).Hours()), warmUp.Hours())
	fmt.Fprintf(w, "Each VM starts at its provisioned size, which is also its hotplug maximum; limits 1 vCPU and %d MiB to %dx provisioned.\n", minMemory>>20, maxGrowth)
	fmt.Fprintf(w, "Cost: pkg/cost VMCostPerHour at DefaultModel on-demand prices ($%g per vCPU-hour, $%g per GiB-hour).\n", prices.CPUCoreHour, prices.MemoryGiBHour)
	for _, r := range results {
		d := r.defects
		fmt.Fprintf(w, "%s: %d VMs (%d without a valid row), %d rows: %d without cores dropped, %d repeated timestamps dropped, %d gaps, memory unmeasured in %d, CPU above capacity clamped in %d.\n",
			r.month, len(r.vmIDs)+r.empty, r.empty, d.rows, d.noCores, d.repeated, d.gaps, d.memUnmeasured, d.cpuAboveCapacity)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "month\tstrategy\tVMs\tVM-days\tCPU over\tmem over\tCPU under\tmem under\tresizes\trestarts\tcost $\tcost vs")
	fmt.Fprintln(tw, "\t\t\t\t% of use\t% of use\tVM-min\tVM-min\t/VM-day\t/VM-day\t\tprovisioned")
	labels, totals := rows(results)
	for i, label := range labels {
		base := totals[i][0].figures()
		for j, t := range totals[i] {
			f := t.figures()
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.0f%%\t%.0f%%\t%.0f\t%.0f\t%.3f\t%.4f\t%.2f\t%+.1f%%\n",
				label, results[0].strategies[j], t.vms, f.vmDays, f.cpuOver, f.memOver, f.cpuUnder, f.memUnder,
				f.resizes, f.restarts, f.dollars, (ratio(f.dollars, base.dollars)-1)*100)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}

var csvHeader = []string{"month", "strategy", "vms", "vm_days", "cpu_used_core_hours", "cpu_over_pct", "mem_used_gib_hours", "mem_over_pct", "cpu_under_vm_minutes", "mem_under_vm_minutes", "resizes_per_vm_day", "restarts_per_vm_day", "cost_usd"}

func csvRow(month, strategy string, t tally) []string {
	f := t.figures()
	g := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return []string{month, strategy, strconv.Itoa(t.vms), g(f.vmDays), g(t.cpuUsed / 60), g(f.cpuOver), g(t.memUsed / 60), g(f.memOver), g(f.cpuUnder), g(f.memUnder), g(f.resizes), g(f.restarts), g(f.dollars)}
}

// writeCSV writes the table's rows unrounded, for other tools.
func writeCSV(w io.Writer, results []monthResult) error {
	cw := csv.NewWriter(w)
	records := [][]string{csvHeader}
	labels, totals := rows(results)
	for i, label := range labels {
		for j, t := range totals[i] {
			records = append(records, csvRow(label, results[0].strategies[j], t))
		}
	}
	if err := cw.WriteAll(records); err != nil {
		return fmt.Errorf("writing csv: %w", err)
	}
	return nil
}

// writePerVM writes a row per month, VM and strategy (as csv whatever the
// format: it is for analysis, not reading).
func writePerVM(w io.Writer, results []monthResult) error {
	cw := csv.NewWriter(w)
	records := [][]string{append([]string{"vm"}, csvHeader...)}
	for _, r := range results {
		for i, id := range r.vmIDs {
			for j, t := range r.perVM[i] {
				records = append(records, append([]string{id}, csvRow(r.month, r.strategies[j], t)...))
			}
		}
	}
	if err := cw.WriteAll(records); err != nil {
		return fmt.Errorf("writing csv: %w", err)
	}
	return nil
}
