package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypersdk/hypersdk/pkg/evaluation"
)

// carbonData is the real traces, seen from this package's directory.
const carbonData = "../../../shared/data/carbon"

func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"format", []string{"--format=xml"}, "--format"},
		{"csv windows", []string{"--format=csv", "--windows=2022-01..2022-02"}, "with --windows"},
		{"nodes", []string{"--nodes=0"}, "--nodes"},
		{"start", []string{"--start=June"}, "--start"},
		{"load", []string{"--load=2", "--carbon-data=" + carbonData}, "load"},
		{"missing traces", []string{"--carbon-data=" + t.TempDir()}, "carbon trace"},
		{"windows without traces", []string{"--windows=2022-01..2022-02", "--carbon-data=" + t.TempDir()}, "two or more of the zones"},
		{"trace years", []string{"--start=2022-12-20", "--carbon-data=" + carbonData}, "simulation needs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%v) = %v, want an error about %s", tc.args, err, tc.want)
			}
		})
	}
}

func TestPlanWithoutGPUNodes(t *testing.T) {
	for _, tc := range []struct {
		gpuNodes  bool
		wantNodes int
	}{{true, 12}, {false, 8}} {
		o := options{nodes: 12, gpuNodes: tc.gpuNodes}
		plan := o.plan()
		if len(plan) != tc.wantNodes {
			t.Errorf("--gpu-nodes=%v: %d nodes, want %d", tc.gpuNodes, len(plan), tc.wantNodes)
		}
		for _, n := range plan {
			if !tc.gpuNodes && len(n.Type.GPUs) > 0 {
				t.Errorf("--gpu-nodes=false kept GPU server %s", n.Name)
			}
		}
	}
}

