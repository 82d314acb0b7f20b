package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_VirtualMachineSpec makes a VM run unless asked otherwise, as
// `kubectl create` users of KubeVirt's examples expect.
func SetDefaults_VirtualMachineSpec(obj *VirtualMachineSpec) {
	if obj.Running == nil {
		running := true
		obj.Running = &running
	}
}

// SetDefaults_GPURequest asks for one GPU when no count is given.
func SetDefaults_GPURequest(obj *GPURequest) {
	if obj.Count == 0 {
		obj.Count = 1
	}
}

// SetDefaults_VMOperationSpec fills the options block of operation types whose
// options are all optional, so a client may post just a type and a VM name.
// Clone, Resize and Restore have required options and are left for validation to reject.
func SetDefaults_VMOperationSpec(obj *VMOperationSpec) {
	switch obj.Type {
	case VMOperationMigrate:
		if obj.Migrate == nil && obj.onlyBlock() {
			obj.Migrate = &MigrateSpec{}
		}
	case VMOperationSnapshot:
		if obj.Snapshot == nil && obj.onlyBlock() {
			obj.Snapshot = &SnapshotSpec{}
		}
	case VMOperationStart:
		if obj.Start == nil && obj.onlyBlock() {
			obj.Start = &StartSpec{}
		}
	case VMOperationStop:
		if obj.Stop == nil && obj.onlyBlock() {
			obj.Stop = &StopSpec{}
		}
	case VMOperationRestart:
		if obj.Restart == nil && obj.onlyBlock() {
			obj.Restart = &RestartSpec{}
		}
	}
}

// onlyBlock reports whether no options block is set, so defaulting never
// hides a block that does not match the type from validation.
func (obj *VMOperationSpec) onlyBlock() bool {
	return obj.Clone == nil && obj.Migrate == nil && obj.Resize == nil && obj.Snapshot == nil &&
		obj.Start == nil && obj.Stop == nil && obj.Restart == nil && obj.Restore == nil
}

// SetDefaults_ResizeSpec restarts only when hotplug cannot apply a resize.
func SetDefaults_ResizeSpec(obj *ResizeSpec) {
	if obj.RestartPolicy == "" {
		obj.RestartPolicy = ResizeRestartIfNeeded
	}
}

// SetDefaults_VirtualMachineAutoscalerSpec recommends only unless asked to
// act, sizes both resources, and limits changes to two a day an hour apart:
// a VM is not a pod, and every resize disturbs its guest.
func SetDefaults_VirtualMachineAutoscalerSpec(obj *VirtualMachineAutoscalerSpec) {
	if obj.UpdateMode == "" {
		obj.UpdateMode = AutoscalerUpdateOff
	}
	if len(obj.ControlledResources) == 0 {
		obj.ControlledResources = []string{AutoscalerResourceCPU, AutoscalerResourceMemory}
	}
	if obj.MaxChangesPerDay == nil {
		n := int32(2)
		obj.MaxChangesPerDay = &n
	}
	if obj.Cooldown == nil {
		obj.Cooldown = &metav1.Duration{Duration: time.Hour}
	}
}

// SetDefaults_DashboardSpec lays widgets out on twelve columns, the common
// grid width, and shows the last day when no range is given.
func SetDefaults_DashboardSpec(obj *DashboardSpec) {
	if obj.Columns == 0 {
		obj.Columns = 12
	}
	if obj.TimeRange == (DashboardTimeRange{}) {
		obj.TimeRange.Last = "24h"
	}
}

// SetDefaults_BackupScheduleSpec snapshots five VMs at a time.
func SetDefaults_BackupScheduleSpec(obj *BackupScheduleSpec) {
	if obj.MaxConcurrent == nil {
		n := int32(5)
		obj.MaxConcurrent = &n
	}
}

// SetDefaults_BackupVerification verifies every run within ten minutes,
// and without a command waits for the login prompt.
func SetDefaults_BackupVerification(obj *BackupVerification) {
	if obj.Every == 0 {
		obj.Every = 1
	}
	if obj.Timeout.Duration == 0 {
		obj.Timeout.Duration = 10 * time.Minute
	}
	if obj.Command == "" && obj.ExpectedOutput == "" {
		obj.ExpectedOutput = "login:"
	}
}

