package backup

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
)

// maxSlotScan bounds the walk over missed slots.
const maxSlotScan = 100000

// parseSchedule is the schedule a BackupSchedule runs: its cron
// expression in its time zone, on the zone's wall clock (onWallClock).
func parseSchedule(schedule, timeZone string) (cron.Schedule, error) {
	s, err := validation.ParseBackupSchedule(schedule, timeZone)
	if err != nil {
		return nil, err
	}
	return onWallClock(s, schedule), nil
}

// onWallClock runs a schedule of fixed times on its zone's wall clock, as
// cron daemons do when clocks change for daylight saving: a time that
// happens twice (clocks set back) is one slot, at its first occurrence,
// and a time that never happens (clocks set forward) is a slot at the
// first instant after it. robfig/cron counts instants, so on those days a
// 01:30 schedule in America/New_York runs twice and a 02:30 one not at
// all. A schedule with a wildcard hour or minute (every hour, */15) runs
// on instants, as cron runs it: it has no fixed time to repeat or lose.
func onWallClock(s cron.Schedule, schedule string) cron.Schedule {
	spec, ok := s.(*cron.SpecSchedule)
	if !ok || spec.Location == time.UTC || spec.Hour&wildcard != 0 || spec.Minute&wildcard != 0 {
		return s
	}
	// robfig/cron drops the bit for a step above one ("*/15"), which cron
	// daemons still count as a wildcard: read it from the text.
	if f := strings.Fields(schedule); len(f) == 5 && (strings.HasPrefix(f[0], "*") || strings.HasPrefix(f[1], "*")) {
		return s
	}
	return wallClock{spec: spec}
}

// wildcard is the bit robfig/cron sets in a field written with "*" (but
// not in a "*/n" step with n above one).
const wildcard = 1 << 63

type wallClock struct{ spec *cron.SpecSchedule }

// Next is the first slot after t: the schedule's next wall time after t's
// in the zone, as an instant.
func (w wallClock) Next(t time.Time) time.Time {
	loc := w.spec.Location
	onWall := *w.spec
	onWall.Location = time.UTC
	n := wall(t, loc)
	for range maxSlotScan {
		if n = onWall.Next(n); n.IsZero() {
			return n
		}
		if at := instantOf(n, loc); at.After(t) {
			return at
		}
		// The second pass through a repeated hour: its slots were taken
		// on the first.
	}
	return time.Time{}
}

// wall is t's wall clock in loc, written as a UTC time.
func wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// instantOf is the first instant whose wall clock in loc is w, or, for a
// wall time that clocks skip, the first instant after it.
func instantOf(w time.Time, loc *time.Location) time.Time {
	at := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	for _, back := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
		if e := at.Add(-back); wall(e, loc).Equal(w) {
			return e
		}
	}
	if wall(at, loc).Equal(w) {
		return at
	}
	// Skipped: the wall clock jumps over w within a few hours, where it
	// only moves forward; the jump is the first instant at or past w.
	lo, hi := at.Add(-3*time.Hour), at.Add(3*time.Hour)
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if wall(mid, loc).Before(w) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi.Truncate(time.Second)
}

// dueSlot is the newest slot of s in (last, now], if any: the slot a run
// stands for when the controller comes back after missing several, so a
// schedule runs once on return, not once per missed slot.
func dueSlot(s cron.Schedule, last, now time.Time) (time.Time, bool) {
	if every, ok := s.(cron.ConstantDelaySchedule); ok {
		// @every d: slots are last+d, last+2d, ... (robfig rounds to seconds).
		next := every.Next(last)
		if next.After(now) {
			return time.Time{}, false
		}
		step := next.Sub(last)
		return next.Add(now.Sub(next) / step * step), true
	}
	var due time.Time
	found := false
	t := last
	for range maxSlotScan {
		next := s.Next(t)
		if next.IsZero() || next.After(now) {
			return due, found
		}
		due, found, t = next, true, next
	}
	// More than maxSlotScan slots (a minutely schedule down for months):
	// the newest is within the last day.
	return dueSlot(s, now.Add(-24*time.Hour), now)
}

// nextSlot is the first slot of s after now, counted from last as dueSlot
// counts them: for @every d, last+k·d (robfig's Next would say now+d, a
// time no run keeps and one that moves at every pass).
func nextSlot(s cron.Schedule, last, now time.Time) time.Time {
	every, ok := s.(cron.ConstantDelaySchedule)
	if !ok {
		return s.Next(now)
	}
	next := every.Next(last)
	if next.After(now) {
		return next
	}
	step := next.Sub(last)
	return next.Add((now.Sub(next)/step + 1) * step)
}
