package carbon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
	"k8s.io/utils/clock"
)

// CacheOptions configures NewCachedProvider. Zero values mean the defaults.
type CacheOptions struct {
	// TTL is how long an upstream answer is served before asking again;
	// default 5 minutes.
	TTL time.Duration
	// MaxStale is how long after its fetch the last good answer may stand in
	// for a failing upstream; default 6 hours.
	MaxStale time.Duration
	// RetryInterval is how long after a failed upstream request fallbacks
	// are served without asking again; default 1 minute.
	RetryInterval time.Duration
	// Neutral is the g/kWh served when there is nothing better; zero means
	// the default, about the world average (see defaultNeutral). Zero itself
	// is no neutral value: it would make zones without data look cleanest.
	Neutral float64
	// Clock supplies "now"; nil means the real clock.
	Clock clock.PassiveClock
	// Registerer receives the metrics hypersdk_carbon_provider_requests_total,
	// hypersdk_carbon_signal_state, hypersdk_carbon_fallback_total and
	// hypersdk_carbon_intensity_grams_per_kwh; nil means they are not exported.
	Registerer prometheus.Registerer
	// Name is the provider label of the metrics, e.g. "electricitymaps";
	// default "default".
	Name string
}

const (
	// defaultCacheTTL sits within one update of the sources (Electricity
	// Maps publishes hourly, WattTime every 5 minutes) while costing at most
	// 12 requests per zone and hour, whatever the scheduling rate.
	defaultCacheTTL = 5 * time.Minute
	// defaultMaxStale: a value a few hours old still tells a hydro grid from
	// a coal one better than any average does, but after a quarter of a day
	// the solar and demand cycle has moved on too far to trust it.
	defaultMaxStale = 6 * time.Hour
	// defaultRetryInterval makes an outage cost one upstream request per
	// zone and minute instead of one per scheduling decision, which would
	// also eat into the API's rate limit and delay its recovery.
	defaultRetryInterval = time.Minute
	// defaultNeutral is roughly the world-average carbon intensity of
	// electricity generation: Ember's Global Electricity Review put it at
	// 436 gCO2/kWh (direct emissions) for 2022, and life-cycle figures, the
	// Electricity Maps default, run higher, around 450-480. An average
	// neither draws work to a zone without data nor pushes work away from it.
	defaultNeutral = 475
)

// CachedProvider wraps a Provider, usually a live API, with a cache and a
// stale-data policy so consumers always get a value and can see how much to
// trust it from Intensity.Freshness.
//
// Semantics, per zone (and, for forecasts, per number of hours):
//   - An upstream answer is served as Fresh for TTL after it was fetched.
//   - After TTL the next call asks the upstream again; concurrent callers
//     share that one request.
//   - If the request fails, the last good answer is served as Stale while it
//     is at most MaxStale old (by fetch time; its At still says which hour it
//     is for), otherwise Neutral is served: CacheOptions.Neutral g/kWh for
//     the hour containing now (for forecasts, for each requested hour).
//   - After a failure the upstream is not asked again for RetryInterval;
//     fallbacks are served meanwhile.
//   - A current value is also judged by the hour it is for, whenever it was
//     fetched (an upstream's feed may lag): Stale when that hour began more
//     than two hours ago, Neutral past MaxStale beyond that.
//   - A caller whose ctx ends before the request does gets what is held as
//     if the request had failed (the request goes on for the next caller),
//     and one that finds the value fresh gets it whatever its ctx.
//   - Forecasts, fresh or stale, are trimmed to the hours from the one
//     containing now; if nothing is left, Neutral is served.
//
// So a call returns an error only if ctx ends before the first answer for
// the zone, the horizon is invalid, or the upstream says ErrUnknownZone for
// a zone that has never had an answer, so typos in zone names surface rather than turning into neutral
// values. Other failures for never-seen zones, e.g. an upstream outage at
// start-up, serve Neutral.
type CachedProvider struct {
	inner   Provider
	opts    CacheOptions
	metrics *cacheMetrics
	flights singleflight.Group

	mu        sync.Mutex
	known     map[string]bool // zones with at least one answer
	current   map[string]currentEntry
	forecasts map[forecastKey]forecastEntry
}

var _ Provider = (*CachedProvider)(nil)

