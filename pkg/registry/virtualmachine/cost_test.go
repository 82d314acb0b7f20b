package virtualmachine

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/pkg/history"
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
			if err := store.Append(ctx, history.Batch{Time: at, VMs: []history.VMSample{{Namespace: "ns", Name: "vm", CostPerHour: 1.2,
				CarbonIntensity: 400, CPUAllocatedCores: 2, CPUUsageCores: 1}}}); err != nil {
				t.Fatal(err)
			}
		}
		for at := first.Add(tc.every); !at.After(now); at = at.Add(tc.every) {
			if err := store.Append(ctx, history.Batch{Time: at, VMs: []history.VMSample{{Namespace: "ns", Name: "vm", CostPerHour: 1.2,
				CarbonIntensity: 400, CPUAllocatedCores: 2, CPUUsageCores: 1}}}); err != nil {
				t.Fatal(err)
			}
		}
		r := &CostREST{store: store}
		points, err := r.recorded(ctx, "ns", "vm", first, now)
		if err != nil {
			t.Fatal(err)
		}
		got := integrate(points, first.Add(-4*time.Hour))
		if math.Abs(got.cost-tc.want) > 0.02*tc.want {
			t.Errorf("every %s over %s: spent %.4f, want %.4f", tc.every, tc.span, got.cost, tc.want)
		}
		// 2 cores half busy at 400 g/kWh: 2 × (0.74 + 2.76 × 0.5) W × PUE 1.135.
		const gramsPerHour = 400 * 2 * (0.74 + 2.76*0.5) / 1000 * 1.135
		if wantGrams := tc.want / 1.2 * gramsPerHour; math.Abs(got.carbonGrams-wantGrams) > 0.02*wantGrams {
			t.Errorf("every %s over %s: emitted %.4f g, want %.4f", tc.every, tc.span, got.carbonGrams, wantGrams)
		}
	}
}

// TestIntegrateNeverCountsBeforeTheVMExisted: a VM 20s old with one point
// has cost 20s of it, not the minute the point averages.
func TestIntegrateNeverCountsBeforeTheVMExisted(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 1, 0, 0, time.UTC)
	got := integrate([]ratePoint{{at: at, cost: 3.6}}, at.Add(-20*time.Second)).cost
	if math.Abs(got-0.02) > 1e-9 {
		t.Errorf("spent %.6f, want 0.02 (3.6 per hour for 20s)", got)
	}
}
