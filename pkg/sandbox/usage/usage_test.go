package usage

import (
	"math"
	"testing"
	"time"
)

// t0 is an arbitrary simulated start, midnight UTC.
var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// minutes returns n consecutive minute instants from start, offset by 17s so
// tests do not only probe minute boundaries.
func minutes(start time.Time, n int) []time.Time {
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = start.Add(time.Duration(i)*time.Minute + 17*time.Second)
	}
	return ts
}

func sampleProfiles() map[string]Profile {
	return map[string]Profile{
		"idle":    {Kind: Idle},
		"steady":  {Kind: Steady, Level: 0.5, Memory: 0.6},
		"diurnal": {Kind: Diurnal, Level: 0.4, Amplitude: 0.3, PeakHour: 14},
		"bursty":  {Kind: Bursty, Level: 0.1, BurstChance: 0.05, BurstLength: 10 * time.Minute, BurstLevel: 0.9},
	}
}

func TestAtDeterministic(t *testing.T) {
	for name, p := range sampleProfiles() {
		t.Run(name, func(t *testing.T) {
			differ := 0
			for _, ts := range minutes(t0, 24*60) {
				a, b := p.At(7, ts), p.At(7, ts)
				if a != b {
					t.Fatalf("At(7, %v) = %v then %v", ts, a, b)
				}
				// A fresh copy of the profile must not matter either.
				if c := sampleProfiles()[name].At(7, ts); c != a {
					t.Fatalf("At(7, %v) = %v on a copy, %v on the original", ts, c, a)
				}
				if p.At(8, ts) != a {
					differ++
				}
			}
			// Noise alone makes nearly every minute differ between seeds.
			if differ < 24*60*9/10 {
				t.Errorf("seeds 7 and 8 differ in only %d of %d minutes", differ, 24*60)
			}
		})
	}
}

func TestAtStableWithinMinute(t *testing.T) {
	for name, p := range sampleProfiles() {
		t.Run(name, func(t *testing.T) {
			changed := false
			prev := p.At(3, t0)
			for _, m := range minutes(t0, 120) {
				base := m.Truncate(time.Minute)
				want := p.At(3, base)
				for s := 0; s < 60; s += 7 {
					if got := p.At(3, base.Add(time.Duration(s)*time.Second)); got != want {
						t.Fatalf("At(%v) = %v, want %v as at the minute start", base.Add(time.Duration(s)*time.Second), got, want)
					}
				}
				changed = changed || want != prev
				prev = want
			}
			if !changed {
				t.Error("usage never changed over two hours")
			}
		})
	}
}

func TestIdleIsLow(t *testing.T) {
	p := Profile{Kind: Idle, Level: 0.9} // Level is ignored for idle.
	for seed := int64(0); seed < 5; seed++ {
		for _, ts := range minutes(t0, 7*24*60) {
			u := p.At(seed, ts)
			if u.CPU >= 0.1 || u.CPU <= 0 {
				t.Fatalf("seed %d at %v: idle CPU %v, want in (0, 0.1)", seed, ts, u.CPU)
			}
			if math.Abs(u.Memory-0.2) > memNoise {
				t.Fatalf("seed %d at %v: idle memory %v, want 0.2±%v", seed, ts, u.Memory, memNoise)
			}
		}
	}
}

func TestSteadyNearLevel(t *testing.T) {
	for _, level := range []float64{0.1, 0.5, 0.8} {
		p := Profile{Kind: Steady, Level: level, Memory: 0.5}
		var sum float64
		ts := minutes(t0, 3*24*60)
		for _, tt := range ts {
			u := p.At(42, tt)
			if math.Abs(u.CPU-level) > cpuNoise {
				t.Fatalf("level %v at %v: CPU %v, want within %v", level, tt, u.CPU, cpuNoise)
			}
			sum += u.CPU
		}
		// The noise is centred, so the mean sits close to Level.
		if mean := sum / float64(len(ts)); math.Abs(mean-level) > cpuNoise/10 {
			t.Errorf("level %v: mean CPU %v", level, mean)
		}
	}
}

func TestDiurnalPeakAndTrough(t *testing.T) {
	tests := []struct {
		level, amp float64
		peak       int
	}{
		{0.4, 0.3, 14},
		{0.5, 0.2, 0},
		{0.5, 0.1, 23},
	}
	for _, tc := range tests {
		p := Profile{Kind: Diurnal, Level: tc.level, Amplitude: tc.amp, PeakHour: tc.peak}
		for day := 0; day < 30; day++ {
			peakAt := t0.AddDate(0, 0, day).Add(time.Duration(tc.peak) * time.Hour)
			hi, lo := p.At(1, peakAt), p.At(1, peakAt.Add(12*time.Hour))
			if d := hi.CPU - lo.CPU; math.Abs(d-2*tc.amp) > 2*cpuNoise {
				t.Fatalf("%+v day %d: peak %v − trough %v = %v, want %v±%v", tc, day, hi.CPU, lo.CPU, d, 2*tc.amp, 2*cpuNoise)
			}
			if math.Abs(hi.CPU-(tc.level+tc.amp)) > cpuNoise {
				t.Fatalf("%+v day %d: peak %v, want %v", tc, day, hi.CPU, tc.level+tc.amp)
			}
			// Six hours off the peak, cos is 0: back at Level.
			if mid := p.At(1, peakAt.Add(6*time.Hour)); math.Abs(mid.CPU-tc.level) > cpuNoise {
				t.Fatalf("%+v day %d: six hours after peak %v, want %v", tc, day, mid.CPU, tc.level)
			}
		}
	}
}

