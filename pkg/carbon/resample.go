package carbon

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// point is one upstream value, already converted to g/kWh.
type point struct {
	at    time.Time
	grams float64
}

// hourly resamples points to the package's hourly resolution: the value of
// hour [h, h+1h) is the unweighted mean of the points whose time falls in it,
// and hours without points are left out. The result is oldest first.
//
// An unweighted mean is the time average because each API publishes points
// at a fixed interval (Electricity Maps hourly, WattTime and most Carbon
// Aware SDK sources every 5 minutes), so every point stands for an equal
// share of its hour. A partly covered hour, such as the current one, is the
// mean of the points it has so far.
func hourly(zone string, pts []point) ([]Intensity, error) {
	type acc struct {
		sum float64
		n   int
	}
	byHour := make(map[time.Time]*acc)
	for _, p := range pts {
		if p.grams < 0 || math.IsNaN(p.grams) || math.IsInf(p.grams, 0) {
			return nil, fmt.Errorf("zone %q at %s: invalid intensity %v g/kWh", zone, p.at.Format(time.RFC3339), p.grams)
		}
		h := p.at.UTC().Truncate(resolution)
		a := byHour[h]
		if a == nil {
			a = &acc{}
			byHour[h] = a
		}
		a.sum += p.grams
		a.n++
	}
	out := make([]Intensity, 0, len(byHour))
	for h, a := range byHour {
		out = append(out, Intensity{Zone: zone, At: h, GramsPerKWh: a.sum / float64(a.n)})
	}
	slices.SortFunc(out, func(a, b Intensity) int { return a.At.Compare(b.At) })
	return out, nil
}

// latestHour returns the newest hourly value of pts, which is how the live
// providers answer Current from a window of recent points.
func latestHour(zone string, pts []point) (Intensity, error) {
	hours, err := hourly(zone, pts)
	if err != nil {
		return Intensity{}, err
	}
	if len(hours) == 0 {
		return Intensity{}, fmt.Errorf("zone %q: no recent values: %w", zone, ErrNoData)
	}
	return hours[len(hours)-1], nil
}

// forecastWindow returns the hourly values of pts for the n hours starting
// with the hour containing now. Hours the upstream does not cover are left
// out, so the result can be shorter than n, but it is never empty: that is
// ErrNoData.
func forecastWindow(zone string, pts []point, now time.Time, n int) ([]Intensity, error) {
	hours, err := hourly(zone, pts)
	if err != nil {
		return nil, err
	}
	out := within(hours, now, n)
	if len(out) == 0 {
		return nil, fmt.Errorf("zone %q: forecast has no values for the %d hours from %s: %w",
			zone, n, now.UTC().Truncate(resolution).Format(time.RFC3339), ErrNoData)
	}
	return out, nil
}

// within returns the values of sorted hours that fall in the n hours
// starting with the hour containing now.
func within(hours []Intensity, now time.Time, n int) []Intensity {
	start := now.UTC().Truncate(resolution)
	end := start.Add(time.Duration(n) * resolution)
	var out []Intensity
	for _, v := range hours {
		if !v.At.Before(start) && v.At.Before(end) {
			out = append(out, v)
		}
	}
	return out
}
