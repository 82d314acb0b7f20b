package rightsizing

import (
	"math"
	"time"
)

// The Kubernetes Vertical Pod Autoscaler recommender's defaults
// (kubernetes/autoscaler, vertical-pod-autoscaler/pkg/recommender: model/
// aggregations_config.go, logic/recommender.go, logic/estimator.go).
const (
	vpaHalfLife = 24 * time.Hour
	// vpaBucketGrowth: each histogram bucket is 5% wider than the one before.
	vpaBucketGrowth = 0.05
	// vpaCPUFirstBucket and vpaCPUMax (cores), vpaMemoryFirstBucket and
	// vpaMemoryMax (bytes) span the histograms. VPA 1.x starts CPU at 0.001
	// cores; 0.01 is the original value and the same once sizes are whole
	// vCPUs.
	vpaCPUFirstBucket    = 0.01
	vpaCPUMax            = 1000.0
	vpaMemoryFirstBucket = 1e7
	vpaMemoryMax         = 1e12
	// vpaMinSampleWeight is the least weight of a CPU sample; vpaEpsilon the
	// weight under which a bucket is empty.
	vpaMinSampleWeight = 0.1
	vpaEpsilon         = 0.001 * vpaMinSampleWeight
	// One memory peak per vpaMemoryInterval; an aggregation without samples
	// for vpaMemoryWindow is garbage-collected.
	vpaMemoryInterval = 24 * time.Hour
	vpaMemoryWindow   = 8 * vpaMemoryInterval

	vpaSafetyMargin     = 0.15
	vpaTargetPercentile = 0.9
	vpaLowerPercentile  = 0.5
	vpaUpperPercentile  = 0.95
	// Confidence multipliers: upper·(1 + 1/c)^1, lower·(1 + 0.001/c)^−2,
	// with c the history in days (see confidence).
	vpaUpperMultiplier, vpaUpperExponent = 1.0, 1.0
	vpaLowerMultiplier, vpaLowerExponent = 0.001, -2.0
	// vpaSamplesPerDay is VPA's sampling rate, one per minute: the sample
	// count is divided by it to measure history in days.
	vpaSamplesPerDay = 24 * 60

	vpaMinCPUMillicores = 25
	vpaMinMemoryBytes   = 250 * 1024 * 1024
)

// AllocationObserver is implemented by a Recommender whose estimate depends
// on the allocation in force when each sample was taken. Callers tell it the
// VM's allocation before the first sample and after every change.
type AllocationObserver interface {
	ObserveAllocation(current Resources)
}

// vpa is a port of VPA's recommender for one container, here one VM: an
// AggregateContainerState (decaying CPU-usage and memory-peak histograms),
// a ContainerState's memory-peak windows, and the estimators of
// CreatePodResourceRecommender. Amounts are truncated to whole millicores
// and bytes at each step, as VPA's ResourceAmount is an integer.
//
// Two points of VPA that a reader might expect otherwise:
//
//   - The 8-day "memory aggregation window" is not a sliding window over the
//     peaks. Peaks stay in the histogram, losing half their weight a day
//     (a peak 8 days old weighs 1/256 of today's); the window only bounds
//     the history VPA loads at start and garbage-collects an aggregation
//     that has had no sample for 8 days. This port does the same.
//   - Confidence counts samples at VPA's one per minute. Fed the traces'
//     5-minute samples it grows five times slower than the history's
//     length, which keeps the upper bound wider for longer (1 + 5/days
//     instead of 1 + 1/days): that is what VPA would do with such samples.
//
// A Sample whose MemoryBytes is zero, negative or NaN carries no memory
// measurement (a running guest always uses some memory; zeros in real
// traces are monitoring gaps). VPA itself accepts a zero, and a zero as the
// first sample of a day freezes that day's peak at zero, so feeding it gaps
// would corrupt the memory recommendation.
type vpa struct {
	cpu, mem *histogram
	// requestCores weighs CPU samples (ObserveAllocation).
	requestCores float64

	// CPU sample bookkeeping (VPA bases first, last and count on CPU only).
	first, last time.Time
	count       int

	// Memory peak of the current interval, which ends (exclusive) at
	// windowEnd; the peak is in the histogram at windowEnd's weight.
	windowEnd time.Time
	peak      float64
	// latest is the newest sample taken, of either resource.
	latest time.Time
}

// NewVPA returns the VPA baseline (Name "vpa"). It implements
// AllocationObserver: VPA weighs each CPU sample by the container's CPU
// request, max(request, 0.1 core), so that history taken under a smaller
// request counts for less after an increase. Without ObserveAllocation all
// samples weigh the same.
func NewVPA() Recommender {
	cpu := newExpBuckets(vpaCPUMax, vpaCPUFirstBucket, 1+vpaBucketGrowth)
	mem := newExpBuckets(vpaMemoryMax, vpaMemoryFirstBucket, 1+vpaBucketGrowth)
	return &vpa{
		cpu: newHistogram(cpu, vpaHalfLife, vpaEpsilon),
		mem: newHistogram(mem, vpaHalfLife, vpaEpsilon),
	}
}

