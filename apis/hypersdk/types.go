package hypersdk

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachine is a live view of a KubeVirt VirtualMachine joined with its
// VirtualMachineInstance. It is not stored by HyperSDK: reads come from the
// KubeVirt objects and writes go through to the KubeVirt VirtualMachine.
type VirtualMachine struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   VirtualMachineSpec
	Status VirtualMachineStatus
}

// VirtualMachineSpec is the desired shape of a virtual machine.
type VirtualMachineSpec struct {
	// CPUs is the number of virtual CPUs the guest sees.
	CPUs int32
	// Memory is the guest memory.
	Memory *resource.Quantity
	// GPUs are the passthrough GPUs of the guest, by device resource name.
	GPUs []GPURequest
	// USBRedirection gives the guest KubeVirt's client USB redirection
	// slots, for virtualmachines/usbredir.
	USBRedirection bool
	// USBDevices are host USB devices passed through to the guest.
	USBDevices []USBDeviceRequest
	// Running says whether the VM should run. Defaults to true.
	Running *bool
	// Image is the container disk image the VM boots from. Exactly one of
	// image and source is set.
	Image string
	// Source is a persistent root disk the VM boots from, instead of an image.
	Source *VirtualMachineSource
}

// USBDeviceRequest asks for one host USB device by filter.
type USBDeviceRequest struct {
	Name    string
	Vendor  string
	Product string
	Class   string
	Serial  string
}

// GPURequest asks for a number of GPUs of one model.
type GPURequest struct {
	// DeviceName is the extended resource name of the GPU model, for example
	// nvidia.com/GA100_A100_SXM4_40GB, or of a shared-GPU profile: a vGPU
	// type (nvidia.com/GRID_T4-8Q) or MIG profile (nvidia.com/mig-3g.20gb),
	// which must fit its GPU's rules.
	DeviceName string
	// Count is how many GPUs of this model the guest gets. Defaults to 1;
	// a VM has at most 16 GPUs in all.
	Count int32
}

// VirtualMachineSource is a persistent root disk. Exactly one field is set.
type VirtualMachineSource struct {
	// PersistentVolumeClaim names a claim in the VM's namespace.
	PersistentVolumeClaim string
	// DataVolume names a CDI DataVolume in the VM's namespace.
	DataVolume string
	// Blank is a new empty disk, made with the VM (a CDI DataVolume
	// <vm>-rootdisk with a blank source) and deleted with it: for a guest
	// installed over the network or from an ISO.
	Blank *BlankDisk
}

// BlankDisk is a new, empty disk.
type BlankDisk struct {
	// Size of the disk, at least 1Gi.
	Size resource.Quantity
	// StorageClassName is the class of its claim; the cluster's default
	// when empty.
	StorageClassName string
}

// VirtualMachinePhase summarises where a virtual machine is in its life.
type VirtualMachinePhase string

// Virtual machine phases, derived from the KubeVirt VirtualMachine and its
// VirtualMachineInstance.
const (
	VirtualMachineStopped    VirtualMachinePhase = "Stopped"
	VirtualMachineStarting   VirtualMachinePhase = "Starting"
	VirtualMachineScheduling VirtualMachinePhase = "Scheduling"
	VirtualMachineRunning    VirtualMachinePhase = "Running"
	VirtualMachineMigrating  VirtualMachinePhase = "Migrating"
	VirtualMachineStopping   VirtualMachinePhase = "Stopping"
	VirtualMachineFailed     VirtualMachinePhase = "Failed"
	VirtualMachineUnknown    VirtualMachinePhase = "Unknown"
)

