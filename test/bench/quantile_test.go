package bench

import (
	"math"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestQuantile: linear within a bucket, and the highest finite bound, not
// +Inf, for a rank past it, with or without the +Inf bucket scraped.
func TestQuantile(t *testing.T) {
	scraped := func(bounds []float64, cumulative []uint64) histogram {
		count := uint64(10)
		h := &dto.Histogram{SampleCount: &count}
		for i := range bounds {
			h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: &bounds[i], CumulativeCount: &cumulative[i]})
		}
		return toHistogram(h)
	}
	h := scraped([]float64{0.1, 0.2, math.Inf(1)}, []uint64{4, 6, 10})
	for _, tc := range []struct{ q, want float64 }{
		{0.2, 0.05}, // 2 of the 4 in (0, 0.1]
		{0.5, 0.15}, // 1 of the 2 in (0.1, 0.2]
		{0.99, 0.2}, // in the +Inf bucket
	} {
		if got := quantile(h, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("q %v: %v, want %v", tc.q, got, tc.want)
		}
	}
	finite := scraped([]float64{0.1, 0.2}, []uint64{4, 6})
	if got := quantile(finite, 0.99); got != 0.2 {
		t.Errorf("past the last finite bucket: %v, want 0.2", got)
	}
	if got := quantile(histogram{}, 0.5); !math.IsNaN(got) {
		t.Errorf("empty: %v, want NaN", got)
	}
}
