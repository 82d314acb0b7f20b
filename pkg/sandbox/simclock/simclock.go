// Package simclock maps real time onto the sandbox's simulated time, which
// runs Speed times faster from a chosen start, so a day of carbon and load
// traces can pass in minutes.
package simclock

import (
	"time"

	"k8s.io/utils/clock"
)

// Clock is simulated time: Start at Epoch, then Speed simulated seconds per
// real second.
type Clock struct {
	// Real is the clock that drives it; the wall clock when nil.
	Real clock.PassiveClock
	// Epoch is the real time at which simulated time is Start.
	Epoch time.Time
	// Start is the simulated time at Epoch.
	Start time.Time
	// Speed is how many simulated seconds pass per real second.
	Speed float64
}

// Now is the simulated time.
func (c Clock) Now() time.Time {
	real := c.Real
	if real == nil {
		real = clock.RealClock{}
	}
	speed := c.Speed
	if speed <= 0 {
		speed = 1
	}
	elapsed := real.Since(c.Epoch)
	return c.Start.Add(time.Duration(float64(elapsed) * speed))
}
