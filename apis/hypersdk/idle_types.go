package hypersdk

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IdleAction is what an IdleVMPolicy does with the idle VMs it finds.
type IdleAction string

const (
	// IdleActionReport flags idle VMs in status, events and metrics.
	IdleActionReport IdleAction = "Report"
	// IdleActionStop also stops them, a grace period after they were first
	// found idle, with a Stop VMOperation.
	IdleActionStop IdleAction = "Stop"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IdleVMPolicy finds the running VMs of its namespace whose CPU use stayed
// below a threshold for a whole window, from their history, reports them,
// and optionally stops them after a grace period.
type IdleVMPolicy struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   IdleVMPolicySpec
	Status IdleVMPolicyStatus
}

// IdleVMPolicySpec says which VMs, what idle means and what to do.
type IdleVMPolicySpec struct {
	// VMSelector limits the policy to VMs with these labels; all of the
	// namespace's when unset.
	VMSelector *metav1.LabelSelector
	// CPUThresholdPercent: a VM is idle when its CPU use stayed below this
	// percentage of its vCPUs at every recorded sample of the window; 1 to
	// 100, 5 by default.
	CPUThresholdPercent int32
	// Window is how long the VM must have been idle, all of it recorded;
	// 24h by default, at least 10s, at most 30 days.
	Window *metav1.Duration
	// Action is Report (default) or Stop.
	Action IdleAction
	// GracePeriod is how long after it was first found idle a VM is
	// stopped (Action Stop); 1h by default.
	GracePeriod *metav1.Duration
	// Requester is who last wrote the spec. The server sets it from the
	// authenticated user; the controller stops only VMs the requester may
	// stop.
	Requester *VMOperationRequester
}

// IdleVMPolicyStatus lists the idle VMs.
type IdleVMPolicyStatus struct {
	ObservedGeneration int64
	// IdleVMs are the running VMs idle for the whole window at the last
	// pass.
	IdleVMs []IdleVM
	// LastCheckTime is when the VMs were last looked at.
	LastCheckTime *metav1.Time
	// Conditions: Ready (the last pass could read every VM's history and
	// do what the policy asks).
	Conditions []metav1.Condition
}

// IdleVM is one VM an IdleVMPolicy found idle.
type IdleVM struct {
	Name string
	// Since is when the policy first found it idle.
	Since metav1.Time
	// PeakCPUPercent is its highest CPU use in the window, in percent of
	// its vCPUs.
	PeakCPUPercent float64
	// OptedOut is true when the VM carries hypersdk.io/idle-opt-out=true:
	// reported, never stopped.
	OptedOut bool
	// StopAt is when it will be stopped (Action Stop, not opted out).
	StopAt *metav1.Time
	// Operation is the Stop VMOperation the policy created for it.
	Operation string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IdleVMPolicyList is a list of IdleVMPolicy.
type IdleVMPolicyList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []IdleVMPolicy
}
