package rightsizing

import (
	"strings"
	"testing"
	"time"
)

// shrink is an estimate that wants a 4 vCPU, 8Gi VM at 2 vCPU, 4Gi.
var shrink = Estimate{
	Target: Resources{CPUs: 2, MemoryBytes: 4 * gib},
	Lower:  Resources{CPUs: 1, MemoryBytes: 2 * gib},
	Upper:  Resources{CPUs: 3, MemoryBytes: 6 * gib},
}

func running(current Resources) State {
	return State{Current: current, Running: true, HotplugMax: Resources{CPUs: 8, MemoryBytes: 16 * gib}}
}

var (
	size4x8 = Resources{CPUs: 4, MemoryBytes: 8 * gib}
	both    = func(m Mode) Policy { return Policy{Mode: m, CPU: true, Memory: true} }
)

func TestDecideWithinBounds(t *testing.T) {
	for _, cur := range []Resources{{1, 2 * gib}, {2, 4 * gib}, {3, 6 * gib}} {
		if d := Decide(t0, both(ModeLiveOrRestart), running(cur), shrink); d.Change || d.To != (Resources{}) {
			t.Errorf("at %s within [%s, %s]: %+v, want no change", cur, shrink.Lower, shrink.Upper, d)
		}
	}
}

func TestDecideOffNeverChanges(t *testing.T) {
	for _, m := range []Mode{ModeOff, "", "Auto"} {
		for _, s := range []State{running(size4x8), {Current: size4x8}} {
			d := Decide(t0, both(m), s, shrink)
			if d.Change || d.Restart {
				t.Errorf("mode %q, running %v: %+v, want no change", m, s.Running, d)
			}
			if d.To != shrink.Target || !strings.Contains(d.Reason, "would resize") {
				t.Errorf("mode %q: %+v, want the recommendation reported", m, d)
			}
		}
	}
}

func TestDecideControlledResourcesOnly(t *testing.T) {
	d := Decide(t0, Policy{Mode: ModeLive, CPU: true}, running(size4x8), shrink)
	if !d.Change || d.To != (Resources{CPUs: 2, MemoryBytes: 8 * gib}) {
		t.Errorf("CPU only: %+v, want 2 vCPU and memory left at 8Gi", d)
	}
	d = Decide(t0, Policy{Mode: ModeLive, Memory: true}, running(size4x8), shrink)
	if !d.Change || d.To != (Resources{CPUs: 4, MemoryBytes: 4 * gib}) {
		t.Errorf("memory only: %+v, want 4Gi and CPU left at 4", d)
	}
}

func TestDecideIgnoresAnEmptyEstimate(t *testing.T) {
	if d := Decide(t0, both(ModeLiveOrRestart), State{Current: size4x8, Running: true, InWindow: true}, Estimate{}); d.Change {
		t.Errorf("empty estimate: %+v, want no change", d)
	}
}

func TestDecideCooldown(t *testing.T) {
	p := both(ModeLive)
	p.Cooldown = time.Hour
	s := running(size4x8)
	s.Changes = []time.Time{t0.Add(-3 * time.Hour), t0.Add(-30 * time.Minute)}
	if d := Decide(t0, p, s, shrink); d.Change || !strings.Contains(d.Reason, "cooldown") {
		t.Errorf("30 min after a change, cooldown 1h: %+v, want none (cooldown)", d)
	}
	if d := Decide(t0.Add(31*time.Minute), p, s, shrink); !d.Change {
		t.Errorf("61 min after a change: %+v, want a change", d)
	}
}

func TestDecideMaxChangesPerDay(t *testing.T) {
	p := both(ModeLive)
	p.MaxChangesPerDay = 2
	s := running(size4x8)
	s.Changes = []time.Time{t0.Add(-23 * time.Hour), t0.Add(-2 * time.Hour)}
	if d := Decide(t0, p, s, shrink); d.Change || !strings.Contains(d.Reason, "maxChangesPerDay") {
		t.Errorf("two changes in the last 24 h: %+v, want none", d)
	}
	// An hour later the older one is more than 24 h old.
	if d := Decide(t0.Add(time.Hour+time.Second), p, s, shrink); !d.Change {
		t.Errorf("one change in the last 24 h: %+v, want a change", d)
	}
}

func TestDecideInitialWaitsWhileRunning(t *testing.T) {
	if d := Decide(t0, both(ModeInitial), running(size4x8), shrink); d.Change || !strings.Contains(d.Reason, "Initial") {
		t.Errorf("Initial, running: %+v, want it to wait", d)
	}
	d := Decide(t0, both(ModeInitial), State{Current: size4x8}, shrink)
	if !d.Change || d.Restart || d.To != shrink.Target {
		t.Errorf("Initial, stopped: %+v, want a change for the next start", d)
	}
}