func TestDiurnalFollowsCosine(t *testing.T) {
	// Every minute, not just whole hours: cpu = Level + Amplitude*cos(2π(h−PeakHour)/24)
	// with h the fractional hour, give or take the noise.
	p := Profile{Kind: Diurnal, Level: 0.5, Amplitude: 0.45, PeakHour: 9}
	for _, tt := range minutes(t0, 2*24*60) {
		h := float64(tt.Hour()) + float64(tt.Minute())/60
		want := 0.5 + 0.45*math.Cos(2*math.Pi*(h-9)/24)
		if got := p.At(4, tt).CPU; math.Abs(got-want) > cpuNoise {
			t.Fatalf("at %v: CPU %v, want %v±%v", tt, got, want, cpuNoise)
		}
	}
}

func TestBursty(t *testing.T) {
	tests := []struct {
		chance float64
		length time.Duration
	}{
		{0.02, 10 * time.Minute},
		{0.05, 5 * time.Minute},
		{0.01, 30 * time.Minute},
		{0.1, 90 * time.Second}, // ceil: two one-minute slots
	}
	const level, burst = 0.1, 0.9
	for _, tc := range tests {
		p := Profile{Kind: Bursty, Level: level, BurstChance: tc.chance, BurstLength: tc.length, BurstLevel: burst}
		n := int(math.Ceil(tc.length.Minutes()))
		// P(minute in a burst) = 1 − (1−chance)^n ≈ chance*n.
		want := 1 - math.Pow(1-tc.chance, float64(n))
		for seed := int64(0); seed < 4; seed++ {
			// A week: bursts are rare and long, so a day is too few.
			ts := minutes(t0, 7*24*60)
			inBurst, run := 0, 0
			for i, tt := range ts {
				cpu := p.At(seed, tt).CPU
				switch {
				case math.Abs(cpu-burst) <= cpuNoise:
					inBurst++
					run++
				case math.Abs(cpu-level) <= cpuNoise:
					// A burst lasts BurstLength: runs end no sooner,
					// unless cut by the start of the window.
					if run > 0 && run < n && i-run > n {
						t.Fatalf("%+v seed %d: burst of %d minutes ending at %v, want ≥ %d", tc, seed, run, tt, n)
					}
					run = 0
				default:
					t.Fatalf("%+v seed %d at %v: CPU %v neither level nor burst", tc, seed, tt, cpu)
				}
			}
			frac := float64(inBurst) / float64(len(ts))
			if frac < want/2 || frac > want*1.5 {
				t.Errorf("%+v seed %d: %.3f of minutes bursting, want about %.3f", tc, seed, frac, want)
			}
		}
	}

	// Bursts are timed by the seed.
	p := Profile{Kind: Bursty, Level: level, BurstChance: 0.05, BurstLength: 10 * time.Minute, BurstLevel: burst}
	differ := 0
	for _, tt := range minutes(t0, 24*60) {
		if (p.At(1, tt).CPU > 0.5) != (p.At(2, tt).CPU > 0.5) {
			differ++
		}
	}
	if differ == 0 {
		t.Error("seeds 1 and 2 burst at exactly the same minutes")
	}

	// Edge chances.
	for _, tc := range []struct {
		chance float64
		want   float64
	}{{0, level}, {1, burst}} {
		p.BurstChance = tc.chance
		for _, tt := range minutes(t0, 600) {
			if cpu := p.At(5, tt).CPU; math.Abs(cpu-tc.want) > cpuNoise {
				t.Fatalf("chance %v at %v: CPU %v, want %v", tc.chance, tt, cpu, tc.want)
			}
		}
	}
}

