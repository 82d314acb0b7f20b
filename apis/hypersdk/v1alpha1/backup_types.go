package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupSchedule snapshots the VMs it selects on a cron schedule, as
// Snapshot VMOperations, and prunes the snapshots it made beyond its
// retention.
type BackupSchedule struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which VMs to snapshot, when, and which snapshots to keep.
	Spec BackupScheduleSpec `json:"spec"`
	// Status is what the schedule did and will do (runs, kept snapshots,
	// verification), written by hypersdk-controller's backup controller.
	Status BackupScheduleStatus `json:"status,omitempty"`
}

// BackupScheduleSpec says which VMs, when, and how many snapshots to keep.
type BackupScheduleSpec struct {
	// VMSelector selects VMs of the schedule's namespace by label. Required:
	// a schedule never snapshots every VM by accident.
	VMSelector *metav1.LabelSelector `json:"vmSelector"`
	// Schedule is a five-field cron expression (minute hour day month
	// weekday) or a descriptor: @hourly, @daily, @weekly, @monthly or
	// @every <duration>.
	Schedule string `json:"schedule"`
	// TimeZone is the IANA time zone of the schedule; UTC by default.
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
	// Retention says which of the schedule's snapshots are kept.
	Retention BackupRetention `json:"retention"`
	// MaxConcurrent bounds the schedule's snapshots in progress at once;
	// 5 by default.
	// +optional
	MaxConcurrent *int32 `json:"maxConcurrent,omitempty"`
	// CarbonWindow, when set, defers each run to the hour of lowest
	// forecast grid carbon intensity within a window after its slot.
	// +optional
	CarbonWindow *BackupCarbonWindow `json:"carbonWindow,omitempty"`
	// Verification, when set, restores snapshots into scratch VMs and
	// checks that their guests answer on the serial console.
	// +optional
	Verification *BackupVerification `json:"verification,omitempty"`
	// Replication, when set, copies each snapshot to another cluster.
	// +optional
	Replication *BackupReplication `json:"replication,omitempty"`
	// Suspend stops new runs; slots passed while suspended are not caught up.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// Requester is who last wrote the spec. The server sets it from the
	// authenticated user on create and on every change of the spec; the
	// controller snapshots and prunes only as far as the requester may.
	// +optional
	Requester *VMOperationRequester `json:"requester,omitempty"`
}

