package rightsizing

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2013, 7, 1, 0, 0, 0, 0, time.UTC)

// bucketSlack bounds how high a percentile of a value of 1 or more (cores,
// or 1e7 bytes and more) reads with VPA's buckets: the end of the value's
// bucket is at most 6.1% above its start.
const bucketSlack = 1.061

func TestExpBuckets(t *testing.T) {
	b := newExpBuckets(vpaCPUMax, vpaCPUFirstBucket, 1+vpaBucketGrowth)
	// log_1.05(1000·0.05/0.01 + 1) = 174.6, so 175 + 1 buckets.
	if b.n != 176 {
		t.Errorf("CPU buckets: %d, want 176", b.n)
	}
	if b.index(0) != 0 || b.index(0.0099) != 0 || b.index(0.01) != 1 {
		t.Errorf("first buckets: index(0)=%d index(0.0099)=%d index(0.01)=%d, want 0 0 1", b.index(0), b.index(0.0099), b.index(0.01))
	}
	if b.index(1e9) != b.n-1 {
		t.Errorf("index(1e9) = %d, want the last bucket %d", b.index(1e9), b.n-1)
	}
	for _, v := range []float64{0.01, 0.5, 1, 2.5, 8, 64, 999} {
		i := b.index(v)
		if lo, hi := b.start(i), b.end(i); v < lo || v >= hi {
			t.Errorf("%g in bucket %d = [%g, %g)", v, i, lo, hi)
		}
		// Each bucket is 5% wider than the one before; relative to its
		// start it is wider still for small buckets, tending to 5%.
		if i > 1 {
			if got := (b.end(i) - b.start(i)) / (b.end(i-1) - b.start(i-1)); math.Abs(got-1.05) > 1e-9 {
				t.Errorf("bucket %d is %g times as wide as the one before, want 1.05", i, got)
			}
		}
		if v >= 1 && b.end(i) > v*bucketSlack {
			t.Errorf("bucket of %g ends at %g, more than %.1f%% above", v, b.end(i), (bucketSlack-1)*100)
		}
	}
}

func TestHistogramPercentile(t *testing.T) {
	b := newExpBuckets(100, 0.01, 1.05)
	h := newHistogram(b, time.Hour, 1e-4)
	if got := h.percentile(0.5); got != 0 || !h.empty() {
		t.Fatalf("empty histogram: percentile %g, empty %v; want 0, true", got, h.empty())
	}
	// 1..10 once each, all at the same time (no decay).
	for v := 1; v <= 10; v++ {
		h.add(float64(v), 1, t0)
	}
	for _, tc := range []struct {
		p    float64
		want float64
	}{{0.1, 1}, {0.5, 5}, {0.9, 9}, {1, 10}} {
		got := h.percentile(tc.p)
		// The answer is the end of the value's bucket.
		if got < tc.want || got > tc.want*bucketSlack {
			t.Errorf("percentile(%g) = %g, want in [%g, %g]", tc.p, got, tc.want, tc.want*bucketSlack)
		}
	}
	h.subtract(10, 1, t0)
	if got := h.percentile(1); got > 9*bucketSlack {
		t.Errorf("after removing 10, percentile(1) = %g, want about 9", got)
	}
}

func TestHistogramDecay(t *testing.T) {
	b := newExpBuckets(100, 0.01, 1.05)
	h := newHistogram(b, 24*time.Hour, 1e-4)
	// 1 at t0 and 5 a day later: the newer weighs twice the older, so the
	// older is a third of the total.
	h.add(1, 1, t0)
	h.add(5, 1, t0.Add(24*time.Hour))
	if got := h.percentile(0.33); got > bucketSlack {
		t.Errorf("percentile(0.33) = %g, want the older sample's bucket (weight 1/3)", got)
	}
	if got := h.percentile(0.34); got < 5 {
		t.Errorf("percentile(0.34) = %g, want the newer sample's bucket", got)
	}
}

func TestHistogramRenormalizes(t *testing.T) {
	b := newExpBuckets(100, 0.01, 1.05)
	h := newHistogram(b, time.Hour, 1e-4)
	// 300 half-lives apart: 2^300 overflows nothing because the reference
	// moves forward; the old sample's weight underflows to nothing.
	h.add(1, 1, t0)
	late := t0.Add(300 * time.Hour)
	h.add(7, 1, late)
	h.add(3, 1, late.Add(time.Hour))
	if math.IsInf(h.total, 0) || math.IsNaN(h.total) {
		t.Fatalf("total weight %g", h.total)
	}
	// 7 weighs 1/3, 3 weighs 2/3 of the total.
	if got := h.percentile(0.5); got < 3 || got > 3*bucketSlack {
		t.Errorf("percentile(0.5) = %g, want about 3", got)
	}
	if got := h.percentile(0.01); got < 3 {
		t.Errorf("percentile(0.01) = %g: the sample 300 half-lives old should weigh nothing", got)
	}
}
