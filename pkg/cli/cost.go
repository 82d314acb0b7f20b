package cli

import (
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

func newVMCostCommand(e *env) *cobra.Command {
	out := newOutput()
	cmd := &cobra.Command{
		Use:   "cost NAME",
		Short: "Show what a VM costs per hour now, today and this month",
		Long: `Show virtualmachines/cost: the VM's cost per hour on its node now (the larger of
its allocation and its usage at the node's prices), today's and the month's
cost from its history, and what it rests on; -o json or yaml gives the whole
object. Amounts are in the price model's currency.`,
		Example:           `  kubectl hyper vm cost web-1 -o wide`,
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			cost := &v1alpha1.VirtualMachineCost{}
			_, done, err := e.getVMSubresource(cmd.Context(), out, args[0], "cost", cost)
			if done || err != nil {
				return err
			}
			return out.printRows(e.streams.Out, []any{cost}, costColumns, nil)
		},
	}
	out.addFlags(cmd)
	return cmd
}

var costColumns = columns{
	names: []string{"NAME", "NODE", "PER HOUR", "TODAY", "MONTH TO DATE"},
	wide:  []string{"ZONE", "CPU ALLOC", "CPU USED", "MEM ALLOC", "MEM USED", "GCO2/KWH"},
	row: func(obj any, wide bool) []any {
		c := obj.(*v1alpha1.VirtualMachineCost)
		row := []any{c.Name, orNone(c.Node), num(c.CostPerHour), num(c.Today), num(c.MonthToDate)}
		if wide {
			row = append(row, orNone(c.Zone), num(c.CPUAllocatedCores), num(c.CPUUsageCores),
				binaryBytes(c.MemoryAllocatedBytes), binaryBytes(c.MemoryUsageBytes), num(c.CarbonIntensity))
		}
		return row
	},
}

// binaryBytes prints bytes as a quantity (2Gi).
func binaryBytes(v float64) string { return resource.NewQuantity(int64(v), resource.BinarySI).String() }
