// Package promutil holds what HyperSDK's components share about their
// Prometheus metrics.
package promutil

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers every collector with reg, stopping at the first error
// (unlike MustRegister, it does not panic: a clash is a configuration error
// the caller reports). A nil reg registers nothing, for callers that run
// without metrics, such as unit tests.
func Register(reg prometheus.Registerer, collectors ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}