// BackupRetention says, per VM, which of the schedule's snapshots are kept.
// The counts keep the union of what each keeps: the newest keepLast, and the
// newest snapshot of each of the last keepHourly hours, keepDaily days,
// keepWeekly ISO weeks and keepMonthly months that have one (periods in the
// schedule's time zone). maxAge then drops every snapshot older than it,
// whatever the counts say. At least one field is set.
type BackupRetention struct {
	// KeepLast keeps each VM's newest keepLast snapshots: 1 to 1000.
	// +optional
	KeepLast *int32 `json:"keepLast,omitempty"`
	// KeepHourly keeps each VM's newest snapshot of each of the last
	// keepHourly hours that have one: 1 to 1000.
	// +optional
	KeepHourly *int32 `json:"keepHourly,omitempty"`
	// KeepDaily keeps each VM's newest snapshot of each of the last
	// keepDaily days that have one: 1 to 1000.
	// +optional
	KeepDaily *int32 `json:"keepDaily,omitempty"`
	// KeepWeekly keeps each VM's newest snapshot of each of the last
	// keepWeekly ISO weeks (from Monday) that have one: 1 to 1000.
	// +optional
	KeepWeekly *int32 `json:"keepWeekly,omitempty"`
	// KeepMonthly keeps each VM's newest snapshot of each of the last
	// keepMonthly calendar months that have one: 1 to 1000.
	// +optional
	KeepMonthly *int32 `json:"keepMonthly,omitempty"`
	// MaxAge deletes every snapshot whose slot is older than it, whatever
	// the counts keep; with no count set, it alone decides. Unset or 0: no
	// age limit.
	// +optional
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// BackupCarbonWindow defers a run to the cleanest forecast hour after its
// slot. Without a carbon provider, or when the forecast fails, runs start
// at their slot and the CarbonAware condition says why.
type BackupCarbonWindow struct {
	// Within is how long after its slot a run may start: 1h to 168h. A
	// run still waiting when the schedule's next slot comes is replaced by
	// that slot's run (the newest state of each VM is what a backup is
	// for), so a window longer than the schedule's period runs fewer
	// backups than it has slots.
	Within metav1.Duration `json:"within"`
	// Zone is the grid zone whose forecast counts; when empty, the zone of
	// the nodes that run most of the selected VMs.
	// +optional
	Zone string `json:"zone,omitempty"`
}

// BackupVerification restores the snapshots of every Every-th run, one at
// a time, as a new VM named <snapshot>-verify in the schedule's namespace,
// starts it, and reads its serial console: with Command, logged in as
// Username, the command's output must contain ExpectedOutput; without, the
// console must show ExpectedOutput ("login:" by default) once the guest is
// up. The scratch VM is deleted whatever the result. Each step is made only
// as far as the schedule's requester may make it (restore, start, console,
// delete).
type BackupVerification struct {
	// Every verifies the snapshots of each Every-th run: 1 to 100; 1 by
	// default.
	// +optional
	Every int32 `json:"every,omitempty"`
	// Command is typed at the guest's shell prompt.
	// +optional
	Command string `json:"command,omitempty"`
	// ExpectedOutput must appear on the console: in the command's output,
	// or, without a command, once the guest is up ("login:" by default).
	// +optional
	ExpectedOutput string `json:"expectedOutput,omitempty"`
	// Username is typed at a login prompt before the command (an empty
	// password follows); required with a command.
	// +optional
	Username string `json:"username,omitempty"`
	// Timeout bounds a verification from its restore to its check: 1m to
	// 1h; 10m by default.
	// +optional
	Timeout metav1.Duration `json:"timeout,omitempty"`
}

// BackupReplication copies each snapshot the schedule made, once it is
// ready, to another cluster: the VirtualMachineSnapshot and its content are
// re-created there under the same names (ready to use, annotated with
// where they come from), and deleted there when the schedule prunes them
// here. Only the objects are copied: the disks' volume snapshots must reach
// the other cluster through the storage layer (see docs/backup.md).
type BackupReplication struct {
	// KubeconfigSecret is a Secret of the schedule's namespace whose key
	// "kubeconfig" reaches the other cluster; the schedule's requester must
	// be allowed to read it.
	KubeconfigSecret string `json:"kubeconfigSecret"`
	// Namespace on the other cluster; the schedule's by default. It must
	// exist there.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// BackupVerificationProgress is the verification in progress.
type BackupVerificationProgress struct {
	// Snapshot is the VirtualMachineSnapshot being verified.
	Snapshot string `json:"snapshot"`
	// VMName is the VM the snapshot is of.
	VMName string `json:"vmName"`
	// ScratchVM is the VM the snapshot is restored into: <snapshot>-verify,
	// shortened with a hash when longer than 63 characters.
	ScratchVM string `json:"scratchVM"`
	// Phase: Restoring, Starting, Checking or Cleaning.
	Phase string `json:"phase"`
	// Started is when the verification began; its timeout counts from it.
	Started metav1.Time `json:"started"`
	// Result and Message, once the check is done, while the scratch VM is
	// deleted: Succeeded, Failed, or Cancelled when the schedule's
	// verification was turned off first (nothing is recorded of it).
	// +optional
	Result string `json:"result,omitempty"`
	// Message, set with Result, says what the guest answered or why the
	// verification failed.
	// +optional
	Message string `json:"message,omitempty"`
}

// BackupVerificationResult is a finished verification.
type BackupVerificationResult struct {
	// Snapshot is the VirtualMachineSnapshot verified.
	Snapshot string `json:"snapshot"`
	// VMName is the VM the snapshot is of.
	VMName string `json:"vmName"`
	// Time is when the verification ended: the controller deleted its
	// scratch VM and recorded the result on the snapshot.
	Time metav1.Time `json:"time"`
	// Result: Succeeded or Failed.
	Result string `json:"result"`
	// Message says what the guest answered or why the verification failed.
	Message string `json:"message"`
}

// BackupCarbonPlan is the carbon-aware choice of one run.
type BackupCarbonPlan struct {
	// Slot is the run's schedule time.
	Slot metav1.Time `json:"slot"`
	// Zone is the grid zone whose forecast was used: carbonWindow.zone, or
	// when that is empty the zone of the nodes that ran most of the
	// selected VMs.
	Zone string `json:"zone"`
	// WindowStart is the first forecast hour (the hour of the slot on the
	// carbon provider's timeline, which in the sandbox is simulated time).
	WindowStart metav1.Time `json:"windowStart"`
	// RunAt is the chosen hour, the first of the lowest forecast.
	RunAt metav1.Time `json:"runAt"`
	// ForecastGramsPerKWh is the forecast at RunAt.
	ForecastGramsPerKWh int32 `json:"forecastGramsPerKWh"`
	// SlotGramsPerKWh is the intensity when the slot came, what running at
	// once would have met.
	SlotGramsPerKWh int32 `json:"slotGramsPerKWh"`
	// StartedAt is the provider's hour when the run started; unset while
	// the run waits.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// StartedGramsPerKWh is the intensity when the run started.
	// +optional
	StartedGramsPerKWh int32 `json:"startedGramsPerKWh,omitempty"`
}

// BackupScheduleStatus says what the schedule did and will do.
type BackupScheduleStatus struct {
	// ObservedGeneration is the spec generation this status is about.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastScheduleTime is the slot of the last run started. Slots missed
	// while the controller was down are run once, at its return, as this
	// newest slot.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// NextScheduleTime is the next slot.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
	// LastSuccessfulTime is when a snapshot of the schedule last succeeded.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`
	// LastFailure is the last snapshot of the schedule that failed.
	// +optional
	LastFailure *BackupFailure `json:"lastFailure,omitempty"`
	// Pending are the VMs of the current run whose snapshot has not been
	// started yet (beyond maxConcurrent).
	// +optional
	// +listType=atomic
	Pending []string `json:"pending,omitempty"`
	// CarbonPlan is the carbon-aware choice of the last run.
	// +optional
	CarbonPlan *BackupCarbonPlan `json:"carbonPlan,omitempty"`
	// Runs counts the runs started, for verification's every-N-th.
	// +optional
	Runs int64 `json:"runs,omitempty"`
	// Verifying is the verification in progress.
	// +optional
	Verifying *BackupVerificationProgress `json:"verifying,omitempty"`
	// LastVerification is the last verification done.
	// +optional
	LastVerification *BackupVerificationResult `json:"lastVerification,omitempty"`
	// Snapshots are the snapshots the schedule made and keeps, oldest first.
	// +optional
	// +listType=map
	// +listMapKey=name
	Snapshots []ScheduledSnapshot `json:"snapshots,omitempty"`
	// Conditions: Ready (the last pass could do what the schedule asks),
	// CarbonAware (the last run's hour was chosen on a forecast), Verified
	// (the last verification's result), Replicated (the last replication
	// could copy every ready snapshot).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ScheduledSnapshot is one snapshot a schedule made.
type ScheduledSnapshot struct {
	// Name of the VirtualMachineSnapshot.
	Name string `json:"name"`
	// VMName is the VM the snapshot is of.
	VMName string `json:"vmName"`
	// Slot is the schedule time of its run.
	Slot metav1.Time `json:"slot"`
	// Operation is the Snapshot VMOperation that made it.
	Operation string `json:"operation"`
	// Phase is the operation's: Pending, Running or Succeeded (failed
	// snapshots are dropped and reported in lastFailure).
	Phase VMOperationPhase `json:"phase"`
	// Verify says the snapshot is to be verified.
	// +optional
	Verify bool `json:"verify,omitempty"`
	// Verification is its result: Succeeded or Failed.
	// +optional
	Verification string `json:"verification,omitempty"`
	// Replicated says the snapshot is on the replication's cluster.
	// +optional
	Replicated bool `json:"replicated,omitempty"`
}

// BackupFailure is a snapshot that failed.
type BackupFailure struct {
	// Time is when the controller found that the snapshot failed.
	Time metav1.Time `json:"time"`
	// VMName is the VM whose snapshot failed.
	VMName string `json:"vmName"`
	// Message is the failed or cancelled Snapshot operation's message, or
	// says that the operation was gone before it finished.
	Message string `json:"message"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BackupScheduleList is a list of BackupSchedule.
type BackupScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of BackupSchedules.
	Items []BackupSchedule `json:"items"`
}
