package rightsizing

import "math"

// roundUp turns cores and bytes into an allocation KubeVirt can apply:
// whole vCPUs and whole MemoryStep units, rounding up (a recommendation is a
// floor on what the guest needs) and never below one of each.
func roundUp(cores, bytes float64) Resources {
	if math.IsNaN(cores) {
		cores = 0
	}
	if math.IsNaN(bytes) {
		bytes = 0
	}
	cpus := math.Ceil(cores - 1e-9) // 2.0000000001 from float noise is 2, not 3
	cpus = min(max(cpus, 1), math.MaxInt32)
	steps := math.Ceil(bytes/float64(MemoryStep) - 1e-9)
	steps = min(max(steps, 1), float64(math.MaxInt64/MemoryStep))
	return Resources{CPUs: int32(cpus), MemoryBytes: int64(steps) * MemoryStep}
}

// clamp bounds r to lim; a zero field does not bound. The minimum wins over
// a smaller maximum, as in VPA's capping: minAllowed is what the workload is
// said to need, maxAllowed what the owner is willing to pay for.
func (lim Limits) clamp(r Resources) Resources {
	if lim.Max.CPUs > 0 && r.CPUs > lim.Max.CPUs {
		r.CPUs = lim.Max.CPUs
	}
	if lim.Max.MemoryBytes > 0 && r.MemoryBytes > lim.Max.MemoryBytes {
		r.MemoryBytes = lim.Max.MemoryBytes
	}
	if r.CPUs < lim.Min.CPUs {
		r.CPUs = lim.Min.CPUs
	}
	if r.MemoryBytes < lim.Min.MemoryBytes {
		r.MemoryBytes = lim.Min.MemoryBytes
	}
	return r
}
