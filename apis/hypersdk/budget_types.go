package hypersdk

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Budget caps what a namespace's VMs (or those of it a selector picks) may
// cost in a calendar month (UTC): hypersdk-controller follows the spend
// from costreports, says in status, events and metrics when a threshold is
// crossed, projects the month's end, and with enforce refuses new VMs in
// the scope once the budget is spent.
type Budget struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   BudgetSpec
	Status BudgetStatus
}

// BudgetSpec is the amount, its scope and what to do as it is spent.
type BudgetSpec struct {
	// Amount is the monthly budget in the price model's currency, above 0.
	Amount resource.Quantity
	// VMSelector limits the budget to the namespace's VMs with these
	// labels; all of them when unset.
	VMSelector *metav1.LabelSelector
	// Thresholds are percentages of the amount, in increasing order, each
	// announced once a month by an event and in status when the month's
	// spend reaches it; 50, 80 and 100 by default.
	Thresholds []int32
	// Enforce refuses new VMs in the budget's scope (KubeVirt's and
	// hypersdk.io's) while the month's spend is at or above the amount.
	// Running VMs are left alone.
	Enforce bool
}

// BudgetStatus is the month's spend and what it crossed.
type BudgetStatus struct {
	ObservedGeneration int64
	// Month the figures are for, as 2006-01 (UTC).
	Month string
	// Spent is the month to date of the VMs in scope, from costreports,
	// and what VMs that left the scope this month had spent in it.
	Spent float64
	// VirtualMachines are the VMs in scope at the last reading, with what
	// each had spent this month.
	VirtualMachines []BudgetVMSpend
	// DepartedSpent is what the VMs that left the scope this month (deleted,
	// or relabelled out of it) had spent when last counted; Spent includes
	// it, so a deleted VM's spend still counts until the month ends.
	DepartedSpent float64
	// OutOfScope are the VMs of DepartedSpent that still exist (relabelled
	// out of the scope), with what they had spent when they left: one that
	// comes back counts its month to date again, and its departed spend is
	// taken back out, so no spend counts twice.
	OutOfScope []BudgetVMSpend
	// CostPerHour is what the VMs in scope cost per hour now.
	CostPerHour float64
	// Projected is the month's spend at its end if the VMs keep costing
	// what they cost now: spent + costPerHour × the hours left.
	Projected float64
	// Percent is spent as a percentage of the amount.
	Percent float64
	// Crossed are the thresholds the month's spend has reached.
	Crossed []int32
	// LastUpdateTime is when the spend was last read.
	LastUpdateTime *metav1.Time
	// CountedFrom is set when the month's spend misses what the VMs spent
	// before it: the history store no longer kept the month's first days
	// when the budget read a VM's spend, with no reading of its own before.
	CountedFrom *metav1.Time
	// Conditions: Ready (the spend could be read), Exceeded (spent is at
	// or above the amount) and Enforced (new VMs are being refused).
	Conditions []metav1.Condition
}

// BudgetVMSpend is what one VM in a budget's scope spent this month.
type BudgetVMSpend struct {
	Name        string
	UID         types.UID
	MonthToDate float64
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BudgetList is a list of Budget.
type BudgetList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Budget
}
