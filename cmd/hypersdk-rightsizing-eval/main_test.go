package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

const header = "timestamp_s,cpu_cores,cpu_capacity_mhz,cpu_usage_mhz,memory_provisioned_kb,memory_usage_kb,network_rx_kbps,network_tx_kbps\n"

// start is a Monday 00:00 UTC.
var start = time.Date(2013, 7, 1, 0, 0, 0, 0, time.UTC)

// writeTrace writes a gzipped trace of rows (without the header).
func writeTrace(t *testing.T, path string, rows []string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	fmt.Fprint(gz, header+strings.Join(rows, ""))
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// row is one trace line: a 4-core 2000 MHz, 8 GiB VM using cores and memGiB.
func row(at time.Time, cores, memGiB float64) string {
	return fmt.Sprintf("%d,4,8000,%g,8388608,%g,0,0\n", at.Unix(), cores*2000, memGiB*1024*1024)
}

// busyDays is a VM busy (3.5 cores, 6 GiB) from 09:00 to 17:00 UTC and
// idle (0.2 cores, 1 GiB) otherwise.
func busyDays(days int) []string {
	var rows []string
	for t := start; t.Before(start.AddDate(0, 0, days)); t = t.Add(sampleInterval) {
		if h := t.Hour(); h >= 9 && h < 17 {
			rows = append(rows, row(t, 3.5, 6))
		} else {
			rows = append(rows, row(t, 0.2, 1))
		}
	}
	return rows
}

func TestParseTraceDefects(t *testing.T) {
	at := func(i int) time.Time { return start.Add(time.Duration(i) * sampleInterval) }
	rows := []string{
		row(at(0), 1, 2),
		fmt.Sprintf("%d,0,0,0,0,0,0,0\n", at(1).Unix()), // not reporting
		row(at(1), 1, 0),  // memory unmeasured
		row(at(1), 2, 2),  // repeated timestamp
		row(at(2), 5, 2),  // above capacity: 4 cores
		row(at(3), 1, 9),  // memory above provisioned
		row(at(10), 1, 2), // after a gap
	}
	tr, err := parseTrace(strings.NewReader(header + strings.Join(rows, "")))
	if err != nil {
		t.Fatal(err)
	}
	want := defects{rows: 7, noCores: 1, repeated: 1, memUnmeasured: 2, cpuAboveCapacity: 1, gaps: 1}
	if tr.defects != want {
		t.Errorf("defects %+v, want %+v", tr.defects, want)
	}
	if tr.provisioned != (rightsizing.Resources{CPUs: 4, MemoryBytes: 8 << 30}) {
		t.Errorf("provisioned %s, want 4 vCPU, 8Gi", tr.provisioned)
	}
	wantPoints := []point{{at(0), 1, 2 << 30}, {at(1), 1, 0}, {at(2), 4, 2 << 30}, {at(3), 1, 0}, {at(10), 1, 2 << 30}}
	if len(tr.points) != len(wantPoints) {
		t.Fatalf("%d points, want %d", len(tr.points), len(wantPoints))
	}
	for i, p := range tr.points {
		w := wantPoints[i]
		if !p.t.Equal(w.t) || math.Abs(p.cpu-w.cpu) > 1e-9 || math.Abs(p.mem-w.mem) > 1 {
			t.Errorf("point %d = %+v, want %+v", i, p, w)
		}
	}
}

func TestParseTraceErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"missing column", "timestamp_s,cpu_cores\n1,2\n", `lacks column "cpu_capacity_mhz"`},
		{"bad number", header + "x,4,8000,1,8388608,1,0,0\n", "line 2, timestamp_s"},
	} {
		if _, err := parseTrace(strings.NewReader(tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %s", tc.name, err, tc.want)
		}
	}
}

// idleDays is a VM using 0.3 cores and 1 GiB of its 4 and 8.
func idleDays(days int) []string {
	var rows []string
	for t := start; t.Before(start.AddDate(0, 0, days)); t = t.Add(sampleInterval) {
		rows = append(rows, row(t, 0.3, 1))
	}
	return rows
}

func TestReplay(t *testing.T) {
	tr, err := parseTrace(strings.NewReader(header + strings.Join(idleDays(5), "")))
	if err != nil {
		t.Fatal(err)
	}
	prices := pricing()
	static := replay(tr, strategies()[0], prices)
	if static.resizes != 0 || static.cpuUnderMinutes != 0 || static.memUnderMinutes != 0 {
		t.Errorf("provisioned: %+v, want no resizes and no shortfall", static)
	}
	// 4 vCPU, 8 GiB for 5 days at the default on-demand prices.
	if want := 5 * 24 * (4*prices.CPUCoreHour + 8*prices.MemoryGiBHour); math.Abs(static.dollars-want) > 1e-6 {
		t.Errorf("provisioned cost $%.4f, want $%.4f", static.dollars, want)
	}
	for _, s := range strategies()[1:] {
		got := replay(tr, s, prices)
		if got.resizes == 0 || got.cpuIdle >= static.cpuIdle || got.dollars >= static.dollars {
			t.Errorf("%s: %+v, want it to resize and save on the provisioned size", s.name, got)
		}
		if got.resizes > 2*5 {
			t.Errorf("%s: %d resizes in 5 days, more than maxChangesPerDay allows", s.name, got.resizes)
		}
	}
}

func TestInWindow(t *testing.T) {
	for _, tc := range []struct {
		at   string
		want bool
	}{{"00:00", true}, {"03:59", true}, {"04:00", false}, {"23:59", false}} {
		at, _ := time.Parse("15:04", tc.at)
		if got := inWindow(start.Add(at.Sub(at.Truncate(24 * time.Hour)))); got != tc.want {
			t.Errorf("inWindow(%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--format=xml"}, "--format"},
		{[]string{"--months="}, "--months"},
		{[]string{"--data=" + t.TempDir()}, "no <vm>.csv.gz traces"},
	} {
		err := run(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%v) = %v, want an error about %s", tc.args, err, tc.want)
		}
	}
}

// TestRunOnGeneratedTraces runs the command on a tiny trace directory.
func TestRunOnGeneratedTraces(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"m1", "m2"} {
		writeTrace(t, filepath.Join(dir, m, "1.csv.gz"), busyDays(3))
		writeTrace(t, filepath.Join(dir, m, "2.csv.gz"), busyDays(2)[:400])
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--months=m1,m2"}, []string{"m1: 2 VMs", "m2: 2 VMs", "\nm1     provisioned  2 ", "\nm2     vm ", "\nall    vpa          4 ", "cost vs"}},
		{[]string{"--months=m1", "--format=csv"}, []string{"month,strategy,vms,vm_days,", "\nm1,provisioned,2,", "\nm1,vm,2,"}},
		{[]string{"--months=m1", "--per-vm"}, []string{"vm,month,strategy,", "\n1,m1,vpa,1,", "\n2,m1,vm,1,"}},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"--data=" + dir}, tc.args...)
		if err := run(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("run(%v): %v", args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("run(%v) output lacks %q:\n%s", tc.args, w, out.String())
			}
		}
		// Deterministic: the same again.
		var again bytes.Buffer
		if err := run(context.Background(), args, &again, &bytes.Buffer{}); err != nil || again.String() != out.String() {
			t.Errorf("run(%v) differs on a second run (err %v)", tc.args, err)
		}
	}
}
