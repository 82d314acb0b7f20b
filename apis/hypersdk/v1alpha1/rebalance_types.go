package v1alpha1

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

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RebalancePolicy moves running VMs by live migration when the load, the
// grid or the prices under them have moved since they were placed, or when
// their nodes need emptying; in DryRun it only says what it would do.
type RebalancePolicy struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which VMs may move, why, and how many at once.
	Spec RebalancePolicySpec `json:"spec"`
	// Status is the last pass's plan and what is in flight, written by
	// hypersdk-controller.
	// +optional
	Status RebalancePolicyStatus `json:"status,omitempty"`
}

// RebalancePolicySpec says which VMs, when and how far they may be moved.
type RebalancePolicySpec struct {
	// Mode is DryRun (default) or Automatic.
	// +optional
	Mode RebalanceMode `json:"mode,omitempty"`
	// VMSelector limits the policy to VMs with these labels, in every
	// namespace; all VMs when unset. VMs annotated
	// hypersdk.io/rebalance-exclude=true never move.
	// +optional
	VMSelector *metav1.LabelSelector `json:"vmSelector,omitempty"`
	// NodeSelector limits the policy to the nodes with these labels: it
	// moves only VMs running on them and only onto them. All nodes when
	// unset.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`
	// Triggers are the reasons to move a VM; at least one, at most one of
	// each type except Maintenance.
	// +listType=atomic
	Triggers []RebalanceTrigger `json:"triggers"`
	// MaxInFlight bounds the migrations running at once in the cluster,
	// counting every Migrate operation (this policy's, another policy's or
	// someone's): the policy starts none while this many run. 1 to 5, 5 by
	// default.
	// +optional
	MaxInFlight int32 `json:"maxInFlight,omitempty"`
	// MaxInFlightPerNode bounds the migrations running at once out of or
	// into one node, counted the same way: 1 to 2, 2 by default.
	// +optional
	MaxInFlightPerNode int32 `json:"maxInFlightPerNode,omitempty"`
	// Cooldown is how long a VM stays put after a migration (this
	// policy's, another policy's or someone's); it doubles with each further
	// migration of it within a day, up to 24h. Emptying a node ignores it.
	// 1h by default, at least 10s and at most 24h.
	// +optional
	Cooldown *metav1.Duration `json:"cooldown,omitempty"`
	// AllowColdMigration lets the policy move VMs that cannot migrate live
	// (stop, move, start); only live-migratable VMs move otherwise. Moves
	// that empty a node for maintenance or drain ignore the savings model
	// but not this.
	// +optional
	AllowColdMigration bool `json:"allowColdMigration,omitempty"`
	// CarbonPricePerTonne, in US dollars per tonne CO2eq, puts carbon and
	// cost in one currency: a carbon or cost move must save money once
	// emissions are charged at this price. Zero (default) weighs carbon
	// moves by grams and cost moves by dollars separately.
	// +optional
	CarbonPricePerTonne int32 `json:"carbonPricePerTonne,omitempty"`
	// CostBudgetPercent states the trade-off of carbon moves as a budget
	// instead: a carbon move may leave the VM costing at most this many
	// percent more than its cheapest option (where it runs or any node it
	// may move to), and it goes to the cleanest node within that. Cost,
	// pressure and emptying moves are not bound by it. 0 to 1000; not with
	// carbonPricePerTonne.
	// +optional
	CostBudgetPercent *int32 `json:"costBudgetPercent,omitempty"`
	// Requester is who last wrote the spec. The server sets it from the
	// authenticated user; the controller migrates only VMs the requester
	// may migrate.
	// +optional
	Requester *VMOperationRequester `json:"requester,omitempty"`
}