// VirtualMachineStatus is what the VM is doing now.
type VirtualMachineStatus struct {
	// Phase is a one-word summary of the VM's state.
	Phase VirtualMachinePhase
	// NodeName is the node the VM runs on, empty when it does not run.
	NodeName string
	// IPs are the guest's addresses, from its network interfaces.
	IPs []string
	// AllocatedCPUs is the number of CPUs of the running instance.
	AllocatedCPUs int32
	// AllocatedMemory is the memory of the running instance.
	AllocatedMemory *resource.Quantity
	// Conditions of the running instance (Ready, LiveMigratable, ...).
	Conditions []metav1.Condition
	// CreatedAt is when the KubeVirt VirtualMachine was created.
	CreatedAt *metav1.Time
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineList is a list of virtual machines.
type VirtualMachineList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []VirtualMachine
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMOperation is one long-running operation on a virtual machine, with its
// progress. Clients watch it to follow the work.
type VMOperation struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   VMOperationSpec
	Status VMOperationStatus
}

// VMOperationType names what an operation does.
type VMOperationType string

// The operation types; each has its own options block in VMOperationSpec.
const (
	VMOperationClone     VMOperationType = "Clone"
	VMOperationMigrate   VMOperationType = "Migrate"
	VMOperationResize    VMOperationType = "Resize"
	VMOperationSnapshot  VMOperationType = "Snapshot"
	VMOperationStart     VMOperationType = "Start"
	VMOperationStop      VMOperationType = "Stop"
	VMOperationRestart   VMOperationType = "Restart"
	VMOperationRestore   VMOperationType = "Restore"
	VMOperationAttachUSB VMOperationType = "AttachUSB"
	VMOperationDetachUSB VMOperationType = "DetachUSB"
)

// VMOperationSpec says what to do to which VM. Only the options block that
// matches Type may be set.
type VMOperationSpec struct {
	// VMName is the virtual machine, in the operation's namespace.
	VMName string
	// Type is what the operation does.
	Type VMOperationType
	// Cancel asks the executor to stop the operation where KubeVirt allows it.
	Cancel bool
	// Requester is who asked for the operation. The server sets it from the
	// authenticated user when the operation is created, whatever the client
	// sent, and it never changes; the executor acts only as far as the
	// requester may.
	Requester *VMOperationRequester

	Clone     *CloneSpec
	Migrate   *MigrateSpec
	Resize    *ResizeSpec
	Snapshot  *SnapshotSpec
	Start     *StartSpec
	Stop      *StopSpec
	Restart   *RestartSpec
	Restore   *RestoreSpec
	AttachUSB *AttachUSBSpec
	DetachUSB *DetachUSBSpec
}

// VMOperationRequester is the authenticated user who created an operation, as
// kube-apiserver told hypersdk-apiserver (the same fields as a
// CertificateSigningRequest's).
type VMOperationRequester struct {
	// Username of the requester.
	Username string
	// UID of the requester.
	UID string
	// Groups of the requester.
	Groups []string
	// Extra attributes of the requester.
	Extra map[string]ExtraValue
}

// ExtraValue holds the values of one extra attribute of a user.
type ExtraValue []string

// CloneSpec copies a virtual machine, or one of its snapshots, to a new VM.
type CloneSpec struct {
	// TargetName is the name of the new VM.
	TargetName string
	// TargetNamespace is the namespace of the new VM; defaults to the source's.
	TargetNamespace string
	// SnapshotRef clones from this VirtualMachineSnapshot of the VM, in its
	// namespace, instead of from the VM as it is now.
	SnapshotRef string
	// LinkedClone shares the source's disks copy-on-write instead of
	// copying them: each disk of the new VM is a CSI clone of the source's
	// claim (a DataVolume with the claim as its source, on a storage class
	// whose CDI StorageProfile has cloneStrategy csi-clone). It needs the
	// source stopped (409 otherwise), the clone in the source's namespace,
	// no snapshotRef, and every disk on such a claim; otherwise it is
	// refused (422 naming linkedClone) rather than served with a full copy.
	LinkedClone bool
	// PowerOnAfter starts the new VM when the clone is done.
	PowerOnAfter bool
	// NewMACAddresses gives the clone's interfaces new MAC addresses.
	NewMACAddresses bool
	// LabelFilters select the source labels copied to the clone (KubeVirt's
	// glob syntax, "!" negates). Empty copies all.
	LabelFilters []string
	// AnnotationFilters select the source annotations copied to the clone.
	AnnotationFilters []string
}

