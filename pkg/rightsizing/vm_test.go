package rightsizing

import (
	"testing"
	"time"
)

// newObservedVM returns the VM recommender told that the VM has alloc.
func newObservedVM(alloc Resources) Recommender {
	r := NewVM()
	r.(AllocationObserver).ObserveAllocation(alloc)
	return r
}

func TestVMNoSamples(t *testing.T) {
	if _, ok := NewVM().Estimate(t0, Limits{}); ok {
		t.Error("estimate without samples")
	}
}

// TestVMWholeVCPUs: the target is the peak rounded up once, with no margin
// on top: 3.9 cores is 4 vCPUs where VPA asks for 5.
func TestVMWholeVCPUs(t *testing.T) {
	vm, vpa := NewVM(), NewVPA()
	for _, r := range []Recommender{vm, vpa} {
		feed(r, t0, 5*time.Minute, 3*288, steady(3.9, 3*gib))
	}
	now := t0.Add(3 * 24 * time.Hour)
	if e := mustEstimate(t, vm, now, Limits{}); e.Target != (Resources{CPUs: 4, MemoryBytes: 3 * gib}) {
		t.Errorf("vm target %s, want 4 vCPU, 3Gi", e.Target)
	}
	if e := mustEstimate(t, vpa, now, Limits{}); e.Target.CPUs != 5 {
		t.Errorf("vpa target %s, want 5 vCPU (3.9 + 15%% = 4.5, rounded up)", e.Target)
	}
}

// TestVMCPUShrinksAfterQuietHours: CPU covers the peaks of the current
// and the last 3 hours.
func TestVMCPUShrinksAfterQuietHours(t *testing.T) {
	r := newObservedVM(Resources{CPUs: 8, MemoryBytes: 8 * gib})
	busyEnd := feed(r, t0, 5*time.Minute, 24*12, steady(6, 2*gib)) // until 23:55
	now := feed(r, busyEnd.Add(5*time.Minute), 5*time.Minute, 3*12, steady(0.2, 2*gib))
	if e := mustEstimate(t, r, now, Limits{}); e.Target.CPUs != 6 || e.Upper.CPUs != 6 {
		t.Errorf("at %s, 3 quiet hours: target %s, upper %s; want 6 vCPU", now.Format(time.TimeOnly), e.Target, e.Upper)
	}
	now = feed(r, now.Add(5*time.Minute), 5*time.Minute, 13, steady(0.2, 2*gib))
	if e := mustEstimate(t, r, now, Limits{}); e.Target.CPUs != 1 || e.Upper.CPUs != 1 {
		t.Errorf("at %s, 4 quiet hours: target %s, upper %s; want 1 vCPU", now.Format(time.TimeOnly), e.Target, e.Upper)
	}
}

// TestVMCPUHoldsForQuietHoursWithSamples: the quiet hours CPU waits for
// are hours with samples. A VM busy all week, stopped for the weekend and
// started again, is not shrunk on its first quiet minutes, and is after 4
// quiet hours.
func TestVMCPUHoldsForQuietHoursWithSamples(t *testing.T) {
	alloc := Resources{CPUs: 8, MemoryBytes: 8 * gib}
	r := newObservedVM(alloc)
	friday := feed(r, t0, 5*time.Minute, 3*288, steady(6, 2*gib))
	monday := feed(r, friday.Add(60*time.Hour), 5*time.Minute, 4, steady(0.2, 2*gib))
	if e := mustEstimate(t, r, monday, Limits{}); e.Target.CPUs != 6 || e.Upper.CPUs < 6 {
		t.Errorf("20 quiet minutes after a busy week and a weekend stopped: target %s, upper %s; want 6 vCPU held", e.Target, e.Upper)
	}
	monday = feed(r, monday.Add(5*time.Minute), 5*time.Minute, 4*12, steady(0.2, 2*gib))
	if e := mustEstimate(t, r, monday, Limits{}); e.Target.CPUs != 1 {
		t.Errorf("after 4 quiet hours: target %s, want 1 vCPU", e.Target)
	}
}

