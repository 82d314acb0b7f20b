package recorder

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hypersdk/hypersdk/pkg/promutil"
)

// metrics are the recorder's own: how batches go, not what they hold.
type metrics struct {
	batches      *prometheus.CounterVec
	batchSize    prometheus.Histogram
	batchSeconds prometheus.Histogram
	storeBytes   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hypersdk_recorder_batches_total",
			Help: "History batches recorded, by result (stored, error).",
		}, []string{"result"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hypersdk_recorder_batch_vms",
			Help:    "VMs per stored history batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hypersdk_recorder_batch_duration_seconds",
			Help:    "Time to sample and store one history batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		storeBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hypersdk_history_store_bytes",
			Help: "Size of the history store on disk, when the store knows it.",
		}),
	}
	if err := promutil.Register(reg, m.batches, m.batchSize, m.batchSeconds, m.storeBytes); err != nil {
		return nil, fmt.Errorf("history recorder: %w", err)
	}
	return m, nil
}
