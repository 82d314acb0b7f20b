package backup

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

func TestExpired(t *testing.T) {
	madrid, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	// One snapshot of vm "a" every 6 hours for 40 days, from Monday
	// 2026-06-01 00:00 Madrid time, named by their index; one of vm "b"
	// still running at the end.
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, madrid)
	var snaps []v1alpha1.ScheduledSnapshot
	name := func(i int) string { return "a-" + start.Add(time.Duration(i)*6*time.Hour).Format("0102-15") }
	const n = 160
	for i := range n {
		snaps = append(snaps, v1alpha1.ScheduledSnapshot{Name: name(i), VMName: "a",
			Slot: metav1.NewTime(start.Add(time.Duration(i) * 6 * time.Hour)), Phase: v1alpha1.VMOperationSucceeded})
	}
	snaps = append(snaps, v1alpha1.ScheduledSnapshot{Name: "b-running", VMName: "b",
		Slot: metav1.NewTime(start.Add(n * 6 * time.Hour)), Phase: v1alpha1.VMOperationRunning})
	now := start.Add(n * 6 * time.Hour)

	kept := func(r v1alpha1.BackupRetention) []string {
		drop := expired(snaps, r, madrid, now)
		var out []string
		for _, s := range snaps {
			if !drop[s.Name] {
				out = append(out, s.Name)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		r    v1alpha1.BackupRetention
		want []string
	}{
		{"keep last 3", v1alpha1.BackupRetention{KeepLast: ptr.To[int32](3)},
			[]string{name(n - 3), name(n - 2), name(n - 1), "b-running"}},
		{"daily 2: the newest of each of the last two days", v1alpha1.BackupRetention{KeepDaily: ptr.To[int32](2)},
			[]string{name(n - 5), name(n - 1), "b-running"}},
		// Days 0..39 from Monday June 1: weeks start on days 35, 28, ...;
		// the newest of a week is its Sunday 18:00 (index 4*day+3).
		{"weekly 3", v1alpha1.BackupRetention{KeepWeekly: ptr.To[int32](3)},
			[]string{name(4*27 + 3), name(4*34 + 3), name(n - 1), "b-running"}},
		// June has 30 days: its newest is June 30 18:00 (index 119).
		{"monthly 5 keeps what there is", v1alpha1.BackupRetention{KeepMonthly: ptr.To[int32](5)},
			[]string{name(119), name(n - 1), "b-running"}},
		{"union of last and daily", v1alpha1.BackupRetention{KeepLast: ptr.To[int32](2), KeepDaily: ptr.To[int32](2)},
			[]string{name(n - 5), name(n - 2), name(n - 1), "b-running"}},
		{"max age caps the counts", v1alpha1.BackupRetention{KeepDaily: ptr.To[int32](5), MaxAge: &metav1.Duration{Duration: 50 * time.Hour}},
			[]string{name(n - 5), name(n - 1), "b-running"}},
		{"max age alone", v1alpha1.BackupRetention{MaxAge: &metav1.Duration{Duration: 12 * time.Hour}},
			[]string{name(n - 2), name(n - 1), "b-running"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kept(tc.r); !slices.Equal(got, tc.want) {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
		})
	}
}

// TestExpiredDaysInTheScheduleZone: a day is the schedule's, not UTC's.
func TestExpiredDaysInTheScheduleZone(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo") // UTC+9
	if err != nil {
		t.Fatal(err)
	}
	at := func(name string, utc string) v1alpha1.ScheduledSnapshot {
		ts, err := time.Parse(time.RFC3339, utc)
		if err != nil {
			t.Fatal(err)
		}
		return v1alpha1.ScheduledSnapshot{Name: name, VMName: "a", Slot: metav1.NewTime(ts), Phase: v1alpha1.VMOperationSucceeded}
	}
	// 14:00 and 16:00 UTC on June 1 are June 1 23:00 and June 2 01:00 in Tokyo.
	snaps := []v1alpha1.ScheduledSnapshot{at("x", "2026-06-01T14:00:00Z"), at("y", "2026-06-01T16:00:00Z")}
	now := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	r := v1alpha1.BackupRetention{KeepDaily: ptr.To[int32](2)}
	if drop := expired(snaps, r, tokyo, now); len(drop) != 0 {
		t.Errorf("Tokyo days: dropped %v, want both kept (two days)", drop)
	}
	if drop := expired(snaps, r, time.UTC, now); len(drop) != 1 || !drop["x"] {
		t.Errorf("UTC days: dropped %v, want x (one day, of which keepDaily keeps the newest)", drop)
	}
}
