package rightsizing

import (
	"math"
	"testing"
	"time"
)

// feed adds n samples every step from start, with usage from f.
func feed(r Recommender, start time.Time, step time.Duration, n int, f func(i int) (cores, bytes float64)) time.Time {
	t := start
	for i := range n {
		c, b := f(i)
		t = start.Add(time.Duration(i) * step)
		r.Add(Sample{Time: t, CPUCores: c, MemoryBytes: b})
	}
	return t
}

func steady(cores, bytes float64) func(int) (float64, float64) {
	return func(int) (float64, float64) { return cores, bytes }
}

func mustEstimate(t *testing.T, r Recommender, now time.Time, lim Limits) Estimate {
	t.Helper()
	e, ok := r.Estimate(now, lim)
	if !ok {
		t.Fatalf("%s: no estimate at %s", r.Name(), now)
	}
	return e
}

func TestVPANoSamples(t *testing.T) {
	if _, ok := NewVPA().Estimate(t0, Limits{}); ok {
		t.Error("estimate without samples")
	}
}

// TestVPATarget: p90 of CPU samples and of daily memory peaks, plus 15%,
// each at most one bucket high, then rounded up.
func TestVPATarget(t *testing.T) {
	r := NewVPA()
	last := feed(r, t0, 5*time.Minute, 2*288, steady(3.2, 3*gib))
	e := mustEstimate(t, r, last, Limits{})
	if lo, hi := 3.2*1.15, 3.2*bucketSlack*1.15; e.CPUCores < lo || e.CPUCores > hi {
		t.Errorf("CPU target %g cores, want in [%g, %g]", e.CPUCores, lo, hi)
	}
	if lo, hi := 3.0*1.15*gib, 3.0*bucketSlack*1.15*gib; e.MemoryBytes < lo || e.MemoryBytes > hi {
		t.Errorf("memory target %g GiB, want in [%g, %g]", e.MemoryBytes/gib, lo/gib, hi/gib)
	}
	// 3.2·1.15 = 3.68 to 3.9 → 4 vCPUs; 3.45 to 3.7 GiB → 3.5 to 3.75 GiB.
	if e.Target.CPUs != 4 || e.Target.MemoryBytes < 3.5*gib || e.Target.MemoryBytes > 3.75*gib || e.Target.MemoryBytes%MemoryStep != 0 {
		t.Errorf("target %s, want 4 vCPU and 3.5-3.75Gi in whole steps", e.Target)
	}
	if e.Samples != 2*288 || !e.First.Equal(t0) || !e.Last.Equal(last) {
		t.Errorf("evidence: %d samples from %s to %s", e.Samples, e.First, e.Last)
	}
}

// TestVPAMemoryPeaks: memory is the distribution of one peak per day, not
// of samples: a single high sample sets the day's peak.
func TestVPAMemoryPeaks(t *testing.T) {
	r := NewVPA()
	last := feed(r, t0, 5*time.Minute, 288, func(i int) (float64, float64) {
		if i == 100 {
			return 1, 6 * gib
		}
		return 1, 1 * gib
	})
	e := mustEstimate(t, r, last, Limits{})
	if e.MemoryBytes < 6*1.15*gib {
		t.Errorf("memory target %.2f GiB, want at least the day's 6 GiB peak plus 15%%", e.MemoryBytes/gib)
	}
	// The peak replaced the day's earlier, lower peak: one peak in all.
	v := r.(*vpa)
	if w := v.mem.total / v.mem.decay(v.windowEnd); math.Abs(w-1) > 1e-9 {
		t.Errorf("memory histogram holds weight %g at the day's end, want 1 (one peak)", w)
	}
}

// TestVPAIgnoresUnmeasuredMemory: a zero memory sample is a gap, not a
// peak of zero.
func TestVPAIgnoresUnmeasuredMemory(t *testing.T) {
	r := NewVPA()
	last := feed(r, t0, 5*time.Minute, 288, func(i int) (float64, float64) {
		if i < 10 {
			return 1, 0
		}
		return 1, 2 * gib
	})
	if e := mustEstimate(t, r, last, Limits{}); e.MemoryBytes < 2*1.15*gib {
		t.Errorf("memory target %.2f GiB, want the 2 GiB peak plus 15%%", e.MemoryBytes/gib)
	}
}

func TestVPAMinimums(t *testing.T) {
	r := NewVPA()
	last := feed(r, t0, time.Minute, 100, steady(0.001, 1e6))
	e := mustEstimate(t, r, last, Limits{})
	if e.CPUCores != 0.025 || e.MemoryBytes != 250<<20 {
		t.Errorf("unrounded target %g cores, %g bytes; want VPA's minimums 0.025 and 250Mi", e.CPUCores, e.MemoryBytes)
	}
	if e.Target != (Resources{CPUs: 1, MemoryBytes: 256 << 20}) {
		t.Errorf("target %s, want 1 vCPU, 256Mi", e.Target)
	}
}

