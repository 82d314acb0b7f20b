package autoscaler

import (
	"fmt"
	"time"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
)

// inWindow reports whether now is inside one of the maintenance windows: a
// window opened at the first schedule time after now-duration, if that is
// not after now.
func inWindow(now time.Time, windows []v1alpha1.MaintenanceWindow) (bool, error) {
	now = now.UTC()
	for i, w := range windows {
		s, err := validation.ParseStoredWindowSchedule(w.Schedule)
		if err != nil {
			return false, fmt.Errorf("maintenanceWindows[%d].schedule: %w", i, err)
		}
		// Next is strictly after its argument: a window is open for
		// [start, start+duration).
		if open := s.Next(now.Add(-w.Duration.Duration)); !open.After(now) {
			return true, nil
		}
	}
	return false, nil
}
