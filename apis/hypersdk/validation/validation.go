// Package validation checks hypersdk.io objects. Every function takes the
// field path of what it checks and returns all problems at once, so a client
// sees each bad field in one 422 answer.
package validation

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	gpuinfo "github.com/hypersdk/hypersdk/pkg/gpu"
)

// MaxCPUs is the most vCPUs of any VM (see MaxMemory).
const MaxCPUs = 512

// MaxGPUs is the most GPUs of one VM, counted over spec.gpus: twice the
// eight of the largest GPU servers, and a bound on what the API server
// builds for the KubeVirt VM (one device entry per GPU).
const MaxGPUs = 16

// maxSnapshotDescription bounds a snapshot's description, which is kept in
// an annotation of the snapshot (annotations share 256 KiB).
const maxSnapshotDescription = 1024

var (
	// minMemory is the smallest guest memory HyperSDK accepts: below it no
	// general-purpose guest OS boots.
	minMemory = resource.MustParse("1Gi")
	// minDiskSize is the smallest blank disk: below it no guest installs.
	minDiskSize = resource.MustParse("1Gi")
	// MaxMemory is the most guest memory of any VM, with MaxCPUs: KubeVirt's
	// largest supported guest. A VM's hotplug bounds may be lower.
	MaxMemory = resource.MustParse("4Ti")

	operationTypes = sets.New(
		string(hypersdk.VMOperationClone), string(hypersdk.VMOperationMigrate), string(hypersdk.VMOperationResize),
		string(hypersdk.VMOperationSnapshot), string(hypersdk.VMOperationStart), string(hypersdk.VMOperationStop),
		string(hypersdk.VMOperationRestart), string(hypersdk.VMOperationRestore),
		string(hypersdk.VMOperationAttachUSB), string(hypersdk.VMOperationDetachUSB))
	operationPhases = sets.New(
		string(hypersdk.VMOperationPending), string(hypersdk.VMOperationRunning), string(hypersdk.VMOperationSucceeded),
		string(hypersdk.VMOperationFailed), string(hypersdk.VMOperationCancelled))
	restartPolicies = sets.New(
		string(hypersdk.ResizeRestartNever), string(hypersdk.ResizeRestartIfNeeded), string(hypersdk.ResizeRestartAlways))
)

// ValidateVirtualMachine checks a VM about to be created.
func ValidateVirtualMachine(vm *hypersdk.VirtualMachine) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&vm.ObjectMeta, true,
		apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	// The name is a label value on the VM's operations and its instance
	// (kubevirt.io/domain): a longer one could not be operated on nor run.
	if len(vm.Name) > utilvalidation.LabelValueMaxLength {
		allErrs = append(allErrs, field.TooLong(field.NewPath("metadata", "name"), vm.Name, utilvalidation.LabelValueMaxLength))
	}
	return append(allErrs, ValidateVirtualMachineSpec(&vm.Spec, field.NewPath("spec"))...)
}

// ValidateVirtualMachineUpdate checks a change to a VM. Its source disk is
// immutable: KubeVirt makes a DataVolume from its template once, so a new
// size or source would show in the VM and never reach the disk it boots.
//
// The spec's checks ratchet, as a CustomResourceDefinition's validation
// does: a VM made with KubeVirt (its own examples have 128Mi of memory, or
// a container disk that is not the root disk the view knows) may fail
// checks that only HyperSDK's create makes, and an update (a label, a
// stop) is refused only for what it makes wrong, not for what already was.
func ValidateVirtualMachineUpdate(vm, old *hypersdk.VirtualMachine) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&vm.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(vm.Spec.Source, old.Spec.Source, field.NewPath("spec", "source"))...)
	was := ValidateVirtualMachineSpec(&old.Spec, field.NewPath("spec"))
	for _, err := range ValidateVirtualMachineSpec(&vm.Spec, field.NewPath("spec")) {
		if !slices.ContainsFunc(was, func(w *field.Error) bool {
			return w.Type == err.Type && w.Field == err.Field && fmt.Sprint(w.BadValue) == fmt.Sprint(err.BadValue)
		}) {
			allErrs = append(allErrs, err)
		}
	}
	return allErrs
}

