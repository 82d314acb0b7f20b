package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineAutoscaler right-sizes the vCPUs and memory of a
// VirtualMachine, or of every VM of a VirtualMachinePool, from their usage
// history: it always recommends, and applies its recommendations as Resize
// VMOperations as far as its updateMode allows.
type VirtualMachineAutoscaler struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to size, how, and within which limits.
	Spec VirtualMachineAutoscalerSpec `json:"spec"`
	// Status holds the recommendations and what was done about them,
	// written by hypersdk-controller's autoscaler controller.
	Status VirtualMachineAutoscalerStatus `json:"status,omitempty"`
}

// AutoscalerUpdateMode says how far an autoscaler may go.
type AutoscalerUpdateMode string

// Update modes.
const (
	// AutoscalerUpdateOff only recommends.
	AutoscalerUpdateOff AutoscalerUpdateMode = "Off"
	// AutoscalerUpdateInitial resizes a VM only while it is stopped, so the
	// new size applies at its next start.
	AutoscalerUpdateInitial AutoscalerUpdateMode = "Initial"
	// AutoscalerUpdateLive resizes running VMs by CPU and memory hotplug
	// only, never restarting them.
	AutoscalerUpdateLive AutoscalerUpdateMode = "Live"
	// AutoscalerUpdateLiveOrRestart hotplugs when it can and otherwise
	// restarts the VM, only inside a maintenance window.
	AutoscalerUpdateLiveOrRestart AutoscalerUpdateMode = "LiveOrRestart"
)

// Resources an autoscaler can control.
const (
	AutoscalerResourceCPU    = "cpu"
	AutoscalerResourceMemory = "memory"
)

// VirtualMachineAutoscalerSpec says what to size, how and within which limits.
type VirtualMachineAutoscalerSpec struct {
	// TargetRef is the VirtualMachine or VirtualMachinePool (kubevirt.io)
	// to size, in the autoscaler's namespace.
	TargetRef AutoscalerTargetRef `json:"targetRef"`
	// UpdateMode is Off (the default), Initial, Live or LiveOrRestart.
	// +optional
	UpdateMode AutoscalerUpdateMode `json:"updateMode,omitempty"`
	// MinAllowed and MaxAllowed bound the recommendation.
	// +optional
	MinAllowed *AutoscalerResources `json:"minAllowed,omitempty"`
	// MaxAllowed is the largest size recommended; a field left unset does
	// not bound. Each field must not be below minAllowed's.
	// +optional
	MaxAllowed *AutoscalerResources `json:"maxAllowed,omitempty"`
	// ControlledResources are the resources it sizes: cpu, memory; both by
	// default.
	// +optional
	// +listType=set
	ControlledResources []string `json:"controlledResources,omitempty"`
	// MaintenanceWindows are when LiveOrRestart may restart a VM.
	// +optional
	// +listType=atomic
	MaintenanceWindows []MaintenanceWindow `json:"maintenanceWindows,omitempty"`
	// MaxChangesPerDay bounds the resizes of one VM in any 24 hours; 2 by
	// default.
	// +optional
	MaxChangesPerDay *int32 `json:"maxChangesPerDay,omitempty"`
	// Cooldown is the least time between two resizes of one VM; 1h by
	// default.
	// +optional
	Cooldown *metav1.Duration `json:"cooldown,omitempty"`
	// Requester is who last wrote the spec. The server sets it from the
	// authenticated user on create and on every change of the spec, whatever
	// the client sent; the controller resizes only the VMs the requester may
	// resize itself (create virtualmachines/resize).
	// +optional
	Requester *VMOperationRequester `json:"requester,omitempty"`
}

// AutoscalerTargetRef names the object an autoscaler sizes.
type AutoscalerTargetRef struct {
	// APIVersion is kubevirt.io/v1 for a VirtualMachine, pool.kubevirt.io/v1beta1
	// for a VirtualMachinePool; optional.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind is VirtualMachine or VirtualMachinePool.
	Kind string `json:"kind"`
	// Name of the VirtualMachine or VirtualMachinePool, in the autoscaler's
	// namespace.
	Name string `json:"name"`
}

