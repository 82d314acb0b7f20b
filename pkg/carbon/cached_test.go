package carbon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"
)

// t0 is the start of the cache scenarios, 10 minutes into an hour.
var t0 = h10.Add(10 * time.Minute)

// scripted is an inner Provider whose answers the test sets: Current gives
// value for the hour containing now, Forecast value, value+1, ... from it.
type scripted struct {
	clock *clocktesting.FakePassiveClock
	gate  chan struct{} // if not nil, calls wait for it to close

	mu     sync.Mutex
	calls  int
	value  float64
	err    error
	ctxErr error // of the last call's context, when it returned
}

func (s *scripted) answer(v float64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.value, s.err = v, err
}

func (s *scripted) start() (float64, error) {
	s.mu.Lock()
	s.calls++
	v, err := s.value, s.err
	s.mu.Unlock()
	if s.gate != nil {
		<-s.gate
	}
	return v, err
}

func (s *scripted) finish(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctxErr = ctx.Err()
}

func (s *scripted) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *scripted) lastCtxErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctxErr
}

func (s *scripted) Current(ctx context.Context, zone string) (Intensity, error) {
	v, err := s.start()
	defer s.finish(ctx)
	if err != nil {
		return Intensity{}, err
	}
	return Intensity{Zone: zone, At: s.clock.Now().Truncate(time.Hour), GramsPerKWh: v}, nil
}

func (s *scripted) Forecast(ctx context.Context, zone string, horizon time.Duration) ([]Intensity, error) {
	v, err := s.start()
	defer s.finish(ctx)
	if err != nil {
		return nil, err
	}
	n, _ := slots(horizon)
	out := make([]Intensity, n)
	for i := range out {
		out[i] = Intensity{Zone: zone, At: s.clock.Now().Truncate(time.Hour).Add(time.Duration(i) * time.Hour), GramsPerKWh: v + float64(i)}
	}
	return out, nil
}

