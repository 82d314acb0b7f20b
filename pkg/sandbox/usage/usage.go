// Package usage simulates the CPU and memory usage of simulated VMs as they
// advance on a simulated clock, for serving through metrics.k8s.io.
//
// Every value is a pure function of (profile, seed, simulated time): there is
// no hidden state and no math/rand, so any process — an API server replica, a
// test, a CLI — recomputes exactly the same usage for the same VM and instant
// without coordinating with anyone else.
package usage

import (
	"math"
	"time"
)

// Kind of load profile.
type Kind string

// The load profiles a VM can follow.
const (
	Idle    Kind = "idle"
	Steady  Kind = "steady"
	Diurnal Kind = "diurnal"
	Bursty  Kind = "bursty"
	Trace   Kind = "trace"
)

// Profile describes how busy a VM is over time, as fractions of its allocated
// CPUs and memory.
type Profile struct {
	Kind Kind
	// Level is the mean CPU utilisation, 0..1 (idle ignores it: ~2%).
	Level float64
	// Amplitude of the diurnal swing (0..1) around Level; peak at PeakHour
	// (UTC, 0-23).
	Amplitude float64
	PeakHour  int
	// Bursty: probability per minute that a burst starts, burst length, and
	// the CPU level while a burst lasts.
	BurstChance float64
	BurstLength time.Duration
	BurstLevel  float64
	// Memory is the mean memory utilisation, 0..1. Zero means the default
	// (defaultMemory) for synthetic kinds: a running guest always keeps its
	// kernel and caches resident, so "no memory" is never realistic.
	Memory float64
	// Trace: samples replayed from a CSV (see ParseTrace), looped.
	Samples []Sample
}

// Sample is one point of a recorded trace; CPU and Memory are fractions.
type Sample struct {
	Offset      time.Duration
	CPU, Memory float64
}

// Usage at an instant.
type Usage struct {
	CPU    float64 // fraction of allocated CPUs, 0..1
	Memory float64 // fraction of allocated memory, 0..1
}

const (
	// idleCPU is the CPU of an idle guest (timer ticks, agents), and
	// idleNoise its swing: idle CPU stays in idleCPU ± idleNoise.
	idleCPU   = 0.02
	idleNoise = 0.01
	// cpuNoise bounds the per-minute jitter added to every synthetic CPU
	// value: cpu = base + cpuNoise*n, n in [-1, 1).
	cpuNoise = 0.03
	// memNoise bounds the memory drift around Memory, and memPeriod is how
	// long one drift segment takes: memory interpolates linearly between
	// noise anchors memPeriod apart, so it moves at most
	// 2*memNoise per memPeriod — slowly, as real resident memory does.
	memNoise  = 0.02
	memPeriod = 15 // minutes
	// defaultMemory stands in for a zero Memory.
	defaultMemory = 0.2
)

// Salts keep the independent random streams (CPU noise, memory drift, burst
// starts) of one seed uncorrelated.
const (
	saltCPU uint64 = iota + 1
	saltMem
	saltBurst
	saltPick
)

