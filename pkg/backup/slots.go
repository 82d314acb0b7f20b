package backup

import (
	"time"

	"github.com/robfig/cron/v3"
)

// maxSlotScan bounds the walk over missed slots.
const maxSlotScan = 100000

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
