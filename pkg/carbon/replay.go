package carbon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"k8s.io/utils/clock"
)

// TraceProviderConfig maps a trace's timeline onto an injected clock:
//
//	simulated now = Start + (Clock.Now() - Epoch) * Speed
//
// The simulated timeline is continuous: with Loop it keeps advancing past the
// end of a trace while the values repeat, so Intensity.At never jumps back.
type TraceProviderConfig struct {
	// Clock supplies "now"; required.
	Clock clock.PassiveClock
	// Start is the trace time that corresponds to Epoch. Zero means the
	// earliest Start of the provider's traces.
	Start time.Time
	// Epoch is the clock time at which the replay starts. Zero means the
	// clock's time when the provider is created.
	Epoch time.Time
	// Speed is simulated seconds per clock second; zero means 1. For example
	// 3600 replays one trace hour per clock second.
	Speed float64
	// Loop replays each trace again from its first hour once it ends, instead
	// of returning ErrNoData.
	Loop bool
}

// TraceProvider is a Provider that replays recorded traces, for the sandbox
// and for benchmarks that must run on real grid behaviour.
//
// It never reads ahead of the simulated now: Current returns the recorded
// value of the hour containing simulated now, and Forecast is seasonal-naive,
// built only from hours that have already been replayed. Evaluations that
// need the true future must use Trace.At and label the result as an oracle.
type TraceProvider struct {
	cfg    TraceProviderConfig
	traces map[string]*Trace
}

var _ Provider = (*TraceProvider)(nil)

// NewTraceProvider replays traces in real time from their earliest start,
// beginning now on clk.
func NewTraceProvider(clk clock.PassiveClock, traces ...*Trace) (*TraceProvider, error) {
	return NewTraceProviderWithConfig(TraceProviderConfig{Clock: clk}, traces...)
}

// NewTraceProviderWithConfig replays traces as cfg describes. Traces need
// not share a start; each zone is looked up in its own trace on the common
// simulated timeline.
func NewTraceProviderWithConfig(cfg TraceProviderConfig, traces ...*Trace) (*TraceProvider, error) {
	if cfg.Clock == nil {
		return nil, errors.New("trace provider: nil clock")
	}
	if cfg.Speed == 0 {
		cfg.Speed = 1
	}
	if cfg.Speed < 0 || math.IsNaN(cfg.Speed) || math.IsInf(cfg.Speed, 0) {
		return nil, fmt.Errorf("trace provider: invalid speed %v", cfg.Speed)
	}
	if len(traces) == 0 {
		return nil, errors.New("trace provider: no traces")
	}
	p := &TraceProvider{cfg: cfg, traces: make(map[string]*Trace, len(traces))}
	for _, tr := range traces {
		if tr == nil || tr.Zone == "" || len(tr.Values) == 0 {
			return nil, errors.New("trace provider: trace without zone or values")
		}
		if _, dup := p.traces[tr.Zone]; dup {
			return nil, fmt.Errorf("trace provider: two traces for zone %q", tr.Zone)
		}
		p.traces[tr.Zone] = tr
		if cfg.Start.IsZero() && (p.cfg.Start.IsZero() || tr.Start.Before(p.cfg.Start)) {
			p.cfg.Start = tr.Start
		}
	}
	if p.cfg.Epoch.IsZero() {
		p.cfg.Epoch = cfg.Clock.Now()
	}
	return p, nil
}

// SimulatedNow returns the trace time the clock currently maps to, so
// evaluations can pair a decision with the oracle value via Trace.At.
func (p *TraceProvider) SimulatedNow() (time.Time, error) {
	now := p.cfg.Clock.Now()
	elapsed := now.Sub(p.cfg.Epoch)
	if elapsed < 0 {
		return time.Time{}, fmt.Errorf("replay starts at %s, clock is at %s: %w",
			p.cfg.Epoch.Format(time.RFC3339), now.Format(time.RFC3339), ErrNoData)
	}
	sim := float64(elapsed) * p.cfg.Speed
	if sim >= math.MaxInt64 {
		return time.Time{}, fmt.Errorf("simulated time overflows %d hours after start: %w",
			time.Duration(math.MaxInt64)/time.Hour, ErrNoData)
	}
	return p.cfg.Start.Add(time.Duration(sim)), nil
}

// Current returns the recorded value of the hour containing simulated now.
func (p *TraceProvider) Current(ctx context.Context, zone string) (Intensity, error) {
	tr, hour, err := p.locate(ctx, zone)
	if err != nil {
		return Intensity{}, err
	}
	v, ok := p.value(tr, hour)
	if !ok {
		return Intensity{}, fmt.Errorf("carbon intensity for zone %q at %s: trace covers [%s, %s): %w",
			zone, hourStart(tr, hour).Format(time.RFC3339),
			tr.Start.Format(time.RFC3339), tr.End().Format(time.RFC3339), ErrNoData)
	}
	return Intensity{Zone: zone, At: hourStart(tr, hour), GramsPerKWh: v}, nil
}

// Forecast returns one value per hour for the ceil(horizon/1h) hours starting
// with the hour containing simulated now.
//
// It is a seasonal-naive forecast, never the recorded future: each hour t gets
// the value of the same hour on the latest day that has fully elapsed, which
// is t-24h for the first 24 hours and t-48h, t-72h, ... beyond, so only the
// hours before the current one are read. It fails with ErrNoData while less
// than a day of the trace has been replayed.
func (p *TraceProvider) Forecast(ctx context.Context, zone string, horizon time.Duration) ([]Intensity, error) {
	n, err := slots(horizon)
	if err != nil {
		return nil, fmt.Errorf("carbon forecast for zone %q: %w", zone, err)
	}
	tr, hour, err := p.locate(ctx, zone)
	if err != nil {
		return nil, err
	}
	out := make([]Intensity, n)
	for i := range out {
		past := hour + int64(i) - 24*(1+int64(i)/24)
		v, ok := p.value(tr, past)
		if !ok {
			return nil, fmt.Errorf("carbon forecast for zone %q at %s: seasonal-naive needs %s: %w",
				zone, hourStart(tr, hour).Format(time.RFC3339), hourStart(tr, past).Format(time.RFC3339), ErrNoData)
		}
		out[i] = Intensity{Zone: zone, At: hourStart(tr, hour+int64(i)), GramsPerKWh: v}
	}
	return out, nil
}

// locate returns the zone's trace and the index of the hour containing
// simulated now, counted from the trace's start on the continuous timeline.
func (p *TraceProvider) locate(ctx context.Context, zone string) (*Trace, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("carbon intensity for zone %q: %w", zone, err)
	}
	tr, ok := p.traces[zone]
	if !ok {
		return nil, 0, fmt.Errorf("trace provider: zone %q: %w", zone, ErrUnknownZone)
	}
	now, err := p.SimulatedNow()
	if err != nil {
		return nil, 0, fmt.Errorf("carbon intensity for zone %q: %w", zone, err)
	}
	return tr, floorDiv(now.Sub(tr.Start), resolution), nil
}

// value returns the recorded value of hour i of tr's continuous timeline.
// Hours before the trace never exist, not even when looping: wrapping them
// to the end of the trace would read values that have not been replayed yet.
func (p *TraceProvider) value(tr *Trace, i int64) (float64, bool) {
	n := int64(len(tr.Values))
	if i < 0 || (i >= n && !p.cfg.Loop) {
		return 0, false
	}
	return tr.Values[i%n], true
}

// hourStart returns the start of hour i of tr's continuous timeline.
func hourStart(tr *Trace, i int64) time.Time {
	return tr.Start.Add(time.Duration(i) * resolution)
}
