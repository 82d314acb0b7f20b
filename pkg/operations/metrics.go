package operations

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"

	"github.com/hypersdk/hypersdk/pkg/promutil"
)

// metrics count finished operations and how long they took, by type, and
// show the migration slots in use.
type metrics struct {
	finishedTotal *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	migrations    prometheus.GaugeFunc
}

func newMetrics(migrationsInFlight func() int) *metrics {
	return &metrics{
		migrations: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hypersdk_operation_migrations_in_flight",
			Help: "Migration slots the executor has granted and not yet taken back (limit --max-migrations).",
		}, func() float64 { return float64(migrationsInFlight()) }),
		finishedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hypersdk_operations_total",
			Help: "VMOperations finished, by type and final phase.",
		}, []string{"type", "phase"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hypersdk_operation_duration_seconds",
			Help:    "Time from creation to completion of VMOperations, by type and final phase.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 14),
		}, []string{"type", "phase"}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if err := promutil.Register(reg, m.finishedTotal, m.duration, m.migrations); err != nil {
		return fmt.Errorf("operation executor: %w", err)
	}
	return nil
}

// finished records an operation that just reached phase at now.
func (m *metrics) finished(op *v1alpha1.VMOperation, phase v1alpha1.VMOperationPhase, now time.Time) {
	labels := []string{string(op.Spec.Type), string(phase)}
	m.finishedTotal.WithLabelValues(labels...).Inc()
	m.duration.WithLabelValues(labels...).Observe(max(now.Sub(op.CreationTimestamp.Time), 0).Seconds())
}
