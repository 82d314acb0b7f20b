package hypersdk

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every HyperSDK resource.
const GroupName = "hypersdk.io"

// SchemeGroupVersion is the internal version of the group.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}

var (
	// SchemeBuilder adds the internal types to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the internal types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&VirtualMachine{},
		&VirtualMachineList{},
		&VMOperation{},
		&VMOperationList{},
		&VirtualMachineCloneOptions{},
		&VirtualMachineMigrateOptions{},
		&VirtualMachineResizeOptions{},
		&VirtualMachineSnapshotOptions{},
		&VirtualMachineRestoreOptions{},
		&VirtualMachineAttachUSBOptions{},
		&VirtualMachineDetachUSBOptions{},
		&VirtualMachineStartOptions{},
		&VirtualMachineStopOptions{},
		&VirtualMachineRestartOptions{},
		&VirtualMachineConsoleOptions{},
		&VirtualMachineHistoryOptions{},
		&VirtualMachineHistory{},
		&ClusterHistory{},
		&PlacementPolicy{},
		&PlacementPolicyList{},
		&CarbonScalingPolicy{},
		&CarbonScalingPolicyList{},
		&VirtualMachineAutoscaler{},
		&VirtualMachineAutoscalerList{},
		&VirtualMachineRecommendation{},
		&BackupSchedule{},
		&BackupScheduleList{},
		&VirtualMachineCost{},
		&CostReport{},
		&Budget{},
		&IdleVMPolicy{},
		&IdleVMPolicyList{},
		&RebalancePolicy{},
		&RebalancePolicyList{},
		&Dashboard{},
		&DashboardList{},
		&BudgetList{},
		&CostReportOptions{},
		&VirtualMachinePlacement{},
	)
	return nil
}

// Kind qualifies a kind with this group.
func Kind(kind string) schema.GroupKind {
	return SchemeGroupVersion.WithKind(kind).GroupKind()
}

// Resource qualifies a resource name with this group.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}
