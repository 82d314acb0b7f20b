package placement

import (
	"testing"

	"github.com/hypersdk/hypersdk/pkg/cost"
)

func TestFilters(t *testing.T) {
	const gi = 1 << 30
	node := NodeSnapshot{Name: "n", Zone: "ES", AllocatableCPU: 16, AllocatableMemory: 32 * gi, RequestedCPU: 13.5, RequestedMemory: 28.5 * gi}
	spotNode := node
	spotNode.CapacityType = cost.Spot
	noCPU := NodeSnapshot{AllocatableMemory: gi}
	dirty := node
	dirty.CarbonIntensity, dirty.CarbonKnown = 312, true
	unknownDirty := dirty
	unknownDirty.CarbonKnown = false
	limits := Policy{MaxCarbonIntensity: 250, MaxNodeUtilization: 80}

	for _, tc := range []struct {
		name   string
		reason string
		want   string
	}{
		{"spot forbidden", spotReason(&VMRequest{NoSpot: true}, &spotNode), "spot node, and the VM does not allow spot capacity"},
		{"spot a fallback", spotReason(&VMRequest{}, &spotNode), ""},
		{"spot allowed", spotReason(&VMRequest{AllowSpot: true}, &spotNode), ""},
		{"on-demand", spotReason(&VMRequest{}, &node), ""},
		{"fits", fitReason(&VMRequest{CPUCores: 2.5, MemoryBytes: 3.5 * gi}, &node), ""},
		{"insufficient CPU", fitReason(&VMRequest{CPUCores: 4, MemoryBytes: gi}, &node),
			"insufficient CPU: VM requests 4 cores, node has 2.5 of 16 free"},
		{"insufficient memory", fitReason(&VMRequest{CPUCores: 1, MemoryBytes: 8 * gi}, &node),
			"insufficient memory: VM requests 8 GiB, node has 3.5 of 32 GiB free"},
		{"no allocatable CPU", fitReason(&VMRequest{}, &noCPU), "insufficient CPU: VM requests 0 cores, node has 0 of 0 free"},
		{"carbon above maximum", carbonReason(&dirty, &limits), "zone ES carbon intensity 312 g/kWh above policy maximum 250"},
		{"carbon unknown passes", carbonReason(&unknownDirty, &limits), ""},
		{"no carbon limit", carbonReason(&dirty, &Policy{}), ""},
		{"CPU utilisation", utilisationReason(92, 50, &limits), "node CPU utilisation would be 92% with this VM, above policy maximum 80%"},
		{"memory utilisation", utilisationReason(50, 85, &limits), "node memory utilisation would be 85% with this VM, above policy maximum 80%"},
		{"at the limit", utilisationReason(80, 80, &limits), ""},
		{"no utilisation limit", utilisationReason(150, 150, &Policy{}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.reason != tc.want {
				t.Errorf("got %q, want %q", tc.reason, tc.want)
			}
		})
	}
}

// TestPreemptionCannotHelp: spot and carbon reasons are for good; a node
// short of room or over the utilisation maximum may be mended by eviction.
func TestPreemptionCannotHelp(t *testing.T) {
	p := &Policy{MaxCarbonIntensity: 250, MaxNodeUtilization: 80}
	dirty := &NodeSnapshot{Zone: "ES", CarbonKnown: true, CarbonIntensity: 312}
	small := &NodeSnapshot{AllocatableCPU: 2, AllocatableMemory: 8 * gibibyte}
	vm := &VMRequest{CPUCores: 4, MemoryBytes: gibibyte}
	for reason, want := range map[string]bool{
		SpotNodeReason:                                    true,
		SpotFallbackReason:                                true,
		carbonReason(dirty, p):                            true,
		fitReason(vm, small):                              false,
		utilisationReason(90, 10, p):                      false,
		gpuReason(GPURequest{Model: "A100", Count: 2}, 1): false,
	} {
		if reason == "" {
			t.Fatal("a reason the case needs is empty")
		}
		if got := PreemptionCannotHelp(reason); got != want {
			t.Errorf("PreemptionCannotHelp(%q) = %v, want %v", reason, got, want)
		}
	}
}
