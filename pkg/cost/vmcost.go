package cost

// GPUCount is a number of devices of one model; an instance of a shared
// GPU counts as its share of the device (gpu.Share).
type GPUCount struct {
	Model string
	Count float64
}

// VMCostPerHour is what a VM costs per hour on a node priced p, charging each
// resource for the larger of its request and its usage:
//
//	cost = max(cpuCores, usageCPU) × CPUCoreHour
//	     + max(memBytes, usageMem) / 2^30 × MemoryGiBHour
//	     + Σ count × GPUHour(model)
//
// CPU is in cores, memory in bytes; pass zero usage for a VM not yet running.
func VMCostPerHour(p NodePricing, cpuCores, memBytes float64, gpus []GPUCount, usageCPU, usageMem float64) float64 {
	c := max(cpuCores, usageCPU)*p.CPUCoreHour + max(memBytes, usageMem)/gibibyte*p.MemoryGiBHour
	for _, g := range gpus {
		c += g.Count * p.GPU(g.Model)
	}
	return c
}
