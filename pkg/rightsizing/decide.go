package rightsizing

import (
	"fmt"
	"time"
)

// Mode is a VirtualMachineAutoscaler's updateMode.
type Mode string

// Update modes.
const (
	// ModeOff only recommends.
	ModeOff Mode = "Off"
	// ModeInitial changes a VM only while it is stopped: the new size
	// applies at its next start.
	ModeInitial Mode = "Initial"
	// ModeLive changes a running VM only by CPU and memory hotplug.
	ModeLive Mode = "Live"
	// ModeLiveOrRestart hotplugs when it can and otherwise restarts the VM,
	// only inside a maintenance window.
	ModeLiveOrRestart Mode = "LiveOrRestart"
)

// Policy is what a VirtualMachineAutoscaler allows.
type Policy struct {
	Mode Mode
	// CPU and Memory say which resources are controlled.
	CPU, Memory bool
	// MaxChangesPerDay bounds the changes in any 24 hours; 0 means no bound.
	MaxChangesPerDay int
	// Cooldown is the least time between two changes of one VM.
	Cooldown time.Duration
}

// State is what the actuator knows about one VM.
type State struct {
	Current Resources
	Running bool
	// HotplugMax is the largest allocation the running VM takes live (its
	// maxSockets and maxGuest); zero fields mean that resource cannot be
	// hotplugged.
	HotplugMax Resources
	// Min and Max are the smallest and largest allocation a resize may
	// give the VM at all (the policy's minAllowed and maxAllowed; a resize
	// beyond maxSockets or maxGuest is refused); zero fields, no limit.
	// They bound what changes: a resource the policy leaves alone keeps its
	// size, inside them or not.
	Min, Max Resources
	// CPUStep is the vCPUs a hotplugged socket adds (cores × threads): a
	// live CPU count is a multiple of it. 0 or 1: any count.
	CPUStep int32
	// InWindow is true inside one of the policy's maintenance windows.
	InWindow bool
	// Changes are the times of the VM's previous changes, any order.
	Changes []time.Time
}

// Decision is what to do with one VM now.
type Decision struct {
	Change bool
	To     Resources
	// Restart is true when the change needs the VM restarted.
	Restart bool
	// Reason says why, for events and status.
	Reason string
}

// Decide applies the actuation rules: a controlled resource changes to the
// target only when its current value is outside [Lower, Upper] (as the VPA
// updater does, so noise around the target does not resize), subject to the
// mode, the cooldown and the daily change budget.
func Decide(now time.Time, p Policy, s State, e Estimate) Decision {
	to := s.Current
	// A zero target is no recommendation (an empty Estimate), never a
	// size: without the check an empty Estimate would resize to nothing.
	if p.CPU && e.Target.CPUs > 0 && (s.Current.CPUs < e.Lower.CPUs || s.Current.CPUs > e.Upper.CPUs) {
		to.CPUs = e.Target.CPUs
	}
	if p.Memory && e.Target.MemoryBytes > 0 && (s.Current.MemoryBytes < e.Lower.MemoryBytes || s.Current.MemoryBytes > e.Upper.MemoryBytes) {
		to.MemoryBytes = e.Target.MemoryBytes
	}
	to = withinHotplug(s, to)
	if to == s.Current {
		return Decision{Reason: "current size is within the recommended bounds"}
	}
	d := Decision{To: to}
	// Any mode but the three that act (the zero value included) only
	// recommends: Off is the API's default, and an unknown mode must not
	// fall through to the restart case below.
	if p.Mode != ModeInitial && p.Mode != ModeLive && p.Mode != ModeLiveOrRestart {
		mode := p.Mode
		if mode == "" {
			mode = ModeOff
		}
		d.Reason = fmt.Sprintf("updateMode %s: would resize to %s", mode, to)
		return d
	}
	var last time.Time
	day := 0
	for _, t := range s.Changes {
		if t.After(last) {
			last = t
		}
		if now.Sub(t) < 24*time.Hour {
			day++
		}
	}
	if p.Cooldown > 0 && !last.IsZero() && now.Sub(last) < p.Cooldown {
		d.Reason = fmt.Sprintf("cooldown: last change %s ago, cooldown %s", now.Sub(last).Round(time.Second), p.Cooldown)
		return d
	}
	if p.MaxChangesPerDay > 0 && day >= p.MaxChangesPerDay {
		d.Reason = fmt.Sprintf("maxChangesPerDay %d reached", p.MaxChangesPerDay)
		return d
	}
	if !s.Running {
		d.Change, d.Reason = true, fmt.Sprintf("stopped: resize to %s, applies at next start", to)
		return d
	}
	live := hotpluggable(s, to)
	switch {
	case p.Mode == ModeInitial:
		d.Reason = "updateMode Initial: waits for the VM to stop"
	case live:
		d.Change, d.Reason = true, fmt.Sprintf("resize live to %s", to)
	case p.Mode == ModeLive:
		d.Reason = fmt.Sprintf("resize to %s needs a restart (beyond maxSockets/maxGuest) and updateMode is Live", to)
	case !s.InWindow:
		d.Reason = fmt.Sprintf("resize to %s needs a restart: waiting for a maintenance window", to)
	default:
		d.Change, d.Restart, d.Reason = true, true, fmt.Sprintf("resize to %s with a restart inside a maintenance window", to)
	}
	return d
}

// withinHotplug fits a target to what the VM can have: no more than its
// Max, and, where CPUs hotplug, whole sockets, rounded up (down when up
// would pass Max), so the change stays live rather than waiting for a
// restart that would also change the CPU topology.
func withinHotplug(s State, to Resources) Resources {
	if step := max(s.CPUStep, 1); to.CPUs != s.Current.CPUs && s.HotplugMax.CPUs > 0 && to.CPUs%step != 0 {
		up, down := to.CPUs+step-to.CPUs%step, to.CPUs-to.CPUs%step
		switch {
		case s.Max.CPUs == 0 || up <= s.Max.CPUs:
			to.CPUs = up
		case down > 0 && down >= s.Min.CPUs:
			to.CPUs = down
		}
	}
	if s.Max.CPUs > 0 && to.CPUs != s.Current.CPUs {
		to.CPUs = min(to.CPUs, s.Max.CPUs)
	}
	if s.Max.MemoryBytes > 0 && to.MemoryBytes != s.Current.MemoryBytes {
		to.MemoryBytes = min(to.MemoryBytes, s.Max.MemoryBytes)
	}
	return to
}

// hotpluggable: every changed resource stays within the hotplug maximum,
// CPUs in whole sockets.
func hotpluggable(s State, to Resources) bool {
	if to.CPUs != s.Current.CPUs && (s.HotplugMax.CPUs == 0 || to.CPUs > s.HotplugMax.CPUs || to.CPUs%max(s.CPUStep, 1) != 0) {
		return false
	}
	if to.MemoryBytes != s.Current.MemoryBytes && (s.HotplugMax.MemoryBytes == 0 || to.MemoryBytes > s.HotplugMax.MemoryBytes) {
		return false
	}
	return true
}

// String formats an allocation as "2 vCPU, 4Gi".
func (r Resources) String() string {
	return fmt.Sprintf("%d vCPU, %.4gGi", r.CPUs, float64(r.MemoryBytes)/(1<<30))
}
