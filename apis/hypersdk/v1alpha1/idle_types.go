package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IdleVMOptOutAnnotation set to "true" on a VM keeps idle policies from
// stopping it; it is still reported.
const IdleVMOptOutAnnotation = "hypersdk.io/idle-opt-out"

// IdleAction is what an IdleVMPolicy does with the idle VMs it finds.
type IdleAction string

const (
	// IdleActionReport flags idle VMs in status, events and metrics.
	IdleActionReport IdleAction = "Report"
	// IdleActionStop also stops them, a grace period after they were first
	// found idle, with a Stop VMOperation.
	IdleActionStop IdleAction = "Stop"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IdleVMPolicy finds the running VMs of its namespace whose CPU use stayed
// below a threshold for a whole window, from their history, reports them,
// and optionally stops them after a grace period.
type IdleVMPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which VMs, what idle means and what to do with idle VMs.
	Spec IdleVMPolicySpec `json:"spec"`
	// Status lists the idle VMs, written by hypersdk-controller's idle
	// controller.
	Status IdleVMPolicyStatus `json:"status,omitempty"`
}

// IdleVMPolicySpec says which VMs, what idle means and what to do.
type IdleVMPolicySpec struct {
	// VMSelector limits the policy to VMs with these labels; all of the
	// namespace's when unset.
	// +optional
	VMSelector *metav1.LabelSelector `json:"vmSelector,omitempty"`
	// CPUThresholdPercent: a VM is idle when its CPU use stayed below this
	// percentage of its vCPUs at every recorded sample of the window; 1 to
	// 100, 5 by default.
	// +optional
	CPUThresholdPercent int32 `json:"cpuThresholdPercent,omitempty"`
	// Window is how long the VM must have been idle, all of it recorded;
	// 24h by default, at least 10s, at most 30 days.
	// +optional
	Window *metav1.Duration `json:"window,omitempty"`
	// Action is Report (default) or Stop.
	// +optional
	Action IdleAction `json:"action,omitempty"`
	// GracePeriod is how long after it was first found idle a VM is
	// stopped (Action Stop); 1h by default.
	// +optional
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`
	// Requester is who last wrote the spec. The server sets it from the
	// authenticated user; the controller stops only VMs the requester may
	// stop.
	// +optional
	Requester *VMOperationRequester `json:"requester,omitempty"`
}

// IdleVMPolicyStatus lists the idle VMs.
type IdleVMPolicyStatus struct {
	// ObservedGeneration is the spec generation this status is about.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// IdleVMs are the running VMs idle for the whole window at the last
	// pass.
	// +optional
	// +listType=map
	// +listMapKey=name
	IdleVMs []IdleVM `json:"idleVMs,omitempty"`
	// LastCheckTime is when the VMs were last looked at.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`
	// Conditions: Ready (the last pass could read every VM's history and
	// do what the policy asks).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// IdleVM is one VM an IdleVMPolicy found idle.
type IdleVM struct {
	// Name of the VM, in the policy's namespace.
	Name string `json:"name"`
	// Since is when the policy first found it idle.
	Since metav1.Time `json:"since"`
	// PeakCPUPercent is its highest CPU use in the window, in percent of
	// its vCPUs.
	PeakCPUPercent float64 `json:"peakCPUPercent"`
	// OptedOut is true when the VM carries hypersdk.io/idle-opt-out=true:
	// reported, never stopped.
	// +optional
	OptedOut bool `json:"optedOut,omitempty"`
	// StopAt is when it will be stopped (Action Stop, not opted out).
	// +optional
	StopAt *metav1.Time `json:"stopAt,omitempty"`
	// Operation is the Stop VMOperation the policy created for it.
	// +optional
	Operation string `json:"operation,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IdleVMPolicyList is a list of IdleVMPolicy.
type IdleVMPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of IdleVMPolicies.
	Items []IdleVMPolicy `json:"items"`
}
