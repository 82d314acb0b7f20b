package carbon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// epoch is the clock time replays start at; deliberately unrelated to trace time.
var epoch = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// value is the crafted intensity of hour i: day d, hour-of-day h gives
// 100*(d+1)+h, so every hour differs from the same hour on any other day and
// a forecast that peeks at the true future cannot match a seasonal-naive one.
func value(i int) float64 { return float64(100*(i/24+1) + i%24) }

// craftedTrace returns a 3-day ES trace, written and parsed in the real CSV format.
func craftedTrace(t *testing.T) *Trace {
	t.Helper()
	var b strings.Builder
	b.WriteString(header)
	for i := range 72 {
		fmt.Fprintf(&b, "%s,Spain,Spain,ES,%v,%v,0,0,test,false,\n",
			jan1.Add(time.Duration(i)*time.Hour).Format("2006-01-02 15:04:05"), value(i), value(i)+1000)
	}
	tr, err := LoadTrace(strings.NewReader(b.String()), Direct)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func newReplay(t *testing.T, cfg TraceProviderConfig, traces ...*Trace) (*TraceProvider, *clocktesting.FakePassiveClock) {
	t.Helper()
	clk := clocktesting.NewFakePassiveClock(epoch)
	cfg.Clock, cfg.Epoch = clk, epoch
	p, err := NewTraceProviderWithConfig(cfg, traces...)
	if err != nil {
		t.Fatal(err)
	}
	return p, clk
}

func TestTraceProviderCurrent(t *testing.T) {
	tr := craftedTrace(t)
	for _, tc := range []struct {
		name    string
		cfg     TraceProviderConfig
		elapsed time.Duration // clock time since epoch
		hour    int           // expected hour on the continuous timeline, -1 for ErrNoData
	}{
		{"at epoch", TraceProviderConfig{}, 0, 0},
		{"within first hour", TraceProviderConfig{}, 59*time.Minute + 59*time.Second, 0},
		{"second hour", TraceProviderConfig{}, time.Hour, 1},
		{"day two", TraceProviderConfig{}, 25*time.Hour + 30*time.Minute, 25},
		{"last hour", TraceProviderConfig{}, 71 * time.Hour, 71},
		{"before epoch", TraceProviderConfig{}, -time.Second, -1},
		// The trace has data for this simulated time, but the replay has not started.
		{"before epoch, start mid-trace", TraceProviderConfig{Start: jan1.Add(30 * time.Hour)}, -time.Second, -1},
		{"after end", TraceProviderConfig{}, 72 * time.Hour, -1},
		{"start offset", TraceProviderConfig{Start: jan1.Add(5 * time.Hour)}, 2 * time.Hour, 7},
		{"start before trace", TraceProviderConfig{Start: jan1.Add(-2 * time.Hour)}, time.Hour, -1},
		{"speed 3600: 1s is 1h", TraceProviderConfig{Speed: 3600}, time.Second, 1},
		{"speed 3600: 10s", TraceProviderConfig{Speed: 3600}, 10 * time.Second, 10},
		{"speed 3600: 0.999s", TraceProviderConfig{Speed: 3600}, 999 * time.Millisecond, 0},
		{"speed 0.5", TraceProviderConfig{Speed: 0.5}, 3 * time.Hour, 1},
		{"loop at end", TraceProviderConfig{Loop: true}, 72 * time.Hour, 72},
		{"loop second pass", TraceProviderConfig{Loop: true}, 73*time.Hour + time.Minute, 73},
		{"loop third pass, fast", TraceProviderConfig{Loop: true, Speed: 3600}, 150 * time.Second, 150},
		{"loop before epoch", TraceProviderConfig{Loop: true}, -time.Second, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, clk := newReplay(t, tc.cfg, tr)
			clk.SetTime(epoch.Add(tc.elapsed))
			got, err := p.Current(context.Background(), "ES")
			if tc.hour < 0 {
				if !errors.Is(err, ErrNoData) {
					t.Fatalf("got %+v, %v; want ErrNoData", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Intensity{Zone: "ES", At: jan1.Add(time.Duration(tc.hour) * time.Hour), GramsPerKWh: value(tc.hour % 72)}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestTraceProviderForecastSeasonalNaive(t *testing.T) {
	tr := craftedTrace(t)
	for _, tc := range []struct {
		name    string
		cfg     TraceProviderConfig
		elapsed time.Duration
		horizon time.Duration
		hour    int // hour containing simulated now
	}{
		{"day two, 24h", TraceProviderConfig{}, 30*time.Hour + 15*time.Minute, 24 * time.Hour, 30},
		{"beyond a day uses the last full day again", TraceProviderConfig{}, 30 * time.Hour, 48 * time.Hour, 30},
		{"partial hour rounds up", TraceProviderConfig{}, 24 * time.Hour, 90 * time.Minute, 24},
		{"forecast past trace end", TraceProviderConfig{}, 70 * time.Hour, 10 * time.Hour, 70},
		{"looped", TraceProviderConfig{Loop: true}, 80 * time.Hour, 30 * time.Hour, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, clk := newReplay(t, tc.cfg, tr)
			clk.SetTime(epoch.Add(tc.elapsed))
			got, err := p.Forecast(context.Background(), "ES", tc.horizon)
			if err != nil {
				t.Fatal(err)
			}
			n := int((tc.horizon + time.Hour - 1) / time.Hour)
			if len(got) != n {
				t.Fatalf("%d values, want %d", len(got), n)
			}
			for i, f := range got {
				h := tc.hour + i
				past := h - 24*(1+i/24)
				want := Intensity{Zone: "ES", At: jan1.Add(time.Duration(h) * time.Hour), GramsPerKWh: value(past % 72)}
				if f != want {
					t.Errorf("[%d] = %+v, want %+v (from hour %d)", i, f, want, past)
				}
				if i < 24 && f.GramsPerKWh != value((h-24)%72) {
					t.Errorf("[%d] = %v, want t-24h value %v", i, f.GramsPerKWh, value((h-24)%72))
				}
				if f.GramsPerKWh == value(h%72) {
					t.Errorf("[%d] equals the true value of hour %d: forecast reads ahead", i, h)
				}
			}
		})
	}
}

// TestTraceProviderForecastNeverReadsAhead rewrites everything from the
// current hour on; a forecast that only reads the past must not change.
func TestTraceProviderForecastNeverReadsAhead(t *testing.T) {
	tr := craftedTrace(t)
	altered := &Trace{Zone: tr.Zone, Start: tr.Start, Values: append([]float64(nil), tr.Values...)}
	for i := 40; i < len(altered.Values); i++ {
		altered.Values[i] = 9999
	}
	var forecasts [2][]Intensity
	for k, trace := range []*Trace{tr, altered} {
		p, clk := newReplay(t, TraceProviderConfig{}, trace)
		clk.SetTime(epoch.Add(40*time.Hour + 30*time.Minute))
		f, err := p.Forecast(context.Background(), "ES", 72*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		forecasts[k] = f
	}
	for i := range forecasts[0] {
		if forecasts[0][i] != forecasts[1][i] {
			t.Fatalf("[%d] %+v vs %+v: forecast depends on values at or after now", i, forecasts[0][i], forecasts[1][i])
		}
	}
}

func TestTraceProviderForecastErrors(t *testing.T) {
	tr := craftedTrace(t)
	for _, tc := range []struct {
		name    string
		loop    bool
		elapsed time.Duration
		horizon time.Duration
		want    error
	}{
		{"less than a day replayed", false, 23 * time.Hour, time.Hour, ErrNoData},
		// Looping must not wrap the first day's history to the trace's end,
		// which has not been replayed yet.
		{"loop, first day", true, 5 * time.Hour, time.Hour, ErrNoData},
		{"more than a day after end", false, 97 * time.Hour, time.Hour, ErrNoData},
		{"before epoch", false, -time.Hour, time.Hour, ErrNoData},
		{"zero horizon", false, 30 * time.Hour, 0, nil},
		{"negative horizon", false, 30 * time.Hour, -time.Hour, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, clk := newReplay(t, TraceProviderConfig{Loop: tc.loop}, tr)
			clk.SetTime(epoch.Add(tc.elapsed))
			got, err := p.Forecast(context.Background(), "ES", tc.horizon)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, %v; want error %v", got, err, tc.want)
			}
		})
	}
}

func TestNewTraceProviderDefaults(t *testing.T) {
	tr := craftedTrace(t)
	later := &Trace{Zone: "FR", Start: jan1.Add(48 * time.Hour), Values: []float64{50, 60}}
	clk := clocktesting.NewFakePassiveClock(epoch)
	p, err := NewTraceProvider(clk, later, tr)
	if err != nil {
		t.Fatal(err)
	}
	clk.SetTime(epoch.Add(48*time.Hour + time.Hour))
	for zone, want := range map[string]float64{"ES": value(49), "FR": 60} {
		got, err := p.Current(context.Background(), zone)
		if err != nil || got.GramsPerKWh != want {
			t.Errorf("%s: got %+v, %v; want %v (replay from the earliest trace start)", zone, got, err, want)
		}
	}
}

func TestNewTraceProviderErrors(t *testing.T) {
	tr := craftedTrace(t)
	clk := clocktesting.NewFakePassiveClock(epoch)
	for _, tc := range []struct {
		name   string
		cfg    TraceProviderConfig
		traces []*Trace
	}{
		{"nil clock", TraceProviderConfig{}, []*Trace{tr}},
		{"no traces", TraceProviderConfig{Clock: clk}, nil},
		{"duplicate zone", TraceProviderConfig{Clock: clk}, []*Trace{tr, tr}},
		{"empty trace", TraceProviderConfig{Clock: clk}, []*Trace{{Zone: "ES"}}},
		{"negative speed", TraceProviderConfig{Clock: clk, Speed: -1}, []*Trace{tr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTraceProviderWithConfig(tc.cfg, tc.traces...); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestFixedProvider(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(epoch.Add(90 * time.Minute))
	table := map[string]float64{"ES": 120, "NO": 20}
	p, err := NewFixedProvider(clk, table)
	if err != nil {
		t.Fatal(err)
	}
	table["ES"] = 1 // must not affect the provider
	hour := epoch.Add(time.Hour)

	got, err := p.Current(context.Background(), "ES")
	if want := (Intensity{Zone: "ES", At: hour, GramsPerKWh: 120}); err != nil || got != want {
		t.Fatalf("Current = %+v, %v; want %+v", got, err, want)
	}
	f, err := p.Forecast(context.Background(), "NO", 3*time.Hour)
	if err != nil || len(f) != 3 {
		t.Fatalf("Forecast = %+v, %v; want 3 values", f, err)
	}
	for i, v := range f {
		if want := (Intensity{Zone: "NO", At: hour.Add(time.Duration(i) * time.Hour), GramsPerKWh: 20}); v != want {
			t.Errorf("[%d] = %+v, want %+v", i, v, want)
		}
	}
	if _, err := NewFixedProvider(clk, map[string]float64{"ES": -1}); err == nil {
		t.Error("negative intensity accepted")
	}
}

func TestUnknownZone(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(epoch.Add(30 * time.Hour))
	replay, err := NewTraceProviderWithConfig(TraceProviderConfig{Clock: clk, Epoch: epoch}, craftedTrace(t))
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := NewFixedProvider(clk, map[string]float64{"ES": 100})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]Provider{"trace": replay, "fixed": fixed} {
		// Sanity check that the zone that exists works, so the error below is about the zone.
		if _, err := p.Current(context.Background(), "ES"); err != nil {
			t.Fatalf("%s: known zone: %v", name, err)
		}
		if _, err := p.Current(context.Background(), "XX"); !errors.Is(err, ErrUnknownZone) {
			t.Errorf("%s Current: %v, want ErrUnknownZone", name, err)
		}
		if _, err := p.Forecast(context.Background(), "XX", time.Hour); !errors.Is(err, ErrUnknownZone) {
			t.Errorf("%s Forecast: %v, want ErrUnknownZone", name, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Current(ctx, "ES"); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled context: %v, want context.Canceled", name, err)
		}
	}
}

func TestZoneOf(t *testing.T) {
	for _, tc := range []struct {
		name          string
		labels, annos map[string]string
		want          string
		wantOK        bool
	}{
		{"nothing", nil, nil, "", false},
		{"region only", map[string]string{RegionLabel: "eu-west-3"}, nil, "eu-west-3", true},
		{"label beats region", map[string]string{RegionLabel: "eu-west-3", ZoneKey: "FR"}, nil, "FR", true},
		{"annotation beats region", map[string]string{RegionLabel: "eu-west-3"}, map[string]string{ZoneKey: "ES"}, "ES", true},
		{"annotation beats label", map[string]string{ZoneKey: "FR"}, map[string]string{ZoneKey: "ES"}, "ES", true},
		{"empty annotation ignored", map[string]string{ZoneKey: "FR"}, map[string]string{ZoneKey: ""}, "FR", true},
		{"region as annotation ignored", nil, map[string]string{RegionLabel: "eu-west-3"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ZoneOf(tc.labels, tc.annos)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("ZoneOf = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