// ValidateVirtualMachineSpec checks the shape of a VM.
func ValidateVirtualMachineSpec(spec *hypersdk.VirtualMachineSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.CPUs < 1 || spec.CPUs > MaxCPUs {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("cpus"), spec.CPUs, fmt.Sprintf("must be between 1 and %d", MaxCPUs)))
	}
	switch {
	case spec.Memory == nil:
		allErrs = append(allErrs, field.Required(fldPath.Child("memory"), ""))
	case spec.Memory.Cmp(minMemory) < 0:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("memory"), spec.Memory.String(), "must be at least "+minMemory.String()))
	case spec.Memory.Cmp(MaxMemory) > 0:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("memory"), spec.Memory.String(), "must be at most "+MaxMemory.String()))
	}
	seen := sets.New[string]()
	total := 0
	for i, gpu := range spec.GPUs {
		p := fldPath.Child("gpus").Index(i)
		if gpu.DeviceName == "" {
			allErrs = append(allErrs, field.Required(p.Child("deviceName"), "the GPU's extended resource name, for example nvidia.com/GA100_A100_SXM4_40GB"))
		} else {
			for _, msg := range utilvalidation.IsQualifiedName(gpu.DeviceName) {
				allErrs = append(allErrs, field.Invalid(p.Child("deviceName"), gpu.DeviceName, msg))
			}
			if _, shared, err := gpuinfo.ParseProfile(gpu.DeviceName); shared && err != nil {
				allErrs = append(allErrs, field.Invalid(p.Child("deviceName"), gpu.DeviceName, err.Error()))
			}
			if seen.Has(gpu.DeviceName) {
				allErrs = append(allErrs, field.Duplicate(p.Child("deviceName"), gpu.DeviceName))
			}
			seen.Insert(gpu.DeviceName)
		}
		if gpu.Count < 1 || gpu.Count > MaxGPUs {
			allErrs = append(allErrs, field.Invalid(p.Child("count"), gpu.Count, fmt.Sprintf("must be between 1 and %d", MaxGPUs)))
		} else {
			total += int(gpu.Count)
		}
	}
	if total > MaxGPUs {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("gpus"), total, fmt.Sprintf("at most %d GPUs in all", MaxGPUs)))
	}
	allErrs = append(allErrs, validateUSBDevices(spec.USBDevices, fldPath.Child("usbDevices"))...)
	switch {
	case spec.Image == "" && spec.Source == nil:
		allErrs = append(allErrs, field.Required(fldPath.Child("image"), "either image or source is required"))
	case spec.Image != "" && spec.Source != nil:
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("source"), "may not be set together with image"))
	case spec.Source != nil:
		allErrs = append(allErrs, validateSource(spec.Source, fldPath.Child("source"))...)
	}
	return allErrs
}

func validateSource(src *hypersdk.VirtualMachineSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	set := 0
	for _, isSet := range []bool{src.PersistentVolumeClaim != "", src.DataVolume != "", src.Blank != nil} {
		if isSet {
			set++
		}
	}
	switch {
	case set == 0:
		allErrs = append(allErrs, field.Required(fldPath, "one of persistentVolumeClaim, dataVolume and blank is required"))
	case set > 1:
		allErrs = append(allErrs, field.Forbidden(fldPath, "only one of persistentVolumeClaim, dataVolume and blank may be set"))
	case src.PersistentVolumeClaim != "":
		allErrs = append(allErrs, validateName(src.PersistentVolumeClaim, fldPath.Child("persistentVolumeClaim"))...)
	case src.DataVolume != "":
		allErrs = append(allErrs, validateName(src.DataVolume, fldPath.Child("dataVolume"))...)
	default:
		if src.Blank.Size.Cmp(minDiskSize) < 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("blank", "size"), src.Blank.Size.String(), "must be at least "+minDiskSize.String()))
		}
		if c := src.Blank.StorageClassName; c != "" {
			allErrs = append(allErrs, validateName(c, fldPath.Child("blank", "storageClassName"))...)
		}
	}
	return allErrs
}