// AutoscalerResources is a size: whole vCPUs and guest memory.
type AutoscalerResources struct {
	// CPUs is a number of whole vCPUs: at least 1 in minAllowed and
	// maxAllowed. Unset in minAllowed means 1, in maxAllowed no maximum.
	// +optional
	CPUs *int32 `json:"cpus,omitempty"`
	// Memory is the guest memory: at least 1Gi in minAllowed and
	// maxAllowed. Unset in minAllowed means 1Gi, in maxAllowed no maximum.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// MaintenanceWindow opens at every time its cron schedule names and lasts
// for its duration.
type MaintenanceWindow struct {
	// Schedule is a standard five-field cron expression, in UTC.
	Schedule string `json:"schedule"`
	// Duration is how long the window stays open.
	Duration metav1.Duration `json:"duration"`
}

// VirtualMachineAutoscalerStatus holds the recommendations.
type VirtualMachineAutoscalerStatus struct {
	// ObservedGeneration is the spec generation this status is about.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastEvaluated is when the controller last recommended.
	// +optional
	LastEvaluated *metav1.Time `json:"lastEvaluated,omitempty"`
	// VirtualMachines are the sized VMs, each with its recommendation.
	// +optional
	// +listType=map
	// +listMapKey=name
	VirtualMachines []VirtualMachineRecommendationStatus `json:"virtualMachines,omitempty"`
	// Conditions: RecommendationProvided (every targeted VM has one).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// VirtualMachineRecommendationStatus is one VM's recommendation, its
// evidence and what the autoscaler did about it.
type VirtualMachineRecommendationStatus struct {
	// Name of the VM.
	Name string `json:"name"`
	// Current is the VM's size now.
	Current AutoscalerResources `json:"current"`
	// Target is the recommended size; LowerBound and UpperBound the range
	// within which the current size is left alone. All three are rounded to
	// what KubeVirt applies and within minAllowed and maxAllowed.
	// +optional
	Target *AutoscalerResources `json:"target,omitempty"`
	// LowerBound is the low end of the range left alone: a controlled
	// resource below it is to be resized to the target, as far as
	// updateMode allows.
	// +optional
	LowerBound *AutoscalerResources `json:"lowerBound,omitempty"`
	// UpperBound is the high end of the range left alone: a controlled
	// resource above it is to be resized to the target, as far as
	// updateMode allows.
	// +optional
	UpperBound *AutoscalerResources `json:"upperBound,omitempty"`
	// UncappedCPU is the CPU estimate before rounding and limits, in cores
	// (to the millicore).
	// +optional
	UncappedCPU *resource.Quantity `json:"uncappedCPU,omitempty"`
	// UncappedMemory is the memory estimate before rounding and limits, in
	// bytes.
	// +optional
	UncappedMemory *resource.Quantity `json:"uncappedMemory,omitempty"`
	// Evidence behind the recommendation.
	Evidence RecommendationEvidence `json:"evidence"`
	// Action says what the autoscaler did or would do, and why.
	// +optional
	Action string `json:"action,omitempty"`
	// Operation is the last Resize VMOperation it created for this VM.
	// +optional
	Operation string `json:"operation,omitempty"`
	// Changes are the times of the resizes of the last 24 hours (for
	// maxChangesPerDay and the cooldown, across controller restarts).
	// +optional
	// +listType=atomic
	Changes []metav1.Time `json:"changes,omitempty"`
}

// RecommendationEvidence is what a recommendation rests on.
type RecommendationEvidence struct {
	// Strategy is the recommender's name.
	Strategy string `json:"strategy"`
	// Samples is how many usage samples contribute.
	Samples int32 `json:"samples"`
	// WindowStart and WindowEnd are the oldest and newest of them.
	// +optional
	WindowStart *metav1.Time `json:"windowStart,omitempty"`
	// WindowEnd is the time of the newest sample that contributes.
	// +optional
	WindowEnd *metav1.Time `json:"windowEnd,omitempty"`
	// ConfidencePercent grows with the evidence, 0 to 100.
	ConfidencePercent int32 `json:"confidencePercent"`
	// Method says how the target is computed (the percentiles and margins).
	// +optional
	Method string `json:"method,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineAutoscalerList is a list of VirtualMachineAutoscaler.
type VirtualMachineAutoscalerList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of VirtualMachineAutoscalers.
	Items []VirtualMachineAutoscaler `json:"items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineRecommendation is the answer of virtualmachines/recommendation:
// the recommendation of the autoscaler that sizes the VM.
type VirtualMachineRecommendation struct {
	metav1.TypeMeta `json:",inline"`
	// ObjectMeta names the VM.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Autoscaler is the VirtualMachineAutoscaler the recommendation is from.
	Autoscaler string `json:"autoscaler"`
	// UpdateMode is the autoscaler's.
	UpdateMode AutoscalerUpdateMode `json:"updateMode"`
	// LastEvaluated is when it was computed.
	// +optional
	LastEvaluated *metav1.Time `json:"lastEvaluated,omitempty"`
	// Recommendation is the VM's entry of the autoscaler's status.
	Recommendation VirtualMachineRecommendationStatus `json:"recommendation"`
	// Savings is what the target would change in the VM's cost on its
	// node; unset while there is no target or the VM does not run.
	// +optional
	Savings *RecommendationSavings `json:"savings,omitempty"`
}

// RecommendationSavings prices the current size and the target with
// pkg/cost at the node's prices, usage above a size paid as usage, GPUs
// left out (right-sizing does not change them).
type RecommendationSavings struct {
	// Node whose prices are used.
	Node string `json:"node"`
	// CurrentCostPerHour is what the VM costs per hour at its current size,
	// in the price model's currency.
	CurrentCostPerHour float64 `json:"currentCostPerHour"`
	// TargetCostPerHour is what the VM would cost per hour at the target
	// size, in the price model's currency.
	TargetCostPerHour float64 `json:"targetCostPerHour"`
	// MonthlySaving is (current − target) × 730 hours; negative when the
	// target costs more.
	MonthlySaving float64 `json:"monthlySaving"`
}
