package history

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestValidate(t *testing.T) {
	now := t0.Add(100 * 24 * time.Hour)
	day := 24 * time.Hour
	ok := Query{Namespace: "ns", Name: "vm", Start: now.Add(-day), End: now, Step: 5 * time.Minute}
	for _, tc := range []struct {
		name    string
		change  func(q *Query)
		field   string // "" for valid
		mention string
	}{
		{"valid VM query", func(q *Query) {}, "", ""},
		{"valid cluster query", func(q *Query) { q.Namespace, q.Name, q.Fields = "", "", []string{FieldVMsRunning} }, "", ""},
		{"end before start", func(q *Query) { q.End = q.Start.Add(-time.Second) }, "end", "before start"},
		{"start past retention", func(q *Query) { q.Start = now.Add(-31 * day) }, "start", "retention"},
		{"zero step", func(q *Query) { q.Step = 0 }, "step", "positive"},
		{"negative step", func(q *Query) { q.Step = -time.Minute }, "step", "positive"},
		{"sub-millisecond step", func(q *Query) { q.Step = 1500 * time.Microsecond }, "step", "milliseconds"},
		{"sub-second step", func(q *Query) { q.Step = 1500 * time.Millisecond }, "step", "whole number of seconds"},
		{"end a step after now", func(q *Query) { q.End = now.Add(q.Step) }, "", ""},
		{"end in the future", func(q *Query) { q.End = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC) }, "end", "future"},
		// One point of a step of centuries: the end still may not be far off.
		{"end far off under a huge step", func(q *Query) { q.Start, q.End, q.Step = now.Add(-time.Hour), now.Add(8760*time.Hour), 8761*time.Hour }, "end", "future"},
		// 30 days at 1m is 43201 points.
		{"too many points", func(q *Query) { q.Start, q.Step = now.Add(-30*day), time.Minute }, "step", "43201 points"},
		{"unknown field", func(q *Query) { q.Fields = []string{FieldCPUUsage, "cpuUsge"} }, "fields", `"cpuUsge"`},
		{"cluster field on a VM", func(q *Query) { q.Fields = []string{FieldVMs} }, "fields", `"vms"`},
		{"repeated field", func(q *Query) { q.Fields = []string{FieldCPUUsage, FieldCPUUsage} }, "fields", "twice"},
		{"VM without namespace", func(q *Query) { q.Namespace = "" }, "namespace", "required"},
		{"namespace without VM", func(q *Query) { q.Name = "" }, "name", "no VM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := ok
			tc.change(&q)
			err := Validate(q, 30*day, now, 0)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("got %v, want a *QueryError", err)
			}
			if qe.Field != tc.field || !strings.Contains(qe.Msg, tc.mention) {
				t.Fatalf("got field %q message %q, want field %q mentioning %q", qe.Field, qe.Msg, tc.field, tc.mention)
			}
		})
	}
}

func TestValidateMaxPointsIsInclusive(t *testing.T) {
	q := Query{Start: t0, End: t0.Add(9 * time.Second), Step: time.Second}
	if err := Validate(q, time.Hour, t0, 10); err != nil {
		t.Fatalf("10 points with a limit of 10: %v", err)
	}
	if err := Validate(q, time.Hour, t0, 9); err == nil {
		t.Fatal("10 points with a limit of 9 were accepted")
	}
}

func TestTrends(t *testing.T) {
	var points []Point
	// Out of order, to show Trends sorts.
	for i := 20; i >= 1; i-- {
		points = append(points, Point{Time: t0.Add(time.Duration(i) * time.Minute), Value: float64(i)})
	}
	got := Trends(points)
	want := Trend{Avg: 10.5, Min: 1, Max: 20, P95: 19, Count: 20}
	if got != want {
		t.Fatalf("Trends(1..20) = %+v, want %+v", got, want)
	}
	// Nearest rank of 95% of 100 values is the 95th, not the 96th.
	points = points[:0]
	for i := 1; i <= 100; i++ {
		points = append(points, Point{Value: float64(i)})
	}
	if got := Trends(points).P95; got != 95 {
		t.Fatalf("p95 of 1..100 = %v, want 95", got)
	}
	if got := Trends(nil); got != (Trend{}) {
		t.Fatalf("Trends(nil) = %+v, want zero", got)
	}
}

// TestAsStatus: a store that cannot answer is 503 (clients retry), through
// any wrapping; other errors are left as they are.
func TestAsStatus(t *testing.T) {
	if err := AsStatus(fmt.Errorf("querying: %w", ErrUnavailable)); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("an unavailable store: %v, want 503", err)
	}
	other := errors.New("other")
	if err := AsStatus(other); err != other {
		t.Errorf("another error became %v", err)
	}
}