// RebalanceTrigger is one reason to move VMs; the member named by Type is
// set, the others are not.
type RebalanceTrigger struct {
	// Type is Pressure, Carbon, Cost, Maintenance or Drain: which of the
	// members below is set.
	Type RebalanceTriggerType `json:"type"`
	// Pressure moves VMs off nodes whose measured use stayed high; with
	// type Pressure only, defaulted when left out.
	// +optional
	Pressure *PressureTrigger `json:"pressure,omitempty"`
	// Carbon moves VMs to a zone whose grid has been cleaner for long
	// enough; with type Carbon only, defaulted when left out.
	// +optional
	Carbon *CarbonTrigger `json:"carbon,omitempty"`
	// Cost moves VMs to a node where they cost less; with type Cost only,
	// defaulted when left out.
	// +optional
	Cost *CostTrigger `json:"cost,omitempty"`
	// Maintenance empties nodes before a window opens and keeps them empty
	// while it is open; required with type Maintenance, forbidden with the
	// others.
	// +optional
	Maintenance *MaintenanceTrigger `json:"maintenance,omitempty"`
	// Drain empties cordoned nodes with given labels; required with type
	// Drain, forbidden with the others.
	// +optional
	Drain *DrainTrigger `json:"drain,omitempty"`
}

// PressureTrigger: a node whose CPU or memory use (metrics.k8s.io, percent
// of allocatable) stayed above HighThresholdPercent for For is overloaded;
// its VMs move to nodes whose CPU and memory use are both below
// LowThresholdPercent, as long as those stay below the high threshold.
type PressureTrigger struct {
	// LowThresholdPercent: 1 to 99, 20 by default, below the high one.
	// +optional
	LowThresholdPercent int32 `json:"lowThresholdPercent,omitempty"`
	// HighThresholdPercent: 2 to 100, 80 by default.
	// +optional
	HighThresholdPercent int32 `json:"highThresholdPercent,omitempty"`
	// For is how long the load must stay above the high threshold; 5m by
	// default.
	// +optional
	For *metav1.Duration `json:"for,omitempty"`
}

// CarbonTrigger: a VM moves to a zone whose grid intensity has been lower
// than its own zone's by more than ThresholdPercent for For, when the
// grams saved over the VM's expected remaining life beat the migration's.
// Each pair of zones arms on its own and disarms only once its gap falls
// below half the threshold.
type CarbonTrigger struct {
	// ThresholdPercent: 1 to 100, 20 by default.
	// +optional
	ThresholdPercent int32 `json:"thresholdPercent,omitempty"`
	// For: 1h by default.
	// +optional
	For *metav1.Duration `json:"for,omitempty"`
	// UseForecast compares the zones' mean forecast intensity over
	// ForecastHorizon instead of the current one.
	// +optional
	UseForecast bool `json:"useForecast,omitempty"`
	// ForecastHorizon: 4h by default, at most 48h.
	// +optional
	ForecastHorizon *metav1.Duration `json:"forecastHorizon,omitempty"`
}

// CostTrigger: a VM moves to a node where it would cost less by more than
// ThresholdPercent, when the dollars saved over its expected remaining life
// beat the migration's. Without a carbon price the move must not raise
// emissions either: the grams saved over that life must beat the
// migration's, so VMs do not move for cost inside one zone. With a price,
// the price weighs grams against dollars.
type CostTrigger struct {
	// ThresholdPercent: 1 to 100, 10 by default.
	// +optional
	ThresholdPercent int32 `json:"thresholdPercent,omitempty"`
}

// MaintenanceTrigger empties the nodes it selects DrainBefore each window
// opens (and taints them hypersdk.io/maintenance=draining:PreferNoSchedule),
// then keeps them empty while it is open
// (hypersdk.io/maintenance=open:NoSchedule).
type MaintenanceTrigger struct {
	// Name tells windows apart in the plan.
	Name string `json:"name"`
	// Schedule is a five-field cron expression, in UTC: when the window
	// opens.
	Schedule string `json:"schedule"`
	// Duration is how long it stays open: 1m to 7 days.
	Duration metav1.Duration `json:"duration"`
	// DrainBefore is how long before it opens the nodes start emptying;
	// 1h by default.
	// +optional
	DrainBefore *metav1.Duration `json:"drainBefore,omitempty"`
	// NodeSelector selects the nodes; required and not empty.
	NodeSelector *metav1.LabelSelector `json:"nodeSelector"`
}