// TestVMWithoutRecentSamples: hours without samples (a VM stopped over a
// weekend) shrink nothing: the estimate is what the VM used when it last
// ran.
func TestVMWithoutRecentSamples(t *testing.T) {
	r := newObservedVM(Resources{CPUs: 8, MemoryBytes: 8 * gib})
	last := feed(r, t0, 5*time.Minute, 3*288, steady(6, 6*gib))
	for _, quiet := range []time.Duration{5 * time.Hour, 60 * time.Hour, 8 * 24 * time.Hour} {
		if e := mustEstimate(t, r, last.Add(quiet), Limits{}); e.Target != (Resources{CPUs: 6, MemoryBytes: 6 * gib}) {
			t.Errorf("%s without samples: target %s, want 6 vCPU, 6Gi as when it last ran", quiet, e.Target)
		}
	}
}

// TestVMMemoryCoversTheWeek: memory holds the largest hourly peak of the
// last 7 days.
func TestVMMemoryCoversTheWeek(t *testing.T) {
	r := NewVM()
	spikes := func(day int) func(int) (float64, float64) {
		return func(i int) (float64, float64) {
			switch day*288 + i {
			case 288: // a spike on day 1
				return 1, 12 * gib
			case 4 * 288: // a smaller one on day 4
				return 1, 6 * gib
			}
			return 1, 2 * gib
		}
	}
	last := feed(r, t0, 5*time.Minute, 7*288, spikes(0))
	if e := mustEstimate(t, r, last, Limits{}); e.Target.MemoryBytes != 12*gib {
		t.Errorf("6 days after the spike: memory target %s, want 12Gi", e.Target)
	}
	last = feed(r, last.Add(5*time.Minute), 5*time.Minute, 3*288, spikes(7))
	if e := mustEstimate(t, r, last, Limits{}); e.Target.MemoryBytes != 6*gib {
		t.Errorf("9 days after the spike: memory target %s, want 6Gi (the week's peak)", e.Target)
	}
}

// TestVMMemoryUpperWidensWithLittleHistory: upper = target·(1 + 1/days).
func TestVMMemoryUpperWidensWithLittleHistory(t *testing.T) {
	for _, tc := range []struct {
		days int
		want int64
	}{{1, 8 * gib}, {2, 6 * gib}, {7, 4.625 * gib}, {10, 4.625 * gib}} {
		r := NewVM()
		last := feed(r, t0, 5*time.Minute, tc.days*288+1, steady(1, 4*gib))
		e := mustEstimate(t, r, last, Limits{})
		if e.Upper.MemoryBytes != tc.want {
			t.Errorf("%d days: memory upper %s, want %.4gGi", tc.days, e.Upper, float64(tc.want)/gib)
		}
		if want := min(float64(tc.days)/7, 1); e.Confidence != want {
			t.Errorf("%d days: confidence %g, want %g", tc.days, e.Confidence, want)
		}
	}
}

// TestVMSaturationGrowsInOneChange: usage at the allocation is censored.
func TestVMSaturationGrowsInOneChange(t *testing.T) {
	original := Resources{CPUs: 8, MemoryBytes: 16 * gib}
	for _, tc := range []struct {
		name string
		// history: a week of usage at 1 core, with one hour at peak cores
		// while the VM had historyAlloc.
		peak         float64
		historyAlloc int32
		alloc        int32
		want         int32
	}{
		{"back to the week's peak", 6, 8, 2, 6},
		{"double, no history above", 1, 8, 2, 4},
		{"double capped at the original", 1, 8, 5, 8},
		{"beyond the original by one step", 8, 8, 8, 10},
		{"not beyond after unused room", 8, 12, 8, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newObservedVM(original)
			o := r.(AllocationObserver)
			o.ObserveAllocation(Resources{CPUs: tc.historyAlloc, MemoryBytes: 16 * gib})
			start := t0
			last := feed(r, start, 5*time.Minute, 3*288, func(i int) (float64, float64) {
				if i/12 == 30 { // hour 30
					return tc.peak, 4 * gib
				}
				return 1, 4 * gib
			})
			o.ObserveAllocation(Resources{CPUs: tc.alloc, MemoryBytes: 16 * gib})
			last = last.Add(5 * time.Minute)
			r.Add(Sample{Time: last, CPUCores: float64(tc.alloc), MemoryBytes: 4 * gib})
			e := mustEstimate(t, r, last, Limits{Max: Resources{CPUs: 16, MemoryBytes: 32 * gib}})
			if e.Target.CPUs != tc.want || e.Lower.CPUs != max(tc.want, 1) {
				t.Errorf("saturated at %d vCPU: target %s, lower %s; want %d vCPU", tc.alloc, e.Target, e.Lower, tc.want)
			}
		})
	}
}

