package placement

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hypersdk/hypersdk/pkg/cost"
)

const gi = 1 << 30

// snap is a 16-core, 64 GiB node with 4 cores and 16 GiB requested, a
// 50-250 W power curve and PUE 1.2, charging price per core-hour and
// price/8 per GiB-hour. The test VM (4 cores, 8 GiB) then costs 5×price per
// hour there and emits intensity × (4/16 × 250 W) × 1.2 = 0.075×intensity g/h.
func snap(name, zone string, intensity, price float64) NodeSnapshot {
	return NodeSnapshot{
		Name: name, Zone: zone, CapacityType: cost.OnDemand,
		AllocatableCPU: 16, AllocatableMemory: 64 * gi, RequestedCPU: 4, RequestedMemory: 16 * gi,
		CarbonIntensity: intensity, CarbonKnown: true,
		Pricing: cost.NodePricing{CPUCoreHour: price, MemoryGiBHour: price / 8, GPUHour: []cost.GPUPrice{{Model: "A100", Hour: 3}}},
		Power:   PowerModel{IdleWatts: 50, MaxWatts: 250},
		PUE:     1.2,
	}
}

var testVM = VMRequest{Namespace: "default", Name: "vm", CPUCores: 4, MemoryBytes: 8 * gi}

// zones are three nodes: ES cheapest, NO cleanest, US-CAL-CISO neither.
func zones() []NodeSnapshot {
	return []NodeSnapshot{
		snap("es", "ES", 200, 0.03),          // 15 g/h, $0.15/h
		snap("ca", "US-CAL-CISO", 250, 0.04), // 18.75 g/h, $0.20/h
		snap("no", "NO", 30, 0.05),           // 2.25 g/h, $0.25/h
	}
}

func names(scores []NodeScore) []string {
	var out []string
	for _, s := range scores {
		out = append(out, s.Node)
	}
	return out
}

func TestEvaluateRanking(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
		order  []string
		totals []float64 // in order
	}{
		// carbon: NO 100, ES 100×(18.75−15)/(18.75−2.25), CA 0
		{"carbon-dominant picks the cleanest zone", Policy{CarbonWeight: 1}, []string{"no", "es", "ca"}, []float64{100, 100 * 3.75 / 16.5, 0}},
		// cost: ES 100, CA 50, NO 0
		{"cost-dominant picks the cheapest", Policy{CostWeight: 1}, []string{"es", "ca", "no"}, []float64{100, 50, 0}},
		// (2×carbon + cost) / 3
		{"weighted average", Policy{CarbonWeight: 2, CostWeight: 1}, []string{"no", "es", "ca"},
			[]float64{200.0 / 3, (2*100*3.75/16.5 + 100) / 3, 50.0 / 3}},
		// GPU weight does not count for a VM without GPUs.
		{"GPU weight ignored", Policy{CostWeight: 1, GPUWeight: 5}, []string{"es", "ca", "no"}, []float64{100, 50, 0}},
		{"no weights: price order", Policy{}, []string{"es", "ca", "no"}, []float64{0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(testVM, zones(), tc.policy)
			if got := names(d.Scores); !slices.Equal(got, tc.order) {
				t.Fatalf("order %v, want %v", got, tc.order)
			}
			for i, s := range d.Scores {
				if !approx(s.Total, tc.totals[i]) {
					t.Errorf("%s: total %v, want %v", s.Node, s.Total, tc.totals[i])
				}
			}
			if len(d.Filtered) != 0 {
				t.Errorf("filtered %v", d.Filtered)
			}
		})
	}
}

