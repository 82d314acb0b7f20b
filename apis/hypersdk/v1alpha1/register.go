package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every HyperSDK resource.
const GroupName = "hypersdk.io"

// SchemeGroupVersion is the group and version of the types in this package.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

var (
	// SchemeBuilder collects the functions that add this version to a scheme.
	SchemeBuilder      runtime.SchemeBuilder
	localSchemeBuilder = &SchemeBuilder
	// AddToScheme adds this version's types, defaults and conversions to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	// Only hand-written functions are registered here; the generated files
	// register theirs, so this package compiles before code generation ran.
	localSchemeBuilder.Register(addKnownTypes, addDefaultingFuncs)
}

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
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}

// Resource qualifies a resource name with this group.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}
