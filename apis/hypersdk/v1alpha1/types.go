package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachine is a live view of a KubeVirt VirtualMachine joined with its
// VirtualMachineInstance. It is not stored by HyperSDK: reads come from the
// KubeVirt objects and writes go through to the KubeVirt VirtualMachine.
type VirtualMachine struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata: the KubeVirt VirtualMachine's.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the VM's shape, read from and written to the KubeVirt
	// VirtualMachine.
	// +optional
	Spec VirtualMachineSpec `json:"spec,omitempty"`
	// Status is what the VM is doing now, from its VirtualMachineInstance
	// when it runs; read-only.
	// +optional
	Status VirtualMachineStatus `json:"status,omitempty"`
}

// VirtualMachineSpec is the desired shape of a virtual machine.
type VirtualMachineSpec struct {
	// CPUs is the number of virtual CPUs the guest sees.
	CPUs int32 `json:"cpus,omitempty"`
	// Memory is the guest memory.
	Memory *resource.Quantity `json:"memory,omitempty"`
	// GPUs are the passthrough GPUs of the guest, by device resource name.
	// +listType=map
	// +listMapKey=deviceName
	GPUs []GPURequest `json:"gpus,omitempty"`
	// USBRedirection gives the guest KubeVirt's client USB redirection
	// slots (spec.domain.devices.clientPassthrough), so that a client can
	// lend it a local USB device through virtualmachines/usbredir.
	USBRedirection bool `json:"usbRedirection,omitempty"`
	// USBDevices are host USB devices passed through to the guest, chosen
	// by filter: the VM runs only on a node with a free matching device.
	// +listType=map
	// +listMapKey=name
	USBDevices []USBDeviceRequest `json:"usbDevices,omitempty"`
	// Running says whether the VM should run. Defaults to true.
	Running *bool `json:"running,omitempty"`
	// Image is the container disk image the VM boots from. Exactly one of
	// image and source is set.
	Image string `json:"image,omitempty"`
	// Source is a persistent root disk the VM boots from, instead of an image.
	Source *VirtualMachineSource `json:"source,omitempty"`
}

// USBDeviceRequest asks for one host USB device. Vendor and product select
// it among the devices KubeVirt permits (its CR's
// permittedHostDevices.usb); class and serial narrow the nodes to those
// whose node-feature-discovery labels show such a device.
type USBDeviceRequest struct {
	// Name is the device's name in the VM, unique among its USB devices.
	Name string `json:"name"`
	// Vendor is the USB vendor ID, four hexadecimal digits (0781).
	Vendor string `json:"vendor"`
	// Product is the USB product ID, four hexadecimal digits (5581).
	Product string `json:"product"`
	// Class is the USB device class, two hexadecimal digits (08: mass
	// storage), as NFD's usb-<class>_<vendor>_<product> labels name it.
	Class string `json:"class,omitempty"`
	// Serial is the device's serial number, at most 38 characters (the
	// rest of NFD's 63-character label name is taken); it needs class, and
	// NFD configured to label devices with their serial.
	Serial string `json:"serial,omitempty"`
}

// GPURequest asks for a number of GPUs of one model.
type GPURequest struct {
	// DeviceName is the extended resource name of the GPU model, for example
	// nvidia.com/GA100_A100_SXM4_40GB, or of a shared-GPU profile: a vGPU
	// type (nvidia.com/GRID_T4-8Q) or MIG profile (nvidia.com/mig-3g.20gb),
	// which must fit its GPU's rules.
	DeviceName string `json:"deviceName"`
	// Count is how many GPUs of this model the guest gets. Defaults to 1;
	// a VM has at most 16 GPUs in all.
	Count int32 `json:"count,omitempty"`
}

// VirtualMachineSource is a persistent root disk. Exactly one field is set.
type VirtualMachineSource struct {
	// PersistentVolumeClaim names a claim in the VM's namespace.
	PersistentVolumeClaim string `json:"persistentVolumeClaim,omitempty"`
	// DataVolume names a CDI DataVolume in the VM's namespace.
	DataVolume string `json:"dataVolume,omitempty"`
	// Blank is a new empty disk, made with the VM (a CDI DataVolume
	// <vm>-rootdisk with a blank source) and deleted with it: for a guest
	// installed over the network or from an ISO.
	Blank *BlankDisk `json:"blank,omitempty"`
}

