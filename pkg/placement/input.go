package placement

import (
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/gpu"
)

// GPURequest asks for Count devices of one model, named by Model
// (gpu.Device.Model) or ResourceName (its extended resource); a device
// matching either is fine, and a request naming neither takes any device.
type GPURequest struct {
	Model        string
	ResourceName string
	Count        int
}

// label names the requested model in messages.
func (r GPURequest) label() string {
	switch {
	case r.Model != "":
		return r.Model
	case r.ResourceName != "":
		return r.ResourceName
	}
	return "any-model"
}

// matches reports whether d satisfies r.
func (r GPURequest) matches(d *gpu.Device) bool {
	if r.Model == "" && r.ResourceName == "" {
		return true
	}
	return (r.Model != "" && d.Model == r.Model) || (r.ResourceName != "" && d.ResourceName == r.ResourceName)
}

// VMRequest is the VM being placed.
type VMRequest struct {
	Namespace, Name string
	// CPUCores and MemoryBytes are the VM's requests.
	CPUCores    float64
	MemoryBytes float64
	GPUs        []GPURequest
	// AllowSpot lets the VM run on spot capacity like on any other
	// (AllowSpotLabel "true").
	AllowSpot bool
	// NoSpot keeps the VM off spot capacity (AllowSpotLabel "false"). A
	// VM with neither runs on a
	// spot node only when no other node fits it (NodeScore.SpotFallback),
	// where kube-scheduler would put it on an untainted spot node anyway.
	NoSpot bool
	// Labels are the VM's labels, for callers that pick a Policy by label;
	// Evaluate does not read them.
	Labels map[string]string
	// UsageCPU (cores) and UsageMemory (bytes) are the observed usage of a
	// running VM being moved by the rebalancer; zero for a new VM. Cost
	// charges max(request, usage) and carbon scales with UsageCPU/CPUCores.
	UsageCPU, UsageMemory float64
}

// wantsGPUs reports whether any request asks for a device.
func (vm *VMRequest) wantsGPUs() bool {
	for _, r := range vm.GPUs {
		if r.Count > 0 {
			return true
		}
	}
	return false
}

// PowerModel is a node's linear power curve P(u) = IdleWatts +
// (MaxWatts-IdleWatts)×u over CPU utilisation u in 0..1, measured for CPUs
// cores. A zero MaxWatts means unknown: VMPowerWatts then uses
// DefaultIdleWattsPerCPU and DefaultMaxWattsPerCPU.
type PowerModel struct {
	IdleWatts, MaxWatts float64
	// CPUs is the number of cores the curve is for; zero means the node's
	// allocatable CPU.
	CPUs float64
}

// NodeSnapshot is what placement knows about one candidate node.
type NodeSnapshot struct {
	Name string
	// Zone is the node's carbon zone (carbon.ZoneOf).
	Zone         string
	CapacityType cost.CapacityType
	// AllocatableCPU (cores) and AllocatableMemory (bytes) are the node's allocatable resources.
	AllocatableCPU, AllocatableMemory float64
	// RequestedCPU and RequestedMemory sum the requests of the pods already on the node.
	RequestedCPU, RequestedMemory float64
	// UsageCPU and UsageMemory are measured usage (metrics.k8s.io), valid if
	// UsageKnown; for LoadVariationRiskBalancing they are the mean over its
	// window and the StdDev fields the standard deviation (zero if unknown).
	UsageCPU, UsageMemory             float64
	UsageCPUStdDev, UsageMemoryStdDev float64
	UsageKnown                        bool
	// CarbonIntensity is grams CO2eq per kWh of the node's zone, now or
	// averaged over Policy.CarbonHorizon (MeanIntensity); valid if CarbonKnown.
	CarbonIntensity float64
	CarbonKnown     bool
	Pricing         cost.NodePricing
	// PriceUnknown says Pricing is not the node's: its labels do not price
	// it (nodesnapshot reports why). Such a node is not taken for free:
	// it ranks last on cost and is outside any cost budget.
	PriceUnknown bool
	// GPUs is the node's inventory (gpu.ParseInventory); placement considers
	// at most the first 64 devices.
	GPUs []gpu.Device
	// GPUsAssigned holds the IDs of devices already bound (gpu.AssignedAnnotation).
	GPUsAssigned map[string]bool
	Power        PowerModel
	// PUE is the data centre's power usage effectiveness; zero means
	// DefaultPUE.
	PUE float64
}

// AllowSpotLabel set to "true" on a VM's template (KubeVirt copies template
// labels onto the virt-launcher pod) lets the VM run on spot capacity like
// on any other; "false" keeps it off spot. Without it, a VM goes to a spot
// node only when no other node fits it (NodeScore.SpotFallback).
const AllowSpotLabel = "hypersdk.io/allow-spot"