// ValidateVMOperation checks an operation about to be created.
func ValidateVMOperation(op *hypersdk.VMOperation) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&op.ObjectMeta, true,
		apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateVMOperationSpec(&op.Spec, field.NewPath("spec"))...)
	if r := op.Spec.Requester; r == nil || r.Username == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("spec", "requester", "username"),
			"the server records who asks for an operation; an operation without a requester is refused"))
	}
	return allErrs
}

// ValidateVMOperationUpdate checks a change to an operation's spec: only
// cancel may change, and only from false to true.
func ValidateVMOperationUpdate(op, old *hypersdk.VMOperation) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&op.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	specPath := field.NewPath("spec")
	if old.Spec.Cancel && !op.Spec.Cancel {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("cancel"), "a cancelled operation cannot be resumed"))
	}
	newSpec, oldSpec := op.Spec, old.Spec
	newSpec.Cancel, oldSpec.Cancel = false, false
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newSpec, oldSpec, specPath)...)
	return allErrs
}

// ValidateVMOperationStatusUpdate checks a status written by the executor: a
// known phase, progress within 0-100, and no way back out of a final phase.
func ValidateVMOperationStatusUpdate(op, old *hypersdk.VMOperation) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&op.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	statusPath := field.NewPath("status")
	st := &op.Status
	if st.Phase != "" && !operationPhases.Has(string(st.Phase)) {
		allErrs = append(allErrs, field.NotSupported(statusPath.Child("phase"), st.Phase, sets.List(operationPhases)))
	}
	if st.Progress < 0 || st.Progress > 100 {
		allErrs = append(allErrs, field.Invalid(statusPath.Child("progress"), st.Progress, "must be between 0 and 100"))
	}
	if IsFinal(old.Status.Phase) && st.Phase != old.Status.Phase {
		allErrs = append(allErrs, field.Forbidden(statusPath.Child("phase"),
			fmt.Sprintf("operation already ended %s", old.Status.Phase)))
	}
	// The clean-up's bounds and the TTL count from the end: an operation
	// that ends, or ended, without it would be kept and wait for ever.
	// (One already ended without it stays writable: the executor sets it.)
	if IsFinal(st.Phase) && st.CompletionTime == nil && (!IsFinal(old.Status.Phase) || old.Status.CompletionTime != nil) {
		allErrs = append(allErrs, field.Required(statusPath.Child("completionTime"), "an operation that ended records when"))
	}
	allErrs = append(allErrs, metav1validation.ValidateConditions(st.Conditions, statusPath.Child("conditions"))...)
	return allErrs
}

// IsFinal reports whether an operation in this phase is over.
func IsFinal(phase hypersdk.VMOperationPhase) bool {
	return phase == hypersdk.VMOperationSucceeded || phase == hypersdk.VMOperationFailed || phase == hypersdk.VMOperationCancelled
}