func (v *vpa) Name() string { return "vpa" }

// Method says how the target is computed, for the recommendation's evidence.
func (v *vpa) Method() string {
	return "the Vertical Pod Autoscaler's: CPU p90 of usage samples, memory p90 of daily peaks, in histograms decaying " +
		"with a 24h half-life, +15% margin; bounds p50 and p95 widened by low confidence"
}

// ObserveAllocation sets the CPU request later samples are weighted by.
func (v *vpa) ObserveAllocation(current Resources) {
	v.requestCores = float64(current.CPUs)
}

// Add aggregates s as VPA's ContainerState.AddSample does for a CPU and a
// memory sample taken at the same time.
func (v *vpa) Add(s Sample) {
	if !v.latest.IsZero() && !s.Time.After(v.latest) {
		return
	}
	if !v.latest.IsZero() && s.Time.Sub(v.latest) >= vpaMemoryWindow {
		// VPA garbage-collects an aggregation idle for the window.
		*v = vpa{cpu: newHistogram(v.cpu.b, vpaHalfLife, vpaEpsilon), mem: newHistogram(v.mem.b, vpaHalfLife, vpaEpsilon), requestCores: v.requestCores}
	}
	v.latest = s.Time
	if s.CPUCores >= 0 {
		v.cpu.add(s.CPUCores, max(v.requestCores, vpaMinSampleWeight), s.Time)
		if v.first.IsZero() {
			v.first = s.Time
		}
		v.last = s.Time
		v.count++
	}
	if s.MemoryBytes > 0 {
		v.addMemory(s.MemoryBytes, s.Time)
	}
}

// addMemory keeps one peak per interval in the histogram: a higher sample
// in the same interval replaces the interval's peak; the first sample past
// it opens the interval it falls in.
func (v *vpa) addMemory(bytes float64, t time.Time) {
	if v.windowEnd.IsZero() {
		v.windowEnd = t
	}
	if t.Before(v.windowEnd) {
		if bytes <= v.peak {
			return
		}
		v.mem.subtract(v.peak, 1, v.windowEnd)
	} else {
		v.windowEnd = v.windowEnd.Add(t.Sub(v.windowEnd).Truncate(vpaMemoryInterval) + vpaMemoryInterval)
	}
	v.mem.add(bytes, 1, v.windowEnd)
	v.peak = bytes
}

// confidence is VPA's getConfidence: the history in days, counted both as
// the time between the first and last CPU samples and as samples at one a
// minute, whichever is less.
func (v *vpa) confidence() float64 {
	lifespan := v.last.Sub(v.first).Hours() / 24
	return min(lifespan, float64(v.count)/vpaSamplesPerDay)
}

// Estimate is VPA's target, lower and upper bound, rounded to whole vCPUs and
// MemoryStep and clamped to lim. Confidence maps VPA's history-in-days c to
// min(c/8, 1): full once the evidence equals VPA's 8-day memory window.
func (v *vpa) Estimate(now time.Time, lim Limits) (Estimate, bool) {
	if v.count == 0 || now.Sub(v.latest) >= vpaMemoryWindow {
		return Estimate{}, false
	}
	c := v.confidence()
	upper := math.Pow(1+vpaUpperMultiplier/c, vpaUpperExponent)
	lower := math.Pow(1+vpaLowerMultiplier/c, vpaLowerExponent)

	cpu := func(p, mult float64) float64 {
		m := withMargin(amount(v.cpu.percentile(p) * 1000))
		return max(amount(m*mult), vpaMinCPUMillicores) / 1000
	}
	mem := func(p, mult float64) float64 {
		m := withMargin(amount(v.mem.percentile(p)))
		return max(amount(m*mult), vpaMinMemoryBytes)
	}
	e := Estimate{
		CPUCores:    cpu(vpaTargetPercentile, 1),
		MemoryBytes: mem(vpaTargetPercentile, 1),
		Samples:     v.count,
		First:       v.first,
		Last:        v.last,
		Confidence:  min(c/8, 1),
	}
	e.Target = lim.clamp(roundUp(e.CPUCores, e.MemoryBytes))
	e.Lower = lim.clamp(roundUp(cpu(vpaLowerPercentile, lower), mem(vpaLowerPercentile, lower)))
	e.Upper = lim.clamp(roundUp(cpu(vpaUpperPercentile, upper), mem(vpaUpperPercentile, upper)))
	return e, true
}

// withMargin adds VPA's safety margin to an amount.
func withMargin(a float64) float64 {
	return a + amount(a*vpaSafetyMargin)
}

// amount truncates to a whole millicore or byte within [0, 1e14] as VPA's
// resourceAmountFromFloat does; NaN (0·∞ from a zero usage with no
// history) is 0.
func amount(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < 0:
		return 0
	case x > 1e14:
		return 1e14
	}
	return math.Trunc(x)
}