// At returns the usage of a VM with this profile at simulated time t. seed
// makes VMs with the same profile differ (noise, burst timing), but At is a
// pure function: the same inputs always give the same output.
//
// Synthetic kinds are evaluated at t truncated to the minute, so the value is
// stable within a minute and scrapes a few seconds apart agree. Trace
// profiles replay their samples verbatim at full resolution. An unknown kind,
// or a trace without samples, uses nothing: Usage{}.
func (p Profile) At(seed int64, t time.Time) Usage {
	if p.Kind == Trace {
		return p.replay(t)
	}
	m := minuteOf(t)
	var cpu float64
	switch p.Kind {
	case Idle:
		cpu = idleCPU + idleNoise*signed(seed, saltCPU, m)
	case Steady:
		cpu = p.Level + cpuNoise*signed(seed, saltCPU, m)
	case Diurnal:
		// cpu = Level + Amplitude*cos(2π(h − PeakHour)/24), h the fractional
		// UTC hour of the minute: cos is 1 at PeakHour and −1 twelve hours
		// later, so peak and trough differ by 2*Amplitude.
		u := time.Unix(m*60, 0).UTC()
		h := float64(u.Hour()) + float64(u.Minute())/60
		cpu = p.Level + p.Amplitude*math.Cos(2*math.Pi*(h-float64(p.PeakHour))/24)
		cpu += cpuNoise * signed(seed, saltCPU, m)
	case Bursty:
		cpu = p.Level
		if p.inBurst(seed, m) {
			cpu = p.BurstLevel
		}
		cpu += cpuNoise * signed(seed, saltCPU, m)
	default:
		return Usage{}
	}
	return Usage{CPU: clamp(cpu), Memory: clamp(p.memoryAt(seed, m))}
}

// inBurst reports whether minute m lies within BurstLength of a burst start.
// Minute slot k starts a burst when unit(seed, k) < BurstChance; m is inside
// that burst when (m−k) minutes < BurstLength. Only ceil(BurstLength/1m)
// slots back can satisfy that, so the scan is bounded.
func (p Profile) inBurst(seed int64, m int64) bool {
	if p.BurstLength <= 0 || p.BurstChance <= 0 {
		return false
	}
	n := int64((p.BurstLength + time.Minute - 1) / time.Minute)
	for j := int64(0); j < n; j++ {
		if unit(seed, saltBurst, m-j) < p.BurstChance {
			return true
		}
	}
	return false
}

// memoryAt drifts around the mean memory:
// mem = Memory + memNoise*lerp(n(a), n(a+1), f), where a = ⌊m/memPeriod⌋ is
// the current anchor and f the fraction of the way to the next one.
func (p Profile) memoryAt(seed int64, m int64) float64 {
	base := p.Memory
	if base == 0 {
		base = defaultMemory
	}
	a := floorDiv(m, memPeriod)
	f := float64(m-a*memPeriod) / memPeriod
	n0, n1 := signed(seed, saltMem, a), signed(seed, saltMem, a+1)
	return base + memNoise*(n0+(n1-n0)*f)
}

// Absolute converts to resource quantities: CPU in millicores of the cpus
// allocated, memory in bytes of the memoryBytes allocated, each rounded to
// the nearest unit: milliCPU = round(CPU*cpus*1000), bytes = round(Memory*memoryBytes).
func (u Usage) Absolute(cpus int64, memoryBytes int64) (milliCPU int64, bytes int64) {
	milliCPU = int64(math.Round(clamp(u.CPU) * float64(cpus) * 1000))
	bytes = int64(math.Round(clamp(u.Memory) * float64(memoryBytes)))
	return milliCPU, bytes
}

// clamp limits v to [0, 1]; NaN becomes 0 so a bad profile never leaks NaN
// into a metrics response.
func clamp(v float64) float64 {
	switch {
	case !(v > 0):
		return 0
	case v > 1:
		return 1
	}
	return v
}

// minuteOf is the index of t's minute since the Unix epoch, rounding down
// for times before it too.
func minuteOf(t time.Time) int64 { return floorDiv(t.Unix(), 60) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// splitmix64 is one step of the SplitMix64 generator: a fast bijective mixer
// whose output bits each depend on every input bit.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit hashes (seed, salt, k) to a uniform value in [0, 1), using the top 53
// bits so every float64 in the range is equally likely.
func unit(seed int64, salt uint64, k int64) float64 {
	h := splitmix64(splitmix64(splitmix64(uint64(seed))^salt) ^ uint64(k))
	return float64(h>>11) / (1 << 53)
}

// signed is unit rescaled to [-1, 1).
func signed(seed int64, salt uint64, k int64) float64 {
	return 2*unit(seed, salt, k) - 1
}
