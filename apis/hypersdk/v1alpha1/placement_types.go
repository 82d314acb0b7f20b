package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PlacementPolicy sets the weights and hard limits HyperSDK's scheduler
// extender places the VMs it selects with. When several policies select a
// VM, the one with the highest priority wins (ties: the first by name); with
// none, the built-in default applies.
type PlacementPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is which VMs the policy places and with what weights, limits
	// and carbon/cost trade-off.
	Spec PlacementPolicySpec `json:"spec"`
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
	// VMSelector selects the VMs the policy applies to by the labels of
	// their template (the VirtualMachine's spec.template.metadata.labels,
	// which KubeVirt copies to its VMI and launcher pod, as a Service
	// selects them), not the VirtualMachine's own labels. Empty selects
	// every VM.
	VMSelector *metav1.LabelSelector `json:"vmSelector,omitempty"`
	// Priority orders policies that select the same VM; higher wins.
	Priority int32 `json:"priority,omitempty"`
	// CarbonWeight weighs the grams of CO2 per hour the VM would cause.
	// Setting it or costWeight (or carbonPricePerTonne) states the
	// carbon/cost trade-off and drops the default cost budget.
	CarbonWeight *int32 `json:"carbonWeight,omitempty"`
	// CostWeight weighs the VM's price per hour on the node.
	CostWeight *int32 `json:"costWeight,omitempty"`
	// PressureWeight weighs the node's load with the VM added.
	PressureWeight *int32 `json:"pressureWeight,omitempty"`
	// GPUWeight weighs GPU locality and packing, for VMs with GPUs.
	GPUWeight *int32 `json:"gpuWeight,omitempty"`
	// GPUPolicy is Binpack (default) or Spread.
	GPUPolicy GPUPolicy `json:"gpuPolicy,omitempty"`
	// MaxCarbonIntensity, in gCO2eq/kWh, filters out nodes whose zone is
	// above it.
	MaxCarbonIntensity *int32 `json:"maxCarbonIntensity,omitempty"`
	// MaxNodeUtilization, in percent of allocatable, filters out nodes
	// whose CPU or memory utilisation would be above it with the VM added:
	// measured use where the node's usage is known, requests otherwise.
	MaxNodeUtilization *int32 `json:"maxNodeUtilization,omitempty"`
	// TargetUtilization is the CPU load, in percent, pressure scoring packs
	// nodes towards (Trimaran's target load packing), on measured usage. A
	// node without measured usage is scored by how the VM's requests fit
	// instead (kube-scheduler's MostAllocated and BalancedAllocation), which
	// keeps room for large VMs.
	TargetUtilization *int32 `json:"targetUtilization,omitempty"`
	// CarbonForecastHorizon, when set, scores carbon by the zone's average
	// forecast intensity over this horizon instead of the current value.
	CarbonForecastHorizon *metav1.Duration `json:"carbonForecastHorizon,omitempty"`
	// CarbonPricePerTonne, in US dollars per tonne CO2eq, replaces the
	// carbon and cost weights' two criteria by one when set: the VM's
	// hourly price plus its hourly emissions at this price, weighed by the
	// two weights together. The trade-off is then stated in money: at
	// $200/t a node emitting 10 g/h more must be $0.002/h cheaper to win.
	// 0 to 100000.
	// +optional
	CarbonPricePerTonne *int32 `json:"carbonPricePerTonne,omitempty"`
	// CostBudgetPercent states the carbon/cost trade-off as a budget
	// instead: the nodes where the VM costs at most this many percent more
	// than on its cheapest feasible node are in budget, carbon decides
	// among them (under the carbon and cost weights together), and every
	// node over budget scores 0 and ranks last. At 5 a VM never pays more
	// than 5% over its cheapest option for carbon. 0 to 1000; not with
	// carbonPricePerTonne.
	// When a policy sets none of costBudgetPercent, carbonPricePerTonne,
	// carbonWeight and costWeight (and with no policy), the budget is 20.
	// +optional
	CostBudgetPercent *int32 `json:"costBudgetPercent,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PlacementPolicyList is a list of PlacementPolicy.
type PlacementPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of PlacementPolicies.
	Items []PlacementPolicy `json:"items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachinePlacement is the answer of virtualmachines/placement: the
// last placement decision of the scheduler extender for the VM.
type VirtualMachinePlacement struct {
	metav1.TypeMeta `json:",inline"`
	// ObjectMeta names the VM.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Decision is absent when no decision was recorded, for example when
	// the extender was unavailable (see Degraded).
	Decision *PlacementDecision `json:"decision,omitempty"`
	// Degraded says the VM's current pod was placed without the extender.
	Degraded bool `json:"degraded,omitempty"`
	// Message explains Degraded or a missing decision.
	Message string `json:"message,omitempty"`
}