func newCached(t *testing.T, opts CacheOptions) (*CachedProvider, *scripted, *clocktesting.FakePassiveClock) {
	t.Helper()
	clk := clocktesting.NewFakePassiveClock(t0)
	inner := &scripted{clock: clk, value: 100}
	opts.Clock = clk
	c, err := NewCachedProvider(inner, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, inner, clk
}

func TestCachedProviderCurrentLifecycle(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, inner, clk := newCached(t, CacheOptions{Registerer: reg, Name: "em"})
	outage := fmt.Errorf("electricitymaps: %w", ErrUnavailable)
	// Defaults: TTL 5m, RetryInterval 1m, MaxStale 6h, Neutral 475.
	for _, step := range []struct {
		name  string
		at    time.Duration // since t0
		value float64       // inner's answer from this step on
		err   error
		want  Intensity // Zone "DE" implied; At is an hour since h10
		calls int       // inner calls so far
	}{
		{"first call asks upstream", 0, 100, nil, Intensity{At: h10, GramsPerKWh: 100}, 1},
		{"cached within TTL", 5*time.Minute - time.Second, 200, nil, Intensity{At: h10, GramsPerKWh: 100}, 1},
		{"asks again at TTL", 5 * time.Minute, 200, nil, Intensity{At: h10, GramsPerKWh: 200}, 2},
		{"upstream fails: last value, stale", 10 * time.Minute, 0, outage,
			Intensity{At: h10, GramsPerKWh: 200, Freshness: Stale}, 3},
		{"no new request within RetryInterval", 11*time.Minute - time.Second, 0, outage,
			Intensity{At: h10, GramsPerKWh: 200, Freshness: Stale}, 3},
		{"asks again after RetryInterval", 11 * time.Minute, 0, outage,
			Intensity{At: h10, GramsPerKWh: 200, Freshness: Stale}, 4},
		{"stale until MaxStale after its fetch", 6*time.Hour + 5*time.Minute, 0, outage,
			Intensity{At: h10, GramsPerKWh: 200, Freshness: Stale}, 5},
		{"neutral beyond MaxStale", 6*time.Hour + 6*time.Minute, 0, outage,
			Intensity{At: h10.Add(6 * time.Hour), GramsPerKWh: 475, Freshness: Neutral}, 6},
		{"fresh again once upstream recovers", 6*time.Hour + 7*time.Minute, 300, nil,
			Intensity{At: h10.Add(6 * time.Hour), GramsPerKWh: 300}, 7},
	} {
		clk.SetTime(t0.Add(step.at))
		inner.answer(step.value, step.err)
		got, err := c.Current(context.Background(), "DE")
		step.want.Zone = "DE"
		if err != nil || got != step.want || inner.callCount() != step.calls {
			t.Fatalf("%s: Current = %+v, %v after %d upstream calls; want %+v after %d",
				step.name, got, err, inner.callCount(), step.want, step.calls)
		}
		if state := testutil.ToFloat64(c.metrics.state.WithLabelValues("em", "DE")); state != float64(step.want.Freshness) {
			t.Errorf("%s: signal state %v, want %v", step.name, state, float64(step.want.Freshness))
		}
	}

	const want = `
# HELP hypersdk_carbon_fallback_total Answers (current or forecast) served from a fallback instead of fresh data, by kind (stale or neutral).
# TYPE hypersdk_carbon_fallback_total counter
hypersdk_carbon_fallback_total{kind="neutral",provider="em",zone="DE"} 1
hypersdk_carbon_fallback_total{kind="stale",provider="em",zone="DE"} 4
# HELP hypersdk_carbon_intensity_grams_per_kwh Last current carbon intensity served per zone, fallbacks included, in gCO2eq/kWh.
# TYPE hypersdk_carbon_intensity_grams_per_kwh gauge
hypersdk_carbon_intensity_grams_per_kwh{provider="em",zone="DE"} 300
# HELP hypersdk_carbon_provider_requests_total Requests from the carbon cache to its upstream provider, by result (ok or the class of failure).
# TYPE hypersdk_carbon_provider_requests_total counter
hypersdk_carbon_provider_requests_total{provider="em",result="ok",zone="DE"} 3
hypersdk_carbon_provider_requests_total{provider="em",result="unavailable",zone="DE"} 4
# HELP hypersdk_carbon_signal_state Freshness of the last current intensity served per zone: 0 fresh, 1 stale, 2 neutral.
# TYPE hypersdk_carbon_signal_state gauge
hypersdk_carbon_signal_state{provider="em",zone="DE"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestCachedProviderErrorPolicy(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	unknown := fmt.Errorf("electricitymaps: %w", ErrUnknownZone)
	for _, tc := range []struct {
		name       string
		knownFirst bool // one successful call before the failing ones
		ctx        context.Context
		err        error // the inner error of the failing calls
		want       Freshness
		wantErr    error
		calls      int // upstream calls in total
	}{
		{"typo zone: unknown-zone error passes through", false, context.Background(), unknown, 0, ErrUnknownZone, 1},
		{"known zone reported unknown: stale", true, context.Background(), unknown, Stale, nil, 2},
		{"never-seen zone during outage: neutral", false, context.Background(), ErrUnavailable, Neutral, nil, 1},
		{"never-seen zone without data: neutral", false, context.Background(), ErrNoData, Neutral, nil, 1},
		// No time to refresh: the value held, as a failed refresh would
		// leave it; a zone never read has none to give.
		{"cancelled context: a known zone's last value, stale", true, cancelled, ErrUnavailable, Stale, nil, 1},
		{"cancelled context: error for a zone never read", false, cancelled, ErrUnavailable, 0, context.Canceled, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, inner, clk := newCached(t, CacheOptions{})
			if tc.knownFirst {
				if _, err := c.Current(context.Background(), "DE"); err != nil {
					t.Fatal(err)
				}
				clk.SetTime(t0.Add(time.Hour))
			}
			inner.answer(0, tc.err)
			// Twice: the second answer comes from the recorded failure, without a request.
			for range 2 {
				got, err := c.Current(tc.ctx, "DE")
				if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if err == nil && got.Freshness != tc.want {
					t.Fatalf("Current = %+v, want %v", got, tc.want)
				}
			}
			if n := inner.callCount(); n != tc.calls {
				t.Errorf("%d upstream calls, want %d", n, tc.calls)
			}
		})
	}
}

func TestCachedProviderForecast(t *testing.T) {
	c, inner, clk := newCached(t, CacheOptions{TTL: 2 * time.Hour})
	outage := fmt.Errorf("watttime: %w", ErrRateLimited)
	for _, step := range []struct {
		name   string
		at     time.Duration // since t0
		err    error
		start  time.Duration // of the first value, since h10
		values []float64
		f      Freshness
		calls  int
	}{
		{"fresh", 0, nil, 0, []float64{100, 101, 102}, Fresh, 1},
		{"cached, past hour trimmed", 55 * time.Minute, nil, time.Hour, []float64{101, 102}, Fresh, 1},
		{"upstream fails: stale, trimmed", 2*time.Hour + 5*time.Minute, outage, 2 * time.Hour, []float64{102}, Stale, 2},
		{"stale forecast used up: neutral", 3*time.Hour + 10*time.Minute, outage, 3 * time.Hour, []float64{475, 475, 475}, Neutral, 3},
	} {
		clk.SetTime(t0.Add(step.at))
		inner.answer(100, step.err)
		got, err := c.Forecast(context.Background(), "DE", 3*time.Hour)
		if err != nil || len(got) != len(step.values) || inner.callCount() != step.calls {
			t.Fatalf("%s: Forecast = %+v, %v after %d calls; want %d values after %d",
				step.name, got, err, inner.callCount(), len(step.values), step.calls)
		}
		for i, v := range got {
			want := Intensity{Zone: "DE", At: h10.Add(step.start + time.Duration(i)*time.Hour), GramsPerKWh: step.values[i], Freshness: step.f}
			if v != want {
				t.Errorf("%s: [%d] = %+v, want %+v", step.name, i, v, want)
			}
		}
	}

	// Another number of hours is cached on its own.
	inner.answer(100, nil)
	if got, err := c.Forecast(context.Background(), "DE", 30*time.Minute); err != nil || len(got) != 1 || inner.callCount() != 4 {
		t.Errorf("1-hour forecast = %+v, %v after %d calls; want 1 value after 4", got, err, inner.callCount())
	}
	if _, err := c.Forecast(context.Background(), "DE", -time.Hour); err == nil {
		t.Error("negative horizon accepted")
	}
}

func TestCachedProviderSharesOneRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, inner, _ := newCached(t, CacheOptions{})
		inner.gate = make(chan struct{})
		const callers = 10
		got := make([]Intensity, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() { got[i], errs[i] = c.Current(context.Background(), "DE") })
		}
		synctest.Wait() // every caller is now blocked: one in inner, the rest on the shared request
		if n := inner.callCount(); n != 1 {
			t.Fatalf("%d upstream calls while %d callers wait, want 1", n, callers)
		}
		close(inner.gate)
		wg.Wait()
		for i := range callers {
			if errs[i] != nil || got[i].GramsPerKWh != 100 || got[i].Freshness != Fresh {
				t.Errorf("caller %d: %+v, %v", i, got[i], errs[i])
			}
		}
		if n := inner.callCount(); n != 1 {
			t.Errorf("%d upstream calls in total, want 1", n)
		}
	})
}

func TestCachedProviderCallerLeavingDoesNotCancelSharedRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, inner, _ := newCached(t, CacheOptions{})
		inner.gate = make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		impatient := make(chan error, 1)
		go func() {
			_, err := c.Current(ctx, "DE")
			impatient <- err
		}()
		synctest.Wait() // the impatient caller started the request and waits in it
		var patient Intensity
		var patientErr error
		var wg sync.WaitGroup
		wg.Go(func() { patient, patientErr = c.Current(context.Background(), "DE") })
		synctest.Wait() // the patient caller shares the request
		cancel()
		// Received while the upstream request is still held at the gate: had
		// the impatient caller waited for it, the bubble would deadlock.
		if err := <-impatient; !errors.Is(err, context.Canceled) {
			t.Errorf("impatient caller: err = %v, want context.Canceled", err)
		}
		close(inner.gate)
		wg.Wait()
		if patientErr != nil || patient.GramsPerKWh != 100 || patient.Freshness != Fresh {
			t.Errorf("patient caller: %+v, %v; want the fresh value", patient, patientErr)
		}
		if err := inner.lastCtxErr(); err != nil {
			t.Errorf("upstream request saw context error %v", err)
		}
	})
}

func TestNewCachedProviderOptions(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	inner, _ := NewFixedProvider(clk, map[string]float64{"DE": 300})
	for _, tc := range []struct {
		name  string
		inner Provider
		opts  CacheOptions
	}{
		{"nil inner", nil, CacheOptions{}},
		{"negative TTL", inner, CacheOptions{TTL: -time.Second}},
		{"negative MaxStale", inner, CacheOptions{MaxStale: -time.Second}},
		{"negative RetryInterval", inner, CacheOptions{RetryInterval: -time.Second}},
		{"negative neutral", inner, CacheOptions{Neutral: -1}},
		{"NaN neutral", inner, CacheOptions{Neutral: math.NaN()}},
	} {
		if _, err := NewCachedProvider(tc.inner, tc.opts); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}

	// Two caches can share a registry; their series differ by provider label.
	reg := prometheus.NewRegistry()
	for _, name := range []string{"a", "b"} {
		c, err := NewCachedProvider(inner, CacheOptions{Clock: clk, Registerer: reg, Name: name})
		if err != nil {
			t.Fatalf("cache %s: %v", name, err)
		}
		got, err := c.Current(context.Background(), "DE")
		// Providers that predate Freshness report Fresh through its zero value.
		if err != nil || got.GramsPerKWh != 300 || got.Freshness != Fresh {
			t.Fatalf("cache %s: Current = %+v, %v", name, got, err)
		}
	}
	if n := testutil.CollectAndCount(reg, "hypersdk_carbon_provider_requests_total"); n != 2 {
		t.Errorf("%d request series, want one per cache", n)
	}

	// A different metric under one of the names is a conflict, not something to reuse.
	reg = prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "hypersdk_carbon_signal_state", Help: "other"}))
	if _, err := NewCachedProvider(inner, CacheOptions{Registerer: reg}); err == nil {
		t.Error("conflicting metric accepted")
	}
}

func TestResultLabel(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{&StatusError{Code: 403}, "unauthorized"},
		{&StatusError{Code: 429}, "rate_limited"},
		{&StatusError{Code: 404}, "unknown_zone"},
		{fmt.Errorf("x: %w", ErrNoData), "no_data"},
		{&StatusError{Code: 502}, "unavailable"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{&StatusError{Code: 400}, "error"},
	} {
		if got := resultLabel(tc.err); got != tc.want {
			t.Errorf("resultLabel(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestFreshnessString(t *testing.T) {
	for f, want := range map[Freshness]string{Fresh: "fresh", Stale: "stale", Neutral: "neutral", 7: "Freshness(7)"} {
		if got := f.String(); got != want {
			t.Errorf("%d: %q, want %q", int(f), got, want)
		}
	}
}

// TestReadRefusesThePlaceholder: Read and ReadForecast pass a reading
// through (a stale one too, with its own hour) and turn the neutral
// placeholder of a source that never answered into ErrNoReading.
func TestReadRefusesThePlaceholder(t *testing.T) {
	ctx := context.Background()
	c, inner, clk := newCached(t, CacheOptions{})
	inner.answer(0, ErrUnavailable)
	if in, err := Read(ctx, c, "DE"); !errors.Is(err, ErrNoReading) {
		t.Errorf("Read with no answer yet: %+v, %v; want ErrNoReading", in, err)
	}
	if f, err := ReadForecast(ctx, c, "DE", 3*time.Hour); !errors.Is(err, ErrNoReading) {
		t.Errorf("ReadForecast with no answer yet: %+v, %v; want ErrNoReading", f, err)
	}
	inner.answer(200, nil)
	clk.SetTime(clk.Now().Add(2 * time.Minute)) // past the retry interval
	if in, err := Read(ctx, c, "DE"); err != nil || in.GramsPerKWh != 200 {
		t.Errorf("Read once answered: %+v, %v; want 200", in, err)
	}
	inner.answer(0, ErrUnavailable)
	clk.SetTime(clk.Now().Add(time.Hour))
	if in, err := Read(ctx, c, "DE"); err != nil || in.Freshness != Stale || in.GramsPerKWh != 200 {
		t.Errorf("Read while the source fails: %+v, %v; want the stale 200", in, err)
	}
}

// TestCachedZonesNeedNoTime: a caller whose deadline is used up (another
// zone's slow refresh, in the same scheduling request) still gets the
// zones that are cached, fresh or, when due for a refresh, stale; only a
// zone never read fails.
func TestCachedZonesNeedNoTime(t *testing.T) {
	c, inner, clk := newCached(t, CacheOptions{})
	if _, err := c.Current(context.Background(), "NO"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Forecast(context.Background(), "NO", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	clk.SetTime(t0.Add(time.Minute))
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := c.Current(done, "NO"); err != nil || got.GramsPerKWh != 100 {
		t.Errorf("cached NO with the deadline gone: %+v, %v; want 100 g/kWh", got, err)
	}
	if got, err := c.Forecast(done, "NO", 2*time.Hour); err != nil || len(got) != 2 {
		t.Errorf("cached NO forecast with the deadline gone: %+v, %v; want 2 hours", got, err)
	}
	if _, err := c.Current(done, "ES"); !errors.Is(err, context.Canceled) {
		t.Errorf("ES, never read, with the deadline gone: %v, want context.Canceled", err)
	}
	if n := inner.callCount(); n != 2 {
		t.Errorf("%d upstream calls, want the 2 before the deadline", n)
	}

	// Past the TTL, a caller with no time left for the refresh gets the
	// value held, as Stale (as if the refresh had failed), not an error
	// that would make the zone unknown.
	clk.SetTime(t0.Add(6 * time.Minute))
	if got, err := c.Current(done, "NO"); err != nil || got.GramsPerKWh != 100 || got.Freshness != Stale {
		t.Errorf("NO due for a refresh, the deadline gone: %+v, %v; want 100 g/kWh, stale", got, err)
	}
	if got, err := c.Forecast(done, "NO", 2*time.Hour); err != nil || len(got) == 0 || got[0].Freshness != Stale {
		t.Errorf("NO forecast due for a refresh, the deadline gone: %+v, %v; want it, stale", got, err)
	}
	// Beyond MaxStale, what is held is no reading.
	clk.SetTime(t0.Add(7 * time.Hour))
	if got, err := c.Current(done, "NO"); err != nil || got.Freshness != Neutral {
		t.Errorf("NO past MaxStale, the deadline gone: %+v, %v; want the neutral placeholder", got, err)
	}
}

// lagging answers every Current with the hour lag before now's.
type lagging struct {
	clock *clocktesting.FakePassiveClock
	lag   time.Duration
}

func (l *lagging) Current(_ context.Context, zone string) (Intensity, error) {
	return Intensity{Zone: zone, At: l.clock.Now().Truncate(time.Hour).Add(-l.lag), GramsPerKWh: 302}, nil
}

func (l *lagging) Forecast(context.Context, string, time.Duration) ([]Intensity, error) {
	return nil, ErrNoData
}

// TestCachedProviderJudgesTheHourNotTheFetch: an upstream whose feed for
// the zone lags answers "latest" with an hour long past; fetched just now,
// it is not the current hour's value: stale past two hours, neutral past
// MaxStale, and fresh when it is the last hour's.
func TestCachedProviderJudgesTheHourNotTheFetch(t *testing.T) {
	for _, tc := range []struct {
		lag  time.Duration
		want Freshness
	}{
		{time.Hour, Fresh},
		{5 * time.Hour, Stale},
		{10 * time.Hour, Neutral},
	} {
		clk := clocktesting.NewFakePassiveClock(t0)
		c, err := NewCachedProvider(&lagging{clock: clk, lag: tc.lag}, CacheOptions{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Current(context.Background(), "DE")
		if err != nil || got.Freshness != tc.want {
			t.Errorf("latest value %s behind: %+v, %v; want %s", tc.lag, got, err, tc.want)
		}
	}
}