// MigrateSpec moves a virtual machine to another node.
type MigrateSpec struct {
	// TargetNode pins the destination node.
	TargetNode string
	// NodeSelector narrows the destination nodes.
	NodeSelector map[string]string
	// AllowColdMigration stops, moves and starts the VM when it cannot
	// migrate live.
	AllowColdMigration bool
}

// ResizeRestartPolicy says whether a resize may restart the VM.
type ResizeRestartPolicy string

// Resize restart policies.
const (
	// ResizeRestartNever fails a resize that cannot be applied live.
	ResizeRestartNever ResizeRestartPolicy = "Never"
	// ResizeRestartIfNeeded restarts only when hotplug cannot apply the change.
	ResizeRestartIfNeeded ResizeRestartPolicy = "IfNeeded"
	// ResizeRestartAlways restarts the VM after changing it.
	ResizeRestartAlways ResizeRestartPolicy = "Always"
)

// ResizeSpec changes a virtual machine's CPUs and/or memory.
type ResizeSpec struct {
	// CPUs is the new CPU count.
	CPUs *int32
	// Memory is the new guest memory, at least 1Gi.
	Memory *resource.Quantity
	// RestartPolicy decides whether the VM may be restarted. Defaults to IfNeeded.
	RestartPolicy ResizeRestartPolicy
}

// SnapshotSpec takes a VirtualMachineSnapshot.
type SnapshotSpec struct {
	// Name of the VirtualMachineSnapshot; generated from the VM name when empty.
	Name string
	// Description is kept on the snapshot as an annotation; at most 1024
	// bytes.
	Description string
	// Quiesce requires the guest file systems to be frozen while a running
	// VM is snapshotted (KubeVirt freezes them through the guest agent). It
	// is refused (422 naming quiesce) when the VM's guest agent is not
	// connected, and the operation fails, deleting the snapshot, when the
	// snapshot reports it was not frozen. A stopped VM needs no freeze.
	// Without it KubeVirt still freezes when an agent is connected.
	Quiesce bool
	// FailureDeadline fails the snapshot when it takes longer.
	FailureDeadline *metav1.Duration
}

// StartSpec starts a stopped virtual machine.
type StartSpec struct {
	// Paused starts the VM with its CPUs paused: the VM template's
	// startStrategy becomes Paused (KubeVirt's field) and the operation
	// succeeds once the instance reports its Paused condition. The template
	// keeps it, so later starts and restarts are paused too, until a Start
	// without paused clears it.
	Paused bool
}

// StopSpec stops a running virtual machine.
type StopSpec struct {
	// GracePeriodSeconds overrides the VM's termination grace period.
	GracePeriodSeconds *int64
}

// RestartSpec restarts a running virtual machine.
type RestartSpec struct {
	// GracePeriodSeconds overrides the VM's termination grace period.
	GracePeriodSeconds *int64
}

// RestoreSpec brings a virtual machine back to one of its snapshots
// (KubeVirt's VirtualMachineRestore), or makes a new VM from it.
type RestoreSpec struct {
	// SnapshotName is the VirtualMachineSnapshot of this VM to restore.
	SnapshotName string
	// TargetName, when set, restores the snapshot as a new VM of this name
	// in the VM's namespace (stopped, with its own restored disks) and
	// leaves the VM as it is. Empty restores the VM itself: a running VM is
	// stopped, restored and started again; a restore that fails or is
	// cancelled starts it again as it was.
	TargetName string
}

// AttachUSBSpec hot-plugs a USB device of the VM's node into the running VM,
// lent over client USB redirection by the node's USB agent.
type AttachUSBSpec struct {
	// Device selects the device; its name names the attachment.
	Device USBDeviceRequest
}

// DetachUSBSpec unplugs a device attached by an AttachUSB operation.
type DetachUSBSpec struct {
	// Name is the attached device's name.
	Name string
}

// VMOperationPhase is where an operation is in its life.
type VMOperationPhase string

