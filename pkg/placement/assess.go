package placement

import "github.com/hypersdk/hypersdk/pkg/cost"

// evaluator holds what Evaluate works out once per call.
type evaluator struct {
	vm        *VMRequest
	p         *Policy
	vmUtil    float64
	wantsGPUs bool
	// gpuCosts is scratch space for pricing the GPUs chosen on a node.
	gpuCosts []cost.GPUCount
	// noGPUReasons[i] caches why request i fails on a node with none of its
	// devices free, the reason most nodes of a cluster give a GPU VM.
	noGPUReasons []string
}

// assess filters n and, if it is feasible, works out its raw figures and
// the scores that need no normalisation.
func (e *evaluator) assess(n *NodeSnapshot) (NodeScore, gpuFit, string) {
	vm, p := e.vm, e.p
	if r := spotReason(vm, n); r != "" {
		return NodeScore{}, gpuFit{}, r
	}
	if r := fitReason(vm, n); r != "" {
		return NodeScore{}, gpuFit{}, r
	}
	if r := carbonReason(n, p); r != "" {
		return NodeScore{}, gpuFit{}, r
	}
	baseCPU, baseMem := n.RequestedCPU, n.RequestedMemory
	if n.UsageKnown {
		baseCPU, baseMem = n.UsageCPU, n.UsageMemory
	}
	cpuPct := PredictedUtilization(baseCPU, vm.CPUCores, n.AllocatableCPU)
	memPct := PredictedUtilization(baseMem, vm.MemoryBytes, n.AllocatableMemory)
	if r := utilisationReason(cpuPct, memPct, p); r != "" {
		return NodeScore{}, gpuFit{}, r
	}
	var fit gpuFit
	if e.wantsGPUs {
		var ok bool
		var failed, free int
		if fit, ok, failed, free = fitGPUs(n.GPUs, n.GPUsAssigned, vm.GPUs, p.GPUPolicy, e.gpuCosts); !ok {
			return NodeScore{}, gpuFit{}, e.gpuReason(failed, free)
		}
	}

	s := NodeScore{
		Node:                 n.Name,
		CarbonKnown:          n.CarbonKnown,
		CostPerHour:          cost.VMCostPerHour(n.Pricing, vm.CPUCores, vm.MemoryBytes, e.gpuCosts, vm.UsageCPU, vm.UsageMemory),
		PriceUnknown:         n.PriceUnknown,
		PredictedUtilization: cpuPct,
		UsageKnown:           n.UsageKnown,
		SpotFallback:         spotFallback(vm, n),
	}
	if n.CarbonKnown {
		watts := VMPowerWatts(n.Power, n.AllocatableCPU, vmPowerCPUs(vm), e.vmUtil)
		s.GramsCO2PerHour = GramsCO2PerHour(n.CarbonIntensity, watts, n.PUE)
	}
	switch {
	case p.Pressure == LoadVariationRiskBalancing:
		var cpuStd, memStd float64
		if n.UsageKnown {
			cpuStd, memStd = n.UsageCPUStdDev, n.UsageMemoryStdDev
		}
		s.Pressure = LoadVariationRiskScore(
			LoadStats{Mean: baseCPU, StdDev: cpuStd, Demand: vm.CPUCores, Capacity: n.AllocatableCPU},
			LoadStats{Mean: baseMem, StdDev: memStd, Demand: vm.MemoryBytes, Capacity: n.AllocatableMemory})
	case n.UsageKnown:
		s.Pressure = TargetLoadPackingScore(cpuPct, p.TargetUtilization)
	default:
		// TargetLoadPacking's target is of measured load; cpuPct and
		// memPct are requests here.
		s.Pressure = FitScore(cpuPct, memPct)
	}
	if e.wantsGPUs {
		s.GPU = GPUScore(fit.locality, fit.freeAfter, fit.total, p.GPUPolicy)
		s.GPULocality = fit.locality
	}
	return s, fit, ""
}

// gpuReason explains why request i fails with free matching devices.
func (e *evaluator) gpuReason(i, free int) string {
	if free > 0 {
		return gpuReason(e.vm.GPUs[i], free)
	}
	if e.noGPUReasons[i] == "" {
		e.noGPUReasons[i] = gpuReason(e.vm.GPUs[i], 0)
	}
	return e.noGPUReasons[i]
}