func TestRunPrintsEveryStrategy(t *testing.T) {
	if _, err := os.Stat(carbonData); err != nil {
		t.Skipf("no carbon traces next to the repository: %v", err)
	}
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"table", []string{"default-scheduler", "hypersdk ", "hypersdk-carbon", "hypersdk-forecast", "oracle", "TRUE FUTURE", "vs default-scheduler"}},
		{"csv", []string{"strategy,carbon_signal,placed", "\noracle,TRUE FUTURE (offline),"}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var out bytes.Buffer
			args := []string{"--carbon-data=" + carbonData, "--nodes=6", "--days=2", "--format=" + tc.format}
			if err := run(context.Background(), args, &out, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestRunWindows: the windows mode prints a row per case (a month with and
// without GPU servers, at each load), the references and a summary per
// strategy, runs a month some zone has no trace for on the other zones'
// nodes and says so, and plots the curve.
func TestRunWindows(t *testing.T) {
	if _, err := os.Stat(carbonData); err != nil {
		t.Skipf("no carbon traces next to the repository: %v", err)
	}
	plot := filepath.Join(t.TempDir(), "curve.png")
	var out bytes.Buffer
	args := []string{"--carbon-data=" + carbonData, "--nodes=6", "--days=2", "--windows=2022-12..2023-01", "--plot=" + plot}
	if err := run(context.Background(), args, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	_, noNO := os.Stat(filepath.Join(carbonData, "NO_2023_hourly.csv"))
	cases := map[string]int{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "true" && f[1] != "false" {
			continue
		}
		cases[f[0]]++
		// The last column names the zones left out: none in 2022, NO in
		// a month without its trace.
		leftOut := "-"
		if f[0] == "2023-01" && noNO != nil {
			leftOut = "NO"
		}
		if f[len(f)-1] != leftOut {
			t.Errorf("row %q: zones left out %q, want %q", line, f[len(f)-1], leftOut)
		}
	}
	if cases["2022-12"] != 4 || cases["2023-01"] != 4 {
		t.Errorf("rows per month = %v, want 4 each (GPU servers or not, two loads):\n%s", cases, out.String())
	}
	want := []string{"over 8 cases ", "hypersdk-$200/t", "oracle-capped+5%", "oracle-capped+5%+moves", "hindsight-price+5%", "hindsight price: cost", "with moves: cost", "than default-scheduler-spot-tainted", "spot-tainted rejected", "per CPU-hour: cost", "its carbon price"}
	if noNO != nil {
		// The 2022 cases alone too, where every zone has a trace.
		want = append(want, "over 4 cases with every zone")
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	png, err := os.ReadFile(plot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("plot: %v, %d bytes, want a PNG", err, len(png))
	}
	if err := run(context.Background(), []string{"--windows=2023-05..2022-01"}, &out, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "--windows") {
		t.Errorf("a backwards range: %v, want an error naming --windows", err)
	}
}

// TestSummaryCountsCasesMeetingTheLine checks the count of cases within the
// cost cap that capture at least 90% of the capped oracle's saving: a case
// over the cap, one short of the share and one where the oracle stays over
// budget do not count.
func TestSummaryCountsCasesMeetingTheLine(t *testing.T) {
	window := func(dollars, grams float64, cappedWithin bool) *evaluation.Window {
		return &evaluation.Window{CappedWithinBudget: cappedWithin, MovingWithinBudget: cappedWithin, HindsightWithinBudget: cappedWithin, Results: []evaluation.Result{
			{Strategy: "default-scheduler", Usage: evaluation.Usage{CPUHours: 1, Dollars: 100, Grams: 1000}},
			{Strategy: "hypersdk", Usage: evaluation.Usage{CPUHours: 1, Dollars: dollars, Grams: grams}},
			{Strategy: "oracle-capped+5%", Usage: evaluation.Usage{CPUHours: 1, Dollars: 105, Grams: 800}},
			{Strategy: "oracle-capped+5%+moves", Usage: evaluation.Usage{CPUHours: 1, Dollars: 105, Grams: 780}},
			{Strategy: "hindsight-price+5%", Usage: evaluation.Usage{CPUHours: 1, Dollars: 105, Grams: 830}},
		}}
	}
	wins := []*evaluation.Window{
		window(104, 810, true),  // +4%, 95% of the saving: meets the line
		window(105, 820, true),  // +5%, 90%: meets it
		window(106, 800, true),  // +6%: over the cap
		window(95, 850, true),   // 75% of the saving
		window(100, 700, false), // within the cap, but the oracle is over budget: no share
	}
	var out bytes.Buffer
	if err := writeSummary(&out, "", wins); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "within the budget in 4 of these 5 cases") {
		t.Errorf("summary does not say the line is defined in 4 of 5 cases:\n%s", out.String())
	}
	var row []string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "hypersdk" {
			row = f
		}
	}
	// Columns: name, worst, mean cost, mean CO2, per CPU-hour cost and CO2,
	// within the cap, least share, pooled shares of capped, capped with
	// moves and bound, then the cases meeting the line. Pooled over the 4
	// cases where the oracles stay within budget, hypersdk saves 720 g of
	// the moving oracle's 880.
	if len(row) != 14 || row[6] != "4" || row[9] != "82%" || row[11] != "2" {
		t.Errorf("hypersdk row %q: want 14 columns, 4 cases within the cap, 82%% of the moving oracle's saving and 2 meeting the line", row)
	}
}

// TestHindsightShareOnlyWithinBudget: the per-case share of the hindsight
// price is n/a when no price kept it within the budget (its row is then
// its cheapest run, over the cap).
func TestHindsightShareOnlyWithinBudget(t *testing.T) {
	for _, within := range []bool{true, false} {
		win := &evaluation.Window{CappedWithinBudget: true, HindsightWithinBudget: within, Results: []evaluation.Result{
			{Strategy: "default-scheduler", Usage: evaluation.Usage{CPUHours: 1, Dollars: 100, Grams: 1000}},
			{Strategy: "oracle-capped+5%", Usage: evaluation.Usage{CPUHours: 1, Dollars: 105, Grams: 800}},
			{Strategy: "oracle-capped+5%+moves", Usage: evaluation.Usage{CPUHours: 1, Dollars: 105, Grams: 780}},
			{Strategy: "hindsight-price+5%", Usage: evaluation.Usage{CPUHours: 1, Dollars: 110, Grams: 800}},
		}}
		if got := share(hindsightShare(win, win.Hindsight())); (got == "n/a") == within {
			t.Errorf("hindsight within the budget %v: share %s", within, got)
		}
	}
}
