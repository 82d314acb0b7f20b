package backup

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	verifications *prometheus.CounterVec
}

// newMetrics makes the scheduler's metrics and registers them with reg
// when it is not nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hypersdk_backup_verifications_total",
		Help: "Backup verifications done (a snapshot restored into a scratch VM whose console was checked), by schedule and result.",
	}, []string{"namespace", "schedule", "result"})}
	if reg != nil {
		if err := reg.Register(m.verifications); err != nil {
			return nil, err
		}
	}
	return m, nil
}
