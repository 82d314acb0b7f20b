package history

import "slices"

// Trend summarises a series.
type Trend struct {
	Avg, Min, Max, P95 float64
	Count              int
}

// Trends summarises points; the zero Trend for no points.
//
// P95 is the nearest-rank percentile: with the N values sorted ascending,
// P95 is the value at 1-based rank ceil(0.95*N), so it is always a value
// that occurred (for 1..20 it is 19) and needs no interpolation.
func Trends(points []Point) Trend {
	if len(points) == 0 {
		return Trend{}
	}
	values := make([]float64, len(points))
	sum := 0.0
	for i, p := range points {
		values[i] = p.Value
		sum += p.Value
	}
	slices.Sort(values)
	n := len(values)
	// ceil(0.95*n) in integers: 0.95 has no exact float representation.
	rank := (95*n + 99) / 100
	return Trend{
		Avg:   sum / float64(n),
		Min:   values[0],
		Max:   values[n-1],
		P95:   values[rank-1],
		Count: n,
	}
}
