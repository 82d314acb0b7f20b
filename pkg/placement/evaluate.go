package placement

import "github.com/hypersdk/hypersdk/pkg/cost"

// Evaluate filters and ranks nodes for vm under policy p.
//
// A node is filtered, with a reason, when it is spot and the VM forbids
// spot, lacks the CPU or memory (allocatable − requested), exceeds
// p.MaxCarbonIntensity or p.MaxNodeUtilization, or lacks free GPUs of a
// requested model. Every other node is scored; carbon and cost are min-max
// normalised across those feasible nodes (without the spot fallbacks while
// any other node is feasible: NodeScore.SpotFallback), so scores compare
// candidates of one call only. The total is
//
//	Total = Σ wᵢ × scoreᵢ / Σ wᵢ
//
// over the criteria with a positive weight, the GPU criterion only for VMs
// that ask for GPUs (zero when no weight is positive). A node with unknown
// carbon intensity is not filtered but scores 0 on carbon. Scores are ranked
// best first, ties by the VM's price there, then by node name; Filtered
// keeps the input order.
//
// Evaluate does no I/O, does not modify its inputs and is safe to call
// concurrently; p should pass Validate. It is called for every pod on clusters of thousands of nodes,
// so it allocates per call, not per node, except for filter reasons.
func Evaluate(vm VMRequest, nodes []NodeSnapshot, p Policy) Decision {
	p = p.withDefaults()
	e := evaluator{vm: &vm, p: &p, vmUtil: vmCPUUtilization(&vm), wantsGPUs: vm.wantsGPUs()}
	if e.wantsGPUs {
		e.gpuCosts = make([]cost.GPUCount, len(vm.GPUs))
		e.noGPUReasons = make([]string, len(vm.GPUs))
	}
	d := Decision{Scores: make([]NodeScore, 0, len(nodes))}
	var ids []string
	for i := range nodes {
		n := &nodes[i]
		s, fit, reason := e.assess(n)
		if reason != "" {
			d.Filtered = append(d.Filtered, FilteredNode{Node: n.Name, Reason: reason})
			continue
		}
		if e.wantsGPUs {
			// Every node's IDs share one growing array; a reallocation
			// leaves earlier slices on the old, still valid, array.
			start := len(ids)
			ids = appendIDs(ids, fit.devs, fit.devices)
			s.GPUDevices = ids[start:len(ids):len(ids)]
		}
		d.Scores = append(d.Scores, s)
	}
	e.normalize(d.Scores)
	return d
}

// Rescore ranks scores, some of one Evaluate call's for the same vm and
// policy, as Evaluate would have ranked their nodes alone: carbon and cost
// are normalised again across them, without assessing the nodes again.
// kube-scheduler filters every node but scores only those that passed
// every filter (and, on large clusters, only enough of them), so the
// scoring set is usually a subset of the filtered one. Rescore modifies
// scores.
func Rescore(vm VMRequest, scores []NodeScore, p Policy) {
	p = p.withDefaults()
	e := evaluator{vm: &vm, p: &p, vmUtil: vmCPUUtilization(&vm), wantsGPUs: vm.wantsGPUs()}
	e.normalize(scores)
}

// normalize fills the criteria normalised across scores, the totals, and
// ranks them. The spot fallbacks are left out of the spans, total 0 and
// rank last while any other node is a candidate; alone, they are the
// candidates.
func (e *evaluator) normalize(scores []NodeScore) {
	fallbacksOnly := true
	for i := range scores {
		// Over budget is a judgement across these scores: one made across
		// others (Rescore of a subset) does not hold.
		scores[i].OverBudget = false
		if !scores[i].SpotFallback {
			fallbacksOnly = false
		}
	}
	var carbon, price span
	for i := range scores {
		s := &scores[i]
		if !candidate(s, fallbacksOnly) {
			continue
		}
		if s.CarbonKnown {
			carbon.add(s.GramsCO2PerHour)
		}
		if !s.PriceUnknown {
			price.add(s.CostPerHour)
		}
	}
	if e.p.CarbonPricePerTonne > 0 {
		e.pricedScores(scores, carbon.hi, fallbacksOnly)
	}
	if e.p.CostBudgetPercent != nil && price.seen {
		carbon = e.budget(scores, price.lo, fallbacksOnly)
	}
	for i := range scores {
		s := &scores[i]
		if s.CarbonKnown {
			s.Carbon = lowerIsBetter(s.GramsCO2PerHour, carbon.lo, carbon.hi)
		}
		s.Cost = 0 // unknown: not taken for the cheapest
		if !s.PriceUnknown {
			s.Cost = lowerIsBetter(s.CostPerHour, price.lo, price.hi)
		}
		if s.OverBudget || !candidate(s, fallbacksOnly) {
			// Outside the spans of the nodes in budget, or of the nodes
			// the fallbacks give way to.
			s.Carbon = min(maxScore, max(0, s.Carbon))
			s.Cost = min(maxScore, max(0, s.Cost))
			s.Total = 0
			continue
		}
		s.Total = e.total(s)
	}
	rank(scores)
}

