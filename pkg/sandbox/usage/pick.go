package usage

import (
	"math"
	"time"
)

// Pick chooses a profile for the i-th demo VM deterministically from seed,
// with a realistic fleet mix: 20% idle, 30% steady, 35% diurnal, 15% bursty.
// Levels vary within each kind, and are rounded to two decimals (burst
// lengths to whole minutes) so String stays short in annotations.
func Pick(seed int64, i int) Profile {
	// Independent uniform draws for VM i: draw(0) picks the kind, the
	// rest its parameters.
	draw := func(n int64) float64 { return unit(seed, saltPick, int64(i)*16+n) }
	// between maps draw(n) onto [lo, hi], rounded to 0.01.
	between := func(n int64, lo, hi float64) float64 {
		return math.Round((lo+(hi-lo)*draw(n))*100) / 100
	}

	p := Profile{Memory: between(1, 0.2, 0.8)}
	switch u := draw(0); {
	case u < 0.20:
		p.Kind = Idle
		p.Memory = between(1, 0.1, 0.3)
	case u < 0.50:
		p.Kind = Steady
		p.Level = between(2, 0.2, 0.8)
	case u < 0.85:
		p.Kind = Diurnal
		p.Level = between(2, 0.2, 0.6)
		p.Amplitude = between(3, 0.1, 0.3)
		// Business hours, UTC.
		p.PeakHour = 8 + int(draw(4)*12)
	default:
		p.Kind = Bursty
		p.Level = between(2, 0.05, 0.2)
		p.BurstChance = between(3, 0.01, 0.1)
		p.BurstLength = time.Duration(2+int(draw(4)*14)) * time.Minute
		p.BurstLevel = between(5, 0.7, 1)
	}
	return p
}
