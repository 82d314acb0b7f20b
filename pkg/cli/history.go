package cli

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

func newVMHistoryCommand(e *env) *cobra.Command {
	var timeRange, step, fieldList string
	out := newOutput()
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "Show a VM's recorded usage, carbon and cost over a time range",
		Long: `Show a VM's history from virtualmachines/history: one row per series with its
trend (avg, min, max, p95) and last value; -o csv gives every point (the
server's CSV), -o json or yaml the whole object.`,
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := out.printer(); err != nil {
				return err
			}
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			req := vmSubresource(c, ns, args[0], "history").Param("timeRange", timeRange)
			if step != "" {
				req = req.Param("step", step)
			}
			if fieldList != "" {
				req = req.Param("fields", fieldList)
			}
			if out.format() == "csv" {
				if out.sortBy != "" {
					return fmt.Errorf("--sort-by orders the table's series; -o csv gives every point in time order")
				}
				body, err := req.Param("format", "csv").DoRaw(cmd.Context())
				if err != nil {
					return err
				}
				if out.noHeaders {
					_, body, _ = bytes.Cut(body, []byte("\n"))
				}
				_, err = e.streams.Out.Write(body)
				return err
			}
			h := &v1alpha1.VirtualMachineHistory{}
			if err := req.Do(cmd.Context()).Into(h); err != nil {
				return err
			}
			if !out.table() {
				p, err := out.printer()
				if err != nil {
					return err
				}
				return p.PrintObj(h, e.streams.Out)
			}
			var rows []any
			for i := range h.Series {
				rows = append(rows, &h.Series[i])
			}
			if err := out.sortRows(rows, func(r any) any { return r }); err != nil {
				return err
			}
			return out.printRows(e.streams.Out, rows, seriesColumns, nil)
		},
	}
	out.addFlags(cmd)
	out.addSortFlag(cmd, ".trend.p95")
	cmd.Flags().StringVar(&timeRange, "range", "1h", "How far back: 1h, 6h, 24h, 7d or 30d.")
	cmd.Flags().StringVar(&step, "step", "", "Time between points (the server picks one for the range when empty).")
	cmd.Flags().StringVar(&fieldList, "fields", "", "Series to show, comma-separated (all when empty), e.g. cpuUsage,carbonIntensity.")
	return cmd
}

var seriesColumns = columns{
	names: []string{"FIELD", "UNIT", "POINTS", "AVG", "MIN", "MAX", "P95", "LAST"},
	row: func(obj any, _ bool) []any {
		s := obj.(*v1alpha1.HistorySeries)
		if len(s.Points) == 0 {
			// The trend of no points is zeros, not a series at 0.
			return []any{s.Field, s.Unit, 0, "<none>", "<none>", "<none>", "<none>", "<none>"}
		}
		last := num(s.Points[len(s.Points)-1].Value)
		return []any{s.Field, s.Unit, len(s.Points), num(s.Trend.Avg), num(s.Trend.Min), num(s.Trend.Max), num(s.Trend.P95), last}
	},
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// knownNum is num of a figure the server may not know: <unknown> when it
// does not.
func knownNum(v *float64) string {
	if v == nil {
		return "<unknown>"
	}
	return num(*v)
}

func newVMPlacementCommand(e *env) *cobra.Command {
	out := newOutput()
	cmd := &cobra.Command{
		Use:   "placement NAME",
		Short: "Show why a VM runs where it does: every candidate node's scores",
		Long: `Show virtualmachines/placement: the scheduler extender's decision for the VM's
pod, one row per candidate node (the chosen one marked *), and the nodes it
filtered out; -o csv gives the candidates' rows only, -o json or yaml the
whole object.`,
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := &v1alpha1.VirtualMachinePlacement{}
			ns, done, err := e.getVMSubresource(cmd.Context(), out, args[0], "placement", p)
			if done || err != nil {
				return err
			}
			if p.Decision == nil {
				msg := p.Message
				if msg == "" {
					msg = "no placement decision recorded"
				}
				_, err := fmt.Fprintf(e.streams.Out, "%s/%s: %s\n", ns, args[0], msg)
				return err
			}
			var rows []any
			for i := range p.Decision.Candidates {
				rows = append(rows, &candidateRow{NodeScore: &p.Decision.Candidates[i], chosen: p.Decision.Candidates[i].Node == p.Decision.Node})
			}
			if err := out.sortRows(rows, func(r any) any { return r.(*candidateRow).NodeScore }); err != nil {
				return err
			}
			if err := out.printRows(e.streams.Out, rows, candidateColumns, nil); err != nil || out.format() == "csv" {
				return err // csv is the candidates' rows only, so it parses
			}
			for _, f := range p.Decision.Filtered {
				fmt.Fprintf(e.streams.Out, "filtered out %s: %s\n", f.Node, f.Reason)
			}
			return nil
		},
	}
	out.addFlags(cmd)
	out.addSortFlag(cmd, ".total")
	return cmd
}

// candidateRow is a node's scores, and whether it was chosen.
type candidateRow struct {
	*v1alpha1.NodeScore
	chosen bool
}

var candidateColumns = columns{
	names: []string{"", "NODE", "ZONE", "TOTAL", "CARBON", "COST", "PRESSURE", "GCO2/H", "COST/H"},
	row: func(obj any, _ bool) []any {
		r := obj.(*candidateRow)
		mark := ""
		if r.chosen {
			mark = "*"
		}
		return []any{mark, r.Node, orNone(r.Zone), num(r.Total), num(r.Carbon), num(r.Cost), num(r.Pressure),
			knownNum(r.GramsCO2PerHour), knownNum(r.CostPerHour)}
	},
}
