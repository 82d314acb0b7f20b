package rebalance

import (
	"fmt"
	"time"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
)

// windowState says whether a maintenance window is open at now
// (MaintenanceOpen), opens within its DrainBefore (MaintenanceDraining) or
// neither (""), with the reason its nodes are emptied.
func windowState(now time.Time, m *v1alpha1.MaintenanceTrigger) (state, reason string, err error) {
	s, err := validation.ParseStoredWindowSchedule(m.Schedule)
	if err != nil {
		return "", "", fmt.Errorf("maintenance window %s: %w", m.Name, err)
	}
	now = now.UTC()
	// Next is strictly after its argument: a window is open for
	// [start, start+duration).
	if open := s.Next(now.Add(-m.Duration.Duration)); !open.After(now) {
		return MaintenanceOpen, fmt.Sprintf("maintenance window %s is open until %s", m.Name,
			open.Add(m.Duration.Duration).Format(time.RFC3339)), nil
	}
	drain := time.Duration(0)
	if m.DrainBefore != nil {
		drain = m.DrainBefore.Duration
	}
	if next := s.Next(now); next.Sub(now) <= drain {
		return MaintenanceDraining, fmt.Sprintf("maintenance window %s opens at %s", m.Name, next.Format(time.RFC3339)), nil
	}
	return "", "", nil
}
