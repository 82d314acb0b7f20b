// Command hypersdk-placement-eval compares, offline, where VMs land and what
// they emit and cost over a simulated month on the real carbon traces: under
// kube-scheduler's default scoring, under HyperSDK's placement model, and
// under an oracle that knows the future. See docs/placement-evaluation.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/evaluation"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-placement-eval:", err)
		os.Exit(1)
	}
}

type options struct {
	carbonData string
	nodes      int
	days       int
	start      string
	seed       uint64
	load       float64
	format     string
	gpuNodes   bool
	// windows, when set, evaluates every month in a range instead of one
	// window; plot is where to draw the carbon/cost trade-off.
	windows string
	plot    string
}

// run writes the results to out and the runtime to errOut, so that out is
// the same for the same flags.
func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	var o options
	fs := pflag.NewFlagSet("hypersdk-placement-eval", pflag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.carbonData, "carbon-data", "../shared/data/carbon", "Directory of the hourly carbon traces (<zone>_<year>_hourly.csv); relative to the working directory.")
	fs.IntVar(&o.nodes, "nodes", 30, "Nodes of the sandbox fleet plan (pkg/sandbox/fleet.Plan).")
	fs.IntVar(&o.days, "days", 30, "Days of VM arrivals to simulate.")
	fs.StringVar(&o.start, "start", "2022-06-01", "First simulated day (YYYY-MM-DD, UTC) or instant (RFC3339).")
	fs.Uint64Var(&o.seed, "seed", 1, "Seed of the workload and of the default scheduler's tie-breaking.")
	fs.Float64Var(&o.load, "load", 0.55, "Mean share of the fleet's CPUs that running VMs request, in (0, 1].")
	fs.StringVar(&o.format, "format", "table", "Output format: table or csv.")
	fs.BoolVar(&o.gpuNodes, "gpu-nodes", true, "Keep the plan's GPU servers in the fleet. Nothing taints them in the sandbox, so CPU VMs may land on them; false leaves them out, as if tainted for GPU VMs.")
	fs.StringVar(&o.windows, "windows", "", "Evaluate every 30-day window starting on the first of each month in a range, such as 2022-01..2023-12, with and without GPU servers, at loads 0.55 and 0.8, and print one row each and a summary (--start, --load and --gpu-nodes are then ignored; --days is each window's length, 30 by default).")
	fs.StringVar(&o.plot, "plot", "", "Write the carbon/cost trade-off curve of the carbon price sweep to this PNG file (averaged over the windows evaluated).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	if o.windows != "" {
		return o.runWindows(ctx, out, errOut)
	}
	return o.run(ctx, out, errOut)
}

// validate checks the flags both modes use, before either starts.
func (o *options) validate() error {
	if o.format != "table" && o.format != "csv" {
		return fmt.Errorf("--format %q: want table or csv", o.format)
	}
	// The windows' table and summary have no CSV form yet: say so rather
	// than print a table to a reader expecting CSV.
	if o.windows != "" && o.format != "table" {
		return fmt.Errorf("--format %q with --windows: only table is supported", o.format)
	}
	if o.nodes <= 0 || o.days <= 0 {
		return fmt.Errorf("--nodes %d and --days %d: want > 0", o.nodes, o.days)
	}
	return nil
}

func (o *options) run(ctx context.Context, out, errOut io.Writer) error {
	start, err := parseStart(o.start)
	if err != nil {
		return err
	}
	end := start.AddDate(0, 0, o.days)
	began := time.Now()

	traces, missing, err := o.loadTraces(start, end)
	if err != nil {
		return err
	}
	nodes, err := evaluation.NodesFromFleet(inZones(o.plan(), traces), cost.DefaultModel())
	if err != nil {
		return err
	}
	vms, err := evaluation.Generate(evaluation.WorkloadConfig{Start: start, Window: end.Sub(start), Seed: o.seed,
		Load: o.load, CapacityCPUs: evaluation.CapacityCPUs(nodes)})
	if err != nil {
		return err
	}
	sim := evaluation.Simulation{Nodes: nodes, VMs: vms, End: end, Traces: traces}
	win, err := evaluation.EvaluateWindow(ctx, &sim, start, o.seed)
	if err != nil {
		return err
	}
	results := win.Results

	fmt.Fprintf(errOut, "Simulated in %s.\n", time.Since(began).Round(time.Millisecond))
	if o.plot != "" {
		if err := evaluation.PlotTradeOff(o.plot, []*evaluation.Window{win}); err != nil {
			return err
		}
	}
	if o.format == "csv" {
		return evaluation.WriteCSV(out, results)
	}
	gpus := "with"
	if !o.gpuNodes {
		gpus = "without"
	}
	zones := fmt.Sprint(fleet.Zones)
	if len(missing) > 0 {
		zones = fmt.Sprintf("%v, %v left out for want of a trace", slices.Sorted(maps.Keys(traces)), missing)
	}
	fmt.Fprintf(out, "%d VMs arriving over %d days from %s on %d sandbox nodes %s GPU servers (%.0f CPUs, zones %v), load %.2f, seed %d.\n",
		len(vms), o.days, start.Format(time.RFC3339), len(nodes), gpus, evaluation.CapacityCPUs(nodes), zones, o.load, o.seed)
	fmt.Fprintf(out, "Carbon: Electricity Maps hourly traces, direct (location-based) signal. The oracles read the true future.\n\n")
	if err := evaluation.WriteTable(out, results); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return evaluation.WriteShares(out, win)
}

// loadTraces loads the traces of the fleet's zones over [start, end). The
// fleet's nodes in a zone without a trace that year (the 2023 files have
// no NO) are left out of the evaluation, and missing names those zones;
// fewer than two zones leave no choice to evaluate.
func (o *options) loadTraces(start, end time.Time) (traces map[string]*carbon.Trace, missing []string, err error) {
	traces, missing, err = evaluation.LoadAvailableTraces(o.carbonData, fleet.Zones, start, end)
	if err != nil {
		return nil, nil, err
	}
	if len(traces) < 2 {
		return nil, nil, fmt.Errorf("carbon traces of %d of the zones %v in %s for %d: no choice of zone to evaluate", len(traces), fleet.Zones, o.carbonData, start.Year())
	}
	return traces, missing, nil
}

// plan is the sandbox fleet of --nodes nodes, less its GPU servers unless
// --gpu-nodes.
func (o *options) plan() []fleet.Node { return planOf(o.nodes, o.gpuNodes) }

// planOf is the sandbox fleet of n nodes, less its GPU servers unless gpus.
func planOf(n int, gpus bool) []fleet.Node {
	plan := fleet.Plan(n)
	if gpus {
		return plan
	}
	cpuOnly := plan[:0]
	for _, n := range plan {
		if len(n.Type.GPUs) == 0 {
			cpuOnly = append(cpuOnly, n)
		}
	}
	return cpuOnly
}

// parseStart reads a UTC date or an RFC3339 instant.
func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--start %q: want YYYY-MM-DD or RFC3339", s)
	}
	return t.UTC(), nil
}
