package carbon

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// cacheMetrics are CachedProvider's metrics. Every series carries the
// provider label (CacheOptions.Name) so several cached providers can share a
// registry, e.g. a live one and a trace one in an evaluation.
type cacheMetrics struct {
	requests  *prometheus.CounterVec
	state     *prometheus.GaugeVec
	fallbacks *prometheus.CounterVec
	intensity *prometheus.GaugeVec
}

func newCacheMetrics(reg prometheus.Registerer) (*cacheMetrics, error) {
	m := &cacheMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hypersdk_carbon_provider_requests_total",
			Help: "Requests from the carbon cache to its upstream provider, by result (ok or the class of failure).",
		}, []string{"provider", "zone", "result"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hypersdk_carbon_signal_state",
			Help: "Freshness of the last current intensity served per zone: 0 fresh, 1 stale, 2 neutral.",
		}, []string{"provider", "zone"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hypersdk_carbon_fallback_total",
			Help: "Answers (current or forecast) served from a fallback instead of fresh data, by kind (stale or neutral).",
		}, []string{"provider", "zone", "kind"}),
		intensity: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hypersdk_carbon_intensity_grams_per_kwh",
			Help: "Last current carbon intensity served per zone, fallbacks included, in gCO2eq/kWh.",
		}, []string{"provider", "zone"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = registerOrReuse(reg, m.requests); err != nil {
		return nil, err
	}
	if m.state, err = registerOrReuse(reg, m.state); err != nil {
		return nil, err
	}
	if m.fallbacks, err = registerOrReuse(reg, m.fallbacks); err != nil {
		return nil, err
	}
	if m.intensity, err = registerOrReuse(reg, m.intensity); err != nil {
		return nil, err
	}
	return m, nil
}

// registerOrReuse registers c, or returns the identical collector another
// CachedProvider already registered with reg.
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register carbon cache metrics: %w", err)
}

// resultLabel classifies an upstream outcome for the requests counter.
func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrUnknownZone):
		return "unknown_zone"
	case errors.Is(err, ErrNoData):
		return "no_data"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}