// TestVMSaturatedMemory: memory saturation doubles up to the original.
func TestVMSaturatedMemory(t *testing.T) {
	r := newObservedVM(Resources{CPUs: 4, MemoryBytes: 16 * gib})
	r.(AllocationObserver).ObserveAllocation(Resources{CPUs: 4, MemoryBytes: 2 * gib})
	last := feed(r, t0, 5*time.Minute, 2*288, steady(1, 2*gib))
	e := mustEstimate(t, r, last, Limits{})
	if e.Target.MemoryBytes != 4*gib || e.Lower.MemoryBytes != 4*gib {
		t.Errorf("memory saturated at 2Gi: target %s, lower %s; want 4Gi", e.Target, e.Lower)
	}
}

// TestVMOneChangeForBoth: when CPU must shrink, memory goes to its target
// in the same change although it is within its own bounds.
func TestVMOneChangeForBoth(t *testing.T) {
	alloc := Resources{CPUs: 8, MemoryBytes: 5 * gib}
	r := newObservedVM(alloc)
	last := feed(r, t0, 5*time.Minute, 3*288, steady(1, 4*gib))
	e := mustEstimate(t, r, last, Limits{})
	// Alone, 5Gi is inside [4Gi, 4Gi·(1+1/3)] and would stay.
	if e.Target.MemoryBytes != 4*gib || e.Upper.MemoryBytes != 4*gib {
		t.Errorf("estimate %s..%s..%s, want memory bounds tightened to the 4Gi target", e.Lower, e.Target, e.Upper)
	}
	d := Decide(last, Policy{Mode: ModeLive, CPU: true, Memory: true}, State{Current: alloc, Running: true, HotplugMax: alloc}, e)
	if !d.Change || d.To != (Resources{CPUs: 1, MemoryBytes: 4 * gib}) {
		t.Errorf("decision %+v, want one live change to 1 vCPU, 4Gi", d)
	}

	// Memory alone within its bounds and CPU staying: no change.
	r = newObservedVM(Resources{CPUs: 1, MemoryBytes: 5 * gib})
	last = feed(r, t0, 5*time.Minute, 3*288, steady(0.5, 4*gib))
	e = mustEstimate(t, r, last, Limits{})
	if d := Decide(last, Policy{Mode: ModeLive, CPU: true, Memory: true}, State{Current: Resources{CPUs: 1, MemoryBytes: 5 * gib}, Running: true, HotplugMax: alloc}, e); d.Change {
		t.Errorf("decision %+v, want no change for a memory saving within the upper bound", d)
	}
}

func TestVMIgnoresUnmeasuredMemoryAndOldSamples(t *testing.T) {
	r := NewVM()
	r.Add(Sample{Time: t0, CPUCores: 1, MemoryBytes: 3 * gib})
	r.Add(Sample{Time: t0.Add(5 * time.Minute), CPUCores: 1, MemoryBytes: 0})
	r.Add(Sample{Time: t0.Add(5 * time.Minute), CPUCores: 30, MemoryBytes: 30 * gib})
	r.Add(Sample{Time: t0.Add(-time.Hour), CPUCores: 30, MemoryBytes: 30 * gib})
	e := mustEstimate(t, r, t0.Add(5*time.Minute), Limits{})
	if e.Samples != 2 || e.Target != (Resources{CPUs: 1, MemoryBytes: 3 * gib}) {
		t.Errorf("%d samples, target %s; want 2 samples and 1 vCPU, 3Gi", e.Samples, e.Target)
	}
}

func TestVMClampsToLimits(t *testing.T) {
	r := newObservedVM(Resources{CPUs: 4, MemoryBytes: 4 * gib})
	last := feed(r, t0, 5*time.Minute, 288, steady(4, 4*gib)) // saturated
	lim := Limits{Min: Resources{CPUs: 1, MemoryBytes: 6 * gib}, Max: Resources{CPUs: 4, MemoryBytes: 8 * gib}}
	e := mustEstimate(t, r, last, lim)
	if e.Target != (Resources{CPUs: 4, MemoryBytes: 6 * gib}) {
		t.Errorf("target %s, want 4 vCPU (max) and 6Gi (min)", e.Target)
	}
	for _, b := range []Resources{e.Lower, e.Upper} {
		if b.CPUs > 4 || b.MemoryBytes > 8*gib || b.MemoryBytes < 6*gib {
			t.Errorf("bound %s outside the limits", b)
		}
	}
}