// BlankDisk is a new, empty disk.
type BlankDisk struct {
	// Size of the disk, at least 1Gi.
	Size resource.Quantity `json:"size"`
	// StorageClassName is the class of its claim; the cluster's default
	// when empty.
	StorageClassName string `json:"storageClassName,omitempty"`
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
	Phase VirtualMachinePhase `json:"phase,omitempty"`
	// NodeName is the node the VM runs on, empty when it does not run.
	NodeName string `json:"nodeName,omitempty"`
	// IPs are the guest's addresses, from its network interfaces.
	// +listType=atomic
	IPs []string `json:"ips,omitempty"`
	// AllocatedCPUs is the number of CPUs of the running instance.
	AllocatedCPUs int32 `json:"allocatedCPUs,omitempty"`
	// AllocatedMemory is the memory of the running instance.
	AllocatedMemory *resource.Quantity `json:"allocatedMemory,omitempty"`
	// Conditions of the running instance (Ready, LiveMigratable, ...).
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// CreatedAt is when the KubeVirt VirtualMachine was created.
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineList is a list of virtual machines.
type VirtualMachineList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of VirtualMachines.
	Items []VirtualMachine `json:"items"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMOperation is one long-running operation on a virtual machine, with its
// progress. Clients watch it to follow the work.
type VMOperation struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the VM, what to do to it and the options; only cancel may
	// change after creation.
	// +optional
	Spec VMOperationSpec `json:"spec,omitempty"`
	// Status is the operation's phase and progress, written by the
	// executor in hypersdk-controller.
	// +optional
	Status VMOperationStatus `json:"status,omitempty"`
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
	VMName string `json:"vmName"`
	// Type is what the operation does.
	Type VMOperationType `json:"type"`
	// Cancel asks the executor to stop the operation where KubeVirt allows it.
	Cancel bool `json:"cancel,omitempty"`
	// Requester is who asked for the operation. The server sets it from the
	// authenticated user when the operation is created, whatever the client
	// sent, and it never changes; the executor acts only as far as the
	// requester may.
	// +optional
	Requester *VMOperationRequester `json:"requester,omitempty"`

	// Clone holds the options of a Clone operation; required with that
	// type, forbidden with the others.
	// +optional
	Clone *CloneSpec `json:"clone,omitempty"`
	// Migrate holds the options of a Migrate operation; with that type
	// only, defaulted when left out.
	// +optional
	Migrate *MigrateSpec `json:"migrate,omitempty"`
	// Resize holds the options of a Resize operation; required with that
	// type, forbidden with the others.
	// +optional
	Resize *ResizeSpec `json:"resize,omitempty"`
	// Snapshot holds the options of a Snapshot operation; with that type
	// only, defaulted when left out.
	// +optional
	Snapshot *SnapshotSpec `json:"snapshot,omitempty"`
	// Start holds the options of a Start operation; with that type only,
	// defaulted when left out.
	// +optional
	Start *StartSpec `json:"start,omitempty"`
	// Stop holds the options of a Stop operation; with that type only,
	// defaulted when left out.
	// +optional
	Stop *StopSpec `json:"stop,omitempty"`
	// Restart holds the options of a Restart operation; with that type
	// only, defaulted when left out.
	// +optional
	Restart *RestartSpec `json:"restart,omitempty"`
	// Restore holds the options of a Restore operation; required with
	// that type, forbidden with the others.
	// +optional
	Restore *RestoreSpec `json:"restore,omitempty"`
	// AttachUSB holds the options of an AttachUSB operation; required with
	// that type, forbidden with the others.
	// +optional
	AttachUSB *AttachUSBSpec `json:"attachUSB,omitempty"`
	// DetachUSB holds the options of a DetachUSB operation; required with
	// that type, forbidden with the others.
	// +optional
	DetachUSB *DetachUSBSpec `json:"detachUSB,omitempty"`
}

// VMOperationRequester is the authenticated user who created an operation, as
// kube-apiserver told hypersdk-apiserver (the same fields as a
// CertificateSigningRequest's).
type VMOperationRequester struct {
	// Username of the requester.
	Username string `json:"username"`
	// UID of the requester.
	// +optional
	UID string `json:"uid,omitempty"`
	// Groups of the requester.
	// +optional
	// +listType=atomic
	Groups []string `json:"groups,omitempty"`
	// Extra attributes of the requester.
	// +optional
	Extra map[string]ExtraValue `json:"extra,omitempty"`
}

// ExtraValue holds the values of one extra attribute of a user.
type ExtraValue []string

// CloneSpec copies a virtual machine, or one of its snapshots, to a new VM.
type CloneSpec struct {
	// TargetName is the name of the new VM.
	TargetName string `json:"targetName"`
	// TargetNamespace is the namespace of the new VM; defaults to the source's.
	TargetNamespace string `json:"targetNamespace,omitempty"`
	// SnapshotRef clones from this VirtualMachineSnapshot of the VM, in its
	// namespace, instead of from the VM as it is now.
	SnapshotRef string `json:"snapshotRef,omitempty"`
	// LinkedClone shares the source's disks copy-on-write instead of
	// copying them: each disk of the new VM is a CSI clone of the source's
	// claim (a DataVolume with the claim as its source, on a storage class
	// whose CDI StorageProfile has cloneStrategy csi-clone). It needs the
	// source stopped (409 otherwise), the clone in the source's namespace,
	// no snapshotRef, and every disk on such a claim; otherwise it is
	// refused (422 naming linkedClone) rather than served with a full copy.
	LinkedClone bool `json:"linkedClone,omitempty"`
	// PowerOnAfter starts the new VM when the clone is done.
	PowerOnAfter bool `json:"powerOnAfter,omitempty"`
	// NewMACAddresses gives the clone's interfaces new MAC addresses.
	NewMACAddresses bool `json:"newMacAddresses,omitempty"`
	// LabelFilters select the source labels copied to the clone (KubeVirt's
	// glob syntax, "!" negates). Empty copies all.
	// +listType=atomic
	LabelFilters []string `json:"labelFilters,omitempty"`
	// AnnotationFilters select the source annotations copied to the clone.
	// +listType=atomic
	AnnotationFilters []string `json:"annotationFilters,omitempty"`
}

// MigrateSpec moves a virtual machine to another node.
type MigrateSpec struct {
	// TargetNode pins the destination node.
	TargetNode string `json:"targetNode,omitempty"`
	// NodeSelector narrows the destination nodes.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// AllowColdMigration stops, moves and starts the VM when it cannot
	// migrate live.
	AllowColdMigration bool `json:"allowColdMigration,omitempty"`
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
	CPUs *int32 `json:"cpus,omitempty"`
	// Memory is the new guest memory, at least 1Gi.
	Memory *resource.Quantity `json:"memory,omitempty"`
	// RestartPolicy decides whether the VM may be restarted. Defaults to IfNeeded.
	RestartPolicy ResizeRestartPolicy `json:"restartPolicy,omitempty"`
}

// SnapshotSpec takes a VirtualMachineSnapshot.
type SnapshotSpec struct {
	// Name of the VirtualMachineSnapshot; generated from the VM name when empty.
	Name string `json:"name,omitempty"`
	// Description is kept on the snapshot as an annotation; at most 1024
	// bytes.
	Description string `json:"description,omitempty"`
	// Quiesce requires the guest file systems to be frozen while a running
	// VM is snapshotted (KubeVirt freezes them through the guest agent). It
	// is refused (422 naming quiesce) when the VM's guest agent is not
	// connected, and the operation fails, deleting the snapshot, when the
	// snapshot reports it was not frozen. A stopped VM needs no freeze.
	// Without it KubeVirt still freezes when an agent is connected.
	Quiesce bool `json:"quiesce,omitempty"`
	// FailureDeadline fails the snapshot when it takes longer.
	FailureDeadline *metav1.Duration `json:"failureDeadline,omitempty"`
}

// StartSpec starts a stopped virtual machine.
type StartSpec struct {
	// Paused starts the VM with its CPUs paused: the VM template's
	// startStrategy becomes Paused (KubeVirt's field) and the operation
	// succeeds once the instance reports its Paused condition. The template
	// keeps it, so later starts and restarts are paused too, until a Start
	// without paused clears it.
	Paused bool `json:"paused,omitempty"`
}

// StopSpec stops a running virtual machine.
type StopSpec struct {
	// GracePeriodSeconds overrides the VM's termination grace period.
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
}

// RestartSpec restarts a running virtual machine.
type RestartSpec struct {
	// GracePeriodSeconds overrides the VM's termination grace period.
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
}

// RestoreSpec brings a virtual machine back to one of its snapshots
// (KubeVirt's VirtualMachineRestore), or makes a new VM from it.
type RestoreSpec struct {
	// SnapshotName is the VirtualMachineSnapshot of this VM to restore.
	SnapshotName string `json:"snapshotName"`
	// TargetName, when set, restores the snapshot as a new VM of this name
	// in the VM's namespace (stopped, with its own restored disks) and
	// leaves the VM as it is. Empty restores the VM itself: a running VM is
	// stopped, restored and started again; a restore that fails or is
	// cancelled starts it again as it was.
	TargetName string `json:"targetName,omitempty"`
}

// AttachUSBSpec hot-plugs a USB device of the VM's node into the running
// VM. KubeVirt has no hot-plug for host devices, so the device is lent over
// its client USB redirection (the VM needs spec.usbRedirection): the USB
// agent on the node redirects the device, as usbredirect would, until it is
// detached or the instance ends. It is not kept in spec.usbDevices.
type AttachUSBSpec struct {
	// Device selects the device by vendor and product (and class or serial)
	// among those KubeVirt permits and the node has; its name is the
	// attachment's name, unique in the VM.
	Device USBDeviceRequest `json:"device"`
}

// DetachUSBSpec unplugs a device attached by an AttachUSB operation.
type DetachUSBSpec struct {
	// Name is the attached device's name.
	Name string `json:"name"`
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

// Final reports whether an operation in this phase has ended for good.
func (p VMOperationPhase) Final() bool {
	return p == VMOperationSucceeded || p == VMOperationFailed || p == VMOperationCancelled
}

// VMOperationStatus is how far an operation got.
type VMOperationStatus struct {
	// Phase of the operation.
	Phase VMOperationPhase `json:"phase,omitempty"`
	// Progress is a percentage, 0 to 100.
	Progress int32 `json:"progress,omitempty"`
	// Message says what the operation is doing or why it ended.
	Message string `json:"message,omitempty"`
	// Conditions of the operation.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// StartTime is when the executor began the operation.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the operation reached a final phase.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Resources are the objects the operation created or acted on (the
	// KubeVirt migration, snapshot or clone, the new VM, the instance it
	// replaced), so a client can follow them and a restarted executor
	// resumes where it was.
	// +listType=atomic
	Resources []ResourceReference `json:"resources,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMOperationList is a list of operations.
type VMOperationList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of VMOperations.
	Items []VMOperation `json:"items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineCloneOptions is the body of a POST to virtualmachines/clone.
type VirtualMachineCloneOptions struct {
	metav1.TypeMeta `json:",inline"`
	CloneSpec       `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineMigrateOptions is the body of a POST to virtualmachines/migrate.
type VirtualMachineMigrateOptions struct {
	metav1.TypeMeta `json:",inline"`
	MigrateSpec     `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineResizeOptions is the body of a POST to virtualmachines/resize.
type VirtualMachineResizeOptions struct {
	metav1.TypeMeta `json:",inline"`
	ResizeSpec      `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineSnapshotOptions is the body of a POST to virtualmachines/snapshot.
type VirtualMachineSnapshotOptions struct {
	metav1.TypeMeta `json:",inline"`
	SnapshotSpec    `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineStartOptions is the body of a POST to virtualmachines/start.
type VirtualMachineStartOptions struct {
	metav1.TypeMeta `json:",inline"`
	StartSpec       `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineStopOptions is the body of a POST to virtualmachines/stop.
type VirtualMachineStopOptions struct {
	metav1.TypeMeta `json:",inline"`
	StopSpec        `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineRestartOptions is the body of a POST to virtualmachines/restart.
type VirtualMachineRestartOptions struct {
	metav1.TypeMeta `json:",inline"`
	RestartSpec     `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineAttachUSBOptions is the body of a POST to virtualmachines/attachusb.
type VirtualMachineAttachUSBOptions struct {
	metav1.TypeMeta `json:",inline"`
	AttachUSBSpec   `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineDetachUSBOptions is the body of a POST to virtualmachines/detachusb.
type VirtualMachineDetachUSBOptions struct {
	metav1.TypeMeta `json:",inline"`
	DetachUSBSpec   `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineRestoreOptions is the body of a POST to virtualmachines/restore.
type VirtualMachineRestoreOptions struct {
	metav1.TypeMeta `json:",inline"`
	RestoreSpec     `json:",inline"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineConsoleOptions are the query parameters of virtualmachines/console.
type VirtualMachineConsoleOptions struct {
	metav1.TypeMeta `json:",inline"`
	// Protocol selects "plain" for a binary WebSocket that carries the serial
	// bytes as they are; empty speaks the Kubernetes remote-command protocols.
	Protocol string `json:"protocol,omitempty"`
	// Shared, for vnc only, lets other viewers watch too (the default); false
	// takes the display exclusively and is refused while another viewer is on.
	Shared *bool `json:"shared,omitempty"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineHistoryOptions are the query parameters of virtualmachines/history.
type VirtualMachineHistoryOptions struct {
	metav1.TypeMeta `json:",inline"`
	// TimeRange is one of 1h, 6h, 24h, 7d, 30d, ending now. Exclusive with start/end.
	TimeRange string `json:"timeRange,omitempty"`
	// Start of the window (RFC3339).
	Start string `json:"start,omitempty"`
	// End of the window (RFC3339); defaults to now.
	End string `json:"end,omitempty"`
	// Step between points, a duration such as 5m.
	Step string `json:"step,omitempty"`
	// Fields limits the series returned.
	// +listType=atomic
	Fields []string `json:"fields,omitempty"`
	// Format is "json" (default) or "csv".
	Format string `json:"format,omitempty"`
}

// ResourceReference names an object an operation created or acted on.
type ResourceReference struct {
	// Role says what the object is to the operation, for example
	// "migration", "snapshot", "clone" or "replaced".
	Role string `json:"role"`
	// APIVersion is the object's group and version.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind is the object's kind.
	Kind string `json:"kind"`
	// Namespace is the object's namespace; empty for cluster-scoped ones.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name is the object's name.
	Name string `json:"name"`
	// UID is the object's UID, when the operation saw it.
	// +optional
	UID types.UID `json:"uid,omitempty"`
}
