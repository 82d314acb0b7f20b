package placement

import (
	"fmt"
	"testing"

	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// benchNodes is a fleet shaped like the sandbox's (fleet.Plan: general,
// spot, A100x4 and T4x2 nodes over three zones), priced by the default
// model, with varied load so scores differ.
func benchNodes(n int) []NodeSnapshot {
	intensity := map[string]float64{"ES": 180, "US-CAL-CISO": 240, "NO": 30}
	model := cost.DefaultModel()
	nodes := make([]NodeSnapshot, 0, n)
	for i, f := range fleet.Plan(n) {
		obj := f.Object()
		pricing, err := model.NodePrices(obj)
		if err != nil {
			panic(err)
		}
		ct, err := cost.CapacityTypeOf(obj)
		if err != nil {
			panic(err)
		}
		cpus, mem := float64(f.Type.CPUs), float64(f.Type.MemoryGi<<30)
		load := float64(i%10) / 20 // 0..45% used
		s := NodeSnapshot{
			Name: f.Name, Zone: f.Zone, CapacityType: ct,
			AllocatableCPU: cpus, AllocatableMemory: mem,
			RequestedCPU: cpus * load, RequestedMemory: mem * load,
			UsageCPU: cpus * load * 0.6, UsageMemory: mem * load * 0.8, UsageKnown: i%7 != 0,
			CarbonIntensity: intensity[f.Zone], CarbonKnown: true,
			Pricing: pricing,
			GPUs:    f.Type.GPUs,
			Power:   PowerModel{IdleWatts: 2 * cpus, MaxWatts: 8 * cpus},
			PUE:     1.2,
		}
		if len(s.GPUs) > 0 && i%4 == 3 {
			s.GPUsAssigned = map[string]bool{s.GPUs[0].ID: true}
		}
		nodes = append(nodes, s)
	}
	return nodes
}

func BenchmarkEvaluate(b *testing.B) {
	vms := []struct {
		name string
		vm   VMRequest
	}{
		{"cpu", VMRequest{CPUCores: 4, MemoryBytes: 16 << 30}},
		{"2xA100", VMRequest{CPUCores: 8, MemoryBytes: 64 << 30, GPUs: []GPURequest{{Model: "A100", Count: 2}}}},
	}
	for _, n := range []int{500, 5000} {
		nodes := benchNodes(n)
		for _, v := range vms {
			b.Run(fmt.Sprintf("nodes=%d/vm=%s", n, v.name), func(b *testing.B) {
				p := DefaultPolicy()
				b.ReportAllocs()
				for b.Loop() {
					Evaluate(v.vm, nodes, p)
				}
			})
		}
	}
}
