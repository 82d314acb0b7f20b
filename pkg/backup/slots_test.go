package backup

import (
	"slices"
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

// TestSlotsOnTheWallClock: across daylight-saving changes a schedule of
// fixed times runs once a day, as cron daemons run it: once on the day a
// time happens twice (its first occurrence), and on the day it does not
// happen at all, at the first instant after it; a schedule every hour runs
// on instants.
func TestSlotsOnTheWallClock(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	slots := func(schedule string, from, to time.Time) []string {
		t.Helper()
		s, err := parseSchedule(schedule, "America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for at := s.Next(from); !at.After(to); at = s.Next(at) {
			out = append(out, at.UTC().Format(time.RFC3339))
		}
		return out
	}
	for _, tc := range []struct {
		name, schedule string
		from, to       time.Time
		want           []string
	}{
		{"clocks set back (01:30 twice)", "30 1 * * *", time.Date(2026, 10, 31, 12, 0, 0, 0, ny), time.Date(2026, 11, 2, 12, 0, 0, 0, ny),
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"clocks set forward (no 02:30)", "30 2 * * *", time.Date(2026, 3, 7, 12, 0, 0, 0, ny), time.Date(2026, 3, 9, 12, 0, 0, 0, ny),
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		{"an ordinary day", "0 9 * * 1-5", time.Date(2026, 12, 7, 0, 0, 0, 0, ny), time.Date(2026, 12, 8, 12, 0, 0, 0, ny),
			[]string{"2026-12-07T14:00:00Z", "2026-12-08T14:00:00Z"}},
		{"every hour, clocks set back", "0 * * * *", time.Date(2026, 11, 1, 0, 30, 0, 0, ny), time.Date(2026, 11, 1, 2, 30, 0, 0, ny),
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"}},
		{"every 15 minutes of some hours, clocks set back", "*/15 0-3 * * *", time.Date(2026, 11, 1, 0, 50, 0, 0, ny), time.Date(2026, 11, 1, 7, 10, 0, 0, time.UTC),
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T05:15:00Z", "2026-11-01T05:30:00Z", "2026-11-01T05:45:00Z",
				"2026-11-01T06:00:00Z", "2026-11-01T06:15:00Z", "2026-11-01T06:30:00Z", "2026-11-01T06:45:00Z", "2026-11-01T07:00:00Z"}},
	} {
		if got := slots(tc.schedule, tc.from, tc.to); !slices.Equal(got, tc.want) {
			t.Errorf("%s: slots %v, want %v", tc.name, got, tc.want)
		}
	}
	// A slot taken on the second pass through a repeated hour (by an
	// earlier release) is not taken again.
	s, _ := parseSchedule("30 1 * * *", "America/New_York")
	if got := s.Next(time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC)) {
		t.Errorf("after 01:00 EST on the day clocks are set back: %s, want the next day's 01:30", got.UTC())
	}
}