// PlacementDecision is one decision, as recorded at bind time.
type PlacementDecision struct {
	// Time of the decision.
	Time metav1.Time `json:"time"`
	// Pod is the virt-launcher (or migration target) pod placed.
	Pod string `json:"pod"`
	// Node is where the pod was bound.
	Node string `json:"node"`
	// Policy is the PlacementPolicy used; empty for the default.
	Policy string `json:"policy,omitempty"`
	// Weights are the criterion weights used.
	Weights PlacementWeights `json:"weights"`
	// GPUDevices are the devices bound to the VM.
	// +listType=atomic
	GPUDevices []string `json:"gpuDevices,omitempty"`
	// Candidates are the best-scored nodes, best first; the chosen node is
	// always included.
	// +listType=atomic
	Candidates []NodeScore `json:"candidates"`
	// Filtered are nodes ruled out, with the reason.
	// +listType=atomic
	Filtered []FilteredNode `json:"filtered,omitempty"`
	// FilteredCount is how many nodes were ruled out in all; Filtered may
	// list fewer.
	FilteredCount int32 `json:"filteredCount,omitempty"`
}

// PlacementWeights are the weights a decision used, relative to each
// other: a node's total is the average of its criterion scores weighed by
// them.
type PlacementWeights struct {
	// Carbon weighs the carbon score (with a carbon price, the priced
	// score, together with Cost).
	Carbon float64 `json:"carbon"`
	// Cost weighs the cost score.
	Cost float64 `json:"cost"`
	// Pressure weighs the pressure score.
	Pressure float64 `json:"pressure"`
	// GPU weighs the GPU score; it counts only for VMs with GPUs.
	GPU float64 `json:"gpu"`
}

// NodeScore is one candidate node: scores are 0-100, higher is better.
type NodeScore struct {
	// Node is the node's name.
	Node string `json:"node"`
	// Zone is the node's grid zone (topology.kubernetes.io/region), when
	// it has one.
	Zone string `json:"zone,omitempty"`
	// Total is the weighted average of the criteria below; the node with
	// the highest wins. A node over the cost budget, or a spot fallback
	// while other nodes fit, totals 0.
	Total float64 `json:"total"`
	// Carbon scores the VM's grams CO2eq per hour there against the other
	// candidates': 100 for the least.
	Carbon float64 `json:"carbon"`
	// Cost scores the VM's price per hour there against the other
	// candidates': 100 for the cheapest.
	Cost float64 `json:"cost"`
	// Pressure scores the node's load with the VM: how close it comes to
	// the policy's target utilization on measured use, or how well the
	// VM's requests fit without it.
	Pressure float64 `json:"pressure"`
	// GPU scores how the GPUs the VM would get are connected and how they
	// pack (or spread) the server; VMs without GPUs have none.
	GPU float64 `json:"gpu,omitempty"`
	// CarbonIntensity of the node's zone, gCO2eq/kWh; absent when the node
	// has no zone or its intensity is unknown (not 0, which would read as
	// the cleanest grid).
	// +optional
	CarbonIntensity *float64 `json:"carbonIntensity,omitempty"`
	// GramsCO2PerHour the VM is estimated to cause there; absent when the
	// zone's intensity is unknown.
	// +optional
	GramsCO2PerHour *float64 `json:"gramsCO2PerHour,omitempty"`
	// CostPerHour of the VM there; absent when the node has no price (not
	// 0, which would read as free).
	// +optional
	CostPerHour *float64 `json:"costPerHour,omitempty"`
	// PredictedUtilization is the node's CPU load with the VM, percent.
	PredictedUtilization float64 `json:"predictedUtilization"`
	// OverBudget says the VM costs more here than the policy's cost
	// budget allows over its cheapest candidate.
	OverBudget bool `json:"overBudget,omitempty"`
	// SpotFallback says the node is spot and the VM is not labelled to
	// allow spot capacity: it ranks after every other candidate and is
	// chosen only when no other node fits.
	SpotFallback bool `json:"spotFallback,omitempty"`
	// GPUDevices the VM would get there.
	// +listType=atomic
	GPUDevices []string `json:"gpuDevices,omitempty"`
}

// FilteredNode is a node ruled out and why.
type FilteredNode struct {
	// Node is the node's name.
	Node string `json:"node"`
	// Reason says why the VM cannot go there.
	Reason string `json:"reason"`
}