func TestEvaluateRawFigures(t *testing.T) {
	// Without the default cost budget, which would leave es alone in budget.
	d := Evaluate(testVM, zones(), WeightedPolicy())
	for _, want := range []struct {
		node                   string
		grams, cost, carbonScr float64
	}{
		{"es", 15, 0.15, 100 * 3.75 / 16.5},
		{"ca", 18.75, 0.20, 0},
		{"no", 2.25, 0.25, 100},
	} {
		i := slices.IndexFunc(d.Scores, func(s NodeScore) bool { return s.Node == want.node })
		s := d.Scores[i]
		if !approx(s.GramsCO2PerHour, want.grams) || !approx(s.CostPerHour, want.cost) || !approx(s.Carbon, want.carbonScr) {
			t.Errorf("%s: %.4g g/h, $%.4g/h, carbon %.4g; want %.4g, %.4g, %.4g",
				s.Node, s.GramsCO2PerHour, s.CostPerHour, s.Carbon, want.grams, want.cost, want.carbonScr)
		}
		// CPU (4 requested + 4) / 16 = 50%, memory (16 + 8) / 64 = 37.5%,
		// usage unknown so FitScore: ((50 + 37.5)/2 + 100 − 12.5/2) / 2.
		if !approx(s.PredictedUtilization, 50) || !approx(s.Pressure, 68.75) {
			t.Errorf("%s: predicted %v%%, pressure %v", s.Node, s.PredictedUtilization, s.Pressure)
		}
		if s.GPUDevices != nil || s.GPULocality != LocalityNone || s.GPU != 0 {
			t.Errorf("%s: GPU figures for a VM without GPUs: %+v", s.Node, s)
		}
		if notes := s.Notes(); len(notes) != 1 || !strings.Contains(notes[0], "usage unknown") {
			t.Errorf("%s: notes %q", s.Node, notes)
		}
	}
}

func TestEvaluateFilters(t *testing.T) {
	noSpotVM := testVM
	noSpotVM.NoSpot = true
	spot := snap("spot-es", "ES", 200, 0.01)
	spot.CapacityType = cost.Spot
	hot := snap("hot", "ES", 200, 0.03)
	hot.UsageCPU, hot.UsageMemory, hot.UsageKnown = 11, 16*gi, true // (11+4)/16 = 93.75%
	full := snap("full", "ES", 200, 0.03)
	full.RequestedCPU = 14
	dark := snap("dark", "XX", 0, 0.03)
	dark.CarbonKnown = false

	for _, tc := range []struct {
		name     string
		vm       VMRequest
		nodes    []NodeSnapshot
		policy   Policy
		order    []string
		filtered []FilteredNode
	}{
		{
			name:     "spot excluded with NoSpot",
			vm:       noSpotVM,
			nodes:    []NodeSnapshot{spot, snap("es", "ES", 200, 0.03)},
			policy:   Policy{CostWeight: 1},
			order:    []string{"es"},
			filtered: []FilteredNode{{"spot-es", "spot node, and the VM does not allow spot capacity"}},
		},
		{
			name:   "spot wins on cost with AllowSpot",
			vm:     VMRequest{CPUCores: 4, MemoryBytes: 8 * gi, AllowSpot: true},
			nodes:  []NodeSnapshot{snap("es", "ES", 200, 0.03), spot},
			policy: Policy{CostWeight: 1},
			order:  []string{"spot-es", "es"},
		},
		{
			name:     "utilisation limit",
			vm:       testVM,
			nodes:    []NodeSnapshot{hot, snap("es", "ES", 200, 0.03)},
			policy:   Policy{PressureWeight: 1, MaxNodeUtilization: 80},
			order:    []string{"es"},
			filtered: []FilteredNode{{"hot", "node CPU utilisation would be 93.8% with this VM, above policy maximum 80%"}},
		},
		{
			name:     "carbon limit",
			vm:       testVM,
			nodes:    zones(),
			policy:   Policy{CostWeight: 1, MaxCarbonIntensity: 220},
			order:    []string{"es", "no"},
			filtered: []FilteredNode{{"ca", "zone US-CAL-CISO carbon intensity 250 g/kWh above policy maximum 220"}},
		},
		{
			name:     "insufficient CPU, filtered in input order",
			vm:       noSpotVM,
			nodes:    []NodeSnapshot{spot, full, snap("es", "ES", 200, 0.03)},
			policy:   DefaultPolicy(),
			order:    []string{"es"},
			filtered: []FilteredNode{{"spot-es", "spot node, and the VM does not allow spot capacity"}, {"full", "insufficient CPU: VM requests 4 cores, node has 2 of 16 free"}},
		},
		{
			// Unknown carbon is not filtered, even with a limit; it scores 0.
			name:   "unknown carbon is kept",
			vm:     testVM,
			nodes:  []NodeSnapshot{dark, snap("no", "NO", 30, 0.03)},
			policy: Policy{CarbonWeight: 1, MaxCarbonIntensity: 100},
			order:  []string{"no", "dark"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(tc.vm, tc.nodes, tc.policy)
			if got := names(d.Scores); !slices.Equal(got, tc.order) {
				t.Errorf("order %v, want %v", got, tc.order)
			}
			if !slices.Equal(d.Filtered, tc.filtered) {
				t.Errorf("filtered %q, want %q", d.Filtered, tc.filtered)
			}
		})
	}
}