// TestVPABoundsConfidence: with little history the bounds are wide (upper
// ×(1+1/c), lower ×(1+0.001/c)^-2) and they narrow as history grows; c
// counts samples at VPA's one a minute.
func TestVPABoundsConfidence(t *testing.T) {
	const cores = 10
	young, old := NewVPA(), NewVPA()
	lastYoung := feed(young, t0, 5*time.Minute, 13, steady(cores, 8*gib))  // 1 h
	lastOld := feed(old, t0, 5*time.Minute, 8*288+1, steady(cores, 8*gib)) // 8 days
	ey, eo := mustEstimate(t, young, lastYoung, Limits{}), mustEstimate(t, old, lastOld, Limits{})
	if ey.Upper.CPUs <= eo.Upper.CPUs || ey.Upper.MemoryBytes <= eo.Upper.MemoryBytes {
		t.Errorf("upper bound: 1 h of history %s, 8 days %s; want it wider with less history", ey.Upper, eo.Upper)
	}
	if ey.Lower.CPUs >= eo.Lower.CPUs || ey.Lower.MemoryBytes >= eo.Lower.MemoryBytes {
		t.Errorf("lower bound: 1 h of history %s, 8 days %s; want it lower with less history", ey.Lower, eo.Lower)
	}
	// 8 days of 5-minute samples: c = min(8 days, 2305/1440) = 1.6, so the
	// upper bound is p95·1.15·1.625 and the lower p50·1.15·(1+0.001/1.6)^-2.
	c := float64(8*288+1) / vpaSamplesPerDay
	b := newExpBuckets(vpaCPUMax, vpaCPUFirstBucket, 1+vpaBucketGrowth)
	p := b.end(b.index(cores))
	if want := int32(math.Ceil(p * 1.15 * (1 + 1/c))); eo.Upper.CPUs != want {
		t.Errorf("upper bound %d vCPU, want %d", eo.Upper.CPUs, want)
	}
	if want := int32(math.Ceil(p * 1.15 * math.Pow(1+0.001/c, -2))); eo.Lower.CPUs != want {
		t.Errorf("lower bound %d vCPU, want %d", eo.Lower.CPUs, want)
	}
	if want := c / 8; math.Abs(eo.Confidence-want) > 1e-9 {
		t.Errorf("confidence %g, want %g (history in days / 8)", eo.Confidence, want)
	}
	// Lower ≤ target ≤ upper.
	for _, e := range []Estimate{ey, eo} {
		if e.Lower.CPUs > e.Target.CPUs || e.Target.CPUs > e.Upper.CPUs {
			t.Errorf("bounds out of order: %s ≤ %s ≤ %s", e.Lower, e.Target, e.Upper)
		}
	}
}

// TestVPAWeightsByRequest: CPU samples weigh max(request, 0.1).
func TestVPAWeightsByRequest(t *testing.T) {
	run := func(observe bool) Estimate {
		r := NewVPA()
		o := r.(AllocationObserver)
		if observe {
			o.ObserveAllocation(Resources{CPUs: 19})
		}
		feed(r, t0, time.Second, 10, steady(0.5, gib))
		if observe {
			o.ObserveAllocation(Resources{CPUs: 1})
		}
		last := feed(r, t0.Add(10*time.Second), time.Second, 10, steady(3, gib))
		return mustEstimate(t, r, last, Limits{})
	}
	// Weighted 190:10 the p90 is 0.5 cores; unweighted (10:10) it is 3.
	if e := run(true); e.CPUCores > 0.5*1.05*1.15 {
		t.Errorf("weighted by request: target %g cores, want about 0.58", e.CPUCores)
	}
	if e := run(false); e.CPUCores < 3*1.15 {
		t.Errorf("equal weights: target %g cores, want about 3.5", e.CPUCores)
	}
}

// TestVPAForgetsIdleAggregation: VPA garbage-collects an aggregation with
// no sample for 8 days.
func TestVPAForgetsIdleAggregation(t *testing.T) {
	r := NewVPA()
	feed(r, t0, 5*time.Minute, 288, steady(6, 6*gib))
	later := t0.Add(10 * 24 * time.Hour)
	if _, ok := r.Estimate(later, Limits{}); ok {
		t.Error("estimate 9 days after the last sample")
	}
	last := feed(r, later, 5*time.Minute, 12, steady(1, gib))
	e := mustEstimate(t, r, last, Limits{})
	if e.Samples != 12 || e.Target.CPUs != 2 {
		t.Errorf("after the gap: %d samples, target %s; want 12 and the new 1-core usage (2 vCPU with margin and bucket)", e.Samples, e.Target)
	}
}

func TestVPAClampsToLimits(t *testing.T) {
	r := NewVPA()
	last := feed(r, t0, 5*time.Minute, 288, steady(12, 40*gib))
	lim := Limits{Min: Resources{CPUs: 2, MemoryBytes: 2 * gib}, Max: Resources{CPUs: 8, MemoryBytes: 32 * gib}}
	e := mustEstimate(t, r, last, lim)
	for _, got := range []Resources{e.Target, e.Lower, e.Upper} {
		if got != (Resources{CPUs: 8, MemoryBytes: 32 * gib}) {
			t.Errorf("clamped estimate %s, want 8 vCPU, 32Gi", got)
		}
	}
	if e.CPUCores < 12 || e.MemoryBytes < 40*gib {
		t.Errorf("unclamped target %g cores, %g GiB: want above the limits", e.CPUCores, e.MemoryBytes/gib)
	}
}

func TestVPAIgnoresOldSamples(t *testing.T) {
	r := NewVPA()
	r.Add(Sample{Time: t0.Add(time.Minute), CPUCores: 1, MemoryBytes: gib})
	r.Add(Sample{Time: t0.Add(time.Minute), CPUCores: 50, MemoryBytes: gib})
	r.Add(Sample{Time: t0, CPUCores: 50, MemoryBytes: gib})
	if e := mustEstimate(t, r, t0.Add(time.Minute), Limits{}); e.Samples != 1 || e.Target.CPUs != 2 {
		t.Errorf("%d samples, target %s; want the repeated and older samples ignored", e.Samples, e.Target)
	}
}
