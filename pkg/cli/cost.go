package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/cost"
)

func newVMCostCommand(e *env) *cobra.Command {
	out := newOutput()
	cmd := &cobra.Command{
		Use:   "cost NAME",
		Short: "Show what a VM costs per hour now, today and this month",
		Long: `Show virtualmachines/cost: the VM's cost per hour on its node now (the larger of
its allocation and its usage at the node's prices), today's and the month's
cost from its history, and what it rests on; -o json or yaml gives the whole
object. Amounts are in the price model's currency. Below, the same size (vCPUs, memory,
GPUs) at the cheapest fitting on-demand instance type of each public cloud
price list the server has, with the list's date (-o wide: its source).`,
		Example:           `  kubectl hyper vm cost web-1 -o wide`,
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			vmCost := &v1alpha1.VirtualMachineCost{}
			_, done, err := e.getVMSubresource(cmd.Context(), out, args[0], "cost", vmCost)
			if done || err != nil {
				return err
			}
			if err := out.printRows(e.streams.Out, []any{vmCost}, costColumns, nil); err != nil {
				return err
			}
			warnMonthToDateFrom(e, vmCost.MonthToDateFrom)
			if out.format() == "csv" || len(vmCost.CloudComparison) == 0 {
				return err
			}
			// The same size at public clouds' list prices, cheapest first.
			rows := make([]any, len(vmCost.CloudComparison))
			for i := range vmCost.CloudComparison {
				rows[i] = cloudRow{price: &vmCost.CloudComparison[i], here: vmCost.CostPerHour}
			}
			fmt.Fprintln(e.streams.Out)
			return out.printRows(e.streams.Out, rows, cloudColumns, nil)
		},
	}
	out.addFlags(cmd)
	return cmd
}

var costColumns = columns{
	names: []string{"NAME", "NODE", "PER HOUR", "TODAY", "MONTH TO DATE", "GCO2/H"},
	wide:  []string{"GCO2 TODAY", "GCO2 MONTH", "ZONE", "CPU ALLOC", "CPU USED", "MEM ALLOC", "MEM USED", "GCO2/KWH"},
	row: func(obj any, wide bool) []any {
		c := obj.(*v1alpha1.VirtualMachineCost)
		row := []any{c.Name, orNone(c.Node), cost.FormatAmount(c.CostPerHour), cost.FormatAmount(c.Today), cost.FormatAmount(c.MonthToDate),
			knownNum(c.CarbonGramsPerHour)}
		if wide {
			row = append(row, num(c.CarbonGramsToday), num(c.CarbonGramsMonthToDate), orNone(c.Zone), num(c.CPUAllocatedCores), num(c.CPUUsageCores),
				binaryBytes(c.MemoryAllocatedBytes), binaryBytes(c.MemoryUsageBytes), knownNum(c.CarbonIntensity))
		}
		return row
	},
}

// cloudRow is one public cloud's price for a VM's size, beside its cost here.
type cloudRow struct {
	price *v1alpha1.CloudInstancePrice
	here  float64
}

var cloudColumns = columns{
	names: []string{"CLOUD", "REGION", "INSTANCE TYPE", "VCPUS", "MEMORY", "GPUS", "PER HOUR", "VS HERE", "PRICES OF"},
	wide:  []string{"SOURCE"},
	row: func(obj any, wide bool) []any {
		r := obj.(cloudRow)
		p := r.price
		gpus, vs := "0", "n/a"
		if p.GPUs > 0 {
			gpus = fmt.Sprintf("%dx%s", p.GPUs, p.GPUModel)
		}
		if r.here > 0 {
			vs = fmt.Sprintf("%+.0f%%", (p.PricePerHour/r.here-1)*100)
		}
		row := []any{p.Cloud, p.Region, p.InstanceType, p.VCPUs, binaryBytes(float64(p.MemoryBytes)), gpus,
			cost.FormatAmount(p.PricePerHour) + " " + p.Currency, vs, p.PriceListDate}
		if wide {
			row = append(row, p.Source)
		}
		return row
	},
}

func newCostReportCommand(e *env) *cobra.Command {
	out := newOutput()
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Show what the namespace's VMs cost and emit now, today and this month",
		Long: `Show costreports/current of the namespace: each VM's cost per hour now, today's
and the month's cost from history, and the grams of CO2eq of the same spans,
then their total. -o csv gives the same rows for a spreadsheet; -o json or
yaml the whole report. Amounts are in the price model's currency. For one
VM's price at the public clouds, see kubectl hyper vm cost NAME.`,
		Example: `  kubectl hyper cost -n team-a
  kubectl hyper cost -n team-a -o csv > team-a.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			printer, err := out.printer()
			if err != nil {
				return err
			}
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			report := &v1alpha1.CostReport{}
			if err := c.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("costreports").Name("current").
				Do(cmd.Context()).Into(report); err != nil {
				return err
			}
			if !out.table() {
				return printer.PrintObj(report, e.streams.Out)
			}
			rows := make([]any, 0, len(report.VirtualMachines)+1)
			for i := range report.VirtualMachines {
				rows = append(rows, &report.VirtualMachines[i])
			}
			if err := out.sortRows(rows, func(r any) any { return r }); err != nil {
				return err
			}
			rows = append(rows, &v1alpha1.VirtualMachineCostEntry{Name: "TOTAL", Amounts: report.Total})
			if err := out.printRows(e.streams.Out, rows, costReportColumns, nil); err != nil {
				return err
			}
			warnMonthToDateFrom(e, report.Total.MonthToDateFrom)
			return nil
		},
	}
	out.addFlags(cmd)
	out.addSortFlag(cmd, ".amounts.costPerHour")
	return cmd
}

var costReportColumns = columns{
	names: []string{"NAME", "NODE", "PER HOUR", "TODAY", "MONTH TO DATE", "GCO2/H", "GCO2 TODAY", "GCO2 MONTH"},
	row: func(obj any, _ bool) []any {
		c := obj.(*v1alpha1.VirtualMachineCostEntry)
		a := c.Amounts
		return []any{c.Name, orNone(c.Node), cost.FormatAmount(a.CostPerHour), cost.FormatAmount(a.Today), cost.FormatAmount(a.MonthToDate),
			knownNum(a.CarbonGramsPerHour), num(a.CarbonGramsToday), num(a.CarbonGramsMonthToDate)}
	},
}

// warnMonthToDateFrom says, on stderr, from when a month to date the
// history store cut counts.
func warnMonthToDateFrom(e *env, from *metav1.Time) {
	if from != nil {
		fmt.Fprintf(e.streams.ErrOut, "Warning: MONTH TO DATE counts from %s: the history store no longer keeps the month's first days\n",
			from.UTC().Format(time.RFC3339))
	}
}

// binaryBytes prints bytes as a quantity (2Gi).
func binaryBytes(v float64) string { return resource.NewQuantity(int64(v), resource.BinarySI).String() }