func TestEvaluateUnknownCarbonNoted(t *testing.T) {
	dark := snap("dark", "XX", 0, 0.03)
	dark.CarbonKnown = false
	dark.UsageKnown = true
	d := Evaluate(testVM, []NodeSnapshot{dark, snap("no", "NO", 30, 0.03)}, DefaultPolicy())
	s := d.Scores[slices.IndexFunc(d.Scores, func(s NodeScore) bool { return s.Node == "dark" })]
	if s.CarbonKnown || s.Carbon != 0 || s.GramsCO2PerHour != 0 {
		t.Errorf("unknown carbon scored %+v", s)
	}
	if notes := s.Notes(); len(notes) != 1 || !strings.Contains(notes[0], "carbon intensity unknown") {
		t.Errorf("notes %q", notes)
	}
}

func TestEvaluatePressure(t *testing.T) {
	n := snap("n", "ES", 200, 0.03)
	n.UsageCPU, n.UsageCPUStdDev, n.UsageMemory, n.UsageKnown = 4, 4, 16*gi, true
	for _, tc := range []struct {
		name   string
		policy Policy
		want   float64
	}{
		// usage 4 + 4 of 16 = 50%: 40×50/60 + 60
		{"TargetLoadPacking", Policy{PressureWeight: 1}, 40*50/60.0 + 60},
		{"TargetLoadPacking, target 40", Policy{PressureWeight: 1, TargetUtilization: 40}, 40 * 50 / 60.0},
		// CPU mu 0.5, sigma 0.25 → risk 0.5; memory (16+8)/64 → risk 0.1875
		{"LoadVariationRiskBalancing", Policy{PressureWeight: 1, Pressure: LoadVariationRiskBalancing}, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Evaluate(testVM, []NodeSnapshot{n}, tc.policy).Scores[0]
			if !approx(s.Pressure, tc.want) || !approx(s.Total, tc.want) {
				t.Errorf("pressure %v, total %v, want %v", s.Pressure, s.Total, tc.want)
			}
		})
	}
}

func TestEvaluateRunningVM(t *testing.T) {
	// A running VM using 6 of its 4 cores pays for 6: 6×0.03 + 8×0.03/8.
	vm := testVM
	vm.UsageCPU = 6
	s := Evaluate(vm, []NodeSnapshot{snap("es", "ES", 200, 0.03)}, DefaultPolicy()).Scores[0]
	if !approx(s.CostPerHour, 0.21) {
		t.Errorf("cost %v, want 0.21", s.CostPerHour)
	}
	// Half-busy: 4/16 × (50 + 200×0.5) W × 200 g/kWh × 1.2
	vm.UsageCPU = 2
	s = Evaluate(vm, []NodeSnapshot{snap("es", "ES", 200, 0.03)}, DefaultPolicy()).Scores[0]
	if !approx(s.GramsCO2PerHour, 37.5*0.2*1.2) {
		t.Errorf("grams %v, want %v", s.GramsCO2PerHour, 37.5*0.2*1.2)
	}
}

// gpuNode is a 48-core A100 server (the sandbox's shape) with assigned devices taken.
func gpuNode(name string, taken ...string) NodeSnapshot {
	n := snap(name, "ES", 200, 0.03)
	n.AllocatableCPU, n.AllocatableMemory = 48, 384*gi
	n.GPUs, n.GPUsAssigned = a100x4, assigned(taken...)
	return n
}

