package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// t0 is on the hour, so downsampling intervals start at it.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func openTest(t *testing.T, path string, opts SQLiteOptions) *SQLiteStore {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tick is a batch at t0+at with VM ns/vm using v cores and 10*v bytes, and a
// cluster of v VMs.
func tick(at time.Duration, v float64, vms ...string) Batch {
	b := Batch{Time: t0.Add(at), Cluster: ClusterSample{VMs: v, CPUUsageCores: v}}
	for _, name := range vms {
		b.VMs = append(b.VMs, VMSample{Namespace: "ns", Name: name, Node: "node-a", Zone: "zone-1", Phase: "Running",
			CPUUsageCores: v, MemoryUsageBytes: 10 * v, UsageRead: true, Priced: true})
	}
	return b
}

func mustAppend(t *testing.T, s Store, b Batch) {
	t.Helper()
	if err := s.Append(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// points flattens a series into offsets from t0 and values.
type pt struct {
	at time.Duration
	v  float64
}

func flatten(s Series) []pt {
	out := []pt{}
	for _, p := range s.Points {
		out = append(out, pt{p.Time.Sub(t0), p.Value})
	}
	return out
}

func expectSeries(t *testing.T, got []Series, want map[string][]pt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d series, want %d: %+v", len(got), len(want), got)
	}
	for _, s := range got {
		w, ok := want[s.Field]
		if !ok {
			t.Fatalf("unexpected series %q", s.Field)
		}
		g := flatten(s)
		if len(g) != len(w) {
			t.Fatalf("%s: got %v, want %v", s.Field, g, w)
		}
		for i := range g {
			if g[i].at != w[i].at || !close(g[i].v, w[i].v) {
				t.Fatalf("%s: got %v, want %v", s.Field, g, w)
			}
		}
	}
}

func close(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func vmQuery(name string, start, end, step time.Duration, fields ...string) Query {
	return Query{Namespace: "ns", Name: name, Start: t0.Add(start), End: t0.Add(end), Step: step, Fields: fields}
}

func TestSQLiteBucketsAverageSamplesInHalfOpenIntervals(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "h.db"), SQLiteOptions{Clock: clocktesting.NewFakePassiveClock(t0)})
	for i := 1; i <= 6; i++ {
		mustAppend(t, s, tick(time.Duration(i)*10*time.Second, float64(i), "vm"))
	}
	// Evaluation times t0+20s .. t0+100s every 20s: (t0, t0+20s] holds the
	// samples 1 and 2, (t0+20s, t0+40s] 3 and 4, (t0+40s, t0+60s] 5 and 6;
	// t0+80s and t0+100s have none and are omitted.
	got, err := s.QueryVM(ctx, vmQuery("vm", 20*time.Second, 100*time.Second, 20*time.Second, FieldMemoryUsage, FieldCPUUsage))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Field != FieldMemoryUsage || got[1].Field != FieldCPUUsage {
		t.Fatalf("series not in the requested order: %s, %s", got[0].Field, got[1].Field)
	}
	expectSeries(t, got, map[string][]pt{
		FieldCPUUsage:    {{20 * time.Second, 1.5}, {40 * time.Second, 3.5}, {60 * time.Second, 5.5}},
		FieldMemoryUsage: {{20 * time.Second, 15}, {40 * time.Second, 35}, {60 * time.Second, 55}},
	})

	// A start between samples shifts the buckets: (t0+5s, t0+25s] holds 1
	// and 2, (t0+25s, t0+45s] 3 and 4, (t0+45s, t0+65s] 5 and 6.
	got, err = s.QueryCluster(ctx, Query{Start: t0.Add(25 * time.Second), End: t0.Add(70 * time.Second), Step: 20 * time.Second, Fields: []string{FieldVMs}})
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldVMs: {{25 * time.Second, 1.5}, {45 * time.Second, 3.5}, {65 * time.Second, 5.5}}})

	got, err = s.QueryVM(ctx, vmQuery("missing", 0, time.Minute, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(VMFields) {
		t.Fatalf("an unknown VM should give every field, empty; got %+v", got)
	}
	for _, series := range got {
		if len(series.Points) != 0 {
			t.Fatalf("an unknown VM has points: %+v", series)
		}
	}
}

func TestSQLiteAppendIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "h.db"), SQLiteOptions{Clock: clocktesting.NewFakePassiveClock(t0)})
	mustAppend(t, s, tick(time.Second, 1, "a", "b"))
	before, err := s.SampleCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The same tick again, even with other values, changes nothing.
	mustAppend(t, s, tick(time.Second, 7, "a", "b"))
	after, err := s.SampleCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before != 3 || after != before {
		t.Fatalf("samples: %d after the first append (want 3), %d after re-appending", before, after)
	}
	got, err := s.QueryVM(ctx, vmQuery("a", time.Second, time.Second, time.Second, FieldCPUUsage))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: {{time.Second, 1}}})
}

func TestSQLiteKeepsDataAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	opts := SQLiteOptions{Clock: clocktesting.NewFakePassiveClock(t0)}
	s, err := OpenSQLite(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, tick(time.Second, 4, "vm"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path, opts)
	got, err := s.QueryVM(ctx, vmQuery("vm", time.Second, time.Second, time.Second, FieldCPUUsage))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: {{time.Second, 4}}})
	// The id cache starts empty after reopening; the VM keeps its row.
	mustAppend(t, s, tick(2*time.Second, 6, "vm"))
	got, err = s.QueryVM(ctx, vmQuery("vm", 2*time.Second, 2*time.Second, 2*time.Second, FieldCPUUsage))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: {{2 * time.Second, 5}}})
}

func TestSQLiteReadOnlyStoreSeesWriterAppends(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	if _, err := OpenSQLite(ctx, path, SQLiteOptions{ReadOnly: true}); err == nil {
		t.Fatal("opening a missing file read-only should fail")
	}
	clk := clocktesting.NewFakePassiveClock(t0)
	w := openTest(t, path, SQLiteOptions{Clock: clk})
	r := openTest(t, path, SQLiteOptions{Clock: clk, ReadOnly: true})
	q := vmQuery("vm", time.Second, time.Second, time.Second, FieldCPUUsage)
	if _, err := r.QueryVM(ctx, q); !errors.Is(err, ErrNotRecorded) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("before the recorder stored anything: %v, want ErrNotRecorded", err)
	}

	mustAppend(t, w, tick(time.Second, 3, "vm"))
	got, err := r.QueryVM(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: {{time.Second, 3}}})
	if err := r.Append(ctx, tick(2*time.Second, 1, "vm")); err == nil {
		t.Fatal("a read-only store accepted an append")
	}
}

// TestSQLiteNothingRecordedIsAnError: over a range where the recorder
// stored nothing (it was down), a VM's and the cluster's history is
// ErrNotRecorded, as from Prometheus, not empty series that read as VMs
// that used and cost nothing; a VM the recorder never saw, in a range it
// ran, has empty series.
func TestSQLiteNothingRecordedIsAnError(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "h.db"), SQLiteOptions{Clock: clocktesting.NewFakePassiveClock(t0)})
	mustAppend(t, s, tick(time.Second, 3, "vm"))
	later := vmQuery("vm", 10*time.Second, 20*time.Second, time.Second, FieldCPUUsage)
	if _, err := s.QueryVM(ctx, later); !errors.Is(err, ErrNotRecorded) {
		t.Errorf("VM history while the recorder was down: %v, want ErrNotRecorded", err)
	}
	cluster := later
	cluster.Namespace, cluster.Name, cluster.Fields = "", "", []string{FieldCostPerHour}
	if _, err := s.QueryCluster(ctx, cluster); !errors.Is(err, ErrNotRecorded) {
		t.Errorf("cluster history while the recorder was down: %v, want ErrNotRecorded", err)
	}
	got, err := s.QueryVM(ctx, vmQuery("other", time.Second, time.Second, time.Second, FieldCPUUsage))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: {}})
}

