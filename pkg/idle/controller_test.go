package idle

import (
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/pkg/autoscaler"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

func TestPeakCPUPercent(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	sample := func(after time.Duration, cores float64) autoscaler.Sample {
		return autoscaler.Sample{Sample: rightsizing.Sample{Time: start.Add(after), CPUCores: cores},
			Allocation: rightsizing.Resources{CPUs: 4}}
	}
	for _, tc := range []struct {
		name    string
		samples []autoscaler.Sample
		peak    float64
		ok      bool
	}{
		{"covered", []autoscaler.Sample{sample(time.Minute, 0.04), sample(30*time.Minute, 0.2), sample(59*time.Minute, 0.08)}, 5, true},
		{"recorded only for the last half hour", []autoscaler.Sample{sample(30*time.Minute, 0.04)}, 0, false},
		{"no samples", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peak, ok := peakCPUPercent(tc.samples, start, 6*time.Minute)
			if ok != tc.ok || peak != tc.peak {
				t.Errorf("peak %g %v, want %g %v", peak, ok, tc.peak, tc.ok)
			}
		})
	}
}
