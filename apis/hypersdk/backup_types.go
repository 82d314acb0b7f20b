package hypersdk

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupSchedule snapshots the VMs it selects on a cron schedule, as
// Snapshot VMOperations, and prunes the snapshots it made beyond its
// retention.
type BackupSchedule struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   BackupScheduleSpec
	Status BackupScheduleStatus
}

// BackupScheduleSpec says which VMs, when, and how many snapshots to keep.
type BackupScheduleSpec struct {
	// VMSelector selects VMs of the schedule's namespace by label. Required:
	// a schedule never snapshots every VM by accident.
	VMSelector *metav1.LabelSelector
	// Schedule is a five-field cron expression (minute hour day month
	// weekday) or a descriptor: @hourly, @daily, @weekly, @monthly or
	// @every <duration>.
	Schedule string
	// TimeZone is the IANA time zone of the schedule; UTC by default.
	TimeZone string
	// Retention says which of the schedule's snapshots are kept.
	Retention BackupRetention
	// MaxConcurrent bounds the schedule's snapshots in progress at once;
	// 5 by default.
	MaxConcurrent *int32
	// CarbonWindow, when set, defers each run to the hour of lowest
	// forecast grid carbon intensity within a window after its slot.
	CarbonWindow *BackupCarbonWindow
	// Verification, when set, restores snapshots into scratch VMs and
	// checks that their guests answer on the serial console.
	Verification *BackupVerification
	// Replication, when set, copies each snapshot to another cluster.
	Replication *BackupReplication
	// Suspend stops new runs; slots passed while suspended are not caught up.
	Suspend bool
	// Requester is who last wrote the spec. The server sets it from the
	// authenticated user on create and on every change of the spec; the
	// controller snapshots and prunes only as far as the requester may.
	Requester *VMOperationRequester
}

// BackupRetention says, per VM, which of the schedule's snapshots are kept.
// The counts keep the union of what each keeps: the newest keepLast, and the
// newest snapshot of each of the last keepHourly hours, keepDaily days,
// keepWeekly ISO weeks and keepMonthly months that have one (periods in the
// schedule's time zone). maxAge then drops every snapshot older than it,
// whatever the counts say. At least one field is set.
type BackupRetention struct {
	KeepLast    *int32
	KeepHourly  *int32
	KeepDaily   *int32
	KeepWeekly  *int32
	KeepMonthly *int32
	MaxAge      *metav1.Duration
}

// BackupCarbonWindow defers a run to the cleanest forecast hour after its
// slot.
type BackupCarbonWindow struct {
	// Within is how long after its slot a run may start: 1h to 168h.
	Within metav1.Duration
	// Zone is the grid zone whose forecast counts; when empty, the zone of
	// the nodes that run most of the selected VMs.
	Zone string
}

// BackupVerification restores the snapshots of every Every-th run, one at
// a time, as a new VM named <snapshot>-verify in the schedule's namespace,
// starts it, and reads its serial console: with Command, logged in as
// Username, the command's output must contain ExpectedOutput; without, the
// console must show ExpectedOutput ("login:" by default) once the guest is
// up. The scratch VM is deleted whatever the result.
type BackupVerification struct {
	Every          int32
	Command        string
	ExpectedOutput string
	Username       string
	// Timeout bounds a verification from its restore to its check.
	Timeout metav1.Duration
}

// BackupReplication copies the schedule's snapshots to another cluster.
type BackupReplication struct {
	KubeconfigSecret string
	Namespace        string
}

// BackupVerificationProgress is the verification in progress.
type BackupVerificationProgress struct {
	Snapshot  string
	VMName    string
	ScratchVM string
	Phase     string
	Started   metav1.Time
	// Result and Message, once the check is done, while the scratch VM is
	// deleted: Succeeded, Failed, or Cancelled when the schedule's
	// verification was turned off first (nothing is recorded of it).
	Result  string
	Message string
}

// BackupVerificationResult is a finished verification.
type BackupVerificationResult struct {
	Snapshot string
	VMName   string
	Time     metav1.Time
	Result   string
	Message  string
}

// BackupCarbonPlan is the carbon-aware choice of one run.
type BackupCarbonPlan struct {
	// Slot is the run's schedule time.
	Slot metav1.Time
	Zone string
	// WindowStart is the first forecast hour (the hour of the slot on the
	// carbon provider's timeline, which in the sandbox is simulated time).
	WindowStart metav1.Time
	// RunAt is the chosen hour, the first of the lowest forecast.
	RunAt metav1.Time
	// ForecastGramsPerKWh is the forecast at RunAt; SlotGramsPerKWh the
	// intensity when the slot came, what running at once would have met.
	ForecastGramsPerKWh int32
	SlotGramsPerKWh     int32
	// StartedAt is the provider's hour when the run started, and
	// StartedGramsPerKWh the intensity then; unset while the run waits.
	StartedAt          *metav1.Time
	StartedGramsPerKWh int32
}

// BackupScheduleStatus says what the schedule did and will do.
type BackupScheduleStatus struct {
	ObservedGeneration int64
	// LastScheduleTime is the slot of the last run started. Slots missed
	// while the controller was down are run once, at its return, as this
	// newest slot.
	LastScheduleTime *metav1.Time
	// NextScheduleTime is the next slot.
	NextScheduleTime *metav1.Time
	// LastSuccessfulTime is when a snapshot of the schedule last succeeded.
	LastSuccessfulTime *metav1.Time
	// LastFailure is the last snapshot of the schedule that failed.
	LastFailure *BackupFailure
	// Pending are the VMs of the current run whose snapshot has not been
	// started yet (beyond maxConcurrent).
	Pending []string
	// CarbonPlan is the carbon-aware choice of the last run.
	CarbonPlan *BackupCarbonPlan
	// Runs counts the runs started, for verification's every-N-th.
	Runs int64
	// Verifying is the verification in progress; LastVerification the last
	// one done.
	Verifying        *BackupVerificationProgress
	LastVerification *BackupVerificationResult
	// Snapshots are the snapshots the schedule made and keeps, oldest first.
	Snapshots []ScheduledSnapshot
	// Conditions: Ready (the last pass could do what the schedule asks),
	// CarbonAware (the last run's hour was chosen on a forecast).
	Conditions []metav1.Condition
}

// ScheduledSnapshot is one snapshot a schedule made.
type ScheduledSnapshot struct {
	// Name of the VirtualMachineSnapshot.
	Name   string
	VMName string
	// Slot is the schedule time of its run.
	Slot metav1.Time
	// Operation is the Snapshot VMOperation that made it.
	Operation string
	// Phase is the operation's: Pending, Running or Succeeded (failed
	// snapshots are dropped and reported in lastFailure).
	Phase VMOperationPhase
	// Verify says the snapshot is to be verified; Verification is the
	// result: Succeeded or Failed.
	Verify       bool
	Verification string
	// Replicated says the snapshot is on the replication's cluster.
	Replicated bool
}

// BackupFailure is a snapshot that failed.
type BackupFailure struct {
	Time    metav1.Time
	VMName  string
	Message string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupScheduleList is a list of BackupSchedule.
type BackupScheduleList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []BackupSchedule
}