func TestDecideLive(t *testing.T) {
	grow := Estimate{Target: Resources{CPUs: 12, MemoryBytes: 8 * gib}, Lower: Resources{CPUs: 10, MemoryBytes: 8 * gib}, Upper: Resources{CPUs: 16, MemoryBytes: 8 * gib}}
	if d := Decide(t0, both(ModeLive), running(size4x8), grow); d.Change || d.Restart || !strings.Contains(d.Reason, "needs a restart") {
		t.Errorf("Live beyond HotplugMax: %+v, want refused", d)
	}
	s := running(size4x8)
	s.HotplugMax = Resources{CPUs: 16}
	if d := Decide(t0, both(ModeLive), s, grow); !d.Change || d.Restart {
		t.Errorf("Live within HotplugMax: %+v, want a live change", d)
	}
	// Memory cannot be hotplugged without a memory maximum.
	if d := Decide(t0, both(ModeLive), s, shrink); d.Change {
		t.Errorf("Live memory change with no maxGuest: %+v, want refused", d)
	}
}

func TestDecideLiveOrRestart(t *testing.T) {
	grow := Estimate{Target: Resources{CPUs: 12, MemoryBytes: 8 * gib}, Lower: Resources{CPUs: 10, MemoryBytes: 8 * gib}, Upper: Resources{CPUs: 16, MemoryBytes: 8 * gib}}
	s := running(size4x8)
	if d := Decide(t0, both(ModeLiveOrRestart), s, grow); d.Change || !strings.Contains(d.Reason, "maintenance window") {
		t.Errorf("outside the window: %+v, want it to wait", d)
	}
	s.InWindow = true
	if d := Decide(t0, both(ModeLiveOrRestart), s, grow); !d.Change || !d.Restart || d.To.CPUs != 12 {
		t.Errorf("inside the window: %+v, want a restart to 12 vCPU", d)
	}
	s.InWindow = false
	if d := Decide(t0, both(ModeLiveOrRestart), s, shrink); !d.Change || d.Restart {
		t.Errorf("hotpluggable shrink outside the window: %+v, want a live change", d)
	}
}

// TestDecideFitsTheVMsHotplugBounds: a VM with two cores a socket takes
// CPUs live in pairs, so a target between them rounds up and stays live;
// and no target goes past the VM's maximum, which a resize refuses.
func TestDecideFitsTheVMsHotplugBounds(t *testing.T) {
	s := running(Resources{CPUs: 8, MemoryBytes: 8 * gib})
	s.CPUStep = 2
	three := Estimate{Target: Resources{CPUs: 3, MemoryBytes: 8 * gib}, Lower: Resources{CPUs: 2, MemoryBytes: 8 * gib}, Upper: Resources{CPUs: 5, MemoryBytes: 8 * gib}}
	if d := Decide(t0, both(ModeLive), s, three); !d.Change || d.Restart || d.To.CPUs != 4 {
		t.Errorf("3 vCPU with 2 a socket: %+v, want a live change to 4", d)
	}
	// maxAllowed of 5 with 2 a socket: down to 4, not up to 6.
	s.Max = Resources{CPUs: 5}
	five := Estimate{Target: Resources{CPUs: 5, MemoryBytes: 8 * gib}, Lower: Resources{CPUs: 5, MemoryBytes: 8 * gib}, Upper: Resources{CPUs: 5, MemoryBytes: 8 * gib}}
	s.Current = Resources{CPUs: 2, MemoryBytes: 8 * gib}
	if d := Decide(t0, both(ModeLive), s, five); !d.Change || d.To.CPUs != 4 {
		t.Errorf("5 vCPU with 2 a socket, at most 5: %+v, want a live change to 4", d)
	}
	// Not below minAllowed either: 5 exactly, which takes a restart.
	s.Min = Resources{CPUs: 5}
	if d := Decide(t0, both(ModeLive), s, five); d.Change || d.To.CPUs != 5 {
		t.Errorf("5 vCPU with 2 a socket, at least and at most 5: %+v, want 5 (no live change)", d)
	}
	s.Min = Resources{}
	// A resource the policy leaves alone keeps its size, above the
	// maximum or not.
	s.Max = Resources{CPUs: 5, MemoryBytes: 4 * gib}
	if d := Decide(t0, Policy{Mode: ModeLive, CPU: true}, s, five); d.To.MemoryBytes != 8*gib {
		t.Errorf("CPU only, memory above its maximum: %+v, want memory left at 8Gi", d)
	}
	s = running(size4x8)
	s.Max = s.HotplugMax
	grow := Estimate{Target: Resources{CPUs: 12, MemoryBytes: 20 * gib}, Lower: Resources{CPUs: 10, MemoryBytes: 18 * gib}, Upper: Resources{CPUs: 16, MemoryBytes: 24 * gib}}
	if d := Decide(t0, both(ModeLiveOrRestart), s, grow); !d.Change || d.Restart || d.To.CPUs != 8 || d.To.MemoryBytes != 16*gib {
		t.Errorf("beyond the VM's maximum of 8 vCPU, 16Gi: %+v, want a live change to it", d)
	}
}