// NewCachedProvider wraps inner as CachedProvider documents. Because a
// shared upstream request outlives any one caller's context, inner must
// bound its own requests; the live providers here do, with their Timeout.
func NewCachedProvider(inner Provider, opts CacheOptions) (*CachedProvider, error) {
	if inner == nil {
		return nil, errors.New("cached carbon provider: nil inner provider")
	}
	if opts.TTL < 0 || opts.MaxStale < 0 || opts.RetryInterval < 0 {
		return nil, fmt.Errorf("cached carbon provider: negative duration in TTL %s, MaxStale %s, RetryInterval %s",
			opts.TTL, opts.MaxStale, opts.RetryInterval)
	}
	if opts.Neutral < 0 || math.IsNaN(opts.Neutral) || math.IsInf(opts.Neutral, 0) {
		return nil, fmt.Errorf("cached carbon provider: invalid neutral intensity %v", opts.Neutral)
	}
	if opts.TTL == 0 {
		opts.TTL = defaultCacheTTL
	}
	if opts.MaxStale == 0 {
		opts.MaxStale = defaultMaxStale
	}
	if opts.RetryInterval == 0 {
		opts.RetryInterval = defaultRetryInterval
	}
	if opts.Neutral == 0 {
		opts.Neutral = defaultNeutral
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Name == "" {
		opts.Name = "default"
	}
	m, err := newCacheMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &CachedProvider{
		inner:     inner,
		opts:      opts,
		metrics:   m,
		known:     make(map[string]bool),
		current:   make(map[string]currentEntry),
		forecasts: make(map[forecastKey]forecastEntry),
	}, nil
}

// attempt is the upstream history of one cache key.
type attempt struct {
	okAt   time.Time // last success; zero if none
	failAt time.Time // last failure; zero if the latest request succeeded
	err    error     // the last failure
}

func (a *attempt) record(now time.Time, err error) {
	if err != nil {
		a.failAt, a.err = now, err
		return
	}
	a.okAt, a.failAt, a.err = now, time.Time{}, nil
}

type currentEntry struct {
	attempt
	value Intensity
}

type forecastKey struct {
	zone  string
	hours int
}

type forecastEntry struct {
	attempt
	values []Intensity
}

// Current returns the zone's current intensity as CachedProvider documents.
func (c *CachedProvider) Current(ctx context.Context, zone string) (Intensity, error) {
	c.mu.Lock()
	due := c.due(c.current[zone].attempt, c.opts.Clock.Now())
	c.mu.Unlock()
	// Only a refresh needs the context: a caller whose deadline another
	// zone's slow refresh used up still gets the zones cached, and one that
	// cannot wait for a refresh gets the value it would replace (late).
	late := false
	if due {
		err := ctx.Err()
		if err == nil {
			err = c.refresh(ctx, "current\x00"+zone, func(ctx context.Context) {
				v, err := c.inner.Current(ctx, zone)
				c.metrics.requests.WithLabelValues(c.opts.Name, zone, resultLabel(err)).Inc()
				c.mu.Lock()
				defer c.mu.Unlock()
				e := c.current[zone]
				e.record(c.opts.Clock.Now(), err)
				if err == nil {
					e.value = v
					c.known[zone] = true
				}
				c.current[zone] = e
			})
		}
		if err != nil {
			c.mu.Lock()
			held := !c.current[zone].okAt.IsZero()
			c.mu.Unlock()
			if !held {
				return Intensity{}, fmt.Errorf("carbon intensity for zone %q: %w", zone, err)
			}
			late = true
		}
	}

	now := c.opts.Clock.Now()
	c.mu.Lock()
	e, known := c.current[zone], c.known[zone]
	c.mu.Unlock()
	f, err := c.policy(e.attempt, known, now)
	if err != nil {
		return Intensity{}, err
	}
	if late {
		f = c.lateFreshness(e.attempt, now, f)
	}
	f = max(f, byAge(e.value.At, now, c.opts.MaxStale))
	v := e.value
	if f == Neutral {
		v = Intensity{Zone: zone, At: now.UTC().Truncate(resolution), GramsPerKWh: c.opts.Neutral}
	}
	// The inner provider may itself serve fallbacks; keep the worse label.
	v.Freshness = max(v.Freshness, f)

	c.metrics.state.WithLabelValues(c.opts.Name, zone).Set(float64(v.Freshness))
	c.metrics.intensity.WithLabelValues(c.opts.Name, zone).Set(v.GramsPerKWh)
	c.countFallback(zone, v.Freshness)
	return v, nil
}

// maxFreshAge is how old the hour a current value is for may be and the
// value still be the current one: the hour before now's (an upstream
// publishes an hour once it has ended, or late into the next).
const maxFreshAge = 2 * resolution

// byAge judges a current value by the hour it is for (at), whenever it was
// fetched: an upstream whose feed for the zone lags answers "latest" with
// an hour long past, which is not the current one. Past maxStale (beyond
// the age a current value may have), or for no hour at all, it is Neutral.
func byAge(at, now time.Time, maxStale time.Duration) Freshness {
	switch age := now.Sub(at); {
	case at.IsZero() || age > maxStale+maxFreshAge:
		return Neutral
	case age > maxFreshAge:
		return Stale
	}
	return Fresh
}

// Forecast returns the zone's forecast as CachedProvider documents. Each
// number of hours, ceil(horizon/1h), is cached on its own.
func (c *CachedProvider) Forecast(ctx context.Context, zone string, horizon time.Duration) ([]Intensity, error) {
	n, err := slots(horizon)
	if err != nil {
		return nil, fmt.Errorf("carbon forecast for zone %q: %w", zone, err)
	}
	key := forecastKey{zone: zone, hours: n}
	c.mu.Lock()
	due := c.due(c.forecasts[key].attempt, c.opts.Clock.Now())
	c.mu.Unlock()
	late := false
	if due {
		err := ctx.Err()
		if err == nil {
			err = c.refresh(ctx, "forecast\x00"+zone+"\x00"+strconv.Itoa(n), func(ctx context.Context) {
				vs, err := c.inner.Forecast(ctx, zone, horizon)
				c.metrics.requests.WithLabelValues(c.opts.Name, zone, resultLabel(err)).Inc()
				c.mu.Lock()
				defer c.mu.Unlock()
				e := c.forecasts[key]
				e.record(c.opts.Clock.Now(), err)
				if err == nil {
					e.values = vs
					c.known[zone] = true
				}
				c.forecasts[key] = e
			})
		}
		if err != nil {
			c.mu.Lock()
			held := !c.forecasts[key].okAt.IsZero()
			c.mu.Unlock()
			if !held {
				return nil, fmt.Errorf("carbon forecast for zone %q: %w", zone, err)
			}
			late = true
		}
	}

	now := c.opts.Clock.Now()
	c.mu.Lock()
	e, known := c.forecasts[key], c.known[zone]
	c.mu.Unlock()
	f, err := c.policy(e.attempt, known, now)
	if err != nil {
		return nil, err
	}
	if late {
		f = c.lateFreshness(e.attempt, now, f)
	}
	var out []Intensity
	if f != Neutral {
		out = within(e.values, now, n) // a copy, so setting Freshness below is safe
	}
	if len(out) == 0 {
		f = Neutral
		start := now.UTC().Truncate(resolution)
		out = make([]Intensity, n)
		for i := range out {
			out[i] = Intensity{Zone: zone, At: start.Add(time.Duration(i) * resolution), GramsPerKWh: c.opts.Neutral}
		}
	}
	worst := f
	for i := range out {
		out[i].Freshness = max(out[i].Freshness, f)
		worst = max(worst, out[i].Freshness)
	}
	c.countFallback(zone, worst)
	return out, nil
}

// due reports whether a key's upstream should be asked again at now.
func (c *CachedProvider) due(a attempt, now time.Time) bool {
	if !a.failAt.IsZero() {
		return now.Sub(a.failAt) >= c.opts.RetryInterval
	}
	return a.okAt.IsZero() || now.Sub(a.okAt) >= c.opts.TTL
}

// policy decides what a key whose upstream was just consulted (or need not
// be) serves at now: the cached answer if the latest request succeeded,
// else a stale or neutral fallback. known says whether the zone ever had an
// answer.
func (c *CachedProvider) policy(a attempt, known bool, now time.Time) (Freshness, error) {
	switch {
	case a.failAt.IsZero():
		return Fresh, nil
	case !known && errors.Is(a.err, ErrUnknownZone):
		return 0, a.err
	case !a.okAt.IsZero() && now.Sub(a.okAt) <= c.opts.MaxStale:
		return Stale, nil
	}
	return Neutral, nil
}

// lateFreshness is the freshness of an entry due for a refresh that the
// caller could not wait for (its deadline came first; the refresh goes on
// for the next caller): its last good value, Stale within MaxStale of when
// it was fetched, as if the refresh had failed, and Neutral after.
func (c *CachedProvider) lateFreshness(a attempt, now time.Time, f Freshness) Freshness {
	if now.Sub(a.okAt) <= c.opts.MaxStale {
		return max(f, Stale)
	}
	return Neutral
}

// refresh runs fetch once for all concurrent callers of key and waits for it
// or for ctx. fetch runs detached from ctx's cancellation so that one caller
// giving up does not fail the others sharing the request.
func (c *CachedProvider) refresh(ctx context.Context, key string, fetch func(context.Context)) error {
	ch := c.flights.DoChan(key, func() (any, error) {
		fetch(context.WithoutCancel(ctx))
		return nil, nil
	})
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *CachedProvider) countFallback(zone string, f Freshness) {
	if f != Fresh {
		c.metrics.fallbacks.WithLabelValues(c.opts.Name, zone, f.String()).Inc()
	}
}
