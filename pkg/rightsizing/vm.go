package rightsizing

import (
	"time"
)

// HyperSDK's recommender for virtual machines. It differs from VPA where a
// VM differs from a container:
//
//   - Changes are scarce. A resize spends one of a few changes a day
//     (maxChangesPerDay, cooldown) and CPU and memory share them, so the
//     recommender reasons in hours, not in 5-minute samples: it keeps the
//     peak of each hour, since an allocation stands for hours and what
//     runs short within an hour is the hour's peak, not its average.
//   - Sizes are whole vCPUs. VPA adds a 15% margin to a percentile and
//     rounding to a whole vCPU adds up to one more; here the target is the
//     peak itself, rounded up once, and the rounding is the only headroom.
//   - Usage is censored. A guest cannot use more than it has, so a VM using
//     (nearly) all of its vCPUs or memory says only "at least this much".
//     VPA reads that as a value and creeps up by its margin, one change at a
//     time; here saturation grows the VM in one change to the most it used
//     in the last week, or else doubles it (a search for an unknown bound
//     that overshoots by at most 2×), capped at its original size (the size
//     the autoscaler found it at: known to be enough and, with KubeVirt's
//     maxSockets and maxGuest set from it, reachable live). Beyond the
//     original size, where growing costs a restart, it steps by VPA's 15%,
//     and only if the VM has not had more room in the last week without
//     using it.
//   - CPU and memory shortfalls cost differently. Too few vCPUs slow the
//     guest; too little memory makes it swap or kill processes. So CPU
//     covers the recent hours and shrinks after a quiet spell, while memory
//     covers the largest hourly peak of the last week.
//   - A change resizes both. When one resource must change, the other moves
//     to its target in the same change, which costs nothing more against the
//     budget, instead of spending a later change of its own.
const (
	// vmCPUHold: CPU covers the peaks of the current and the last 3 hours,
	// so it shrinks only after 4 quiet hours. The quiet spells worth
	// shrinking for are nights and weekends, 8 hours or more, so at least
	// half of each is still saved; shorter lulls (a gap between jobs) do not
	// spend a change.
	vmCPUHold = 4 * time.Hour
	// vmWeek is the memory horizon and the history kept: a week, the
	// longest common business cycle (weekly jobs, backups, Monday peaks).
	vmWeek = 7 * 24 * time.Hour
	// vmSaturated: usage at or above this share of the allocation is taken
	// as censored (the guest may want more). 95% rather than 100% because
	// averaged samples of a saturated guest read a little below its size.
	vmSaturated = 0.95
	// vmSearchFactor: with no history of a larger need, saturation below
	// the original size doubles the allocation.
	vmSearchFactor = 2
	// vmStepBeyond: growth beyond the original size, VPA's safety margin.
	vmStepBeyond = 0.15
)

// hourPeak is one complete hour of a VM's history.
type hourPeak struct {
	start    time.Time
	cpu, mem float64
	// alloc is the allocation the VM had at the end of the hour.
	alloc Resources
}

// vm is the state of the VM recommender for one VM.
type vm struct {
	// alloc is the current allocation (ObserveAllocation), original the
	// first one observed.
	alloc, original Resources
	hasAlloc        bool

	// hours is a ring of the last week's complete hours, next the index
	// the next one goes to, filled how many are valid.
	hours        [vmWeek / time.Hour]hourPeak
	next, filled int
	// current is the hour being aggregated (its peaks so far).
	current hourPeak

	lastCPU, lastMem float64
	first, latest    time.Time
	count            int
}

// NewVM returns HyperSDK's recommender for VMs (Name "vm"). It implements
// AllocationObserver; without it, saturation cannot be detected and the
// estimate rests on the peaks alone. A Sample whose MemoryBytes is zero,
// negative or NaN carries no memory measurement.
func NewVM() Recommender { return &vm{} }

func (v *vm) Name() string { return "vm" }

// Method says how the target is computed, for the recommendation's evidence.
func (v *vm) Method() string {
	return "CPU: largest hourly peak of the current and last 3 hours with samples; memory: largest hourly peak of the last 7 days; " +
		"rounded up to whole vCPUs and 128Mi, no margin; a saturated VM grows to its week's peak or doubles, up to its original size"
}

// ObserveAllocation records the VM's allocation; the first is its original
// size.
func (v *vm) ObserveAllocation(current Resources) {
	if !v.hasAlloc {
		v.original = current
	}
	v.alloc, v.hasAlloc = current, true
}

// Add folds s into the peak of its hour.
func (v *vm) Add(s Sample) {
	if !v.latest.IsZero() && !s.Time.After(v.latest) {
		return
	}
	if h := s.Time.Truncate(time.Hour); v.latest.IsZero() || h.After(v.current.start) {
		if !v.latest.IsZero() {
			v.current.alloc = v.alloc
			v.hours[v.next] = v.current
			v.next = (v.next + 1) % len(v.hours)
			v.filled = min(v.filled+1, len(v.hours))
		}
		v.current = hourPeak{start: h}
	}
	if v.first.IsZero() {
		v.first = s.Time
	}
	v.latest = s.Time
	v.count++
	v.lastCPU = 0
	if s.CPUCores > 0 { // NaN, like a negative reading, is no usage
		v.lastCPU = s.CPUCores
	}
	v.current.cpu = max(v.current.cpu, v.lastCPU)
	v.lastMem = 0
	if s.MemoryBytes > 0 {
		v.lastMem = s.MemoryBytes
		v.current.mem = max(v.current.mem, s.MemoryBytes)
	}
}

