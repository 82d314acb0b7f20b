package placement

import "math"

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }

// rankingCase is a VM and a policy whose ranking tests compare two ways
// of arriving at it.
type rankingCase struct {
	name   string
	vm     VMRequest
	policy Policy
}

// rankingCases: the default policy, a carbon price, and GPUs.
func rankingCases() []rankingCase {
	// A carbon price replaces the default's cost budget (Validate refuses
	// both): as PlacementPolicy.ToPolicy builds it.
	priced := WeightedPolicy()
	priced.CarbonPricePerTonne = 400
	budgeted, budget := DefaultPolicy(), 10.0
	budgeted.CostBudgetPercent = &budget
	return []rankingCase{
		{"default", VMRequest{CPUCores: 4, MemoryBytes: 16 << 30}, DefaultPolicy()},
		{"carbon price", VMRequest{CPUCores: 4, MemoryBytes: 16 << 30}, priced},
		{"cost budget", VMRequest{CPUCores: 4, MemoryBytes: 16 << 30}, budgeted},
		{"GPUs", VMRequest{CPUCores: 8, MemoryBytes: 64 << 30, GPUs: []GPURequest{{Model: "A100", Count: 2}}}, DefaultPolicy()},
	}
}
