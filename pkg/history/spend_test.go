package history

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

// TestIntegrateNeverCountsBeforeSince: a VM 20s old with one point has
// cost 20s of it, not the minute the point averages.
func TestIntegrateNeverCountsBeforeSince(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 1, 0, 0, time.UTC)
	if got := Integrate([]Point{{Time: at, Value: 3.6}}, at.Add(-20*time.Second)); math.Abs(got-0.02) > 1e-9 {
		t.Errorf("spent %.6f, want 0.02 (3.6 per hour for 20s)", got)
	}
	// History is kept by name: a VM made again under a name counts nothing
	// its namesake spent before it.
	if got := Integrate([]Point{{Time: at.Add(-time.Hour), Value: 3.6}, {Time: at, Value: 3.6}}, at.Add(time.Minute)); got != 0 {
		t.Errorf("spent %.6f before since, want 0", got)
	}
}

// TestMonthToDate: a running total of what was spent, that starts again on
// the first of the month and adds nothing for an outage.
func TestMonthToDate(t *testing.T) {
	first := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var rates []Point
	// 6 per hour, a point a minute, from 23:00 on 30 November to 02:00 on
	// 1 December, but none between 00:30 and 01:45: longer than
	// MaxSampleGap, so an outage.
	for at := first.Add(-time.Hour + time.Minute); !at.After(first.Add(2 * time.Hour)); at = at.Add(time.Minute) {
		if at.After(first.Add(30*time.Minute)) && !at.After(first.Add(105*time.Minute)) {
			continue
		}
		rates = append(rates, Point{Time: at, Value: 6})
	}
	times := []time.Time{first.Add(-30 * time.Minute), first, first.Add(30 * time.Minute), first.Add(time.Hour), first.Add(2 * time.Hour)}
	// November's total counts the half hour recorded before 23:30;
	// December's starts at midnight, and the outage adds nothing (the point
	// after it stands for one minute, not the 76 since the point before).
	want := []float64{3, 0, 3, 3, 3 + 6*(15.0/60)}
	got := MonthToDate(rates, times)
	for i := range want {
		if !got[i].Time.Equal(times[i]) || math.Abs(got[i].Value-want[i]) > 1e-9 {
			t.Errorf("at %s: %v, want %v", times[i].Format(time.RFC3339), got[i].Value, want[i])
		}
	}
}

// TestReadRatesOverPartlyRecordedRanges: a month read in several queries,
// whose first ranges the recorder did not run in (it was installed on the
// 12th), is the points of the others, not an error; when no range holds
// anything of the recorder, that is the error.
func TestReadRatesOverPartlyRecordedRanges(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	installed := time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)
	query := func(_ context.Context, q Query) ([]Series, error) {
		if q.End.Before(installed) {
			return nil, fmt.Errorf("%w: %w: no recorder series from %s to %s", ErrUnavailable, ErrNotRecorded, q.Start, q.End)
		}
		return []Series{{Field: FieldCostPerHour, Points: []Point{{Time: q.End, Value: 1}}}}, nil
	}
	got, err := ReadRates(context.Background(), query, Query{Fields: []string{FieldCostPerHour}}, from, to)
	if err != nil || len(got) != 1 || len(got[0].Points) == 0 {
		t.Fatalf("a month recorded from the 12th: %+v, %v; want the points recorded", got, err)
	}
	if _, err := ReadRates(context.Background(), query, Query{Fields: []string{FieldCostPerHour}}, from, installed.Add(-24*time.Hour)); !errors.Is(err, ErrNotRecorded) {
		t.Errorf("a range before the recorder ran: %v, want ErrNotRecorded", err)
	}
}
