package extender

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hypersdk/hypersdk/pkg/promutil"
)

// metrics of the extender's verbs and inputs.
type metrics struct {
	latency       *prometheus.HistogramVec
	requests      *prometheus.CounterVec
	filtered      prometheus.Counter
	carbonUnknown *prometheus.CounterVec
	usageUpdated  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hypersdk_extender_request_duration_seconds",
			Help: "Time to answer one scheduler extender call, by verb.",
			// From 50µs to ~3s: a filter over thousands of nodes must stay in
			// the low milliseconds for the scheduler to keep its pace.
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 17),
		}, []string{"verb"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hypersdk_extender_requests_total",
			Help: "Scheduler extender calls, by verb and result.",
		}, []string{"verb", "result"}),
		filtered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hypersdk_extender_filtered_nodes_total",
			Help: "Nodes ruled out by the extender's filter.",
		}),
		carbonUnknown: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hypersdk_extender_carbon_unknown_total",
			Help: "Requests that scored a zone without a carbon intensity.",
		}, []string{"zone"}),
		usageUpdated: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hypersdk_extender_usage_updated_timestamp_seconds",
			Help: "When node usage was last read from metrics.k8s.io; pressure scoring is as old as this.",
		}),
	}
	if err := promutil.Register(reg, m.latency, m.requests, m.filtered, m.carbonUnknown, m.usageUpdated); err != nil {
		return nil, fmt.Errorf("extender: %w", err)
	}
	return m, nil
}
