package cost

// GPUCount is a number of devices of one model.
type GPUCount struct {
	Model string
	Count int
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
		c += float64(g.Count) * p.GPU(g.Model)
	}
	return c
}
