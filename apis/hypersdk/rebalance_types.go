package hypersdk

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RebalanceExcludeAnnotation set to "true" on a VM keeps every
// RebalancePolicy from moving it.
const RebalanceExcludeAnnotation = "hypersdk.io/rebalance-exclude"

// RebalanceMode says whether a RebalancePolicy only plans or also moves.
type RebalanceMode string

const (
	// RebalanceDryRun writes the plan in status and changes nothing.
	RebalanceDryRun RebalanceMode = "DryRun"
	// RebalanceAutomatic carries each planned move out as a Migrate
	// VMOperation labelled with the policy.
	RebalanceAutomatic RebalanceMode = "Automatic"
)

// RebalanceTriggerType names why a VM should move.
type RebalanceTriggerType string

const (
	// RebalancePressure moves VMs off nodes whose measured use stayed above
	// the high threshold onto nodes below the low one (descheduler's
	// LowNodeUtilization on metrics.k8s.io).
	RebalancePressure RebalanceTriggerType = "Pressure"
	// RebalanceCarbon moves VMs to a zone whose grid has been cleaner than
	// theirs by more than a threshold for long enough.
	RebalanceCarbon RebalanceTriggerType = "Carbon"
	// RebalanceCost moves VMs to a node where they would cost less by more
	// than a threshold.
	RebalanceCost RebalanceTriggerType = "Cost"
	// RebalanceMaintenance empties nodes before a maintenance window opens
	// and keeps them empty while it is open.
	RebalanceMaintenance RebalanceTriggerType = "Maintenance"
	// RebalanceDrain empties cordoned nodes carrying given labels.
	RebalanceDrain RebalanceTriggerType = "Drain"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RebalancePolicy moves running VMs by live migration when the load, the
// grid or the prices under them have moved since they were placed, or when
// their nodes need emptying; in DryRun it only says what it would do.
type RebalancePolicy struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   RebalancePolicySpec
	Status RebalancePolicyStatus
}

// RebalancePolicySpec says which VMs, when and how far they may be moved.
type RebalancePolicySpec struct {
	// Mode is DryRun (default) or Automatic.
	Mode RebalanceMode
	// VMSelector limits the policy to VMs with these labels, in every
	// namespace; all VMs when unset. VMs annotated
	// hypersdk.io/rebalance-exclude=true never move.
	VMSelector *metav1.LabelSelector
	// NodeSelector limits the policy to the nodes with these labels: it
	// moves only VMs running on them and only onto them. All nodes when
	// unset.
	NodeSelector *metav1.LabelSelector
	// Triggers are the reasons to move a VM; at least one, at most one of
	// each type except Maintenance.
	Triggers []RebalanceTrigger
	// MaxInFlight bounds the migrations running at once in the cluster,
	// counting every Migrate operation (this policy's, another policy's or
	// someone's): the policy starts none while this many run. 1 to 5, 5 by
	// default.
	MaxInFlight int32
	// MaxInFlightPerNode bounds the migrations running at once out of or
	// into one node, counted the same way: 1 to 2, 2 by default.
	MaxInFlightPerNode int32
	// Cooldown is how long a VM stays put after a migration (this
	// policy's, another policy's or someone's); it doubles with each further
	// migration of it within a day, up to 24h. Emptying a node ignores it.
	// 1h by default, at least 10s and at most 24h.
	Cooldown *metav1.Duration
	// AllowColdMigration lets the policy move VMs that cannot migrate live
	// (stop, move, start); only live-migratable VMs move otherwise. Moves
	// that empty a node for maintenance or drain ignore the savings model
	// but not this.
	AllowColdMigration bool
	// CarbonPricePerTonne, in US dollars per tonne CO2eq, puts carbon and
	// cost in one currency: a carbon or cost move must save money once
	// emissions are charged at this price. Zero (default) weighs carbon
	// moves by grams and cost moves by dollars separately.
	CarbonPricePerTonne int32
	// CostBudgetPercent states the trade-off of carbon moves as a budget
	// instead: a carbon move may leave the VM costing at most this many
	// percent more than its cheapest option (where it runs or any node it
	// may move to), and it goes to the cleanest node within that. Cost,
	// pressure and emptying moves are not bound by it. 0 to 1000; not with
	// carbonPricePerTonne.
	CostBudgetPercent *int32
	// Requester is who last wrote the spec. The server sets it from the
	// authenticated user; the controller migrates only VMs the requester
	// may migrate.
	Requester *VMOperationRequester
}

// RebalanceTrigger is one reason to move VMs; the member named by Type is
// set, the others are not.
type RebalanceTrigger struct {
	Type        RebalanceTriggerType
	Pressure    *PressureTrigger
	Carbon      *CarbonTrigger
	Cost        *CostTrigger
	Maintenance *MaintenanceTrigger
	Drain       *DrainTrigger
}

