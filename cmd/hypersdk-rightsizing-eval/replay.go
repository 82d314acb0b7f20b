package main

import (
	"time"

	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

// actuationPolicy is the rules every strategy is held to: the
// VirtualMachineAutoscaler's defaults (at most 2 changes in any 24 hours, 1
// hour apart) with updateMode LiveOrRestart: resize live within the VM's
// hotplug maximum, otherwise restart it inside the maintenance window.
func actuationPolicy() rightsizing.Policy {
	return rightsizing.Policy{
		Mode:             rightsizing.ModeLiveOrRestart,
		CPU:              true,
		Memory:           true,
		MaxChangesPerDay: 2,
		Cooldown:         time.Hour,
	}
}

const (
	// warmUp: for the first day of a trace the strategies recommend but do
	// not act, so that none acts before seeing a whole daily cycle.
	warmUp = 24 * time.Hour
	// windowStart and windowLength: the daily maintenance window, 00:00 to
	// 04:00 UTC (02:00 to 06:00 in the Netherlands, where the trace was
	// taken).
	windowStart, windowLength = 0 * time.Hour, 4 * time.Hour
	// minMemory is the autoscaler's minAllowed memory: below 512 MiB a
	// general-purpose guest OS does not run reliably, whatever its "active"
	// memory says.
	minMemory int64 = 512 << 20
	// maxGrowth is maxAllowed as a multiple of the provisioned size.
	maxGrowth = 2
)

// inWindow reports whether t is inside the daily maintenance window.
func inWindow(t time.Time) bool {
	d := t.Sub(t.Truncate(24 * time.Hour))
	return d >= windowStart && d < windowStart+windowLength
}

// strategy is a named recommender; a nil newRecommender keeps the VM at its
// provisioned size.
type strategy struct {
	name           string
	newRecommender func() rightsizing.Recommender
}

// tally accumulates one strategy's figures over VMs. Resource-time is in
// core-minutes and GiB-minutes.
type tally struct {
	vms     int
	minutes float64
	// CPU: used, idle (allocated and unused), minutes with use above the
	// allocation.
	cpuUsed, cpuIdle, cpuUnderMinutes float64
	// Memory, over the minutes where the trace measured it.
	memUsed, memIdle, memUnderMinutes, memMinutes float64
	resizes, restarts                             int
	dollars                                       float64
}

func (a *tally) add(b tally) {
	a.vms += b.vms
	a.minutes += b.minutes
	a.cpuUsed += b.cpuUsed
	a.cpuIdle += b.cpuIdle
	a.cpuUnderMinutes += b.cpuUnderMinutes
	a.memUsed += b.memUsed
	a.memIdle += b.memIdle
	a.memUnderMinutes += b.memUnderMinutes
	a.memMinutes += b.memMinutes
	a.resizes += b.resizes
	a.restarts += b.restarts
	a.dollars += b.dollars
}

// score adds one sample interval spent at allocation alloc.
func (a *tally) score(alloc rightsizing.Resources, p point, prices cost.NodePricing) {
	const gib = 1 << 30
	m := sampleInterval.Minutes()
	a.minutes += m
	cpus := float64(alloc.CPUs)
	a.cpuUsed += p.cpu * m
	a.cpuIdle += max(cpus-p.cpu, 0) * m
	if p.cpu > cpus {
		a.cpuUnderMinutes += m
	}
	memAlloc := float64(alloc.MemoryBytes)
	if p.mem > 0 {
		a.memMinutes += m
		a.memUsed += p.mem / gib * m
		a.memIdle += max(memAlloc-p.mem, 0) / gib * m
		if p.mem > memAlloc {
			a.memUnderMinutes += m
		}
	}
	a.dollars += cost.VMCostPerHour(prices, cpus, memAlloc, nil, p.cpu, p.mem) * sampleInterval.Hours()
}

// replay runs one VM's trace through s under the actuation rules. The VM
// starts at its provisioned size, which is also its hotplug maximum (it was
// created with maxSockets and maxGuest equal to its size: shrinking and
// growing back are live, growing beyond needs a restart).
func replay(tr vmTrace, s strategy, prices cost.NodePricing) tally {
	out := tally{vms: 1}
	st := rightsizing.State{Current: tr.provisioned, Running: true, HotplugMax: tr.provisioned}
	lim := rightsizing.Limits{
		Min: rightsizing.Resources{CPUs: 1, MemoryBytes: minMemory},
		Max: rightsizing.Resources{CPUs: maxGrowth * tr.provisioned.CPUs, MemoryBytes: maxGrowth * tr.provisioned.MemoryBytes},
	}
	var rec rightsizing.Recommender
	if s.newRecommender != nil {
		rec = s.newRecommender()
	}
	observe := func() {
		if o, ok := rec.(rightsizing.AllocationObserver); ok {
			o.ObserveAllocation(st.Current)
		}
	}
	observe()
	for _, p := range tr.points {
		// The allocation decided after the previous sample is what this
		// interval ran with.
		out.score(st.Current, p, prices)
		if rec == nil {
			continue
		}
		rec.Add(observed(p, st.Current))
		if p.t.Sub(tr.points[0].t) < warmUp {
			continue
		}
		e, ok := rec.Estimate(p.t, lim)
		if !ok {
			continue
		}
		st.InWindow = inWindow(p.t)
		d := rightsizing.Decide(p.t, actuationPolicy(), st, e)
		if !d.Change {
			continue
		}
		st.Current = d.To
		st.Changes = append(recent(st.Changes, p.t), p.t)
		out.resizes++
		if d.Restart {
			out.restarts++
		}
		observe()
	}
	return out
}

// recent keeps the changes Decide still looks at: those of the last 24
// hours (the daily budget) and the latest (the cooldown).
func recent(changes []time.Time, now time.Time) []time.Time {
	kept := changes[:0]
	for i, t := range changes {
		if now.Sub(t) < 24*time.Hour || i == len(changes)-1 {
			kept = append(kept, t)
		}
	}
	return kept
}

// observed is what a guest with allocation alloc reports of the demand p: a
// VM cannot use more vCPUs or memory than it has, so demand above the
// allocation shows as usage at the allocation (the recommenders see
// censored usage), while scoring uses the demand itself.
func observed(p point, alloc rightsizing.Resources) rightsizing.Sample {
	s := rightsizing.Sample{Time: p.t, CPUCores: min(p.cpu, float64(alloc.CPUs)), MemoryBytes: p.mem}
	if p.mem > 0 {
		s.MemoryBytes = min(p.mem, float64(alloc.MemoryBytes))
	}
	return s
}