// since returns the largest CPU and memory peaks, and the largest
// allocation, of the hours starting at or after t, the current one
// included.
func (v *vm) since(t time.Time) (cpu, mem float64, alloc Resources) {
	if !v.current.start.Before(t) {
		cpu, mem = v.current.cpu, v.current.mem
	}
	for k := 1; k <= v.filled; k++ {
		h := v.hours[(v.next-k+len(v.hours))%len(v.hours)]
		if h.start.Before(t) {
			break
		}
		cpu, mem = max(cpu, h.cpu), max(mem, h.mem)
		alloc.CPUs = max(alloc.CPUs, h.alloc.CPUs)
		alloc.MemoryBytes = max(alloc.MemoryBytes, h.alloc.MemoryBytes)
	}
	return cpu, mem, alloc
}

// lastHours returns the largest CPU peak of the current hour and the
// complete hours before it that have samples, n hours in all at most, none
// older than horizon before the current one. Hours without samples are
// skipped: no evidence of idleness.
func (v *vm) lastHours(n int, horizon time.Duration) float64 {
	cpu, hours := v.current.cpu, 1
	floor := v.current.start.Add(-horizon)
	for k := 1; k <= v.filled && hours < n; k++ {
		h := v.hours[(v.next-k+len(v.hours))%len(v.hours)]
		if h.start.Before(floor) {
			break
		}
		cpu, hours = max(cpu, h.cpu), hours+1
	}
	return cpu
}

// Estimate recommends the allocation for the coming hours, from the
// history up to the last sample.
//
// Target: CPU covers the largest hourly peak of the last vmCPUHold hours
// with samples (within the week), memory that of the last week, each
// rounded up once to whole vCPUs and MemoryStep. Lower is the target: the VM grows as soon as it needs to.
// Upper is the target for CPU (shrinking by a whole vCPU is worth a
// change) and target·(1 + 1/d) for memory, d the days of history up to 7:
// VPA's upper-bound widening, counted in days of history rather than in
// samples at an assumed rate, which keeps a young VM from shrinking on
// little evidence and makes later memory shrinks worth at least 1/7.
// Saturation and shared changes adjust these as the type comment says.
// Confidence is the history's share of a week.
func (v *vm) Estimate(now time.Time, lim Limits) (Estimate, bool) {
	if v.count == 0 {
		return Estimate{}, false
	}
	// The windows end at the last sample, not now: hours without samples
	// (a VM stopped, a recorder down, usage that could not be read) are no
	// evidence of idleness, and a stopped VM is sized for its next start
	// by what it used when it last ran.
	hour := v.latest.Truncate(time.Hour)
	held := int(vmCPUHold / time.Hour)
	cpu := v.lastHours(held, vmWeek)
	weekCPU, mem, roomy := v.since(hour.Add(time.Hour - vmWeek))
	days := min(v.latest.Sub(v.first).Hours()/24, 7)
	e := Estimate{CPUCores: cpu, MemoryBytes: mem, Samples: v.count, First: v.first, Last: v.latest, Confidence: days / 7}
	e.Target = lim.clamp(roundUp(cpu, mem))
	e.Lower, e.Upper = e.Target, e.Target
	if days > 0 {
		e.Upper.MemoryBytes = max(e.Target.MemoryBytes, lim.clamp(roundUp(0, mem*(1+1/days))).MemoryBytes)
	}
	if !v.hasAlloc {
		return e, true
	}

	// Censored usage: grow in one change.
	if v.lastCPU >= vmSaturated*float64(v.alloc.CPUs) {
		grow := v.growTo(weekCPU, float64(v.alloc.CPUs), float64(v.original.CPUs), float64(roomy.CPUs), 1)
		if n := lim.clamp(roundUp(grow, 0)).CPUs; n > v.alloc.CPUs {
			e.Target.CPUs, e.Lower.CPUs, e.Upper.CPUs = max(e.Target.CPUs, n), max(e.Lower.CPUs, n), max(e.Upper.CPUs, n)
		}
	}
	if v.lastMem > 0 && v.lastMem >= vmSaturated*float64(v.alloc.MemoryBytes) {
		grow := v.growTo(mem, float64(v.alloc.MemoryBytes), float64(v.original.MemoryBytes), float64(roomy.MemoryBytes), float64(MemoryStep))
		if b := lim.clamp(roundUp(1, grow)).MemoryBytes; b > v.alloc.MemoryBytes {
			e.Target.MemoryBytes, e.Lower.MemoryBytes, e.Upper.MemoryBytes = max(e.Target.MemoryBytes, b), max(e.Lower.MemoryBytes, b), max(e.Upper.MemoryBytes, b)
		}
	}

	// One change resizes both: if one resource leaves its bounds, bring
	// the other to its target too.
	cpuMoves := v.alloc.CPUs < e.Lower.CPUs || v.alloc.CPUs > e.Upper.CPUs
	memMoves := v.alloc.MemoryBytes < e.Lower.MemoryBytes || v.alloc.MemoryBytes > e.Upper.MemoryBytes
	if cpuMoves {
		e.Lower.MemoryBytes, e.Upper.MemoryBytes = e.Target.MemoryBytes, e.Target.MemoryBytes
	}
	if memMoves {
		e.Lower.CPUs, e.Upper.CPUs = e.Target.CPUs, e.Target.CPUs
	}
	return e, true
}

// growTo is where a saturated resource grows to, from alloc: the week's
// peak if that is larger (the VM has needed it lately); else, below the
// original size, double, capped at the original; else one VPA margin (at
// least one unit), but not if the VM had more room this week and did not
// use it.
func (v *vm) growTo(weekPeak, alloc, original, roomiest, unit float64) float64 {
	switch {
	case weekPeak > alloc:
		return weekPeak
	case alloc < original:
		return min(original, vmSearchFactor*alloc)
	case roomiest > alloc:
		return alloc
	}
	return max(alloc*(1+vmStepBeyond), alloc+unit)
}