// Operation phases. Succeeded, Failed and Cancelled are final.
const (
	VMOperationPending   VMOperationPhase = "Pending"
	VMOperationRunning   VMOperationPhase = "Running"
	VMOperationSucceeded VMOperationPhase = "Succeeded"
	VMOperationFailed    VMOperationPhase = "Failed"
	VMOperationCancelled VMOperationPhase = "Cancelled"
)

// VMOperationStatus is how far an operation got.
type VMOperationStatus struct {
	// Phase of the operation.
	Phase VMOperationPhase
	// Progress is a percentage, 0 to 100.
	Progress int32
	// Message says what the operation is doing or why it ended.
	Message string
	// Conditions of the operation.
	Conditions []metav1.Condition
	// StartTime is when the executor began the operation.
	StartTime *metav1.Time
	// CompletionTime is when the operation reached a final phase.
	CompletionTime *metav1.Time
	// Resources are the objects the operation created or acted on (the
	// KubeVirt migration, snapshot or clone, the new VM, the instance it
	// replaced), so a client can follow them and a restarted executor
	// resumes where it was.
	Resources []ResourceReference
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMOperationList is a list of operations.
type VMOperationList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []VMOperation
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineCloneOptions is the body of a POST to virtualmachines/clone.
type VirtualMachineCloneOptions struct {
	metav1.TypeMeta
	CloneSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineMigrateOptions is the body of a POST to virtualmachines/migrate.
type VirtualMachineMigrateOptions struct {
	metav1.TypeMeta
	MigrateSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineResizeOptions is the body of a POST to virtualmachines/resize.
type VirtualMachineResizeOptions struct {
	metav1.TypeMeta
	ResizeSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineSnapshotOptions is the body of a POST to virtualmachines/snapshot.
type VirtualMachineSnapshotOptions struct {
	metav1.TypeMeta
	SnapshotSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineStartOptions is the body of a POST to virtualmachines/start.
type VirtualMachineStartOptions struct {
	metav1.TypeMeta
	StartSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineStopOptions is the body of a POST to virtualmachines/stop.
type VirtualMachineStopOptions struct {
	metav1.TypeMeta
	StopSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineRestartOptions is the body of a POST to virtualmachines/restart.
type VirtualMachineRestartOptions struct {
	metav1.TypeMeta
	RestartSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineAttachUSBOptions is the body of a POST to virtualmachines/attachusb.
type VirtualMachineAttachUSBOptions struct {
	metav1.TypeMeta
	AttachUSBSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineDetachUSBOptions is the body of a POST to virtualmachines/detachusb.
type VirtualMachineDetachUSBOptions struct {
	metav1.TypeMeta
	DetachUSBSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineRestoreOptions is the body of a POST to virtualmachines/restore.
type VirtualMachineRestoreOptions struct {
	metav1.TypeMeta
	RestoreSpec
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineConsoleOptions are the query parameters of virtualmachines/console.
type VirtualMachineConsoleOptions struct {
	metav1.TypeMeta
	// Protocol selects "plain" for a binary WebSocket that carries the serial
	// bytes as they are; empty speaks the Kubernetes remote-command protocols.
	Protocol string
	// Shared, for vnc only, lets other viewers watch too (the default); false
	// takes the display exclusively and is refused while another viewer is on.
	Shared *bool
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineHistoryOptions are the query parameters of virtualmachines/history.
type VirtualMachineHistoryOptions struct {
	metav1.TypeMeta
	// TimeRange is one of 1h, 6h, 24h, 7d, 30d, ending now. Exclusive with start/end.
	TimeRange string
	// Start of the window (RFC3339).
	Start string
	// End of the window (RFC3339); defaults to now.
	End string
	// Step between points, a duration such as 5m.
	Step string
	// Fields limits the series returned.
	Fields []string
	// Format is "json" (default) or "csv".
	Format string
}

// ResourceReference names an object an operation created or acted on.
type ResourceReference struct {
	// Role says what the object is to the operation, for example
	// "migration", "snapshot", "clone" or "replaced".
	Role       string
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	UID        types.UID
}
