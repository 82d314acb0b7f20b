package placement

import "math"

// PredictedUtilization is a node's utilisation in percent once demand is
// added to base (its usage, or its requests when usage is unknown):
//
//	predicted = 100 × (base + demand) / capacity
//
// A node without capacity counts as full.
func PredictedUtilization(base, demand, capacity float64) float64 {
	if capacity <= 0 {
		return 100
	}
	return 100 * (base + demand) / capacity
}

// TargetLoadPackingScore is Trimaran's TargetLoadPacking score for a node
// whose CPU utilisation would be predicted percent with the VM, for target
// percent t:
//
//	predicted ≤ t:          score = (100 − t) × predicted / t + t
//	t < predicted ≤ 100:    score = t × (100 − predicted) / (100 − t)
//	predicted > 100:        score = 0
//
// So an empty node scores t, scores rise to 100 at the target (bin-packing
// up to it) and fall to 0 at full (spreading among hot nodes). Trimaran
// rounds to an integer; this does not.
func TargetLoadPackingScore(predicted, t float64) float64 {
	switch {
	case predicted > maxScore:
		return 0
	case predicted > t:
		return t * (maxScore - predicted) / (maxScore - t)
	default:
		return (maxScore-t)*predicted/t + t
	}
}

// FitScore scores how a VM's requests fit a node that has no measured
// usage, from the node's requested CPU and memory in percent of allocatable
// with the VM: the mean of kube-scheduler's NodeResourcesFit MostAllocated
// score (the two shares averaged) and its NodeResourcesBalancedAllocation
// score (100 × (1 − the standard deviation of the two shares)), each share
// capped at 100 as kube-scheduler caps it:
//
//	score = ((cpu + memory) / 2 + 100 − |cpu − memory| / 2) / 2
//
// Requests are reservations, not load: there is no hot node to spread away
// from, only room to keep. Spreading reservations past a target, as
// TargetLoadPacking does, leaves every node with a few CPUs free and none
// with room for a large VM; packing the fuller nodes and keeping CPU and
// memory in step keeps whole nodes free (docs/placement-evaluation.md).
func FitScore(cpuPct, memPct float64) float64 {
	cpu, mem := min(cpuPct, maxScore), min(memPct, maxScore)
	return ((cpu+mem)/2 + maxScore - math.Abs(cpu-mem)/2) / 2
}

// LoadStats describes one resource of a node for LoadVariationRiskScore, all
// in the same unit: mean and standard deviation of measured usage, the VM's
// demand and the node's capacity.
type LoadStats struct {
	Mean, StdDev, Demand, Capacity float64
}

// Trimaran's LoadVariationRiskBalancing parameters: safeVarianceMargin 1 and
// the recommended safeVarianceSensitivity 2.
const (
	riskMargin      = 1
	riskSensitivity = 2
)

// risk is Trimaran's risk of one resource:
//
//	mu = clamp((Mean + Demand) / Capacity, 0, 1)
//	sigma = clamp(StdDev / Capacity, 0, 1)
//	risk = (mu + margin × sigma^(1/sensitivity)) / 2
//
// The VM's own load counts as its demand with no variation. A resource
// without capacity is at full risk.
func (s LoadStats) risk() float64 {
	if s.Capacity <= 0 {
		return 1
	}
	mu := clamp01((s.Mean + s.Demand) / s.Capacity)
	sigma := clamp01(s.StdDev / s.Capacity)
	return min(1, (mu+riskMargin*math.Pow(sigma, 1.0/riskSensitivity))/2)
}

// LoadVariationRiskScore is Trimaran's LoadVariationRiskBalancing score:
//
//	score = 100 × (1 − max(risk(cpu), risk(memory)))
func LoadVariationRiskScore(cpu, memory LoadStats) float64 {
	return maxScore * (1 - max(cpu.risk(), memory.risk()))
}

func clamp01(x float64) float64 { return max(0, min(1, x)) }
