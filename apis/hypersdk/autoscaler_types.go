package hypersdk

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineAutoscaler right-sizes the vCPUs and memory of a
// VirtualMachine, or of every VM of a VirtualMachinePool, from their usage
// history: it always recommends, and applies its recommendations as Resize
// VMOperations as far as its updateMode allows.
type VirtualMachineAutoscaler struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   VirtualMachineAutoscalerSpec
	Status VirtualMachineAutoscalerStatus
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
	TargetRef AutoscalerTargetRef
	// UpdateMode is Off (the default), Initial, Live or LiveOrRestart.
	UpdateMode AutoscalerUpdateMode
	// MinAllowed and MaxAllowed bound the recommendation.
	MinAllowed *AutoscalerResources
	MaxAllowed *AutoscalerResources
	// ControlledResources are the resources it sizes: cpu, memory; both by
	// default.
	ControlledResources []string
	// MaintenanceWindows are when LiveOrRestart may restart a VM.
	MaintenanceWindows []MaintenanceWindow
	// MaxChangesPerDay bounds the resizes of one VM in any 24 hours; 2 by
	// default.
	MaxChangesPerDay *int32
	// Cooldown is the least time between two resizes of one VM; 1h by
	// default.
	Cooldown *metav1.Duration
	// Requester is who last wrote the spec. The server sets it from the
	// authenticated user on create and on every change of the spec, whatever
	// the client sent; the controller resizes only the VMs the requester may
	// resize itself (create virtualmachines/resize).
	Requester *VMOperationRequester
}

// AutoscalerTargetRef names the object an autoscaler sizes.
type AutoscalerTargetRef struct {
	// APIVersion is kubevirt.io/v1 for a VirtualMachine, pool.kubevirt.io/v1beta1
	// for a VirtualMachinePool; optional.
	APIVersion string
	// Kind is VirtualMachine or VirtualMachinePool.
	Kind string
	Name string
}

// AutoscalerResources is a size: whole vCPUs and guest memory.
type AutoscalerResources struct {
	CPUs   *int32
	Memory *resource.Quantity
}

// MaintenanceWindow opens at every time its cron schedule names and lasts
// for its duration.
type MaintenanceWindow struct {
	// Schedule is a standard five-field cron expression, in UTC.
	Schedule string
	// Duration is how long the window stays open.
	Duration metav1.Duration
}

// VirtualMachineAutoscalerStatus holds the recommendations.
type VirtualMachineAutoscalerStatus struct {
	// ObservedGeneration is the spec generation this status is about.
	ObservedGeneration int64
	// LastEvaluated is when the controller last recommended.
	LastEvaluated *metav1.Time
	// VirtualMachines are the sized VMs, each with its recommendation.
	VirtualMachines []VirtualMachineRecommendationStatus
	// Conditions: RecommendationProvided (every targeted VM has one).
	Conditions []metav1.Condition
}

// VirtualMachineRecommendationStatus is one VM's recommendation, its
// evidence and what the autoscaler did about it.
type VirtualMachineRecommendationStatus struct {
	// Name of the VM.
	Name string
	// Current is the VM's size now.
	Current AutoscalerResources
	// Target is the recommended size; LowerBound and UpperBound the range
	// within which the current size is left alone. All three are rounded to
	// what KubeVirt applies and within minAllowed and maxAllowed.
	Target     *AutoscalerResources
	LowerBound *AutoscalerResources
	UpperBound *AutoscalerResources
	// UncappedTarget is the estimate before rounding and limits: CPU in
	// cores (millicores), memory in bytes.
	UncappedCPU    *resource.Quantity
	UncappedMemory *resource.Quantity
	// Evidence behind the recommendation.
	Evidence RecommendationEvidence
	// Action says what the autoscaler did or would do, and why.
	Action string
	// Operation is the last Resize VMOperation it created for this VM.
	Operation string
	// Changes are the times of the resizes of the last 24 hours (for
	// maxChangesPerDay and the cooldown, across controller restarts).
	Changes []metav1.Time
}

// RecommendationEvidence is what a recommendation rests on.
type RecommendationEvidence struct {
	// Strategy is the recommender's name.
	Strategy string
	// Samples is how many usage samples contribute.
	Samples int32
	// WindowStart and WindowEnd are the oldest and newest of them.
	WindowStart *metav1.Time
	WindowEnd   *metav1.Time
	// ConfidencePercent grows with the evidence, 0 to 100.
	ConfidencePercent int32
	// Method says how the target is computed (the percentiles and margins).
	Method string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineAutoscalerList is a list of VirtualMachineAutoscaler.
type VirtualMachineAutoscalerList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []VirtualMachineAutoscaler
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineRecommendation is the answer of virtualmachines/recommendation:
// the recommendation of the autoscaler that sizes the VM.
type VirtualMachineRecommendation struct {
	metav1.TypeMeta
	// ObjectMeta names the VM.
	metav1.ObjectMeta

	// Autoscaler is the VirtualMachineAutoscaler the recommendation is from.
	Autoscaler string
	// UpdateMode is the autoscaler's.
	UpdateMode AutoscalerUpdateMode
	// LastEvaluated is when it was computed.
	LastEvaluated *metav1.Time
	// Recommendation is the VM's entry of the autoscaler's status.
	Recommendation VirtualMachineRecommendationStatus
	// Savings is what the target would change in the VM's cost on its
	// node; unset while there is no target or the VM does not run.
	Savings *RecommendationSavings
}

// RecommendationSavings prices the current size and the target with
// pkg/cost at the node's prices, usage above a size paid as usage, GPUs
// left out (right-sizing does not change them).
type RecommendationSavings struct {
	// Node whose prices are used.
	Node               string
	CurrentCostPerHour float64
	TargetCostPerHour  float64
	// MonthlySaving is (current − target) × 730 hours; negative when the
	// target costs more.
	MonthlySaving float64
}