func TestMemoryDriftsSlowly(t *testing.T) {
	for name, p := range sampleProfiles() {
		t.Run(name, func(t *testing.T) {
			mean := p.Memory
			if mean == 0 {
				mean = defaultMemory
			}
			prev := p.At(9, t0).Memory
			lo, hi := prev, prev
			for _, tt := range minutes(t0, 2*24*60) {
				m := p.At(9, tt).Memory
				if math.Abs(m-mean) > memNoise {
					t.Fatalf("memory %v at %v, want %v±%v", m, tt, mean, memNoise)
				}
				// Linear between anchors: at most 2*memNoise per memPeriod.
				if step := math.Abs(m - prev); step > 2*memNoise/memPeriod+1e-12 {
					t.Fatalf("memory jumped by %v in one minute at %v", step, tt)
				}
				prev = m
				lo, hi = min(lo, m), max(hi, m)
			}
			if hi-lo < memNoise/2 {
				t.Errorf("memory range [%v, %v] barely moves", lo, hi)
			}
		})
	}
}

func TestClamp(t *testing.T) {
	tests := []struct {
		name    string
		p       Profile
		cpu     float64 // exact expectation, or -1 to only check the range
		memory  float64
		touches float64 // a bound the noisy value must reach at some minute, or -1
	}{
		{"steady above 1", Profile{Kind: Steady, Level: 1.5, Memory: 1.7}, 1, 1, -1},
		{"steady below 0", Profile{Kind: Steady, Level: -0.5, Memory: -1}, 0, -1, -1},
		{"steady at 1 with noise", Profile{Kind: Steady, Level: 1, Memory: 0.5}, -1, -1, 1},
		{"steady at 0 with noise", Profile{Kind: Steady, Level: 0, Memory: 0.5}, -1, -1, 0},
		{"diurnal over the top", Profile{Kind: Diurnal, Level: 0.9, Amplitude: 0.5, PeakHour: 12}, -1, -1, 1},
		{"NaN level", Profile{Kind: Steady, Level: math.NaN(), Memory: math.NaN()}, 0, 0, -1},
		{"bursty level above 1", Profile{Kind: Bursty, Level: 2, BurstLevel: 3, BurstChance: 0.5, BurstLength: time.Minute}, 1, -1, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			touched := false
			for _, tt := range minutes(t0, 24*60) {
				u := tc.p.At(1, tt)
				for _, v := range []float64{u.CPU, u.Memory} {
					if !(v >= 0 && v <= 1) {
						t.Fatalf("at %v: %+v outside [0, 1]", tt, u)
					}
				}
				if tc.cpu >= 0 && u.CPU != tc.cpu {
					t.Fatalf("at %v: CPU %v, want %v", tt, u.CPU, tc.cpu)
				}
				if tc.memory >= 0 && u.Memory != tc.memory {
					t.Fatalf("at %v: memory %v, want %v", tt, u.Memory, tc.memory)
				}
				touched = touched || u.CPU == tc.touches
			}
			if tc.touches >= 0 && !touched {
				t.Errorf("CPU never clamped to %v", tc.touches)
			}
		})
	}
}

func TestAbsolute(t *testing.T) {
	const gi = 1 << 30
	tests := []struct {
		u           Usage
		cpus, mem   int64
		milli, byts int64
	}{
		{Usage{CPU: 0.5, Memory: 0.25}, 4, 8 * gi, 2000, 2 * gi},
		{Usage{CPU: 1, Memory: 1}, 2, 4 * gi, 2000, 4 * gi},
		{Usage{CPU: 0, Memory: 0}, 16, 64 * gi, 0, 0},
		{Usage{CPU: 0.0333, Memory: 0.1}, 1, 1000, 33, 100}, // rounds down
		{Usage{CPU: 0.0337, Memory: 0.1}, 1, 1000, 34, 100}, // rounds up
		{Usage{CPU: 1.5, Memory: -0.5}, 4, 8 * gi, 4000, 0}, // clamped
		{Usage{CPU: 0.125, Memory: 0.5}, 96, 768 * gi, 12000, 384 * gi},
	}
	for _, tc := range tests {
		m, b := tc.u.Absolute(tc.cpus, tc.mem)
		if m != tc.milli || b != tc.byts {
			t.Errorf("%+v.Absolute(%d, %d) = %dm, %d bytes; want %dm, %d bytes", tc.u, tc.cpus, tc.mem, m, b, tc.milli, tc.byts)
		}
	}
}

func TestUnknownKind(t *testing.T) {
	if u := (Profile{Kind: "weird", Level: 0.5}).At(1, t0); u != (Usage{}) {
		t.Errorf("unknown kind: %+v, want zero usage", u)
	}
}

func TestBeforeEpoch(t *testing.T) {
	// Minutes before 1970 must floor, not truncate toward zero: the two
	// halves of the minute just before the epoch agree, and differ from
	// the minute after it.
	p := Profile{Kind: Steady, Level: 0.5}
	epoch := time.Unix(0, 0)
	a, b := p.At(1, epoch.Add(-59*time.Second)), p.At(1, epoch.Add(-time.Second))
	if a != b {
		t.Errorf("minute before the epoch not stable: %v vs %v", a, b)
	}
	if a == p.At(1, epoch) {
		t.Errorf("minute before the epoch equals the epoch minute: %v", a)
	}
}
