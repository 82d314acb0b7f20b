package backup

import (
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
)

func TestDueSlotRunsOnceForMissedSlots(t *testing.T) {
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		schedule  string
		last, now time.Duration // after base
		want      time.Duration // -1: none due
	}{
		{"*/5 * * * *", 0, 4 * time.Minute, -1},
		{"*/5 * * * *", 0, 5 * time.Minute, 5 * time.Minute},
		// Down for 47 minutes: one run, for the newest slot.
		{"*/5 * * * *", 0, 47 * time.Minute, 45 * time.Minute},
		{"@every 10s", 0, 9 * time.Second, -1},
		{"@every 10s", 0, 95 * time.Second, 90 * time.Second},
		// A minutely schedule down for a year still finds the newest slot.
		{"* * * * *", 0, 365*24*time.Hour + 30*time.Second, 365 * 24 * time.Hour},
	} {
		s, err := validation.ParseBackupSchedule(tc.schedule, "")
		if err != nil {
			t.Fatal(err)
		}
		got, ok := dueSlot(s, base.Add(tc.last), base.Add(tc.now))
		switch {
		case tc.want < 0 && ok:
			t.Errorf("%s from +%s at +%s: due %s, want none", tc.schedule, tc.last, tc.now, got)
		case tc.want >= 0 && (!ok || !got.Equal(base.Add(tc.want))):
			t.Errorf("%s from +%s at +%s: due %s (%v), want +%s", tc.schedule, tc.last, tc.now, got.Sub(base), ok, tc.want)
		}
	}
}

func TestScheduleTimeZone(t *testing.T) {
	s, err := validation.ParseBackupSchedule("0 2 * * *", "Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	// 02:00 in Madrid in winter is 01:00 UTC.
	if got := s.Next(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("next 02:00 Europe/Madrid = %s UTC", got.UTC())
	}
}

// TestNextSlot: the next slot is the one the schedule will run, and stays
// the same from one pass to the next.
func TestNextSlot(t *testing.T) {
	base := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		schedule  string
		last, now time.Duration // after base
		want      time.Duration
	}{
		{"@every 24h", 0, 6 * time.Hour, 24 * time.Hour},
		{"@every 24h", 0, 6*time.Hour + 10*time.Second, 24 * time.Hour},
		{"@every 10s", 0, 95 * time.Second, 100 * time.Second},
		{"@every 10s", 0, 90 * time.Second, 100 * time.Second},
		{"0 9 * * *", 0, 6 * time.Hour, 24 * time.Hour},
	} {
		s, err := validation.ParseBackupSchedule(tc.schedule, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := nextSlot(s, base.Add(tc.last), base.Add(tc.now)); !got.Equal(base.Add(tc.want)) {
			t.Errorf("%s from +%s at +%s: next +%s, want +%s", tc.schedule, tc.last, tc.now, got.Sub(base), tc.want)
		}
	}
}