// DrainTrigger empties the cordoned nodes (spec.unschedulable) that match
// NodeSelector.
type DrainTrigger struct {
	// NodeSelector: required and not empty.
	NodeSelector *metav1.LabelSelector `json:"nodeSelector"`
}

// RebalancePolicyStatus is the plan and what has been done of it.
type RebalancePolicyStatus struct {
	// ObservedGeneration is the spec's generation the last pass planned
	// for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastPassTime is when the controller last looked at the policy.
	// +optional
	LastPassTime *metav1.Time `json:"lastPassTime,omitempty"`
	// Plan is the moves of the last pass, the ones started first.
	// +optional
	// +listType=atomic
	Plan []RebalanceMove `json:"plan,omitempty"`
	// InFlight counts the migrations this policy started that are still
	// running.
	// +optional
	InFlight int32 `json:"inFlight,omitempty"`
	// Armed remembers since when each trigger condition has held, for For
	// and the carbon trigger's hysteresis.
	// +optional
	// +listType=map
	// +listMapKey=key
	Armed []RebalanceArmed `json:"armed,omitempty"`
	// Conditions: Ready (the last pass read every signal it needed and did
	// what the mode asks).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RebalanceArmed is one trigger condition that has held since Since: an
// overloaded node ("pressure/<node>") or a zone that has been cleaner than
// another by more than the threshold ("carbon/<from>/<to>").
type RebalanceArmed struct {
	// Key names the condition: "pressure/<node>" or "carbon/<from>/<to>".
	Key string `json:"key"`
	// Since is when the condition was first seen holding, without a break.
	Since metav1.Time `json:"since"`
}

// RebalanceMove is one VM the policy would move or moved.
type RebalanceMove struct {
	// Namespace is the VM's namespace.
	Namespace string `json:"namespace"`
	// VMName is the VM's name.
	VMName string `json:"vmName"`
	// FromNode is the node the VM runs on.
	FromNode string `json:"fromNode"`
	// ToNode is the node it would move or moves to.
	ToNode string `json:"toNode"`
	// Trigger is the type of the trigger that wants the move.
	Trigger RebalanceTriggerType `json:"trigger"`
	// Reason says why, in words.
	Reason string `json:"reason"`
	// SavedGramsCO2PerHour is how many grams CO2eq less the VM would emit
	// per hour on ToNode; negative is more.
	SavedGramsCO2PerHour float64 `json:"savedGramsCO2PerHour"`
	// SavedCostPerHour is how many US dollars less the VM would cost per
	// hour on ToNode; negative is more.
	SavedCostPerHour float64 `json:"savedCostPerHour"`
	// MigrationGramsCO2 is what the move itself emits, in grams CO2eq:
	// copying the VM's memory and running it twice meanwhile.
	MigrationGramsCO2 float64 `json:"migrationGramsCO2"`
	// MigrationCost is what the move itself costs, in US dollars, on the
	// same model.
	MigrationCost float64 `json:"migrationCost"`
	// ExpectedRemainingHours is the VM's expected remaining life the
	// savings were counted over (as long as it has run so far, 1h to 30d).
	// A move's grams saved count over less when VMs arriving in the target
	// zone would take its free CPU sooner; the reason then says so.
	ExpectedRemainingHours float64 `json:"expectedRemainingHours"`
	// Operation is the Migrate VMOperation carrying the move out
	// (Automatic).
	// +optional
	Operation string `json:"operation,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RebalancePolicyList is a list of RebalancePolicy.
type RebalancePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of RebalancePolicies.
	Items []RebalancePolicy `json:"items"`
}
