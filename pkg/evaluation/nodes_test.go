package evaluation

import (
	"math"
	"testing"

	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// The nodes are the sandbox's: the plan's zone, shape and capacity type,
// and unit prices that add up to the plan's whole-node price.
func TestNodesFromFleet(t *testing.T) {
	plan := fleet.Plan(12)
	nodes, err := NodesFromFleet(plan, cost.DefaultModel())
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != len(plan) {
		t.Fatalf("got %d nodes from a plan of %d", len(nodes), len(plan))
	}
	for i, p := range plan {
		n := nodes[i]
		wantType := cost.OnDemand
		if p.Spot {
			wantType = cost.Spot
		}
		if n.Name != p.Name || n.Zone != p.Zone || n.CapacityType != wantType ||
			n.CPUMilli != p.Type.CPUs*1000 || n.MemoryBytes != p.Type.MemoryGi<<30 {
			t.Errorf("node %d = %s %s %s %d mCPU %d bytes, want plan %+v", i, n.Name, n.Zone, n.CapacityType, n.CPUMilli, n.MemoryBytes, p)
		}
		whole := float64(p.Type.CPUs)*n.Pricing.CPUCoreHour + float64(p.Type.MemoryGi)*n.Pricing.MemoryGiBHour
		for _, d := range p.Type.GPUs {
			whole += n.Pricing.GPU(d.Model)
		}
		// The annotation rounds the price to 4 decimals.
		if math.Abs(whole-p.Price) > 1e-4 {
			t.Errorf("node %s: full capacity costs $%.4f/h, plan says $%.4f/h", p.Name, whole, p.Price)
		}
	}
	if got, want := CapacityCPUs(nodes), 8+16+16+48+16+16+8+16+16+48+16+16.0; got != want {
		t.Errorf("CapacityCPUs = %v, want %v", got, want)
	}
}
