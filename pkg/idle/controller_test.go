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
	var covered []autoscaler.Sample // every five minutes, one at 5%
	for m := 1; m < 60; m += 5 {
		covered = append(covered, sample(time.Duration(m)*time.Minute, map[bool]float64{true: 0.2, false: 0.04}[m == 31]))
	}
	for _, tc := range []struct {
		name    string
		samples []autoscaler.Sample
		peak    float64
		ok      bool
	}{
		{"covered", covered, 5, true},
		{"recorded only for the last half hour", []autoscaler.Sample{sample(30*time.Minute, 0.04)}, 0, false},
		{"no samples", nil, 0, false},
		// Idle at first, then nothing recorded: the VM may have been busy.
		{"recorded only for the first ten minutes", []autoscaler.Sample{sample(time.Minute, 0.04), sample(10*time.Minute, 0.04)}, 0, false},
		{"a hole in the middle", []autoscaler.Sample{sample(time.Minute, 0.04), sample(10*time.Minute, 0.04), sample(50*time.Minute, 0.04), sample(59*time.Minute, 0.04)}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peak, ok := peakCPUPercent(tc.samples, start, start.Add(time.Hour), 6*time.Minute)
			if ok != tc.ok || peak != tc.peak {
				t.Errorf("peak %g %v, want %g %v", peak, ok, tc.peak, tc.ok)
			}
		})
	}
}