// TestSQLiteDownsampledGapsKeepTheirWeight: an hour whose samples mostly
// lack a reading is weighed, once downsampled, by the samples that had one,
// so a longer step gives what the raw samples gave.
func TestSQLiteDownsampledGapsKeepTheirWeight(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(t0)
	s := openTest(t, filepath.Join(t.TempDir(), "h.db"), SQLiteOptions{
		Retention: 10 * time.Hour, RawRetention: time.Hour, DownsampleInterval: time.Hour, Clock: clk,
	})
	q := vmQuery("vm", 2*time.Hour, 2*time.Hour, 2*time.Hour, FieldCPUUsage)
	// Hour 1: four ticks, one with a reading of 4; hour 2: four of 1.
	for i := 1; i <= 8; i++ {
		at := time.Duration(i) * 15 * time.Minute
		b := tick(at, 1, "vm")
		if i <= 4 {
			b.VMs[0].CPUUsageCores, b.VMs[0].UsageRead = 4, i == 1
		}
		mustAppend(t, s, b)
	}
	raw, err := s.QueryVM(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, raw, map[string][]pt{FieldCPUUsage: {{2 * time.Hour, 1.6}}}) // (4 + 4·1) / 5
	clk.SetTime(t0.Add(4 * time.Hour))
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.QueryVM(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: {{2 * time.Hour, 1.6}}})
}

func TestSQLiteRetentionAndDownsampling(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(t0)
	s := openTest(t, filepath.Join(t.TempDir(), "h.db"), SQLiteOptions{
		Retention: 10 * time.Hour, RawRetention: 2 * time.Hour, DownsampleInterval: time.Hour, Clock: clk,
	})
	// Tick i at t0 + i*15min with value i, for 12 hours, the clock following
	// the ticks as a recorder's would; Append compacts as the hours pass.
	// VM "gone" only exists in the first half hour.
	for i := 1; i <= 48; i++ {
		at := time.Duration(i) * 15 * time.Minute
		clk.SetTime(t0.Add(at))
		vms := []string{"vm"}
		if i <= 2 {
			vms = append(vms, "gone")
		}
		mustAppend(t, s, tick(at, float64(i), vms...))
	}
	// Append compacted on its own, last at t0+11h15m, up to t0+9h.
	if err := s.Append(ctx, tick(8*time.Hour+15*time.Minute, 100, "vm")); !errors.Is(err, ErrCompacted) {
		t.Fatalf("appending into the downsampled past: got %v, want ErrCompacted", err)
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	// Now, at t0+12h: samples before t0+2h are past retention; those up to
	// t0+10h are averaged per hour and stored at each hour's end. Hour h,
	// (t0+(h-1)h, t0+h·h], held ticks 4h-3 .. 4h, average 4h-1.5.
	hourly := []pt{}
	for h := 2; h <= 10; h++ {
		hourly = append(hourly, pt{time.Duration(h) * time.Hour, float64(4*h) - 1.5})
	}
	got, err := s.QueryVM(ctx, vmQuery("vm", time.Hour, 10*time.Hour, time.Hour, FieldCPUUsage))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: hourly})
	got, err = s.QueryCluster(ctx, Query{Start: t0.Add(time.Hour), End: t0.Add(10 * time.Hour), Step: time.Hour, Fields: []string{FieldVMs}})
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldVMs: hourly})

	// A two-hour step weighs each hour by its samples: (t0+2h, t0+4h] holds
	// ticks 9..16, average 12.5, whether raw or downsampled.
	got, err = s.QueryVM(ctx, vmQuery("vm", 4*time.Hour, 4*time.Hour, 2*time.Hour, FieldCPUUsage))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: {{4 * time.Hour, 12.5}}})

	// The last two hours are raw: ticks 41..48 at their own times.
	raw := []pt{}
	for i := 41; i <= 48; i++ {
		raw = append(raw, pt{time.Duration(i) * 15 * time.Minute, float64(i)})
	}
	got, err = s.QueryVM(ctx, vmQuery("vm", 10*time.Hour+15*time.Minute, 12*time.Hour, 15*time.Minute, FieldCPUUsage))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: raw})

	// 9 hourly and 8 raw rows each for the VM and the cluster; "gone" has
	// none left.
	if n, err := s.SampleCount(ctx); err != nil || n != 34 {
		t.Fatalf("SampleCount = %d, %v; want 34", n, err)
	}
	got, err = s.QueryVM(ctx, vmQuery("gone", 0, 12*time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, series := range got {
		if len(series.Points) != 0 {
			t.Fatalf("VM past retention still has history: %+v", series)
		}
	}

	// A tick in the downsampled past is refused rather than mixed into an
	// average it may already be part of.
	if err := s.Append(ctx, tick(9*time.Hour+45*time.Minute, 100, "vm")); !errors.Is(err, ErrCompacted) {
		t.Fatalf("appending into the downsampled past: got %v, want ErrCompacted", err)
	}
	// A forgotten VM that comes back gets history again.
	clk.SetTime(t0.Add(12*time.Hour + 15*time.Minute))
	mustAppend(t, s, tick(12*time.Hour+15*time.Minute, 5, "gone"))
	got, err = s.QueryVM(ctx, vmQuery("gone", 12*time.Hour+15*time.Minute, 12*time.Hour+15*time.Minute, time.Minute, FieldCPUUsage))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{FieldCPUUsage: {{12*time.Hour + 15*time.Minute, 5}}})
}

