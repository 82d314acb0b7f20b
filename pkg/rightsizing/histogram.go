package rightsizing

import (
	"math"
	"time"
)

// expBuckets is an exponential bucketing scheme, as VPA's
// NewExponentialHistogramOptions: bucket 0 is [0, first), bucket i has width
// first·ratio^i, so bucket i ≥ 1 starts at first·(ratio^i − 1)/(ratio − 1).
// With ratio 1.05 a bucket's width tends to 5% of its start (it is 6% at 100
// first-bucket sizes), which bounds the relative error of a percentile.
type expBuckets struct {
	first, ratio float64
	n            int
}

// newExpBuckets covers [0, maxValue]: the last bucket starts at or above
// maxValue and takes everything larger.
func newExpBuckets(maxValue, first, ratio float64) expBuckets {
	n := int(math.Ceil(math.Log(maxValue*(ratio-1)/first+1)/math.Log(ratio))) + 1
	return expBuckets{first: first, ratio: ratio, n: n}
}

// index is the bucket of v; values past the last bucket go to it.
func (b expBuckets) index(v float64) int {
	if v < b.first {
		return 0
	}
	i := int(math.Log(v*(b.ratio-1)/b.first+1) / math.Log(b.ratio))
	return min(i, b.n-1)
}

// start is where bucket i begins.
func (b expBuckets) start(i int) float64 {
	if i <= 0 {
		return 0
	}
	return b.first * (math.Pow(b.ratio, float64(i)) - 1) / (b.ratio - 1)
}

// end is where bucket i ends, the value a percentile in it reports; the
// last bucket, which has no end, reports its start.
func (b expBuckets) end(i int) float64 {
	if i >= b.n-1 {
		return b.start(b.n - 1)
	}
	return b.start(i + 1)
}

// maxDecayExponent bounds the decay factor at 2^100 before the reference
// time moves forward, so weights never overflow a float64.
const maxDecayExponent = 100

// histogram is a weighted histogram whose samples lose half their weight
// every halfLife, the way VPA's decayingHistogram works: a sample at t weighs
// w·2^((t−ref)/halfLife). Only relative weights matter for a percentile, so
// instead of shrinking old samples the new ones grow, and ref moves forward
// (rescaling everything) when the exponent gets large.
type histogram struct {
	b        expBuckets
	halfLife time.Duration
	// epsilon is the weight below which a bucket counts as empty.
	epsilon float64

	weight   []float64
	total    float64
	lo, hi   int // first and last non-empty bucket; lo > hi when empty
	ref      time.Time
	refIsSet bool
}

func newHistogram(b expBuckets, halfLife time.Duration, epsilon float64) *histogram {
	return &histogram{b: b, halfLife: halfLife, epsilon: epsilon, weight: make([]float64, b.n), lo: b.n - 1, hi: 0}
}

// add records value with weight at t.
func (h *histogram) add(value, weight float64, t time.Time) {
	i := h.b.index(value)
	w := weight * h.decay(t)
	h.weight[i] += w
	h.total += w
	if h.weight[i] >= h.epsilon {
		h.lo, h.hi = min(h.lo, i), max(h.hi, i)
	}
}

// subtract removes what add(value, weight, t) recorded; a bucket never goes
// below zero.
func (h *histogram) subtract(value, weight float64, t time.Time) {
	i := h.b.index(value)
	w := weight * h.decay(t)
	if w > h.weight[i]-h.epsilon {
		w = h.weight[i]
	}
	h.weight[i] -= w
	h.total -= w
	h.shrinkRange()
}

// empty is true when no bucket holds epsilon.
func (h *histogram) empty() bool {
	return h.lo > h.hi || h.weight[h.lo] < h.epsilon
}

// percentile returns the end of the bucket in which the cumulative weight
// reaches p of the total (so the answer errs high, by at most one bucket),
// and 0 for an empty histogram.
func (h *histogram) percentile(p float64) float64 {
	if h.empty() {
		return 0
	}
	threshold := p * h.total
	sum := 0.0
	i := h.lo
	for ; i < h.hi; i++ {
		sum += h.weight[i]
		if sum >= threshold {
			break
		}
	}
	return h.b.end(i)
}

// decay is the factor of a sample at t, moving ref forward first when t is
// more than maxDecayExponent half-lives past it.
func (h *histogram) decay(t time.Time) float64 {
	if !h.refIsSet {
		h.ref, h.refIsSet = t.Round(h.halfLife), true
	}
	if t.After(h.ref.Add(h.halfLife * maxDecayExponent)) {
		h.shiftRef(t)
	}
	return math.Exp2(float64(t.Sub(h.ref)) / float64(h.halfLife))
}

// shiftRef moves ref to t (rounded to a whole number of half-lives, so the
// rescaling is an exact power of two) and rescales the weights to match.
func (h *histogram) shiftRef(t time.Time) {
	t = t.Round(h.halfLife)
	exp := math.Round(float64(h.ref.Sub(t)) / float64(h.halfLife))
	f := math.Ldexp(1, int(exp))
	for i := range h.weight {
		h.weight[i] *= f
	}
	h.total *= f
	h.ref = t
	h.shrinkRange()
}

// shrinkRange moves lo and hi inward past buckets that fell below epsilon.
func (h *histogram) shrinkRange() {
	for h.lo < h.b.n-1 && h.weight[h.lo] < h.epsilon {
		h.lo++
	}
	for h.hi > 0 && h.weight[h.hi] < h.epsilon {
		h.hi--
	}
}
