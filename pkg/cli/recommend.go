package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/cost"
)

func newVMRecommendCommand(e *env) *cobra.Command {
	out := newOutput()
	cmd := &cobra.Command{
		Use:   "recommend NAME",
		Short: "Show the right-sizing recommendation for a VM and its evidence",
		Long: `Show virtualmachines/recommendation: the vCPUs and memory the
VirtualMachineAutoscaler that sizes the VM recommends, beside what it has now,
with the bounds within which it is left alone, the evidence (samples, window,
confidence) and what the autoscaler did or would do; -o json or yaml gives the
whole object. A VM no autoscaler sizes has none: create one with updateMode Off
to get recommendations without resizes.`,
		Example: `  kubectl hyper vm recommend web-1
  kubectl hyper vm recommend web-1 -o yaml`,
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := &v1alpha1.VirtualMachineRecommendation{}
			_, done, err := e.getVMSubresource(cmd.Context(), out, args[0], "recommendation", r)
			if done || err != nil {
				return err
			}
			rec := r.Recommendation
			rows := []any{
				sizeRow{"cpus", cpus(&rec.Current), cpus(rec.Target), cpus(rec.LowerBound), cpus(rec.UpperBound), quantity(rec.UncappedCPU)},
				sizeRow{"memory", quantity(rec.Current.Memory), memoryOf(rec.Target), memoryOf(rec.LowerBound), memoryOf(rec.UpperBound), quantity(rec.UncappedMemory)},
			}
			if err := out.printRows(e.streams.Out, rows, sizeColumns, nil); err != nil || out.format() == "csv" {
				return err // csv is the rows only, so it parses
			}
			ev := rec.Evidence
			window := "<none>"
			if ev.WindowStart != nil && ev.WindowEnd != nil {
				window = fmt.Sprintf("%s to %s (%s)", ev.WindowStart.UTC().Format(time.RFC3339), ev.WindowEnd.UTC().Format(time.RFC3339),
					ev.WindowEnd.Sub(ev.WindowStart.Time).Round(time.Second))
			}
			fmt.Fprintf(e.streams.Out, "\nAutoscaler:  %s (updateMode %s)\nStrategy:    %s\nSamples:     %d\nWindow:      %s\nConfidence:  %d%%\n",
				r.Autoscaler, r.UpdateMode, orNone(ev.Strategy), ev.Samples, window, ev.ConfidencePercent)
			if ev.Method != "" {
				fmt.Fprintf(e.streams.Out, "Method:      %s\n", ev.Method)
			}
			if sv := r.Savings; sv != nil {
				fmt.Fprintf(e.streams.Out, "Saving:      %s per month (%s per hour now, %s at the target, on %s)\n",
					cost.FormatAmount(sv.MonthlySaving), cost.FormatAmount(sv.CurrentCostPerHour), cost.FormatAmount(sv.TargetCostPerHour), sv.Node)
			}
			_, err = fmt.Fprintf(e.streams.Out, "Action:      %s\n", orNone(rec.Action))
			return err
		},
	}
	out.addFlags(cmd)
	return cmd
}

// sizeRow is one resource of a recommendation.
type sizeRow struct{ resource, current, target, lower, upper, uncapped string }

var sizeColumns = columns{
	names: []string{"RESOURCE", "CURRENT", "TARGET", "LOWER", "UPPER", "UNCAPPED"},
	row: func(obj any, _ bool) []any {
		r := obj.(sizeRow)
		return []any{r.resource, r.current, r.target, r.lower, r.upper, r.uncapped}
	},
}

func cpus(r *v1alpha1.AutoscalerResources) string {
	if r == nil || r.CPUs == nil {
		return "<none>"
	}
	return fmt.Sprint(*r.CPUs)
}

func memoryOf(r *v1alpha1.AutoscalerResources) string {
	if r == nil {
		return "<none>"
	}
	return quantity(r.Memory)
}

func quantity(q *resource.Quantity) string {
	if q == nil {
		return "<none>"
	}
	return q.String()
}