func TestEvaluateGPUs(t *testing.T) {
	gpuVM := testVM
	gpuVM.GPUs = []GPURequest{{Model: "A100", ResourceName: "nvidia.com/A100", Count: 2}}
	cpuOnly := snap("cpu-only", "ES", 200, 0.03)
	for _, tc := range []struct {
		name     string
		nodes    []NodeSnapshot
		policy   Policy
		order    []string
		devices  []string // of the best node
		locality Locality
		gpu      float64
	}{
		{
			name:     "NVLink pair on an A100x4",
			nodes:    []NodeSnapshot{gpuNode("a100"), cpuOnly},
			policy:   DefaultPolicy(),
			order:    []string{"a100"},
			devices:  []string{"gpu0", "gpu1"},
			locality: LocalityNVLinkSameNUMA,
			gpu:      (200 + 50) / 3.0, // 2 of 4 left free
		},
		{
			name:     "binpack fills the partly used server",
			nodes:    []NodeSnapshot{gpuNode("a100-empty"), gpuNode("a100-partial", "gpu0")},
			policy:   Policy{GPUWeight: 1, GPUPolicy: GPUBinpack},
			order:    []string{"a100-partial", "a100-empty"},
			devices:  []string{"gpu2", "gpu3"},
			locality: LocalityNVLinkSameNUMA,
			gpu:      (200 + 75) / 3.0, // 1 of 4 left free
		},
		{
			name:     "spread takes the empty server",
			nodes:    []NodeSnapshot{gpuNode("a100-empty"), gpuNode("a100-partial", "gpu0")},
			policy:   Policy{GPUWeight: 1, GPUPolicy: GPUSpread},
			order:    []string{"a100-empty", "a100-partial"},
			devices:  []string{"gpu0", "gpu1"},
			locality: LocalityNVLinkSameNUMA,
			gpu:      (200 + 50) / 3.0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(gpuVM, tc.nodes, tc.policy)
			if got := names(d.Scores); !slices.Equal(got, tc.order) {
				t.Fatalf("order %v, want %v", got, tc.order)
			}
			best := d.Scores[0]
			if !slices.Equal(best.GPUDevices, tc.devices) || best.GPULocality != tc.locality || !approx(best.GPU, tc.gpu) {
				t.Errorf("best %s: devices %v (%v), GPU score %v; want %v (%v), %v",
					best.Node, best.GPUDevices, best.GPULocality, best.GPU, tc.devices, tc.locality, tc.gpu)
			}
			// 4×0.03 + 8×0.03/8 + 2 A100 × $3
			if !approx(best.CostPerHour, 0.15+6) {
				t.Errorf("cost %v, want 6.15", best.CostPerHour)
			}
		})
	}
	d := Evaluate(gpuVM, []NodeSnapshot{cpuOnly}, DefaultPolicy())
	want := []FilteredNode{{"cpu-only", "not enough free A100 GPUs: VM requests 2, node has 0 free"}}
	if !slices.Equal(d.Filtered, want) || len(d.Scores) != 0 {
		t.Errorf("filtered %q, scores %v; want %q", d.Filtered, d.Scores, want)
	}
}

func TestEvaluateGPUDevicesDoNotAlias(t *testing.T) {
	// Device ID slices share one array; appending to one must not touch the next.
	gpuVM := testVM
	gpuVM.GPUs = []GPURequest{{Model: "A100", Count: 1}}
	d := Evaluate(gpuVM, []NodeSnapshot{gpuNode("a"), gpuNode("b", "gpu0")}, Policy{GPUWeight: 1})
	first := d.Scores[0].GPUDevices
	second := slices.Clone(d.Scores[1].GPUDevices)
	_ = append(first, "extra")
	if !slices.Equal(d.Scores[1].GPUDevices, second) {
		t.Errorf("appending to one node's devices changed another's: %v", d.Scores[1].GPUDevices)
	}
}

func TestEvaluateAllocations(t *testing.T) {
	// Scoring allocates per call, not per node.
	for _, n := range []int{500, 5000} {
		nodes := benchNodes(n)
		vm := VMRequest{CPUCores: 2, MemoryBytes: 4 * gi, AllowSpot: true}
		p := DefaultPolicy()
		allocs := testing.AllocsPerRun(5, func() { Evaluate(vm, nodes, p) })
		if allocs > 2 {
			t.Errorf("%d nodes: %v allocations per Evaluate, want at most 2", n, allocs)
		}
	}
}

