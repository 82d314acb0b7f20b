package placement

import (
	"math"
	"strconv"
	"strings"

	"github.com/hypersdk/hypersdk/pkg/cost"
)

// Filters return "" when a node passes and a human-readable reason when it
// does not. Reasons are only built for nodes that fail, by appending to a
// stack buffer: one allocation each, since a GPU VM fails on most nodes.

// SpotNodeReason is why a spot node is ruled out for a VM that forbids
// spot capacity.
const SpotNodeReason = "spot node, and the VM does not allow spot capacity"

// SpotFallbackReason is why a caller that sees every candidate at once
// (the extender's filter) rules out a spot fallback: another node fits the
// VM (NodeScore.SpotFallback).
const SpotFallbackReason = "spot node, the VM does not allow spot capacity, and other nodes fit it"

// carbonReasonPart is in every reason carbonReason gives.
const carbonReasonPart = " carbon intensity "

// PreemptionCannotHelp reports whether a node ruled out for reason stays
// ruled out whatever runs on it: spot capacity the VM may not use, and a
// zone above the policy's carbon maximum. Evicting pods from such a node
// would free room the VM still could not take, so a scheduler should not
// preempt there (the extender's FailedAndUnresolvableNodes).
func PreemptionCannotHelp(reason string) bool {
	return reason == SpotNodeReason || reason == SpotFallbackReason || strings.Contains(reason, carbonReasonPart)
}

// spotReason rejects spot nodes for VMs that forbid spot capacity.
func spotReason(vm *VMRequest, n *NodeSnapshot) string {
	if n.CapacityType == cost.Spot && vm.NoSpot {
		return SpotNodeReason
	}
	return ""
}

// spotFallback reports whether n is spot and vm neither allows nor forbids
// spot capacity: n is then a candidate only when no other node is
// (normalize).
func spotFallback(vm *VMRequest, n *NodeSnapshot) bool {
	return n.CapacityType == cost.Spot && !vm.AllowSpot && !vm.NoSpot
}

// fitReason rejects nodes whose unrequested allocatable CPU or memory is
// smaller than the VM's requests:
// "insufficient CPU: VM requests 4 cores, node has 2.5 of 16 free".
func fitReason(vm *VMRequest, n *NodeSnapshot) string {
	if free := n.AllocatableCPU - n.RequestedCPU; vm.CPUCores > free || n.AllocatableCPU <= 0 {
		return insufficient("CPU", "", vm.CPUCores, free, n.AllocatableCPU)
	}
	if free := n.AllocatableMemory - n.RequestedMemory; vm.MemoryBytes > free || n.AllocatableMemory <= 0 {
		return insufficient("memory", " GiB", vm.MemoryBytes/gibibyte, free/gibibyte, n.AllocatableMemory/gibibyte)
	}
	return ""
}

func insufficient(resource, unit string, want, free, allocatable float64) string {
	b := make([]byte, 0, 128)
	b = append(b, "insufficient "...)
	b = append(b, resource...)
	b = append(b, ": VM requests "...)
	b = appendNum(b, want)
	if unit == "" {
		b = append(b, " cores"...)
	} else {
		b = append(b, unit...)
	}
	b = append(b, ", node has "...)
	b = appendNum(b, max(free, 0))
	b = append(b, " of "...)
	b = appendNum(b, allocatable)
	b = append(b, unit...)
	b = append(b, " free"...)
	return string(b)
}

// carbonReason rejects nodes in zones above the policy's maximum intensity:
// "zone ES carbon intensity 312 g/kWh above policy maximum 250". An unknown
// intensity passes: no signal is not evidence of a dirty grid.
func carbonReason(n *NodeSnapshot, p *Policy) string {
	if p.MaxCarbonIntensity <= 0 || !n.CarbonKnown || n.CarbonIntensity <= p.MaxCarbonIntensity {
		return ""
	}
	zone := n.Zone
	if zone == "" {
		zone = "(unknown)"
	}
	b := make([]byte, 0, 128)
	b = append(b, "zone "...)
	b = append(b, zone...)
	b = append(b, carbonReasonPart...)
	b = appendNum(b, n.CarbonIntensity)
	b = append(b, " g/kWh above policy maximum "...)
	b = appendNum(b, p.MaxCarbonIntensity)
	return string(b)
}

// utilisationReason rejects nodes whose predicted CPU or memory utilisation
// (percent, with the VM) exceeds the policy's maximum:
// "node CPU utilisation would be 92% with this VM, above policy maximum 80%".
func utilisationReason(cpuPct, memPct float64, p *Policy) string {
	resource, pct := "CPU", cpuPct
	switch {
	case p.MaxNodeUtilization <= 0:
		return ""
	case cpuPct > p.MaxNodeUtilization:
	case memPct > p.MaxNodeUtilization:
		resource, pct = "memory", memPct
	default:
		return ""
	}
	b := make([]byte, 0, 128)
	b = append(b, "node "...)
	b = append(b, resource...)
	b = append(b, " utilisation would be "...)
	b = appendNum(b, pct)
	b = append(b, "% with this VM, above policy maximum "...)
	b = appendNum(b, p.MaxNodeUtilization)
	b = append(b, '%')
	return string(b)
}

// gpuReason explains that request r found only free matching devices:
// "not enough free A100 GPUs: VM requests 2, node has 1 free".
func gpuReason(r GPURequest, free int) string {
	b := make([]byte, 0, 128)
	b = append(b, "not enough free "...)
	b = append(b, r.label()...)
	b = append(b, " GPUs: VM requests "...)
	b = strconv.AppendInt(b, int64(r.Count), 10)
	b = append(b, ", node has "...)
	b = strconv.AppendInt(b, int64(free), 10)
	b = append(b, " free"...)
	return string(b)
}

// gibibyte is the number of bytes in a GiB.
const gibibyte = 1 << 30

// appendNum appends x rounded to one decimal place, without trailing zeros.
func appendNum(b []byte, x float64) []byte {
	return strconv.AppendFloat(b, math.Round(x*10)/10, 'f', -1, 64)
}