// ValidateVMOperationSpec checks the VM name, the type and that exactly the
// options block of that type is set.
func ValidateVMOperationSpec(spec *hypersdk.VMOperationSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.VMName == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("vmName"), "the virtual machine to operate on"))
	} else {
		allErrs = append(allErrs, validateName(spec.VMName, fldPath.Child("vmName"))...)
	}
	if !operationTypes.Has(string(spec.Type)) {
		if spec.Type == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("type"), fmt.Sprintf("one of %q", sets.List(operationTypes))))
		} else {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), spec.Type, sets.List(operationTypes)))
		}
	}

	blocks := []struct {
		typ   hypersdk.VMOperationType
		field string
		set   bool
	}{
		{hypersdk.VMOperationClone, "clone", spec.Clone != nil},
		{hypersdk.VMOperationMigrate, "migrate", spec.Migrate != nil},
		{hypersdk.VMOperationResize, "resize", spec.Resize != nil},
		{hypersdk.VMOperationSnapshot, "snapshot", spec.Snapshot != nil},
		{hypersdk.VMOperationStart, "start", spec.Start != nil},
		{hypersdk.VMOperationStop, "stop", spec.Stop != nil},
		{hypersdk.VMOperationRestart, "restart", spec.Restart != nil},
		{hypersdk.VMOperationRestore, "restore", spec.Restore != nil},
		{hypersdk.VMOperationAttachUSB, "attachUSB", spec.AttachUSB != nil},
		{hypersdk.VMOperationDetachUSB, "detachUSB", spec.DetachUSB != nil},
	}
	for _, b := range blocks {
		switch {
		case b.set && b.typ != spec.Type:
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(b.field),
				fmt.Sprintf("may only be set when type is %s", b.typ)))
		case !b.set && b.typ == spec.Type:
			allErrs = append(allErrs, field.Required(fldPath.Child(b.field),
				fmt.Sprintf("the options of a %s operation", b.typ)))
		}
	}

	if spec.Clone != nil {
		allErrs = append(allErrs, ValidateCloneSpec(spec.Clone, fldPath.Child("clone"))...)
	}
	if spec.Migrate != nil {
		allErrs = append(allErrs, ValidateMigrateSpec(spec.Migrate, fldPath.Child("migrate"))...)
	}
	if spec.Resize != nil {
		allErrs = append(allErrs, ValidateResizeSpec(spec.Resize, fldPath.Child("resize"))...)
	}
	if spec.Snapshot != nil {
		allErrs = append(allErrs, ValidateSnapshotSpec(spec.Snapshot, fldPath.Child("snapshot"))...)
	}
	if spec.Restore != nil {
		allErrs = append(allErrs, ValidateRestoreSpec(spec.Restore, fldPath.Child("restore"))...)
	}
	if spec.Stop != nil {
		allErrs = append(allErrs, ValidateStopSpec(spec.Stop, fldPath.Child("stop"))...)
	}
	if spec.Restart != nil {
		allErrs = append(allErrs, ValidateRestartSpec(spec.Restart, fldPath.Child("restart"))...)
	}
	if spec.AttachUSB != nil {
		allErrs = append(allErrs, ValidateAttachUSBSpec(spec.AttachUSB, fldPath.Child("attachUSB"))...)
	}
	if spec.DetachUSB != nil {
		allErrs = append(allErrs, ValidateDetachUSBSpec(spec.DetachUSB, fldPath.Child("detachUSB"))...)
	}
	return allErrs
}

// ValidateStopSpec checks stop options.
func ValidateStopSpec(spec *hypersdk.StopSpec, fldPath *field.Path) field.ErrorList {
	return validateGracePeriod(spec.GracePeriodSeconds, fldPath.Child("gracePeriodSeconds"))
}

// ValidateRestartSpec checks restart options.
func ValidateRestartSpec(spec *hypersdk.RestartSpec, fldPath *field.Path) field.ErrorList {
	return validateGracePeriod(spec.GracePeriodSeconds, fldPath.Child("gracePeriodSeconds"))
}

// ValidateAttachUSBSpec checks the device a USB hot-plug asks for.
func ValidateAttachUSBSpec(spec *hypersdk.AttachUSBSpec, fldPath *field.Path) field.ErrorList {
	return validateUSBDevice(spec.Device, fldPath.Child("device"))
}

// ValidateDetachUSBSpec checks the name of the device to unplug.
func ValidateDetachUSBSpec(spec *hypersdk.DetachUSBSpec, fldPath *field.Path) field.ErrorList {
	p := fldPath.Child("name")
	if spec.Name == "" {
		return field.ErrorList{field.Required(p, "the attached device's name")}
	}
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(spec.Name) {
		allErrs = append(allErrs, field.Invalid(p, spec.Name, msg))
	}
	return allErrs
}

