package evaluation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// Node is what every strategy and the accounting know about one node.
type Node struct {
	Name, Zone   string
	CapacityType cost.CapacityType
	// CPUMilli and MemoryBytes are allocatable, which on sandbox nodes is
	// their capacity: nothing is reserved for the system.
	CPUMilli, MemoryBytes int64
	Pricing               cost.NodePricing
	// Power and PUE are zero, placement's defaults, as for every node the
	// extender sees: it reads no power model from Node objects.
	Power placement.PowerModel
	PUE   float64
}

// NodesFromFleet builds the nodes of a sandbox fleet plan from the Node
// objects the sandbox creates, reading zone, capacity type, allocatable and
// prices the way the scheduler extender reads them, so that capacities and
// prices are the sandbox's.
func NodesFromFleet(plan []fleet.Node, prices cost.Model) ([]Node, error) {
	nodes := make([]Node, 0, len(plan))
	for _, p := range plan {
		n, err := nodeFromObject(p.Object(), prices)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func nodeFromObject(obj *corev1.Node, prices cost.Model) (Node, error) {
	zone, ok := carbon.ZoneOf(obj.Labels, obj.Annotations)
	if !ok {
		return Node{}, fmt.Errorf("node %s has no carbon zone", obj.Name)
	}
	ct, err := cost.CapacityTypeOf(obj)
	if err != nil {
		return Node{}, err
	}
	pricing, err := prices.NodePrices(obj)
	if err != nil {
		return Node{}, fmt.Errorf("pricing node %s: %w", obj.Name, err)
	}
	return Node{
		Name:         obj.Name,
		Zone:         zone,
		CapacityType: ct,
		CPUMilli:     obj.Status.Allocatable.Cpu().MilliValue(),
		MemoryBytes:  obj.Status.Allocatable.Memory().Value(),
		Pricing:      pricing,
	}, nil
}

// CapacityCPUs is the allocatable CPUs of nodes, in cores.
func CapacityCPUs(nodes []Node) float64 {
	var milli int64
	for _, n := range nodes {
		milli += n.CPUMilli
	}
	return float64(milli) / 1000
}