// candidate reports whether s is among the nodes the choice is made
// across: any node but a spot fallback, unless fallbacks are all there is.
func candidate(s *NodeScore, fallbacksOnly bool) bool {
	return fallbacksOnly || !s.SpotFallback
}

// budget marks the candidates over the policy's cost budget above
// cheapest, the lowest price among them, and returns the span of grams of
// those in budget, across which carbon is then normalised: the choice is
// among them. A rounding margin keeps nodes that price the VM the same,
// computed in a different order, on the same side.
func (e *evaluator) budget(scores []NodeScore, cheapest float64, fallbacksOnly bool) span {
	limit := cheapest * (1 + *e.p.CostBudgetPercent/100) * (1 + 1e-9)
	var carbon span
	for i := range scores {
		s := &scores[i]
		if !candidate(s, fallbacksOnly) {
			continue
		}
		s.OverBudget = s.PriceUnknown || s.CostPerHour > limit
		if !s.OverBudget && s.CarbonKnown {
			carbon.add(s.GramsCO2PerHour)
		}
	}
	return carbon
}

// total is the weighted average of s's criteria; see Evaluate.
func (e *evaluator) total(s *NodeScore) float64 {
	var sum, weights float64
	add := func(w, score float64) {
		if w > 0 {
			sum += w * score
			weights += w
		}
	}
	switch {
	case e.p.CarbonPricePerTonne > 0:
		// One criterion in one currency, weighing what carbon and cost
		// weighed together.
		add(e.p.CarbonWeight+e.p.CostWeight, s.Priced)
	case e.p.CostBudgetPercent != nil:
		// The budget has settled cost: carbon decides among the nodes
		// in it, with what carbon and cost weighed together.
		add(e.p.CarbonWeight+e.p.CostWeight, s.Carbon)
	default:
		add(e.p.CarbonWeight, s.Carbon)
		add(e.p.CostWeight, s.Cost)
	}
	add(e.p.PressureWeight, s.Pressure)
	if e.wantsGPUs {
		add(e.p.GPUWeight, s.GPU)
	}
	if weights == 0 {
		return 0
	}
	return sum / weights
}

// pricedScores fills each score's PricedCostPerHour, the VM's price with its
// emissions charged at the policy's carbon price, and Priced, that min-max
// normalised. A node of unknown intensity is charged the dirtiest known
// node's grams: not knowing must not look clean.
func (e *evaluator) pricedScores(scores []NodeScore, dirtiest float64, fallbacksOnly bool) {
	perGram := e.p.CarbonPricePerTonne / 1e6
	var priced span
	for i := range scores {
		s := &scores[i]
		grams := dirtiest
		if s.CarbonKnown {
			grams = s.GramsCO2PerHour
		}
		s.PricedCostPerHour = s.CostPerHour + grams*perGram
		if candidate(s, fallbacksOnly) && !s.PriceUnknown {
			priced.add(s.PricedCostPerHour)
		}
	}
	for i := range scores {
		if scores[i].PriceUnknown {
			scores[i].Priced = 0 // an unknown price is not the cheapest
			continue
		}
		scores[i].Priced = min(maxScore, max(0, lowerIsBetter(scores[i].PricedCostPerHour, priced.lo, priced.hi)))
	}
}

// Assessor assesses nodes one at a time for one VM under one policy, for
// callers that visit the nodes themselves: a scheduler framework's Filter,
// which kube-scheduler calls from several goroutines and only until it has
// found enough feasible nodes. Rescore then ranks the scores it kept, as
// Evaluate would have ranked those nodes.
type Assessor struct {
	vm        VMRequest
	p         Policy
	vmUtil    float64
	wantsGPUs bool
}

// NewAssessor returns an Assessor of vm under p, which should pass Validate.
func NewAssessor(vm VMRequest, p Policy) *Assessor {
	return &Assessor{vm: vm, p: p.withDefaults(), vmUtil: vmCPUUtilization(&vm), wantsGPUs: vm.wantsGPUs()}
}

// Assess filters n, giving the reason it does not fit, or returns its
// score with the criteria that need no normalisation filled (Evaluate's
// filters and figures; Carbon, Cost, Priced and Total are Rescore's).
// It does not modify n and is safe to call concurrently.
func (a *Assessor) Assess(n *NodeSnapshot) (NodeScore, string) {
	e := evaluator{vm: &a.vm, p: &a.p, vmUtil: a.vmUtil, wantsGPUs: a.wantsGPUs}
	if e.wantsGPUs {
		// Per call: the scratch space of one evaluator is not shared.
		e.gpuCosts = make([]cost.GPUCount, len(a.vm.GPUs))
		e.noGPUReasons = make([]string, len(a.vm.GPUs))
	}
	s, fit, reason := e.assess(n)
	if reason != "" {
		return NodeScore{}, reason
	}
	if e.wantsGPUs {
		s.GPUDevices = appendIDs(nil, fit.devs, fit.devices)
	}
	return s, ""
}