// ValidateCloneSpec checks clone options.
func ValidateCloneSpec(spec *hypersdk.CloneSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.TargetName == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("targetName"), "the name of the new virtual machine"))
	} else {
		allErrs = append(allErrs, validateLabelledName(spec.TargetName, fldPath.Child("targetName"))...)
	}
	if spec.TargetNamespace != "" {
		for _, msg := range apimachineryvalidation.ValidateNamespaceName(spec.TargetNamespace, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("targetNamespace"), spec.TargetNamespace, msg))
		}
	}
	if spec.SnapshotRef != "" {
		allErrs = append(allErrs, validateName(spec.SnapshotRef, fldPath.Child("snapshotRef"))...)
	}
	allErrs = append(allErrs, validateKeyFilters(spec.LabelFilters, "label", fldPath.Child("labelFilters"))...)
	return append(allErrs, validateKeyFilters(spec.AnnotationFilters, "annotation", fldPath.Child("annotationFilters"))...)
}

// validateKeyFilters checks clone filters: glob patterns of keys, "!"
// negating. A malformed pattern matches nothing, so an exclusion the user
// meant would silently not apply.
func validateKeyFilters(filters []string, what string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, f := range filters {
		pattern := strings.TrimPrefix(f, "!")
		if _, err := path.Match(pattern, ""); pattern == "" || err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), f, "must be a glob pattern of "+what+" keys, \"!\" before it to exclude them"))
		}
	}
	return allErrs
}

// ValidateMigrateSpec checks migrate options.
func ValidateMigrateSpec(spec *hypersdk.MigrateSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.TargetNode != "" {
		allErrs = append(allErrs, validateName(spec.TargetNode, fldPath.Child("targetNode"))...)
	}
	allErrs = append(allErrs, metav1validation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	return allErrs
}

// ValidateResizeSpec checks resize options that need no knowledge of the VM;
// the VM's own maximum is checked when the operation is created.
func ValidateResizeSpec(spec *hypersdk.ResizeSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.CPUs == nil && spec.Memory == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("cpus"), "at least one of cpus and memory"))
	}
	if spec.CPUs != nil && *spec.CPUs < 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("cpus"), *spec.CPUs, "must be at least 1"))
	}
	if spec.Memory != nil && spec.Memory.Cmp(minMemory) < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("memory"), spec.Memory.String(), "must be at least "+minMemory.String()))
	}
	if !restartPolicies.Has(string(spec.RestartPolicy)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("restartPolicy"), spec.RestartPolicy, sets.List(restartPolicies)))
	}
	return allErrs
}

// ValidateSnapshotSpec checks snapshot options.
func ValidateSnapshotSpec(spec *hypersdk.SnapshotSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Name != "" {
		allErrs = append(allErrs, validateName(spec.Name, fldPath.Child("name"))...)
	}
	if len(spec.Description) > maxSnapshotDescription {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("description"), "", maxSnapshotDescription))
	}
	if spec.FailureDeadline != nil && spec.FailureDeadline.Duration < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("failureDeadline"), spec.FailureDeadline.Duration.String(), "must not be negative"))
	}
	return allErrs
}

// ValidateRestoreSpec checks restore options; whether the snapshot is the
// VM's and ready, and the new name free, is checked against the cluster.
func ValidateRestoreSpec(spec *hypersdk.RestoreSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.SnapshotName == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("snapshotName"), "the VirtualMachineSnapshot to restore"))
	} else {
		allErrs = append(allErrs, validateName(spec.SnapshotName, fldPath.Child("snapshotName"))...)
	}
	if spec.TargetName != "" {
		allErrs = append(allErrs, validateLabelledName(spec.TargetName, fldPath.Child("targetName"))...)
	}
	return allErrs
}

