package history

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Rates (a cost or an emission per hour) are integrated over time at
// IntegrationStep: one point a minute, the average of the samples in the
// minute before it, so a 2s and a 5m recorder interval and downsampled
// history all add up alike. MaxSampleGap is the longest time one recorded
// point stands for (a recorder interval or a downsampled hour); a longer gap
// is an outage, and the point after it stands for one step only.
const (
	IntegrationStep = time.Minute
	MaxSampleGap    = time.Hour + IntegrationStep
)

// ReadRates reads q's fields at IntegrationStep over (from, to], in queries
// of at most MaxPoints each, through query (a Store's QueryVM or
// QueryCluster); each field's points come back joined, in time order. A
// query whose range holds nothing of the recorder (ErrNotRecorded: it was
// installed later that month) adds no points, as long as another one holds
// something; when none does, that is the error.
func ReadRates(ctx context.Context, query func(context.Context, Query) ([]Series, error), q Query, from, to time.Time) ([]Series, error) {
	out := make([]Series, len(q.Fields))
	for i, f := range q.Fields {
		out[i].Field = f
	}
	var notRecorded error
	recorded := false
	chunk := IntegrationStep * (MaxPoints - 1)
	for start := from.Truncate(IntegrationStep).Add(IntegrationStep); !start.After(to); start = start.Add(chunk) {
		q.Start, q.End, q.Step = start, start.Add(chunk-IntegrationStep), IntegrationStep
		if q.End.After(to) {
			q.End = to
		}
		series, err := query(ctx, q)
		if errors.Is(err, ErrNotRecorded) {
			notRecorded = err
			continue
		}
		if err != nil {
			return nil, err
		}
		recorded = true
		for _, s := range series {
			for i := range out {
				if out[i].Field == s.Field {
					out[i].Points = append(out[i].Points, s.Points...)
				}
			}
		}
	}
	if !recorded && notRecorded != nil {
		return nil, notRecorded
	}
	return out, nil
}

// Spent is what each point of rates (per hour, read by ReadRates, in time
// order) adds: its rate × the time it stands for, the gap since the point
// before it, or, for the first point after an outage, the gap to the point
// after it (the recorder's interval), else one step; never before since
// (when what is measured began: a VM's creation).
func Spent(rates []Point, since time.Time) []float64 {
	out := make([]float64, len(rates))
	for i, p := range rates {
		gap := IntegrationStep
		switch {
		case i > 0 && p.Time.Sub(rates[i-1].Time) <= MaxSampleGap:
			gap = p.Time.Sub(rates[i-1].Time)
		case i+1 < len(rates) && rates[i+1].Time.Sub(p.Time) <= MaxSampleGap:
			gap = rates[i+1].Time.Sub(p.Time)
		}
		lived := p.Time.Sub(since)
		if lived <= 0 {
			continue // all of it before since: another VM of that name, say
		}
		out[i] = p.Value * min(gap, lived).Hours()
	}
	return out
}

// Integrate is the sum of what rates spent (see Spent).
func Integrate(rates []Point, since time.Time) float64 {
	var total float64
	for _, v := range Spent(rates, since) {
		total += v
	}
	return total
}

// After is the tail of points (in time order) after t.
func After(points []Point, t time.Time) []Point {
	i := sort.Search(len(points), func(i int) bool { return points[i].Time.After(t) })
	return points[i:]
}

// MonthStart is 00:00 UTC on the first of t's month.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// MonthToDate evaluates, at each of times (in order), what rates spent
// since the start of that time's month: a running total that starts again
// on the first of each month. rates must reach back to the first month's
// start (ReadRates from MonthStart(times[0])); what is not recorded adds
// nothing.
func MonthToDate(rates []Point, times []time.Time) []Point {
	out := make([]Point, 0, len(times))
	var month time.Time
	var inMonth []Point
	var running []float64 // running[i]: what inMonth[:i] spent
	for _, t := range times {
		if m := MonthStart(t); !m.Equal(month) {
			month, inMonth = m, After(rates, m)
			running = make([]float64, len(inMonth)+1)
			for i, v := range Spent(inMonth, m) {
				running[i+1] = running[i] + v
			}
		}
		n := sort.Search(len(inMonth), func(i int) bool { return inMonth[i].Time.After(t) })
		out = append(out, Point{Time: t, Value: running[n]})
	}
	return out
}

// EvaluationTimes are q's: Start, Start+Step, ... up to End.
func EvaluationTimes(q Query) ([]time.Time, error) {
	if q.Step <= 0 {
		return nil, fmt.Errorf("step %s is not positive", q.Step)
	}
	var out []time.Time
	for t := q.Start; !t.After(q.End); t = t.Add(q.Step) {
		out = append(out, t)
	}
	return out, nil
}
