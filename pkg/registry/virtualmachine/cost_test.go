package virtualmachine

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// TestSpentIntegratesWhateverTheRecorderInterval: a VM at 1.2 per hour costs
// the same over the same time whether recorded every 2s or every 5m, and an
// hour without samples costs nothing.
func TestSpentIntegratesWhateverTheRecorderInterval(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	for _, tc := range []struct {
		every time.Duration
		span  time.Duration
		want  float64 // hours × 1.2
	}{
		{2 * time.Second, 10 * time.Minute, 0.2},
		{5 * time.Minute, 2 * time.Hour, 2.4},
	} {
		store, err := history.OpenSQLite(ctx, filepath.Join(t.TempDir(), "h.db"), history.SQLiteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		first := now.Add(-tc.span)
		// An hour without samples, then the span with them.
		for at := first.Add(-3 * time.Hour); at.Before(first.Add(-2 * time.Hour)); at = at.Add(tc.every) {
			if err := store.Append(ctx, history.Batch{Time: at, VMs: []history.VMSample{{Namespace: "ns", Name: "vm", Node: "n1", Priced: true, CostPerHour: 1.2,
				CarbonIntensity: 400, IntensityRead: true, CPUAllocatedCores: 2, CPUUsageCores: 1, UsageRead: true}}}); err != nil {
				t.Fatal(err)
			}
		}
		for at := first.Add(tc.every); !at.After(now); at = at.Add(tc.every) {
			if err := store.Append(ctx, history.Batch{Time: at, VMs: []history.VMSample{{Namespace: "ns", Name: "vm", Node: "n1", Priced: true, CostPerHour: 1.2,
				CarbonIntensity: 400, IntensityRead: true, CPUAllocatedCores: 2, CPUUsageCores: 1, UsageRead: true}}}); err != nil {
				t.Fatal(err)
			}
		}
		r := &CostREST{store: store}
		cost, carbonGrams, err := r.recorded(ctx, "ns", "vm", first, now)
		if err != nil {
			t.Fatal(err)
		}
		gotCost, gotGrams := history.Integrate(cost, first.Add(-4*time.Hour)), history.Integrate(carbonGrams, first.Add(-4*time.Hour))
		if math.Abs(gotCost-tc.want) > 0.02*tc.want {
			t.Errorf("every %s over %s: spent %.4f, want %.4f", tc.every, tc.span, gotCost, tc.want)
		}
		// 2 cores half busy at 400 g/kWh: 2 × (0.74 + 2.76 × 0.5) W × PUE 1.135.
		const gramsPerHour = 400 * 2 * (0.74 + 2.76*0.5) / 1000 * 1.135
		if wantGrams := tc.want / 1.2 * gramsPerHour; math.Abs(gotGrams-wantGrams) > 0.02*wantGrams {
			t.Errorf("every %s over %s: emitted %.4f g, want %.4f", tc.every, tc.span, gotGrams, wantGrams)
		}
	}
}

// sampleOf answers one sample for every VM.
type sampleOf history.VMSample

func (s sampleOf) VMSample(context.Context, string, string) (history.VMSample, time.Time, error) {
	return history.VMSample(s), time.Now(), nil
}

// TestCostOfAVMOnAnUnpricedNodeIsUnknown: a running VM whose node has no
// price has no cost to tell (503), rather than a cost of zero.
func TestCostOfAVMOnAnUnpricedNodeIsUnknown(t *testing.T) {
	r := &CostREST{sampler: sampleOf{Namespace: "ns", Name: "vm", Node: "n1", CPUAllocatedCores: 2}}
	vm := &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm"}}
	if _, err := r.CostOf(context.Background(), vm, time.Now()); !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "n1") {
		t.Errorf("cost on an unpriced node: %v, want 503 naming the node", err)
	}
}