// maxGracePeriodSeconds bounds a stop's or restart's grace period: the
// operation waits that long on top of its run timeout (and a number of
// seconds near int64's limit overflowed that wait), and every later
// operation on the VM waits behind it.
const maxGracePeriodSeconds = 24 * 60 * 60

func validateGracePeriod(seconds *int64, fldPath *field.Path) field.ErrorList {
	switch {
	case seconds == nil:
	case *seconds < 0:
		return field.ErrorList{field.Invalid(fldPath, *seconds, "must not be negative")}
	case *seconds > maxGracePeriodSeconds:
		return field.ErrorList{field.Invalid(fldPath, *seconds, fmt.Sprintf("must be at most %d (a day)", maxGracePeriodSeconds))}
	}
	return nil
}

func validateName(name string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(name, false) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	return allErrs
}

// validateLabelledName validates the name of a kind whose controller marks
// what it makes with a label holding the name, and finds it again by that
// label: a label value is at most 63 characters, so a longer name would
// leave the controller unable to make or find anything.
func validateLabelledName(name string, fldPath *field.Path) field.ErrorList {
	allErrs := validateName(name, fldPath)
	if len(allErrs) == 0 && len(name) > utilvalidation.LabelValueMaxLength {
		allErrs = append(allErrs, field.TooLong(fldPath, name, utilvalidation.LabelValueMaxLength))
	}
	return allErrs
}

var (
	usbID    = regexp.MustCompile(`^[0-9a-f]{4}$`)
	usbClass = regexp.MustCompile(`^[0-9a-f]{2}$`)
	// A serial is the last part of NFD's label name,
	// usb-<class>_<vendor>_<product>_<serial>.present, which a label
	// allows 63 characters: 38 are left for it.
	usbSerial = regexp.MustCompile(`^[A-Za-z0-9._-]{1,38}$`)
)

// validateUSBDevices checks USB filters: IDs in the lower-case hexadecimal
// that KubeVirt's selectors and NFD's labels use, and a serial only beside
// a class, since NFD's label names the class first.
func validateUSBDevices(devices []hypersdk.USBDeviceRequest, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, d := range devices {
		p := fldPath.Index(i)
		if d.Name != "" && seen.Has(d.Name) {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), d.Name))
		}
		seen.Insert(d.Name)
		allErrs = append(allErrs, validateUSBDevice(d, p)...)
	}
	return allErrs
}

// validateUSBDevice checks one USB filter.
func validateUSBDevice(d hypersdk.USBDeviceRequest, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if d.Name == "" {
		allErrs = append(allErrs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range utilvalidation.IsDNS1123Label(d.Name) {
			allErrs = append(allErrs, field.Invalid(p.Child("name"), d.Name, msg))
		}
	}
	if !usbID.MatchString(d.Vendor) {
		allErrs = append(allErrs, field.Invalid(p.Child("vendor"), d.Vendor, "must be four lower-case hexadecimal digits, e.g. 0781"))
	}
	if !usbID.MatchString(d.Product) {
		allErrs = append(allErrs, field.Invalid(p.Child("product"), d.Product, "must be four lower-case hexadecimal digits, e.g. 5581"))
	}
	if d.Class != "" && !usbClass.MatchString(d.Class) {
		allErrs = append(allErrs, field.Invalid(p.Child("class"), d.Class, "must be two lower-case hexadecimal digits, e.g. 08"))
	}
	switch {
	case d.Serial != "" && d.Class == "":
		allErrs = append(allErrs, field.Required(p.Child("class"), "a serial filter needs the class: NFD's label names it first"))
	case d.Serial != "" && !usbSerial.MatchString(d.Serial):
		allErrs = append(allErrs, field.Invalid(p.Child("serial"), d.Serial, "must be 1-38 letters, digits, '.', '_' or '-' (NFD's label name holds it)"))
	}
	return allErrs
}