// PressureTrigger: a node whose CPU or memory use (metrics.k8s.io, percent
// of allocatable) stayed above HighThresholdPercent for For is overloaded;
// its VMs move to nodes whose CPU and memory use are both below
// LowThresholdPercent, as long as those stay below the high threshold.
type PressureTrigger struct {
	// LowThresholdPercent: 1 to 99, 20 by default, below the high one.
	LowThresholdPercent int32
	// HighThresholdPercent: 2 to 100, 80 by default.
	HighThresholdPercent int32
	// For is how long the load must stay above the high threshold; 5m by
	// default.
	For *metav1.Duration
}

// CarbonTrigger: a VM moves to a zone whose grid intensity has been lower
// than its own zone's by more than ThresholdPercent for For, when the
// grams saved over the VM's expected remaining life beat the migration's.
// Each pair of zones arms on its own and disarms only once its gap falls
// below half the threshold.
type CarbonTrigger struct {
	// ThresholdPercent: 1 to 100, 20 by default.
	ThresholdPercent int32
	// For: 1h by default.
	For *metav1.Duration
	// UseForecast compares the zones' mean forecast intensity over
	// ForecastHorizon instead of the current one.
	UseForecast bool
	// ForecastHorizon: 4h by default, at most 48h.
	ForecastHorizon *metav1.Duration
}

// CostTrigger: a VM moves to a node where it would cost less by more than
// ThresholdPercent, when the dollars saved over its expected remaining life
// beat the migration's.
type CostTrigger struct {
	// ThresholdPercent: 1 to 100, 10 by default.
	ThresholdPercent int32
}

// MaintenanceTrigger empties the nodes it selects DrainBefore each window
// opens (and taints them hypersdk.io/maintenance=draining:PreferNoSchedule),
// then keeps them empty while it is open
// (hypersdk.io/maintenance=open:NoSchedule).
type MaintenanceTrigger struct {
	// Name tells windows apart in the plan.
	Name string
	// Schedule is a five-field cron expression, in UTC: when the window
	// opens.
	Schedule string
	// Duration is how long it stays open: 1m to 7 days.
	Duration metav1.Duration
	// DrainBefore is how long before it opens the nodes start emptying;
	// 1h by default.
	DrainBefore *metav1.Duration
	// NodeSelector selects the nodes; required and not empty.
	NodeSelector *metav1.LabelSelector
}

// DrainTrigger empties the cordoned nodes (spec.unschedulable) that match
// NodeSelector.
type DrainTrigger struct {
	// NodeSelector: required and not empty.
	NodeSelector *metav1.LabelSelector
}

// RebalancePolicyStatus is the plan and what has been done of it.
type RebalancePolicyStatus struct {
	ObservedGeneration int64
	// LastPassTime is when the controller last looked at the policy.
	LastPassTime *metav1.Time
	// Plan is the moves of the last pass, the ones started first.
	Plan []RebalanceMove
	// InFlight counts the migrations this policy started that are still
	// running.
	InFlight int32
	// Armed remembers since when each trigger condition has held, for For
	// and the carbon trigger's hysteresis.
	Armed []RebalanceArmed
	// Conditions: Ready (the last pass read every signal it needed and did
	// what the mode asks).
	Conditions []metav1.Condition
}

// RebalanceArmed is one trigger condition that has held since Since: an
// overloaded node ("pressure/<node>") or a zone that has been cleaner than
// another by more than the threshold ("carbon/<from>/<to>").
type RebalanceArmed struct {
	Key   string
	Since metav1.Time
}

// RebalanceMove is one VM the policy would move or moved.
type RebalanceMove struct {
	Namespace string
	VMName    string
	FromNode  string
	ToNode    string
	Trigger   RebalanceTriggerType
	// Reason says why, in words.
	Reason string
	// SavedGramsCO2PerHour and SavedCostPerHour (US dollars) are what the
	// VM would emit and cost less per hour on ToNode; negative is more.
	SavedGramsCO2PerHour float64
	SavedCostPerHour     float64
	// MigrationGramsCO2 and MigrationCost are what the move itself costs:
	// copying the VM's memory and running it twice meanwhile.
	MigrationGramsCO2 float64
	MigrationCost     float64
	// ExpectedRemainingHours is the VM's expected remaining life the
	// savings were counted over (as long as it has run so far, 1h to 30d).
	// A move's grams saved count over less when VMs arriving in the target
	// zone would take its free CPU sooner; the reason then says so.
	ExpectedRemainingHours float64
	// Operation is the Migrate VMOperation carrying the move out
	// (Automatic).
	Operation string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RebalancePolicyList is a list of RebalancePolicy.
type RebalancePolicyList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []RebalancePolicy
}