// SetDefaults_BudgetSpec announces half, four fifths and all of the budget.
func SetDefaults_BudgetSpec(obj *BudgetSpec) {
	if len(obj.Thresholds) == 0 {
		obj.Thresholds = []int32{50, 80, 100}
	}
}

// SetDefaults_IdleVMPolicySpec reports VMs under 5% CPU for a day, and
// stops them (when asked) an hour after.
func SetDefaults_IdleVMPolicySpec(obj *IdleVMPolicySpec) {
	if obj.CPUThresholdPercent == 0 {
		obj.CPUThresholdPercent = 5
	}
	if obj.Window == nil {
		obj.Window = &metav1.Duration{Duration: 24 * time.Hour}
	}
	if obj.Action == "" {
		obj.Action = IdleActionReport
	}
	if obj.GracePeriod == nil {
		obj.GracePeriod = &metav1.Duration{Duration: time.Hour}
	}
}

// SetDefaults_RebalancePolicySpec plans without moving, within the
// operation limits, and leaves a moved VM alone for an hour.
func SetDefaults_RebalancePolicySpec(obj *RebalancePolicySpec) {
	if obj.Mode == "" {
		obj.Mode = RebalanceDryRun
	}
	if obj.MaxInFlight == 0 {
		obj.MaxInFlight = 5
	}
	if obj.MaxInFlightPerNode == 0 {
		obj.MaxInFlightPerNode = 2
	}
	if obj.Cooldown == nil {
		obj.Cooldown = &metav1.Duration{Duration: time.Hour}
	}
}

// SetDefaults_RebalanceTrigger gives a Pressure, Carbon or Cost trigger
// written as its type alone the member it names, so that its defaults
// apply: without it the planner would skip a Cost trigger it was shown,
// and the API would reject a Carbon or Pressure one whose every field has
// a default. Maintenance and Drain have fields only the user can give.
func SetDefaults_RebalanceTrigger(obj *RebalanceTrigger) {
	switch obj.Type {
	case RebalancePressure:
		if obj.Pressure == nil {
			obj.Pressure = &PressureTrigger{}
		}
	case RebalanceCarbon:
		if obj.Carbon == nil {
			obj.Carbon = &CarbonTrigger{}
		}
	case RebalanceCost:
		if obj.Cost == nil {
			obj.Cost = &CostTrigger{}
		}
	}
}

// SetDefaults_PressureTrigger is descheduler's usual 20/80 after five
// minutes: long enough that a burst does not move VMs.
func SetDefaults_PressureTrigger(obj *PressureTrigger) {
	if obj.LowThresholdPercent == 0 {
		obj.LowThresholdPercent = 20
	}
	if obj.HighThresholdPercent == 0 {
		obj.HighThresholdPercent = 80
	}
	if obj.For == nil {
		obj.For = &metav1.Duration{Duration: 5 * time.Minute}
	}
}

// SetDefaults_CarbonTrigger moves for a 20% cleaner grid that has lasted
// an hour (grid intensity is published hourly).
func SetDefaults_CarbonTrigger(obj *CarbonTrigger) {
	if obj.ThresholdPercent == 0 {
		obj.ThresholdPercent = 20
	}
	if obj.For == nil {
		obj.For = &metav1.Duration{Duration: time.Hour}
	}
	if obj.ForecastHorizon == nil {
		obj.ForecastHorizon = &metav1.Duration{Duration: 4 * time.Hour}
	}
}

// SetDefaults_CostTrigger moves for a 10% cheaper node.
func SetDefaults_CostTrigger(obj *CostTrigger) {
	if obj.ThresholdPercent == 0 {
		obj.ThresholdPercent = 10
	}
}

// SetDefaults_MaintenanceTrigger starts emptying an hour ahead.
func SetDefaults_MaintenanceTrigger(obj *MaintenanceTrigger) {
	if obj.DrainBefore == nil {
		obj.DrainBefore = &metav1.Duration{Duration: time.Hour}
	}
}