// TestCostOfAVMInAZoneWithoutAReading: a running VM's emission rate and
// intensity are absent, not 0, while its zone has no carbon reading; a VM
// that does not run emits a known 0.
func TestCostOfAVMInAZoneWithoutAReading(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	// The recorder ran this month (a store it never wrote to is 503).
	now := time.Now()
	if now.UTC().Day() == 1 && now.UTC().Hour() == 0 && now.UTC().Minute() < 3 {
		now = now.Add(3 * time.Minute) // a sample 2 minutes before is of this month
	}
	if err := store.Append(ctx, history.Batch{Time: now.Add(-2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	vm := &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm"}}
	for _, tc := range []struct {
		name                string
		sample              history.VMSample
		intensity, gramsPer *float64
	}{
		{"no reading", history.VMSample{Node: "n1", Zone: "XX", CPUAllocatedCores: 2, CPUUsageCores: 1, UsageRead: true, Priced: true, CostPerHour: 1}, nil, nil},
		{"a reading", history.VMSample{Node: "n1", Zone: "ES", CPUAllocatedCores: 2, CPUUsageCores: 1, UsageRead: true, Priced: true, CostPerHour: 1,
			CarbonIntensity: 400, IntensityRead: true}, ptr.To(400.0), ptr.To(400 * 2 * (0.74 + 2.76*0.5) / 1000 * 1.135)},
		// The power drawn follows the CPU in use: unread, it is unknown.
		{"usage not read", history.VMSample{Node: "n1", Zone: "ES", CPUAllocatedCores: 2, Priced: true, CostPerHour: 1,
			CarbonIntensity: 400, IntensityRead: true}, ptr.To(400.0), nil},
		{"not running", history.VMSample{}, nil, ptr.To(0.0)},
	} {
		tc.sample.Namespace, tc.sample.Name = "ns", "vm"
		r := &CostREST{sampler: sampleOf(tc.sample), store: store}
		got, err := r.CostOf(ctx, vm, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		same := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || math.Abs(*a-*b) < 1e-9) }
		if !same(got.CarbonIntensity, tc.intensity) || !same(got.CarbonGramsPerHour, tc.gramsPer) {
			t.Errorf("%s: intensity %v, g/h %v; want %v, %v", tc.name, show(got.CarbonIntensity), show(got.CarbonGramsPerHour), show(tc.intensity), show(tc.gramsPer))
		}
	}
}

func show(v *float64) any {
	if v == nil {
		return "none"
	}
	return *v
}

// TestSavingsOnANodeThatIsGone: a VM whose last sample names a node since
// deleted has savings that cannot be priced now (503), not a 404 that says
// the VM is gone, nor a 500; and a node the server may not read keeps its
// 403.
func TestSavingsOnANodeThatIsGone(t *testing.T) {
	rec := hypersdk.VirtualMachineRecommendationStatus{Target: &hypersdk.AutoscalerResources{CPUs: ptr.To[int32](2)}}
	p := &Pricer{Sampler: sampleOf{Namespace: "ns", Name: "vm", Node: "gone", CPUAllocatedCores: 4, Priced: true}, Kube: kubefake.NewClientset()}
	if _, err := p.savings(context.Background(), "ns", "vm", rec); !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("node gone: %v, want 503 naming it", err)
	}
	kube := kubefake.NewClientset()
	kube.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "gone", errors.New("no"))
	})
	p.Kube = kube
	if _, err := p.savings(context.Background(), "ns", "vm", rec); !apierrors.IsForbidden(err) {
		t.Errorf("node unreadable: %v, want its 403 kept", err)
	}
}

