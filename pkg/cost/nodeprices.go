package cost

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// GPUPrice is the hourly price of one device of a model.
type GPUPrice struct {
	Model string
	Hour  float64
}

// NodePricing is the unit prices of one node, in US dollars per hour.
type NodePricing struct {
	CPUCoreHour   float64
	MemoryGiBHour float64
	// GPUHour prices the models on the node; a slice because nodes carry one
	// or two models and placement looks them up on every candidate.
	GPUHour []GPUPrice
	// DefaultGPUHour prices a model GPUHour does not list.
	DefaultGPUHour float64
}

// GPU returns the hourly price of one device of model.
func (p NodePricing) GPU(model string) float64 {
	for _, g := range p.GPUHour {
		if g.Model == model {
			return g.Hour
		}
	}
	return p.DefaultGPUHour
}

// NodePrices returns the unit prices of node.
//
// It starts from the table of the node's capacity type (CapacityTypeLabel).
// Component annotations (CPUPriceAnnotation, MemoryPriceAnnotation,
// GPUPriceAnnotation) replace the table price of their component. When
// PriceAnnotation states the whole node's price, the components without an
// annotation share what the annotated ones leave of it, in proportion to the
// table, as OpenCost does:
//
//	k = (nodePrice - Σ annotated price × quantity) / Σ unannotated table price × quantity
//	unit price = k × table price, for each unannotated component
//
// so that pricing the node's full capacity gives back nodePrice. The whole
// price is taken as paid, so a spot node's annotation is its spot price and
// is not discounted again. Annotated components costing more than the whole
// node is an error.
func (m Model) NodePrices(node *corev1.Node) (NodePricing, error) {
	if node == nil {
		return NodePricing{}, errors.New("pricing nil node")
	}
	ct, err := CapacityTypeOf(node)
	if err != nil {
		return NodePricing{}, err
	}
	o, err := readOverrides(node)
	if err != nil {
		return NodePricing{}, err
	}
	s, err := shapeOf(node)
	if err != nil {
		return NodePricing{}, err
	}
	table := m.table(ct)
	p := NodePricing{CPUCoreHour: table.CPUCoreHour, MemoryGiBHour: table.MemoryGiBHour, DefaultGPUHour: table.DefaultGPUHour}
	for _, g := range s.gpus {
		p.GPUHour = append(p.GPUHour, GPUPrice{Model: g.Model, Hour: table.GPU(g.Model)})
	}
	if o.hasNode {
		if err := p.scaleToNodePrice(s, o); err != nil {
			return NodePricing{}, fmt.Errorf("node %q: %w", node.Name, err)
		}
	}
	p.apply(o)
	return p, nil
}

// scaleToNodePrice scales the components o does not price so that the whole
// shape costs o.node; see NodePrices for the formula.
func (p *NodePricing) scaleToNodePrice(s shape, o overrides) error {
	var fixed, scalable float64
	add := func(annotated bool, annotation, table, quantity float64) {
		if annotated {
			fixed += annotation * quantity
		} else {
			scalable += table * quantity
		}
	}
	add(o.hasCPU, o.cpu, p.CPUCoreHour, s.cpuCores)
	add(o.hasMemory, o.memory, p.MemoryGiBHour, s.memoryGiB)
	for _, g := range s.gpus {
		add(o.hasGPU, o.gpu, p.GPU(g.Model), g.Count)
	}
	rest := o.node - fixed
	// Decimal prices are not exact in binary: 3 cores at $0.1 add up to a
	// hair over a $0.3 node, which is not a node priced below its parts.
	if rest < 0 && -rest <= 1e-9*o.node {
		rest = 0
	}
	if rest < 0 {
		return fmt.Errorf("annotated component prices add up to $%.4f/h, more than the node price $%.4f/h in %s", fixed, o.node, PriceAnnotation)
	}
	if scalable == 0 {
		// Every component is annotated (or the node has no capacity):
		// nothing is left to absorb the whole price.
		return nil
	}
	k := rest / scalable
	p.CPUCoreHour *= k
	p.MemoryGiBHour *= k
	p.DefaultGPUHour *= k
	for i := range p.GPUHour {
		p.GPUHour[i].Hour *= k
	}
	return nil
}

// apply replaces unit prices with the annotated ones.
func (p *NodePricing) apply(o overrides) {
	if o.hasCPU {
		p.CPUCoreHour = o.cpu
	}
	if o.hasMemory {
		p.MemoryGiBHour = o.memory
	}
	if o.hasGPU {
		p.DefaultGPUHour = o.gpu
		for i := range p.GPUHour {
			p.GPUHour[i].Hour = o.gpu
		}
	}
}