// TestCarbonPriceTradesGramsForDollars: at a carbon price, the node that
// wins is the one cheapest once its emissions are paid for, whatever the
// min-max spread of either criterion.
func TestCarbonPriceTradesGramsForDollars(t *testing.T) {
	nodes := []NodeSnapshot{
		{Name: "dirty-cheap", AllocatableCPU: 16, AllocatableMemory: 64 << 30, CarbonIntensity: 700, CarbonKnown: true,
			Pricing: cost.NodePricing{CPUCoreHour: 0.020, MemoryGiBHour: 0.003}},
		{Name: "clean-dear", AllocatableCPU: 16, AllocatableMemory: 64 << 30, CarbonIntensity: 30, CarbonKnown: true,
			Pricing: cost.NodePricing{CPUCoreHour: 0.021, MemoryGiBHour: 0.003}},
	}
	vm := VMRequest{CPUCores: 4, MemoryBytes: 8 << 30}
	p := Policy{CarbonWeight: 1, CostWeight: 1}
	winner := func(price float64) (string, NodeScore) {
		p.CarbonPricePerTonne = price
		d := Evaluate(vm, nodes, p)
		return d.Scores[0].Node, d.Scores[0]
	}
	// 4 vCPUs at full load draw 14 W: 10.7 g/h more on the dirty node
	// (at PUE 1.135), for $0.004/h less. The break-even price is about
	// $375/t.
	if got, _ := winner(100); got != "dirty-cheap" {
		t.Errorf("at $100/t %s wins; the dirty node's emissions are worth less than its discount", got)
	}
	got, s := winner(1000)
	if got != "clean-dear" {
		t.Errorf("at $1000/t %s wins", got)
	}
	want := s.CostPerHour + s.GramsCO2PerHour*1000/1e6
	if math.Abs(s.PricedCostPerHour-want) > 1e-12 || s.Priced != 100 {
		t.Errorf("priced %v (score %v), want %v and the best score", s.PricedCostPerHour, s.Priced, want)
	}
	if err := (Policy{CarbonWeight: 1, CarbonPricePerTonne: -1}).Validate(); err == nil {
		t.Error("a negative carbon price validates")
	}
}

// TestCostBudgetBoundsWhatCarbonMayCost: with a budget, carbon picks among
// the nodes within the budget over the cheapest, and no saving of grams
// buys a node over it, which ranks last with a total of 0.
func TestCostBudgetBoundsWhatCarbonMayCost(t *testing.T) {
	nodes := []NodeSnapshot{
		snap("cheap-dirty", "US-CAL-CISO", 400, 0.0400), // $0.2000/h, 30 g/h
		snap("plus4-mid", "ES", 200, 0.0416),            // $0.2080/h (+4%), 15 g/h
		snap("plus10-clean", "NO", 30, 0.0440),          // $0.2200/h (+10%), 2.25 g/h
		snap("plus12-clean", "NO", 20, 0.0448),          // $0.2240/h (+12%), 1.5 g/h
	}
	for _, tc := range []struct {
		budget float64
		want   []string
		over   int
	}{
		{0, []string{"cheap-dirty", "plus4-mid", "plus10-clean", "plus12-clean"}, 3},
		{5, []string{"plus4-mid", "cheap-dirty", "plus10-clean", "plus12-clean"}, 2},
		{10, []string{"plus10-clean", "plus4-mid", "cheap-dirty", "plus12-clean"}, 1},
		{50, []string{"plus12-clean", "plus10-clean", "plus4-mid", "cheap-dirty"}, 0},
	} {
		// Pressure is the same everywhere: it keeps totals in budget
		// above 0 without changing the order.
		p := Policy{CarbonWeight: 1, CostWeight: 1, PressureWeight: 1, CostBudgetPercent: &tc.budget}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		d := Evaluate(testVM, nodes, p)
		// Over budget, ties at 0 go by price.
		if got := names(d.Scores); !slices.Equal(got, tc.want) {
			t.Errorf("budget %v%%: ranked %v, want %v", tc.budget, got, tc.want)
		}
		over := 0
		for i, s := range d.Scores {
			if s.OverBudget {
				over++
				if s.Total != 0 || i < len(d.Scores)-tc.over {
					t.Errorf("budget %v%%: %s over budget with total %v at rank %d", tc.budget, s.Node, s.Total, i)
				}
			} else if s.Total <= 0 {
				t.Errorf("budget %v%%: %s in budget with total %v", tc.budget, s.Node, s.Total)
			}
		}
		if over != tc.over {
			t.Errorf("budget %v%%: %d nodes over budget, want %d", tc.budget, over, tc.over)
		}
	}

	negative, price := -1.0, 5.0
	if err := (Policy{CarbonWeight: 1, CostBudgetPercent: &negative}).Validate(); err == nil {
		t.Error("a negative cost budget validates")
	}
	if err := (Policy{CarbonWeight: 1, CostBudgetPercent: &price, CarbonPricePerTonne: 100}).Validate(); err == nil {
		t.Error("a cost budget with a carbon price validates")
	}
}