// TestUnmeasuredMinutesEmitNothingKnown: recorded minutes of a running VM
// whose usage was not read are a gap in its emissions, not minutes at 0%
// CPU (idle power only).
func TestUnmeasuredMinutesEmitNothingKnown(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	now := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	first := now.Add(-20 * time.Minute)
	for at := first.Add(time.Minute); !at.After(now); at = at.Add(time.Minute) {
		measured := at.After(first.Add(10 * time.Minute))
		s := history.VMSample{Namespace: "ns", Name: "vm", Node: "n1", Zone: "ES", Priced: true, CostPerHour: 1.2,
			CarbonIntensity: 400, IntensityRead: true, CPUAllocatedCores: 2, UsageRead: measured}
		if measured {
			s.CPUUsageCores = 1
		}
		if err := store.Append(ctx, history.Batch{Time: at, VMs: []history.VMSample{s}}); err != nil {
			t.Fatal(err)
		}
	}
	cost, carbonGrams, err := (&CostREST{store: store}).recorded(ctx, "ns", "vm", first, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(cost) < 19 {
		t.Fatalf("%d cost points, want the 20 minutes'", len(cost))
	}
	for _, p := range carbonGrams {
		if !p.Time.After(first.Add(10 * time.Minute)) {
			t.Errorf("emissions at %s, a minute whose usage was not read: %v g/h", p.Time.Sub(first), p.Value)
		}
	}
	if len(carbonGrams) < 9 {
		t.Errorf("%d emission points, want the 10 measured minutes'", len(carbonGrams))
	}
}

// TestPlacementTableWithoutADecision: a VM without a placement decision
// has one row with the reason and no figures (<none>), not scores and
// emissions of 0.
func TestPlacementTableWithoutADecision(t *testing.T) {
	table, err := (&PlacementREST{}).ConvertToTable(context.Background(), &hypersdk.VirtualMachinePlacement{Message: "placed without HyperSDK's scheduler extender"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 1 || len(table.Rows[0].Cells) != len(table.ColumnDefinitions) {
		t.Fatalf("rows %+v, want one of %d cells", table.Rows, len(table.ColumnDefinitions))
	}
	cells := table.Rows[0].Cells
	if node, _ := cells[0].(string); !strings.Contains(node, "without HyperSDK's scheduler extender") {
		t.Errorf("node cell %q, want the reason", cells[0])
	}
	for i, c := range cells[1:] {
		if c != "<none>" {
			t.Errorf("column %s: %v, want <none>", table.ColumnDefinitions[i+1].Name, c)
		}
	}
}

// TestStoppedMinutesEmitZero: the minutes a VM was stopped are emissions of
// 0, not a gap that the first minute after its start is charged for.
func TestStoppedMinutesEmitZero(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	now := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	first := now.Add(-60 * time.Minute)
	running := history.VMSample{Namespace: "ns", Name: "vm", Node: "n1", Zone: "ES", Priced: true, CostPerHour: 1.2,
		CarbonIntensity: 400, IntensityRead: true, CPUAllocatedCores: 2, CPUUsageCores: 1, UsageRead: true}
	stopped := history.VMSample{Namespace: "ns", Name: "vm", Phase: "Stopped"}
	for at := first.Add(time.Minute); !at.After(now); at = at.Add(time.Minute) {
		s := running
		if at.After(first.Add(10*time.Minute)) && !at.After(first.Add(55*time.Minute)) {
			s = stopped // 45 minutes
		}
		if err := store.Append(ctx, history.Batch{Time: at, VMs: []history.VMSample{s}}); err != nil {
			t.Fatal(err)
		}
	}
	_, carbonGrams, err := (&CostREST{store: store}).recorded(ctx, "ns", "vm", first, now)
	if err != nil {
		t.Fatal(err)
	}
	// 15 running minutes of 2 half-busy cores at 400 g/kWh.
	want := 15.0 / 60 * placement.RecordedVMGramsPerHour(400, 2, 1)
	if got := history.Integrate(carbonGrams, first.Add(-time.Hour)); math.Abs(got-want) > 0.1*want {
		t.Errorf("emissions over 15 running minutes around a 45-minute stop: %.4f g, want %.4f", got, want)
	}
}

// openStore is an empty SQLite history store, closed when t ends.
func openStore(t *testing.T) *history.SQLiteStore {
	t.Helper()
	store, err := history.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "h.db"), history.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// TestMonthToDateCutByRetentionSaysSo: once the history store no longer
// keeps the month's first days, the month to date of a VM older than its
// horizon says from when it counts; a VM made since, or a month still
// within the retention, counts the whole month.
func TestMonthToDateCutByRetentionSaysSo(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		now      time.Time
		created  time.Time
		wantFrom bool
	}{
		{"the 20th", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), true},
		{"the 20th, a VM of the 18th", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), false},
		{"the 5th", time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		store, err := history.OpenSQLite(ctx, filepath.Join(t.TempDir(), "h.db"),
			history.SQLiteOptions{Retention: 7 * 24 * time.Hour, Clock: clocktesting.NewFakePassiveClock(tc.now)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		for at := tc.now.Add(-time.Hour); !at.After(tc.now); at = at.Add(time.Minute) {
			s := history.VMSample{Namespace: "ns", Name: "vm", Node: "n1", Zone: "ES", Priced: true, CostPerHour: 1, CPUAllocatedCores: 2}
			if err := store.Append(ctx, history.Batch{Time: at, VMs: []history.VMSample{s}}); err != nil {
				t.Fatal(err)
			}
		}
		vm := &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm", CreationTimestamp: metav1.NewTime(tc.created)}}
		got, err := (&CostREST{sampler: sampleOf{Namespace: "ns", Name: "vm"}, store: store}).CostOf(ctx, vm, tc.now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		wantFrom := tc.now.Add(-7 * 24 * time.Hour).Add(history.IntegrationStep)
		if tc.wantFrom && (got.MonthToDateFrom == nil || !got.MonthToDateFrom.Time.Equal(wantFrom)) || !tc.wantFrom && got.MonthToDateFrom != nil {
			t.Errorf("%s: monthToDateFrom %v, want it set (%s): %t", tc.name, got.MonthToDateFrom, wantFrom, tc.wantFrom)
		}
	}
}
