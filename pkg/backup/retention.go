package backup

import (
	"sort"
	"time"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// expired returns the names of the succeeded snapshots r does not keep,
// per VM: the count rules keep the union of what each keeps, maxAge drops
// what is older whatever the counts say. Periods (hour, day, ISO week,
// month) are those of loc, the schedule's time zone. Snapshots not yet
// succeeded are never expired.
func expired(snaps []v1alpha1.ScheduledSnapshot, r v1alpha1.BackupRetention, loc *time.Location, now time.Time) map[string]bool {
	byVM := map[string][]v1alpha1.ScheduledSnapshot{}
	for _, s := range snaps {
		if s.Phase == v1alpha1.VMOperationSucceeded {
			byVM[s.VMName] = append(byVM[s.VMName], s)
		}
	}
	drop := map[string]bool{}
	for _, vmSnaps := range byVM {
		// Newest first: each rule keeps the newest of what it looks at.
		sort.SliceStable(vmSnaps, func(i, j int) bool { return vmSnaps[i].Slot.After(vmSnaps[j].Slot.Time) })
		keep := keptByCounts(vmSnaps, r, loc)
		for i, s := range vmSnaps {
			tooOld := r.MaxAge != nil && r.MaxAge.Duration > 0 && now.Sub(s.Slot.Time) > r.MaxAge.Duration
			if (keep != nil && !keep[i]) || tooOld {
				drop[s.Name] = true
			}
		}
	}
	return drop
}

// keptByCounts marks the snapshots (newest first) some count rule keeps,
// or returns nil when no count rule is set (every snapshot is kept by
// count, maxAge alone decides).
func keptByCounts(newestFirst []v1alpha1.ScheduledSnapshot, r v1alpha1.BackupRetention, loc *time.Location) []bool {
	rules := []struct {
		n      *int32
		period func(time.Time) time.Time
	}{
		{r.KeepLast, nil},
		{r.KeepHourly, func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc) }},
		{r.KeepDaily, func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc) }},
		{r.KeepWeekly, isoWeek},
		{r.KeepMonthly, func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc) }},
	}
	var keep []bool
	for _, rule := range rules {
		if rule.n == nil || *rule.n <= 0 {
			continue
		}
		if keep == nil {
			keep = make([]bool, len(newestFirst))
		}
		left := int(*rule.n)
		var last time.Time
		for i, s := range newestFirst {
			if left == 0 {
				break
			}
			if rule.period == nil {
				keep[i] = true
				left--
				continue
			}
			// The newest snapshot of each period with one.
			if p := rule.period(s.Slot.In(loc)); i == 0 || !p.Equal(last) {
				keep[i], last = true, p
				left--
			}
		}
	}
	return keep
}

// isoWeek is the Monday 00:00 that starts t's ISO week, in t's location.
func isoWeek(t time.Time) time.Time {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	back := (int(day.Weekday()) + 6) % 7 // days since Monday
	return day.AddDate(0, 0, -back)
}