// TestDefaultPolicyHasACostBudget: with no policy, carbon decides among the
// nodes within DefaultCostBudgetPercent of the cheapest, and the cleanest
// node over it ranks last however clean.
func TestDefaultPolicyHasACostBudget(t *testing.T) {
	nodes := []NodeSnapshot{
		snap("cheap-dirty", "US-CAL-CISO", 400, 0.0400), // $0.2000/h, 30 g/h
		snap("plus12-clean", "NO", 20, 0.0448),          // $0.2240/h (+12%), 1.5 g/h
		snap("plus25-cleanest", "NO", 5, 0.0500),        // $0.2500/h (+25%), 0.375 g/h
	}
	d := Evaluate(testVM, nodes, DefaultPolicy())
	if got, want := names(d.Scores), []string{"plus12-clean", "cheap-dirty", "plus25-cleanest"}; !slices.Equal(got, want) {
		t.Errorf("default policy ranked %v, want %v", got, want)
	}
	if last := d.Scores[len(d.Scores)-1]; !last.OverBudget {
		t.Errorf("%s (+25%%) is not over the default budget of %d%%", last.Node, DefaultCostBudgetPercent)
	}
	if err := DefaultPolicy().Validate(); err != nil {
		t.Errorf("default policy: %v", err)
	}
	if WeightedPolicy().CostBudgetPercent != nil {
		t.Error("the weighted policy has a cost budget")
	}
}

// Without measured usage, pressure packs requests, so a small VM leaves the
// room a large one needs; with usage, TargetLoadPacking spreads the load
// past its target.
func TestPressureKeepsRoomWithoutUsage(t *testing.T) {
	nodes := func(usage bool) []NodeSnapshot {
		fuller, emptier := snap("fuller", "ES", 200, 0.03), snap("emptier", "ES", 200, 0.03)
		fuller.RequestedCPU, fuller.RequestedMemory = 10, 40*gi
		emptier.RequestedCPU, emptier.RequestedMemory = 8, 24*gi
		if usage {
			fuller.UsageCPU, fuller.UsageMemory, fuller.UsageKnown = 10, 40*gi, true
			emptier.UsageCPU, emptier.UsageMemory, emptier.UsageKnown = 8, 24*gi, true
		}
		return []NodeSnapshot{fuller, emptier}
	}
	small := VMRequest{Name: "small", CPUCores: 2, MemoryBytes: 4 * gi}
	p := Policy{PressureWeight: 1}

	d := Evaluate(small, nodes(false), p)
	if got := names(d.Scores); !slices.Equal(got, []string{"fuller", "emptier"}) {
		t.Fatalf("without usage: order %v, want the fuller node first", got)
	}
	// The 8 CPUs left free on the emptier node are the only room for an
	// 8-CPU VM once the small one is placed.
	after := nodes(false)
	after[0].RequestedCPU += small.CPUCores
	after[0].RequestedMemory += small.MemoryBytes
	if d := Evaluate(VMRequest{Name: "large", CPUCores: 8, MemoryBytes: 16 * gi}, after, p); len(d.Scores) != 1 || d.Scores[0].Node != "emptier" {
		t.Errorf("large VM after the small one: scores %v, filtered %v; want the emptier node", names(d.Scores), d.Filtered)
	}

	// 75% and 62.5% CPU are both past the 60% target: TargetLoadPacking
	// prefers the cooler node.
	d = Evaluate(small, nodes(true), p)
	if got := names(d.Scores); !slices.Equal(got, []string{"emptier", "fuller"}) {
		t.Errorf("with usage: order %v, want the emptier node first", got)
	}
}

