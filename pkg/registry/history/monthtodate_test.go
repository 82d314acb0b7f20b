package history

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/hypersdk/hypersdk/pkg/history"
)

// TestClusterCostMonthToDate: asked for with a recorded field, the derived
// costMonthToDate has a point at every evaluation time and grows by what
// costPerHour adds up to, while the recorded field is the store's own.
func TestClusterCostMonthToDate(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	clock, store := storeAt(t, now)
	// 6 per hour every 10s for the last 40 minutes: 4 so far this month.
	for at := now.Add(-40 * time.Minute).Add(10 * time.Second); !at.After(now); at = at.Add(10 * time.Second) {
		if err := store.Append(ctx, history.Batch{Time: at, Cluster: history.ClusterSample{VMs: 1, CostPerHour: 6}}); err != nil {
			t.Fatal(err)
		}
	}
	r := NewClusterREST(Config{Store: store, Clock: clock})
	q := history.Query{Start: now.Add(-6 * time.Minute), End: now, Step: 30 * time.Second,
		Fields: []string{history.FieldCostPerHour, history.FieldCostMonthToDate}}
	series, err := r.clusterSeries(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2 || series[0].Field != history.FieldCostPerHour || series[1].Field != history.FieldCostMonthToDate {
		t.Fatalf("series %+v", series)
	}
	if n := len(series[0].Points); n != 13 {
		t.Errorf("costPerHour: %d points, want 13", n)
	}
	mtd := series[1].Points
	if len(mtd) != 13 || math.Abs(mtd[0].Value-3.4) > 1e-9 || math.Abs(mtd[12].Value-4) > 1e-9 {
		t.Errorf("costMonthToDate %v, want 13 points from 3.4 to 4", mtd)
	}
}

// TestMonthToDateBeyondRetention: over 30 days on the 15th, the points of
// the month before began before the store's retention (32 days): their
// month-to-date would sum only part of it, so they are left out, while
// this month's are there.
func TestMonthToDateBeyondRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	clock, store := storeAt(t, now)
	for at := now.Add(-time.Hour); !at.After(now); at = at.Add(time.Minute) {
		if err := store.Append(ctx, history.Batch{Time: at, Cluster: history.ClusterSample{VMs: 1, CostPerHour: 6}}); err != nil {
			t.Fatal(err)
		}
	}
	r := NewClusterREST(Config{Store: store, Clock: clock})
	q := history.Query{Start: now.Add(-30 * 24 * time.Hour), End: now, Step: 6 * time.Hour, Fields: []string{history.FieldCostMonthToDate}}
	series, err := r.clusterSeries(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	points := series[0].Points
	for _, p := range points {
		if p.Time.Before(march) {
			t.Errorf("costMonthToDate at %s, of a month that began before the retention: %v", p.Time, p.Value)
		}
	}
	if len(points) == 0 || !points[len(points)-1].Time.Equal(now) || math.Abs(points[len(points)-1].Value-6) > 0.2 {
		t.Errorf("costMonthToDate %v, want March's points ending at about 6 now", points)
	}
}

// storeAt opens a SQLite history store whose clock stands at now: on the
// real one, samples at a fixed date fall into the downsampled past two
// days later, and Append refuses them.
func storeAt(t *testing.T, now time.Time) (*clocktesting.FakePassiveClock, *history.SQLiteStore) {
	t.Helper()
	clock := clocktesting.NewFakePassiveClock(now)
	store, err := history.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "h.db"), history.SQLiteOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return clock, store
}
