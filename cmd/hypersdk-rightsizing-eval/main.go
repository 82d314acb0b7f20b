// Command hypersdk-rightsizing-eval replays real per-VM CPU and memory
// traces through the right-sizing recommenders of pkg/rightsizing (a port of
// the Kubernetes Vertical Pod Autoscaler's, and HyperSDK's own for VMs)
// under the same actuation rules (rightsizing.Decide), and reports how much
// each over- and under-provisions, how often it resizes and restarts, and
// what the allocation costs. See docs/rightsizing-evaluation.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-rightsizing-eval:", err)
		os.Exit(1)
	}
}

type options struct {
	data   string
	months []string
	format string
	perVM  bool
}

// run writes the results to out and the runtime to errOut, so that out is
// the same for the same flags and data.
func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	var o options
	fs := pflag.NewFlagSet("hypersdk-rightsizing-eval", pflag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.data, "data", "../shared/data/vm-usage/bitbrains-rnd", "Directory of <month>/<vm>.csv.gz usage traces; relative to the working directory.")
	fs.StringSliceVar(&o.months, "months", []string{"2013-7", "2013-8"}, "Months (subdirectories of --data) to replay, each on its own.")
	fs.StringVar(&o.format, "format", "table", "Output format: table or csv.")
	fs.BoolVar(&o.perVM, "per-vm", false, "Print one row per VM, month and strategy instead of the totals.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return o.run(ctx, out, errOut)
}

func (o *options) run(ctx context.Context, out, errOut io.Writer) error {
	if o.format != "table" && o.format != "csv" {
		return fmt.Errorf("--format %q: want table or csv", o.format)
	}
	if len(o.months) == 0 {
		return errors.New("--months: want at least one month")
	}
	began := time.Now()
	prices := pricing()
	var results []monthResult
	for _, month := range o.months {
		r, err := evaluateMonth(ctx, o.data, strings.TrimSpace(month), prices)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	fmt.Fprintf(errOut, "Replayed in %s.\n", time.Since(began).Round(time.Millisecond))
	switch {
	case o.perVM:
		return writePerVM(out, results)
	case o.format == "csv":
		return writeCSV(out, results)
	}
	return writeTable(out, results, prices)
}

// pricing is a node's unit prices at pkg/cost's default on-demand table;
// VMCostPerHour then prices an allocation's vCPUs and memory.
func pricing() cost.NodePricing {
	m := cost.DefaultModel()
	return cost.NodePricing{CPUCoreHour: m.OnDemand.CPUCoreHour, MemoryGiBHour: m.OnDemand.MemoryGiBHour}
}

// strategies are compared in this order; the first is the reference.
func strategies() []strategy {
	return []strategy{
		{name: "provisioned"},
		{name: "vpa", newRecommender: rightsizing.NewVPA},
		{name: "vm", newRecommender: rightsizing.NewVM},
	}
}

// monthResult is one month's figures: per strategy, in total and per VM
// (in file order).
type monthResult struct {
	month      string
	strategies []string
	total      []tally
	perVM      [][]tally
	vmIDs      []string
	defects    defects
	empty      int // traces without a single valid row
}

// evaluateMonth replays every VM of month through every strategy, a VM per
// worker; results are summed in file order, so they do not depend on the
// scheduling.
func evaluateMonth(ctx context.Context, dir, month string, prices cost.NodePricing) (monthResult, error) {
	files, err := monthFiles(dir, month)
	if err != nil {
		return monthResult{}, err
	}
	strats := strategies()
	type vmResult struct {
		id      string
		tallies []tally
		defects defects
		err     error
	}
	results := make([]vmResult, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				tr, err := readTrace(files[i])
				if err != nil {
					results[i].err = err
					continue
				}
				r := vmResult{id: tr.id, defects: tr.defects}
				if len(tr.points) > 0 {
					for _, s := range strats {
						r.tallies = append(r.tallies, replay(tr, s, prices))
					}
				}
				results[i] = r
			}
		}()
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return monthResult{}, err
	}

	mr := monthResult{month: month, total: make([]tally, len(strats))}
	for _, s := range strats {
		mr.strategies = append(mr.strategies, s.name)
	}
	for _, r := range results {
		if r.err != nil {
			return monthResult{}, fmt.Errorf("month %s: %w", month, r.err)
		}
		mr.defects.add(r.defects)
		if r.tallies == nil {
			mr.empty++
			continue
		}
		mr.vmIDs = append(mr.vmIDs, r.id)
		mr.perVM = append(mr.perVM, r.tallies)
		for j, t := range r.tallies {
			mr.total[j].add(t)
		}
	}
	return mr, nil
}
