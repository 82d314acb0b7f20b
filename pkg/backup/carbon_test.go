package backup

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// hourProvider answers the hour now on its own timeline and a fixed
// forecast from it; err fails both.
type hourProvider struct {
	now      time.Time
	forecast []float64
	err      error
}

func (p *hourProvider) Current(_ context.Context, zone string) (carbon.Intensity, error) {
	if p.err != nil {
		return carbon.Intensity{}, p.err
	}
	return carbon.Intensity{Zone: zone, At: p.now, GramsPerKWh: 100}, nil
}

func (p *hourProvider) Forecast(_ context.Context, zone string, horizon time.Duration) ([]carbon.Intensity, error) {
	if p.err != nil {
		return nil, p.err
	}
	var out []carbon.Intensity
	for i, g := range p.forecast {
		if time.Duration(i)*time.Hour >= horizon {
			break
		}
		out = append(out, carbon.Intensity{Zone: zone, At: p.now.Add(time.Duration(i) * time.Hour), GramsPerKWh: g})
	}
	return out, nil
}

func carbonSchedule(within time.Duration) *v1alpha1.BackupSchedule {
	return &v1alpha1.BackupSchedule{Spec: v1alpha1.BackupScheduleSpec{
		CarbonWindow: &v1alpha1.BackupCarbonWindow{Within: metav1.Duration{Duration: within}, Zone: "NO"}}}
}

// TestCarbonPlanAndStart: a run waits for the first of the cleanest
// forecast hours, starts at that hour or at the first pass after it (a late
// pass starts it late rather than skipping it), starts at the end of its
// window whatever the forecast said, and starts at once when the signal is
// lost or the provider's clock stops.
func TestCarbonPlanAndStart(t *testing.T) {
	ctx := context.Background()
	replay0 := time.Date(2022, 7, 8, 1, 0, 0, 0, time.UTC)
	slot := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	hour := func(i int) time.Time { return replay0.Add(time.Duration(i) * time.Hour) }
	b := carbonSchedule(6 * time.Hour)
	p := &hourProvider{now: replay0, forecast: []float64{300, 250, 90, 120, 90, 200, 10}}
	s := &Scheduler{cfg: Config{Carbon: p}}

	plan, c := s.plan(ctx, b, slot, nil)
	if plan == nil || c.Reason != "Waiting" {
		t.Fatalf("plan: %+v, condition %+v; want a waiting plan", plan, c)
	}
	// The 10 g hour is outside the 6-hour window; of the two 90 g hours the first counts.
	if !plan.RunAt.Time.Equal(hour(2)) || plan.ForecastGramsPerKWh != 90 || !plan.WindowStart.Time.Equal(hour(0)) || plan.SlotGramsPerKWh != 100 {
		t.Errorf("plan: %+v, want the run at %s for 90 g/kWh in a window from %s", plan, hour(2), hour(0))
	}

	for _, tc := range []struct {
		name    string
		replay  time.Time
		wall    time.Time
		err     error
		start   bool
		startAt time.Time
		reason  string
	}{
		{"before its hour", hour(1), slot.Add(time.Second), nil, false, time.Time{}, ""},
		{"at its hour", hour(2), slot.Add(2 * time.Second), nil, true, hour(2), "Started"},
		{"a late pass", hour(8), slot.Add(8 * time.Second), nil, true, hour(8), "Started"},
		{"the replay stopped, the window's wall time passed", hour(1), slot.Add(6 * time.Hour), nil, true, hour(1), "Started"},
		{"no signal", hour(1), slot.Add(time.Second), errors.New("upstream down"), true, slot.Add(time.Second), "NoSignal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.now, p.err = tc.replay, tc.err
			got := plan.DeepCopy()
			start, c := s.due(ctx, b, got, tc.wall)
			if start != tc.start {
				t.Fatalf("start %v, want %v", start, tc.start)
			}
			if !start {
				if got.StartedAt != nil || c != nil {
					t.Errorf("a waiting run recorded a start %v, condition %+v", got.StartedAt, c)
				}
				return
			}
			if got.StartedAt == nil || !got.StartedAt.Time.Equal(tc.startAt) || c == nil || c.Reason != tc.reason {
				t.Errorf("started at %v, condition %+v; want %s, reason %s", got.StartedAt, c, tc.startAt, tc.reason)
			}
		})
	}

	// The window's last hour: a forecast that keeps its cleanest hour past
	// the window's end still starts the run when the window closes.
	late := plan.DeepCopy()
	late.RunAt = metav1.NewTime(hour(9))
	p.now, p.err = hour(6), nil
	if start, _ := s.due(ctx, b, late, slot.Add(6*time.Second)); !start || !late.StartedAt.Time.Equal(hour(6)) {
		t.Errorf("at the window's end: start %v at %v, want a start at %s", start, late.StartedAt, hour(6))
	}

	p.now = hour(2)
	p.forecast = []float64{50, 80}
	now, c := s.plan(ctx, b, slot, nil)
	if now == nil || now.StartedAt == nil || !now.StartedAt.Time.Equal(hour(2)) || c.Reason != "Started" {
		t.Errorf("the slot's own hour is the cleanest: plan %+v, condition %+v; want a start at once", now, c)
	}
}