// TestEvaluateSpotFallback: a VM that neither allows nor forbids spot goes
// to a spot node only when nothing else fits. While another node is
// feasible, the spot nodes (here the cheapest and cleanest) rank last with
// total 0, and the others score as if the spot nodes were not there;
// alone, the spot nodes score as for a VM that allows spot.
func TestEvaluateSpotFallback(t *testing.T) {
	spot := func(name string) NodeSnapshot {
		n := snap(name, "NO", 20, 0.01)
		n.CapacityType = cost.Spot
		return n
	}
	spots := []NodeSnapshot{spot("spot-a"), spot("spot-b")}
	for _, tc := range rankingCases() {
		if tc.vm.wantsGPUs() {
			continue // the nodes have no GPUs
		}
		t.Run(tc.name, func(t *testing.T) {
			vm := tc.vm
			mixed := Evaluate(vm, append(zones(), spots...), tc.policy)
			alone := Evaluate(vm, zones(), tc.policy)
			if got := names(mixed.Scores); len(got) != 5 || !slices.Equal(got[:3], names(alone.Scores)) {
				t.Fatalf("order %v, want %v then the spot nodes", got, names(alone.Scores))
			}
			for i, s := range mixed.Scores {
				switch {
				case i < 3 && (s.SpotFallback || s.Total != alone.Scores[i].Total || s.OverBudget != alone.Scores[i].OverBudget):
					t.Errorf("%s: total %v over budget %v fallback %v, without the spot nodes %v %v", s.Node,
						s.Total, s.OverBudget, s.SpotFallback, alone.Scores[i].Total, alone.Scores[i].OverBudget)
				case i >= 3 && (!s.SpotFallback || s.Total != 0):
					t.Errorf("%s: total %v fallback %v, want a fallback totalling 0", s.Node, s.Total, s.SpotFallback)
				}
			}

			only := Evaluate(vm, spots, tc.policy)
			vm.AllowSpot = true
			allowed := Evaluate(vm, spots, tc.policy)
			if len(only.Scores) != 2 || !only.Scores[0].SpotFallback || only.Scores[0].Total == 0 {
				t.Fatalf("spot nodes alone: %+v, want both scored as fallbacks", only.Scores)
			}
			for i := range only.Scores {
				if only.Scores[i].Node != allowed.Scores[i].Node || only.Scores[i].Total != allowed.Scores[i].Total {
					t.Errorf("spot nodes alone: rank %d %s total %v, for a VM allowing spot %s %v", i,
						only.Scores[i].Node, only.Scores[i].Total, allowed.Scores[i].Node, allowed.Scores[i].Total)
				}
			}
			if first := Evaluate(vm, append(zones(), spots...), tc.policy).Scores[0]; first.SpotFallback {
				t.Errorf("a VM allowing spot: %s is a fallback", first.Node)
			}
		})
	}
}

// TestUnpricedNodeIsNotFree: a node whose price is unknown (CostPerHour 0)
// does not become the cheapest candidate, which under the default cost
// budget put every priced node over budget and sent every VM to it; it is
// over budget itself and ranks last on cost.
func TestUnpricedNodeIsNotFree(t *testing.T) {
	priced := func(name string, intensity float64) NodeSnapshot {
		return NodeSnapshot{Name: name, Zone: name, AllocatableCPU: 16, AllocatableMemory: 64 * gibibyte,
			CarbonIntensity: intensity, CarbonKnown: true, Pricing: cost.NodePricing{CPUCoreHour: 0.03, MemoryGiBHour: 0.004}}
	}
	unpriced := priced("unpriced", 100)
	unpriced.Pricing, unpriced.PriceUnknown = cost.NodePricing{}, true
	vm := VMRequest{CPUCores: 2, MemoryBytes: 4 * gibibyte}
	for name, p := range map[string]Policy{"default": DefaultPolicy(), "weighted": WeightedPolicy()} {
		d := Evaluate(vm, []NodeSnapshot{unpriced, priced("clean", 100), priced("dirty", 400)}, p)
		if len(d.Scores) != 3 || d.Scores[0].Node != "clean" {
			t.Fatalf("%s: ranked %+v, want clean first", name, d.Scores)
		}
		for _, s := range d.Scores {
			if s.Node == "unpriced" && (s.Cost != 0 || (p.CostBudgetPercent != nil && !s.OverBudget)) {
				t.Errorf("%s: the unpriced node scores cost %v, over budget %v", name, s.Cost, s.OverBudget)
			}
		}
	}
}