func TestSQLiteOptionsAreChecked(t *testing.T) {
	_, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "h.db"), SQLiteOptions{Retention: time.Hour, RawRetention: 2 * time.Hour})
	if err == nil {
		t.Fatal("raw retention longer than retention was accepted")
	}
}

// TestSQLiteSeriesAddedLaterLeaveOlderRowsOut: a file written before
// carbonEmissions existed (schema 1) is migrated on open; its rows have no
// emission rate, and their points are left out of that series (not drawn as
// zero), also where a step mixes them with newer rows.
func TestSQLiteSeriesAddedLaterLeaveOlderRowsOut(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, migrations[0]+"PRAGMA user_version = 1;"); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{time.Minute, 2 * time.Minute} {
		if _, err := db.ExecContext(ctx, `INSERT INTO cluster_samples (ts, n, vms, vms_running, vms_stopped, vms_other,
			cpu_usage, cpu_allocated, memory_usage, memory_allocated, carbon_intensity, cost_per_hour)
			VALUES (?, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)`, t0.Add(at).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := openTest(t, path, SQLiteOptions{Clock: clocktesting.NewFakePassiveClock(t0.Add(5 * time.Minute))})
	for i, at := range []time.Duration{3 * time.Minute, 4 * time.Minute} {
		b := tick(at, 1)
		b.Cluster.CarbonGramsPerHour = float64(30 + 20*i)
		mustAppend(t, s, b)
	}
	q := Query{Start: t0.Add(time.Minute), End: t0.Add(4 * time.Minute), Step: time.Minute, Fields: []string{FieldVMs, FieldCarbonEmissions}}
	got, err := s.QueryCluster(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{
		FieldVMs:             {{time.Minute, 1}, {2 * time.Minute, 1}, {3 * time.Minute, 1}, {4 * time.Minute, 1}},
		FieldCarbonEmissions: {{3 * time.Minute, 30}, {4 * time.Minute, 50}},
	})
	// (t0+1m, t0+3m] holds an old row and the 30: its average is 30.
	q.Step = 2 * time.Minute
	got, err = s.QueryCluster(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{
		FieldVMs:             {{time.Minute, 1}, {3 * time.Minute, 1}},
		FieldCarbonEmissions: {{3 * time.Minute, 30}},
	})
}

// TestSQLiteMissingReadingsAreGaps: a running VM's usage without a reading
// and its cost on an unpriced node are kept as no value, not 0: the series
// have a gap there, and an average (a step, or the hourly downsampling)
// counts the readings only. A file of the schema before (version 2) keeps
// its rows through the migration.
func TestSQLiteMissingReadingsAreGaps(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, migrations[0]+migrations[1]+"PRAGMA user_version = 2;"+
		`INSERT INTO vms (id, namespace, name) VALUES (1, 'ns', 'vm');
		INSERT INTO vm_samples VALUES (1, `+fmt.Sprint(t0.Add(time.Minute).UnixMilli())+`, 1, 'node-a', 'zone-1', 'Running', 2, 4, 20, 40, 100, 1);`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	clk := clocktesting.NewFakePassiveClock(t0.Add(2 * time.Minute))
	s := openTest(t, path, SQLiteOptions{Retention: 10 * time.Hour, RawRetention: time.Hour, DownsampleInterval: time.Hour, Clock: clk})
	// Minutes 2..60: a reading every odd minute (usage 4, priced at 2), none
	// on the even ones.
	for m := 2; m <= 60; m++ {
		b := tick(time.Duration(m)*time.Minute, 4, "vm")
		v := &b.VMs[0]
		v.CostPerHour, v.UsageRead, v.Priced = 2, m%2 == 1, m%2 == 1
		if !v.UsageRead {
			v.CPUUsageCores, v.MemoryUsageBytes, v.CostPerHour = 0, 0, 0
		}
		clk.SetTime(t0.Add(time.Duration(m) * time.Minute))
		mustAppend(t, s, b)
	}
	got, err := s.QueryVM(ctx, vmQuery("vm", time.Minute, 4*time.Minute, time.Minute, FieldCPUUsage, FieldCostPerHour))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{
		FieldCPUUsage:    {{time.Minute, 2}, {3 * time.Minute, 4}},
		FieldCostPerHour: {{time.Minute, 1}, {3 * time.Minute, 2}},
	})
	// The hour, raw and then downsampled: the average of the readings.
	for _, when := range []string{"raw", "downsampled"} {
		if when == "downsampled" {
			clk.SetTime(t0.Add(3 * time.Hour))
			if err := s.Compact(ctx); err != nil {
				t.Fatal(err)
			}
		}
		got, err = s.QueryVM(ctx, vmQuery("vm", time.Hour, time.Hour, time.Hour, FieldCPUUsage, FieldCostPerHour))
		if err != nil {
			t.Fatal(err)
		}
		// Minute 1 (the migrated row, usage 2, cost 1) and the 29 odd
		// minutes from 3 to 59 (usage 4, cost 2).
		expectSeries(t, got, map[string][]pt{
			FieldCPUUsage:    {{time.Hour, (2 + 29*4) / 30.0}},
			FieldCostPerHour: {{time.Hour, (1 + 29*2) / 30.0}},
		})
	}
}

// TestReaderKeepsTheWritersRetentionWhileTheFileCannotSay: a reader that
// cannot read the file's retention (busy past the timeout) answers the
// writer's as it last read it, not its own flag's.
func TestReaderKeepsTheWritersRetentionWhileTheFileCannotSay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	openTest(t, path, SQLiteOptions{Retention: 7 * 24 * time.Hour})
	r, err := OpenSQLite(context.Background(), path, SQLiteOptions{ReadOnly: true, Retention: 32 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Retention(); got != 7*24*time.Hour {
		t.Fatalf("retention read: %s, want the writer's 168h", got)
	}
	r.Close() // every read fails from now on
	if got := r.Retention(); got != 7*24*time.Hour {
		t.Errorf("retention while the file cannot be read: %s, want the writer's as last read, 168h", got)
	}
}
