package placement

// NodeScore is how one feasible node scores for the VM.
type NodeScore struct {
	Node string
	// Total is the weighted average of the criteria, 0..100.
	Total float64
	// Carbon, Cost, Pressure and GPU are the criteria's scores, 0..100,
	// 100 best. GPU is zero for VMs without GPUs.
	Carbon, Cost, Pressure, GPU float64
	// Priced scores PricedCostPerHour, in place of Carbon and Cost when
	// the policy sets a carbon price.
	Priced float64

	// GramsCO2PerHour is the VM's estimated emission rate, if CarbonKnown.
	GramsCO2PerHour float64
	CarbonKnown     bool
	// CostPerHour is the VM's price on the node in US dollars; zero and
	// not compared with others' when PriceUnknown.
	CostPerHour  float64
	PriceUnknown bool
	// PricedCostPerHour is CostPerHour plus the VM's emissions at the
	// policy's carbon price (zero without one).
	PricedCostPerHour float64
	// OverBudget says the VM costs more here than the policy's cost budget
	// allows over the cheapest candidate; such a node totals 0 and ranks
	// after every node in budget.
	OverBudget bool
	// SpotFallback says the node is spot and the VM neither allows nor
	// forbids spot capacity. While any other node is a candidate, such a
	// node totals 0, ranks after every other one, and carbon and cost are
	// normalised without it: the VM goes to spot only when nothing else
	// fits, as kube-scheduler would place it there when spot nodes are not
	// tainted, rather than being rejected.
	SpotFallback bool
	// PredictedUtilization is the node's CPU utilisation in percent with the
	// VM, from usage if UsageKnown, else from requests (and pressure is then
	// FitScore, whatever the target).
	PredictedUtilization float64
	UsageKnown           bool
	// GPUDevices are the IDs of the devices chosen, GPULocality how they are
	// connected.
	GPUDevices  []string
	GPULocality Locality
}

// Notes explains what the score had to assume.
func (s NodeScore) Notes() []string {
	var notes []string
	if !s.CarbonKnown {
		notes = append(notes, "carbon intensity unknown: no emission estimate, carbon scored 0")
	}
	if !s.UsageKnown {
		notes = append(notes, "usage unknown: pressure scores how requests fit (pack, keep CPU and memory in step)")
	}
	return notes
}

// FilteredNode is a node the VM cannot be placed on, and why.
type FilteredNode struct {
	Node   string
	Reason string
}

// Decision is the outcome of Evaluate.
type Decision struct {
	// Scores ranks the feasible nodes, best first, ties by the VM's price
	// there, then by node name.
	Scores []NodeScore
	// Filtered lists the infeasible nodes in input order.
	Filtered []FilteredNode
}
