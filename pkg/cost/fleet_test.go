package cost

import (
	"strconv"
	"testing"

	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// TestSandboxFleet prices the nodes the sandbox really writes: the full
// shape of each costs its annotated price, spot nodes are read as spot, and
// the A100 and T4 servers' GPUs come out near list price, the vGPU server's
// too (four T4-8Q instances are two T4s).
func TestSandboxFleet(t *testing.T) {
	m := DefaultModel()
	vgpu := fleet.Node{Name: "vgpu", Zone: fleet.Zones[0], Type: fleet.GPUT4vGPU, Price: fleet.GPUT4vGPU.Price}
	for _, n := range append(fleet.Plan(12), vgpu) {
		obj := n.Object()
		ct, err := CapacityTypeOf(obj)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]CapacityType{true: Spot, false: OnDemand}[n.Spot]; ct != want {
			t.Errorf("%s: capacity type %q, want %q", n.Name, ct, want)
		}
		p, err := m.NodePrices(obj)
		if err != nil {
			t.Fatal(err)
		}
		var gpus []GPUCount
		for _, d := range n.Type.GPUs {
			share := 1.0
			if d.Parent != "" {
				share = 0.5 // each of the vGPU server's T4s holds two T4-8Q
			}
			gpus = addGPU(gpus, d.Model, share)
		}
		price, err := strconv.ParseFloat(obj.Annotations[PriceAnnotation], 64)
		if err != nil {
			t.Fatal(err)
		}
		full := VMCostPerHour(p, float64(n.Type.CPUs), float64(n.Type.MemoryGi<<30), gpus, 0, 0)
		if !approx(full, price) {
			t.Errorf("%s: full shape costs %v, want annotated %v", n.Name, full, price)
		}
		for _, g := range gpus {
			list := m.OnDemand.GPU(g.Model)
			if got := p.GPU(g.Model); got < 0.9*list || got > 1.15*list {
				t.Errorf("%s: %s at $%.2f/h, want within -10%%..+15%% of list $%.2f", n.Name, g.Model, got, list)
			}
		}
	}
}
