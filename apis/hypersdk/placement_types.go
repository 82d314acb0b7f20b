package hypersdk

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PlacementPolicy sets the weights and hard limits HyperSDK's scheduler
// extender places the VMs it selects with. When several policies select a
// VM, the one with the highest priority wins (ties: the first by name); with
// none, the built-in default applies.
type PlacementPolicy struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec PlacementPolicySpec
}

// GPUPolicy says how GPU VMs share GPU servers.
type GPUPolicy string

const (
	// GPUPolicyBinpack fills partly used GPU servers first, keeping whole
	// servers free for large VMs.
	GPUPolicyBinpack GPUPolicy = "Binpack"
	// GPUPolicySpread prefers the servers with the most free GPUs.
	GPUPolicySpread GPUPolicy = "Spread"
)

// PlacementPolicySpec holds the weights (0-100, relative to each other) and
// the limits.
type PlacementPolicySpec struct {
	// VMSelector selects the VMs, by label, the policy applies to; empty
	// selects every VM.
	VMSelector *metav1.LabelSelector
	// Priority orders policies that select the same VM; higher wins.
	Priority int32
	// CarbonWeight weighs the grams of CO2 per hour the VM would cause.
	// Setting it or costWeight (or carbonPricePerTonne) states the
	// carbon/cost trade-off and drops the default cost budget.
	CarbonWeight *int32
	// CostWeight weighs the VM's price per hour on the node.
	CostWeight *int32
	// PressureWeight weighs the node's load with the VM added.
	PressureWeight *int32
	// GPUWeight weighs GPU locality and packing, for VMs with GPUs.
	GPUWeight *int32
	// GPUPolicy is Binpack (default) or Spread.
	GPUPolicy GPUPolicy
	// MaxCarbonIntensity, in gCO2eq/kWh, filters out nodes whose zone is
	// above it.
	MaxCarbonIntensity *int32
	// MaxNodeUtilization, in percent of allocatable CPU, filters out nodes
	// whose measured load is above it.
	MaxNodeUtilization *int32
	// TargetUtilization is the CPU load, in percent, pressure scoring packs
	// nodes towards (Trimaran's target load packing), on measured usage. A
	// node without measured usage is scored by how the VM's requests fit
	// instead (kube-scheduler's MostAllocated and BalancedAllocation), which
	// keeps room for large VMs.
	TargetUtilization *int32
	// CarbonForecastHorizon, when set, scores carbon by the zone's average
	// forecast intensity over this horizon instead of the current value.
	CarbonForecastHorizon *metav1.Duration
	// CarbonPricePerTonne, in US dollars per tonne CO2eq, replaces the
	// carbon and cost weights' two criteria by one when set: the VM's
	// hourly price plus its hourly emissions at this price, weighed by the
	// two weights together. The trade-off is then stated in money: at
	// $200/t a node emitting 10 g/h more must be $0.002/h cheaper to win.
	// 0 to 100000.
	CarbonPricePerTonne *int32
	// CostBudgetPercent states the carbon/cost trade-off as a budget
	// instead: the nodes where the VM costs at most this many percent more
	// than on its cheapest feasible node are in budget, carbon decides
	// among them (under the carbon and cost weights together), and every
	// node over budget scores 0 and ranks last. At 5 a VM never pays more
	// than 5% over its cheapest option for carbon. 0 to 1000; not with
	// carbonPricePerTonne.
	// When a policy sets none of costBudgetPercent, carbonPricePerTonne,
	// carbonWeight and costWeight (and with no policy), the budget is 20.
	CostBudgetPercent *int32
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PlacementPolicyList is a list of PlacementPolicy.
type PlacementPolicyList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []PlacementPolicy
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachinePlacement is the answer of virtualmachines/placement: the
// last placement decision of the scheduler extender for the VM.
type VirtualMachinePlacement struct {
	metav1.TypeMeta
	// ObjectMeta names the VM.
	metav1.ObjectMeta

	// Decision is absent when no decision was recorded, for example when
	// the extender was unavailable (see Degraded).
	Decision *PlacementDecision
	// Degraded says the VM's current pod was placed without the extender.
	Degraded bool
	// Message explains Degraded or a missing decision.
	Message string
}

// PlacementDecision is one decision, as recorded at bind time.
type PlacementDecision struct {
	// Time of the decision.
	Time metav1.Time
	// Pod is the virt-launcher (or migration target) pod placed.
	Pod string
	// Node is where the pod was bound.
	Node string
	// Policy is the PlacementPolicy used; empty for the default.
	Policy string
	// Weights are the criterion weights used.
	Weights PlacementWeights
	// GPUDevices are the devices bound to the VM.
	// +listType=atomic
	GPUDevices []string
	// Candidates are the best-scored nodes, best first; the chosen node is
	// always included.
	// +listType=atomic
	Candidates []NodeScore
	// Filtered are nodes ruled out, with the reason.
	// +listType=atomic
	Filtered []FilteredNode
	// FilteredCount is how many nodes were ruled out in all; Filtered may
	// list fewer.
	FilteredCount int32
}

// PlacementWeights are the weights a decision used.
type PlacementWeights struct {
	Carbon   float64
	Cost     float64
	Pressure float64
	GPU      float64
}

// NodeScore is one candidate node: scores are 0-100, higher is better.
type NodeScore struct {
	Node     string
	Zone     string
	Total    float64
	Carbon   float64
	Cost     float64
	Pressure float64
	GPU      float64
	// CarbonIntensity of the node's zone, gCO2eq/kWh; nil when unknown.
	CarbonIntensity *float64
	// GramsCO2PerHour the VM is estimated to cause there; nil when the
	// zone's intensity is unknown.
	GramsCO2PerHour *float64
	// CostPerHour of the VM there; nil when the node has no price.
	CostPerHour *float64
	// PredictedUtilization is the node's CPU load with the VM, percent.
	PredictedUtilization float64
	// OverBudget says the VM costs more here than the policy's cost
	// budget allows over its cheapest candidate.
	OverBudget bool
	// SpotFallback says the node is spot and the VM is not labelled to
	// allow spot capacity: it ranks after every other candidate and is
	// chosen only when no other node fits.
	SpotFallback bool
	// GPUDevices the VM would get there.
	// +listType=atomic
	GPUDevices []string
}

// FilteredNode is a node ruled out and why.
type FilteredNode struct {
	Node   string
	Reason string
}
