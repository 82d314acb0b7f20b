package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Budget caps what a namespace's VMs (or those of it a selector picks) may
// cost in a calendar month (UTC): hypersdk-controller follows the spend
// from costreports, says in status, events and metrics when a threshold is
// crossed, projects the month's end, and with enforce refuses new VMs in
// the scope once the budget is spent.
type Budget struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the monthly amount, its scope, and what to do as it is spent.
	Spec BudgetSpec `json:"spec"`
	// Status is the month's spend and what it crossed, written by
	// hypersdk-controller's budget controller.
	Status BudgetStatus `json:"status,omitempty"`
}

// BudgetSpec is the amount, its scope and what to do as it is spent.
type BudgetSpec struct {
	// Amount is the monthly budget in the price model's currency, above 0.
	Amount resource.Quantity `json:"amount"`
	// VMSelector limits the budget to the namespace's VMs with these
	// labels; all of them when unset.
	// +optional
	VMSelector *metav1.LabelSelector `json:"vmSelector,omitempty"`
	// Thresholds are percentages of the amount, in increasing order, each
	// announced once a month by an event and in status when the month's
	// spend reaches it; 50, 80 and 100 by default.
	// +optional
	// +listType=atomic
	Thresholds []int32 `json:"thresholds,omitempty"`
	// Enforce refuses new VMs in the budget's scope (KubeVirt's and
	// hypersdk.io's) while the month's spend is at or above the amount.
	// Running VMs are left alone.
	// +optional
	Enforce bool `json:"enforce,omitempty"`
}

// BudgetStatus is the month's spend and what it crossed.
type BudgetStatus struct {
	// ObservedGeneration is the spec generation this status is about.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Month the figures are for, as 2006-01 (UTC).
	// +optional
	Month string `json:"month,omitempty"`
	// Spent is the month to date of the VMs in scope, from costreports,
	// and what VMs that left the scope this month had spent in it.
	// +optional
	Spent float64 `json:"spent"`
	// VirtualMachines are the VMs in scope at the last reading, with what
	// each had spent this month.
	// +optional
	// +listType=map
	// +listMapKey=uid
	VirtualMachines []BudgetVMSpend `json:"virtualMachines,omitempty"`
	// DepartedSpent is what the VMs that left the scope this month (deleted,
	// or relabelled out of it) had spent when last counted; Spent includes
	// it, so a deleted VM's spend still counts until the month ends.
	// +optional
	DepartedSpent float64 `json:"departedSpent,omitempty"`
	// OutOfScope are the VMs of departedSpent that still exist (relabelled
	// out of the scope), with what they had spent when they left: one that
	// comes back counts its month to date again, and its departed spend is
	// taken back out, so no spend counts twice.
	// +optional
	// +listType=map
	// +listMapKey=uid
	OutOfScope []BudgetVMSpend `json:"outOfScope,omitempty"`
	// CostPerHour is what the VMs in scope cost per hour now.
	// +optional
	CostPerHour float64 `json:"costPerHour"`
	// Projected is the month's spend at its end if the VMs keep costing
	// what they cost now: spent + costPerHour × the hours left.
	// +optional
	Projected float64 `json:"projected"`
	// Percent is spent as a percentage of the amount.
	// +optional
	Percent float64 `json:"percent"`
	// Crossed are the thresholds the month's spend has reached.
	// +optional
	// +listType=atomic
	Crossed []int32 `json:"crossed,omitempty"`
	// LastUpdateTime is when the spend was last read.
	// +optional
	LastUpdateTime *metav1.Time `json:"lastUpdateTime,omitempty"`
	// CountedFrom is set when the month's spend misses what the VMs spent
	// before it: the history store (Prometheus keeps 15 days by default)
	// no longer kept the month's first days when the budget read a VM's
	// spend, and the budget had not read that VM's since before then (the
	// budget was made, or its keeper was down, later in the month, or the
	// VM was relabelled into its scope). Ready says so too.
	// +optional
	CountedFrom *metav1.Time `json:"countedFrom,omitempty"`
	// Conditions: Ready (the spend could be read), Exceeded (spent is at
	// or above the amount) and Enforced (new VMs are being refused).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BudgetVMSpend is what one VM in a budget's scope spent this month.
type BudgetVMSpend struct {
	// Name is the VM's name.
	Name string `json:"name"`
	// UID tells a VM from another made later under its name.
	UID types.UID `json:"uid"`
	// MonthToDate is what the VM had spent this month at the last reading.
	MonthToDate float64 `json:"monthToDate"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BudgetList is a list of Budget.
type BudgetList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of Budgets.
	Items []Budget `json:"items"`
}
