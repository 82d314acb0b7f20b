package validation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

func fields(errs field.ErrorList) string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return strings.Join(out, ",")
}

// op is an operation as the server stores it: with a requester, unless the
// spec says otherwise.
func op(spec hypersdk.VMOperationSpec) *hypersdk.VMOperation {
	if spec.Requester == nil {
		spec.Requester = &hypersdk.VMOperationRequester{Username: "alice"}
	}
	return &hypersdk.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "op", Namespace: "ns"}, Spec: spec}
}

func TestValidateVMOperation(t *testing.T) {
	qty := func(s string) *resource.Quantity { q := resource.MustParse(s); return &q }
	for _, tc := range []struct {
		name string
		spec hypersdk.VMOperationSpec
		want string // failing field paths, in order; empty when valid
	}{
		{"start", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationStart, Start: &hypersdk.StartSpec{}}, ""},
		{"clone", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationClone,
			Clone: &hypersdk.CloneSpec{TargetName: "copy", TargetNamespace: "other", LabelFilters: []string{"app*", "!secret"}}}, ""},
		{"resize", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationResize,
			Resize: &hypersdk.ResizeSpec{CPUs: ptr.To[int32](4), Memory: qty("2Gi"), RestartPolicy: hypersdk.ResizeRestartNever}}, ""},
		{"no type", hypersdk.VMOperationSpec{VMName: "vm"}, "spec.type"},
		{"unknown type", hypersdk.VMOperationSpec{VMName: "vm", Type: "Teleport"}, "spec.type"},
		{"no vm", hypersdk.VMOperationSpec{Type: hypersdk.VMOperationStart, Start: &hypersdk.StartSpec{}}, "spec.vmName"},
		{"bad vm name", hypersdk.VMOperationSpec{VMName: "Not_A_Name", Type: hypersdk.VMOperationStart, Start: &hypersdk.StartSpec{}}, "spec.vmName"},
		{"block of another type", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationStart,
			Start: &hypersdk.StartSpec{}, Stop: &hypersdk.StopSpec{}}, "spec.stop"},
		{"missing block", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationResize}, "spec.resize"},
		{"clone without target", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationClone,
			Clone: &hypersdk.CloneSpec{}}, "spec.clone.targetName"},
		{"clone bad namespace and filter", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationClone,
			Clone: &hypersdk.CloneSpec{TargetName: "c", TargetNamespace: "Bad_NS", AnnotationFilters: []string{"!"}}},
			"spec.clone.targetNamespace,spec.clone.annotationFilters[0]"},
		{"resize nothing", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationResize,
			Resize: &hypersdk.ResizeSpec{RestartPolicy: hypersdk.ResizeRestartIfNeeded}}, "spec.resize.cpus"},
		{"snapshot description too long", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationSnapshot,
			Snapshot: &hypersdk.SnapshotSpec{Description: strings.Repeat("x", 1025)}}, "spec.snapshot.description"},
		{"snapshot description at the limit", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationSnapshot,
			Snapshot: &hypersdk.SnapshotSpec{Description: strings.Repeat("x", 1024)}}, ""},
		{"resize too small", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationResize,
			Resize: &hypersdk.ResizeSpec{CPUs: ptr.To[int32](0), Memory: qty("512Mi"), RestartPolicy: "Sometimes"}},
			"spec.resize.cpus,spec.resize.memory,spec.resize.restartPolicy"},
		{"negative grace", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationStop,
			Stop: &hypersdk.StopSpec{GracePeriodSeconds: ptr.To[int64](-1)}}, "spec.stop.gracePeriodSeconds"},
		{"grace of centuries", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationRestart,
			Restart: &hypersdk.RestartSpec{GracePeriodSeconds: ptr.To[int64](1e10)}}, "spec.restart.gracePeriodSeconds"},
		{"migrate bad selector", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationMigrate,
			Migrate: &hypersdk.MigrateSpec{TargetNode: "node_1", NodeSelector: map[string]string{"a/b/c": "x"}}},
			"spec.migrate.targetNode,spec.migrate.nodeSelector"},
		{"restore", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationRestore,
			Restore: &hypersdk.RestoreSpec{SnapshotName: "snap", TargetName: "copy"}}, ""},
		{"restore without a snapshot, to a bad name", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationRestore,
			Restore: &hypersdk.RestoreSpec{TargetName: "Bad_Name"}}, "spec.restore.snapshotName,spec.restore.targetName"},
		{"restore without options", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationRestore}, "spec.restore"},
		// The new VM's name is a label value on its operations and instance.
		{"clone and restore to names too long to label", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationClone,
			Clone: &hypersdk.CloneSpec{TargetName: strings.Repeat("a", 64)}}, "spec.clone.targetName"},
		{"restore to a name too long to label", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationRestore,
			Restore: &hypersdk.RestoreSpec{SnapshotName: "snap", TargetName: strings.Repeat("a", 64)}}, "spec.restore.targetName"},
		// A malformed pattern matches nothing: the exclusion would not apply.
		{"clone malformed filters", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationClone,
			Clone: &hypersdk.CloneSpec{TargetName: "c", LabelFilters: []string{"*", "!secret-["}, AnnotationFilters: []string{"[a-"}}},
			"spec.clone.labelFilters[1],spec.clone.annotationFilters[0]"},
		{"attach a USB device", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationAttachUSB,
			AttachUSB: &hypersdk.AttachUSBSpec{Device: hypersdk.USBDeviceRequest{Name: "stick", Vendor: "0781", Product: "5581", Class: "08"}}}, ""},
		{"attach a bad filter", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationAttachUSB,
			AttachUSB: &hypersdk.AttachUSBSpec{Device: hypersdk.USBDeviceRequest{Vendor: "781", Product: "5581", Serial: "X1"}}},
			"spec.attachUSB.device.name,spec.attachUSB.device.vendor,spec.attachUSB.device.class"},
		{"attach without options", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationAttachUSB,
			DetachUSB: &hypersdk.DetachUSBSpec{Name: "stick"}}, "spec.attachUSB,spec.detachUSB"},
		{"detach without a name", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationDetachUSB,
			DetachUSB: &hypersdk.DetachUSBSpec{}}, "spec.detachUSB.name"},
		{"no requester", hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationStart, Start: &hypersdk.StartSpec{},
			Requester: &hypersdk.VMOperationRequester{}}, "spec.requester.username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fields(ValidateVMOperation(op(tc.spec))); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateVMOperationUpdate(t *testing.T) {
	old := op(hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationStart, Start: &hypersdk.StartSpec{}})
	old.ResourceVersion = "1"
	cancel := old.DeepCopy()
	cancel.Spec.Cancel = true
	if errs := ValidateVMOperationUpdate(cancel, old); len(errs) != 0 {
		t.Errorf("cancelling: %v", errs)
	}
	if got := fields(ValidateVMOperationUpdate(old, cancel)); got != "spec.cancel" {
		t.Errorf("un-cancelling fails on %q, want spec.cancel", got)
	}
	retarget := old.DeepCopy()
	retarget.Spec.VMName = "other"
	if got := fields(ValidateVMOperationUpdate(retarget, old)); got != "spec" {
		t.Errorf("changing the VM fails on %q, want spec (immutable)", got)
	}
}

func TestValidateVMOperationStatusUpdate(t *testing.T) {
	old := op(hypersdk.VMOperationSpec{VMName: "vm", Type: hypersdk.VMOperationStart, Start: &hypersdk.StartSpec{}})
	old.ResourceVersion = "1"
	ended := metav1.NewTime(time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC))
	withStatus := func(o *hypersdk.VMOperation, phase hypersdk.VMOperationPhase, progress int32) *hypersdk.VMOperation {
		n := o.DeepCopy()
		n.Status.Phase, n.Status.Progress = phase, progress
		if IsFinal(phase) {
			n.Status.CompletionTime = &ended
		}
		return n
	}
	endless := func(o *hypersdk.VMOperation) *hypersdk.VMOperation {
		n := o.DeepCopy()
		n.Status.CompletionTime = nil
		return n
	}
	for _, tc := range []struct {
		name     string
		old, new *hypersdk.VMOperation
		want     string
	}{
		{"progress", old, withStatus(old, hypersdk.VMOperationRunning, 40), ""},
		{"done", old, withStatus(old, hypersdk.VMOperationSucceeded, 100), ""},
		{"above 100", old, withStatus(old, hypersdk.VMOperationRunning, 150), "status.progress"},
		{"negative", old, withStatus(old, hypersdk.VMOperationRunning, -1), "status.progress"},
		{"unknown phase", old, withStatus(old, "Paused", 10), "status.phase"},
		{"back from final", withStatus(old, hypersdk.VMOperationFailed, 50), withStatus(old, hypersdk.VMOperationRunning, 50), "status.phase"},
		{"ends without when", old, endless(withStatus(old, hypersdk.VMOperationSucceeded, 100)), "status.completionTime"},
		{"forgets when it ended", withStatus(old, hypersdk.VMOperationFailed, 50), endless(withStatus(old, hypersdk.VMOperationFailed, 50)), "status.completionTime"},
		{"ended without when, written again", endless(withStatus(old, hypersdk.VMOperationFailed, 50)),
			endless(withStatus(old, hypersdk.VMOperationFailed, 60)), ""},
		{"ended without when, given it", endless(withStatus(old, hypersdk.VMOperationFailed, 50)), withStatus(old, hypersdk.VMOperationFailed, 50), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fields(ValidateVMOperationStatusUpdate(tc.new, tc.old)); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateVirtualMachine(t *testing.T) {
	mem := resource.MustParse("2Gi")
	small := resource.MustParse("100Mi")
	vm := func(spec hypersdk.VirtualMachineSpec) *hypersdk.VirtualMachine {
		return &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns"}, Spec: spec}
	}
	for _, tc := range []struct {
		name string
		spec hypersdk.VirtualMachineSpec
		want string
	}{
		{"image", hypersdk.VirtualMachineSpec{CPUs: 2, Memory: &mem, Image: "img"}, ""},
		{"pvc with gpus", hypersdk.VirtualMachineSpec{CPUs: 2, Memory: &mem,
			Source: &hypersdk.VirtualMachineSource{PersistentVolumeClaim: "disk"},
			GPUs:   []hypersdk.GPURequest{{DeviceName: "nvidia.com/A100", Count: 2}}}, ""},
		{"nothing", hypersdk.VirtualMachineSpec{}, "spec.cpus,spec.memory,spec.image"},
		{"too small", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &small, Image: "img"}, "spec.memory"},
		{"image and source", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img",
			Source: &hypersdk.VirtualMachineSource{DataVolume: "dv"}}, "spec.source"},
		{"two sources", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem,
			Source: &hypersdk.VirtualMachineSource{DataVolume: "dv", PersistentVolumeClaim: "pvc"}}, "spec.source"},
		{"blank", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem,
			Source: &hypersdk.VirtualMachineSource{Blank: &hypersdk.BlankDisk{Size: resource.MustParse("20Gi")}}}, ""},
		{"blank too small, bad class", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem,
			Source: &hypersdk.VirtualMachineSource{Blank: &hypersdk.BlankDisk{Size: resource.MustParse("100Mi"), StorageClassName: "Bad_Class"}}},
			"spec.source.blank.size,spec.source.blank.storageClassName"},
		{"bad gpus", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img",
			GPUs: []hypersdk.GPURequest{{DeviceName: "nvidia.com/T4", Count: 1}, {DeviceName: "nvidia.com/T4", Count: 0}, {Count: 1}}},
			"spec.gpus[1].deviceName,spec.gpus[1].count,spec.gpus[2].deviceName"},
		// One device entry per GPU is built for KubeVirt: a huge count must not reach it.
		{"too many gpus", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img",
			GPUs: []hypersdk.GPURequest{{DeviceName: "nvidia.com/A100", Count: 2147483647}}}, "spec.gpus[0].count"},
		{"too many gpus in all", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img",
			GPUs: []hypersdk.GPURequest{{DeviceName: "nvidia.com/A100", Count: 16}, {DeviceName: "nvidia.com/T4", Count: 1}}}, "spec.gpus"},
		{"vGPU and MIG profiles", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img",
			GPUs: []hypersdk.GPURequest{{DeviceName: "nvidia.com/GRID_T4-8Q", Count: 1}, {DeviceName: "nvidia.com/mig-3g.20gb", Count: 1}}}, ""},
		{"usb devices", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img",
			USBDevices: []hypersdk.USBDeviceRequest{{Name: "stick", Vendor: "0781", Product: "5581"},
				{Name: "key", Vendor: "1050", Product: "0407", Class: "03", Serial: "12345"}}}, ""},
		{"bad usb devices", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img",
			USBDevices: []hypersdk.USBDeviceRequest{{Name: "stick", Vendor: "0781", Product: "5581"},
				{Name: "stick", Vendor: "ZZ", Product: "5581", Class: "8"}, {Vendor: "0781", Product: "55811", Serial: "x"}}},
			"spec.usbDevices[1].name,spec.usbDevices[1].vendor,spec.usbDevices[1].class,spec.usbDevices[2].name,spec.usbDevices[2].product,spec.usbDevices[2].class"},
		{"usb serial too long for NFD's label", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img",
			USBDevices: []hypersdk.USBDeviceRequest{{Name: "a", Vendor: "0781", Product: "5581", Class: "08", Serial: strings.Repeat("s", 38)},
				{Name: "b", Vendor: "0781", Product: "5581", Class: "08", Serial: strings.Repeat("s", 39)}}},
			"spec.usbDevices[1].serial"},
		{"unknown profiles", hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img",
			GPUs: []hypersdk.GPURequest{{DeviceName: "nvidia.com/GRID_T4-5Q", Count: 1}, {DeviceName: "nvidia.com/mig-5g.25gb", Count: 1}}},
			"spec.gpus[0].deviceName,spec.gpus[1].deviceName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fields(ValidateVirtualMachine(vm(tc.spec))); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestVirtualMachineNameIsALabelValue: a VM's name is a label value on its
// operations and on its instance, so a name longer than 63 characters is
// refused when the VM is made, not by every operation on it afterwards.
func TestVirtualMachineNameIsALabelValue(t *testing.T) {
	mem := resource.MustParse("2Gi")
	for n, want := range map[int]string{63: "", 64: "metadata.name"} {
		vm := &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", n), Namespace: "ns"},
			Spec: hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img"}}
		if got := fields(ValidateVirtualMachine(vm)); got != want {
			t.Errorf("name of %d characters: failing fields %q, want %q", n, got, want)
		}
	}
}

// TestVirtualMachineUpdateRatchets: a VM made with KubeVirt that fails
// checks only HyperSDK's create makes (128Mi of memory, no root disk the
// view knows) may still be labelled or stopped through hypersdk.io; what an
// update changes is checked.
func TestVirtualMachineUpdateRatchets(t *testing.T) {
	small := resource.MustParse("128Mi")
	old := &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "testvm", Namespace: "ns", ResourceVersion: "1"},
		Spec: hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &small, Running: ptr.To(true)}}
	if got := fields(ValidateVirtualMachine(old)); got == "" {
		t.Fatal("the KubeVirt example passes HyperSDK's create: the test needs one that does not")
	}
	labelled := old.DeepCopy()
	labelled.Labels = map[string]string{"team": "a"}
	labelled.Spec.Running = ptr.To(false)
	if got := fields(ValidateVirtualMachineUpdate(labelled, old)); got != "" {
		t.Errorf("labelled and stopped: failing fields %q, want none", got)
	}
	other := resource.MustParse("256Mi")
	grown := old.DeepCopy()
	grown.Spec.Memory = &other
	if got := fields(ValidateVirtualMachineUpdate(grown, old)); got != "spec.memory" {
		t.Errorf("memory changed to 256Mi: failing fields %q, want spec.memory", got)
	}
}

// TestValidateVirtualMachineUpdate: the source disk stays as made; the rest
// of the spec may change within its own checks.
func TestValidateVirtualMachineUpdate(t *testing.T) {
	mem := resource.MustParse("2Gi")
	blank := func(size string) *hypersdk.VirtualMachineSource {
		return &hypersdk.VirtualMachineSource{Blank: &hypersdk.BlankDisk{Size: resource.MustParse(size)}}
	}
	old := &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", ResourceVersion: "1"},
		Spec: hypersdk.VirtualMachineSpec{CPUs: 2, Memory: &mem, Source: blank("20Gi")}}
	for _, tc := range []struct {
		name   string
		change func(*hypersdk.VirtualMachineSpec)
		want   string
	}{
		{"more CPUs", func(s *hypersdk.VirtualMachineSpec) { s.CPUs = 4 }, ""},
		{"too many CPUs", func(s *hypersdk.VirtualMachineSpec) { s.CPUs = 1000 }, "spec.cpus"},
		{"the same size written anew", func(s *hypersdk.VirtualMachineSpec) { s.Source = blank("20480Mi") }, ""},
		{"a bigger blank disk", func(s *hypersdk.VirtualMachineSpec) { s.Source = blank("100Gi") }, "spec.source"},
		{"another disk", func(s *hypersdk.VirtualMachineSpec) {
			s.Source = &hypersdk.VirtualMachineSource{PersistentVolumeClaim: "other"}
		}, "spec.source"},
		{"an image instead", func(s *hypersdk.VirtualMachineSpec) { s.Source, s.Image = nil, "img" }, "spec.source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := old.DeepCopy()
			tc.change(&vm.Spec)
			if got := fields(ValidateVirtualMachineUpdate(vm, old)); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateCarbonScalingPolicy(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "batch"}}
	for _, tc := range []struct {
		name string
		spec hypersdk.CarbonScalingPolicySpec
		want string
	}{
		{"valid", hypersdk.CarbonScalingPolicySpec{HPASelector: sel, Zone: "DE",
			Bands: []hypersdk.CarbonScalingBand{{AboveGramsPerKWh: 300, MaxReplicasPercent: 75}, {AboveGramsPerKWh: 450, MaxReplicasPercent: 50}}}, ""},
		{"empty", hypersdk.CarbonScalingPolicySpec{HPASelector: &metav1.LabelSelector{}}, "spec.hpaSelector,spec.zone,spec.bands"},
		{"out of range", hypersdk.CarbonScalingPolicySpec{HPASelector: sel, Zone: "DE",
			Bands: []hypersdk.CarbonScalingBand{{AboveGramsPerKWh: 0, MaxReplicasPercent: 100}}},
			"spec.bands[0].aboveGramsPerKWh,spec.bands[0].maxReplicasPercent"},
		{"a dirtier band caps less", hypersdk.CarbonScalingPolicySpec{HPASelector: sel, Zone: "DE",
			Bands: []hypersdk.CarbonScalingBand{{AboveGramsPerKWh: 300, MaxReplicasPercent: 50}, {AboveGramsPerKWh: 400, MaxReplicasPercent: 60}}},
			"spec.bands[1].maxReplicasPercent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &hypersdk.CarbonScalingPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: tc.spec}
			if got := fields(ValidateCarbonScalingPolicy(p)); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateVirtualMachineAutoscaler(t *testing.T) {
	two, one, day := int32(2), int32(1), &metav1.Duration{Duration: time.Hour}
	gi := func(s string) *resource.Quantity { q := resource.MustParse(s); return &q }
	valid := func() hypersdk.VirtualMachineAutoscalerSpec {
		return hypersdk.VirtualMachineAutoscalerSpec{
			TargetRef:  hypersdk.AutoscalerTargetRef{Kind: "VirtualMachine", Name: "vm1"},
			UpdateMode: hypersdk.AutoscalerUpdateLiveOrRestart, ControlledResources: []string{"cpu", "memory"},
			MinAllowed:         &hypersdk.AutoscalerResources{CPUs: &one, Memory: gi("1Gi")},
			MaxAllowed:         &hypersdk.AutoscalerResources{CPUs: &two, Memory: gi("8Gi")},
			MaintenanceWindows: []hypersdk.MaintenanceWindow{{Schedule: "0 2 * * 6", Duration: metav1.Duration{Duration: 2 * time.Hour}}},
			MaxChangesPerDay:   &two, Cooldown: day,
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*hypersdk.VirtualMachineAutoscalerSpec)
		want   string
	}{
		{"valid", func(*hypersdk.VirtualMachineAutoscalerSpec) {}, ""},
		{"min above max", func(s *hypersdk.VirtualMachineAutoscalerSpec) {
			s.MinAllowed.CPUs, s.MinAllowed.Memory = ptr.To[int32](4), gi("16Gi")
		}, "spec.minAllowed.cpus,spec.minAllowed.memory"},
		{"empty window", func(s *hypersdk.VirtualMachineAutoscalerSpec) {
			s.MaintenanceWindows[0] = hypersdk.MaintenanceWindow{Schedule: "every night"}
		}, "spec.maintenanceWindows[0].schedule,spec.maintenanceWindows[0].duration"},
		{"window in a time zone", func(s *hypersdk.VirtualMachineAutoscalerSpec) {
			s.MaintenanceWindows[0].Schedule = "TZ=Europe/Madrid 0 2 * * *"
		}, "spec.maintenanceWindows[0].schedule"},
		{"window on a date that never comes", func(s *hypersdk.VirtualMachineAutoscalerSpec) {
			s.MaintenanceWindows[0].Schedule = "0 2 30 2 *"
		}, "spec.maintenanceWindows[0].schedule"},
		{"window on 29 February", func(s *hypersdk.VirtualMachineAutoscalerSpec) {
			s.MaintenanceWindows[0].Schedule = "0 2 29 2 *"
		}, ""},
		{"restart without a window", func(s *hypersdk.VirtualMachineAutoscalerSpec) { s.MaintenanceWindows = nil }, "spec.maintenanceWindows"},
		{"unknown resource", func(s *hypersdk.VirtualMachineAutoscalerSpec) {
			s.ControlledResources = []string{"cpu", "gpu", "cpu"}
		}, "spec.controlledResources[1],spec.controlledResources[2]"},
		{"bad target and mode", func(s *hypersdk.VirtualMachineAutoscalerSpec) {
			s.TargetRef, s.UpdateMode = hypersdk.AutoscalerTargetRef{Kind: "Pod"}, "Auto"
		}, "spec.targetRef.kind,spec.targetRef.name,spec.updateMode"},
		// Every resize the autoscaler made would be refused.
		{"limits above what a resize accepts", func(s *hypersdk.VirtualMachineAutoscalerSpec) {
			s.MinAllowed = &hypersdk.AutoscalerResources{CPUs: ptr.To[int32](1000), Memory: gi("10Ti")}
			s.MaxAllowed = &hypersdk.AutoscalerResources{CPUs: ptr.To[int32](2000), Memory: gi("20Ti")}
		}, "spec.minAllowed.cpus,spec.minAllowed.memory,spec.maxAllowed.cpus,spec.maxAllowed.memory"},
		{"limits below what a VM can have", func(s *hypersdk.VirtualMachineAutoscalerSpec) {
			s.MinAllowed = &hypersdk.AutoscalerResources{CPUs: ptr.To[int32](0), Memory: gi("64Mi")}
			s.MaxChangesPerDay = ptr.To[int32](0)
		}, "spec.minAllowed.cpus,spec.minAllowed.memory,spec.maxChangesPerDay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &hypersdk.VirtualMachineAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns"}, Spec: valid()}
			tc.change(&a.Spec)
			if got := fields(ValidateVirtualMachineAutoscaler(a)); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateBackupSchedule(t *testing.T) {
	valid := func() hypersdk.BackupScheduleSpec {
		return hypersdk.BackupScheduleSpec{
			VMSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"backup": "nightly"}},
			Schedule:   "0 2 * * *", TimeZone: "Europe/Madrid",
			Retention:     hypersdk.BackupRetention{KeepLast: ptr.To[int32](7)},
			MaxConcurrent: ptr.To[int32](5),
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*hypersdk.BackupScheduleSpec)
		want   string
	}{
		{"valid", func(*hypersdk.BackupScheduleSpec) {}, ""},
		{"descriptor", func(s *hypersdk.BackupScheduleSpec) { s.Schedule = "@every 6h" }, ""},
		// robfig/cron would run these every second.
		{"every zero", func(s *hypersdk.BackupScheduleSpec) { s.Schedule = "@every 0s" }, "spec.schedule"},
		{"every negative", func(s *hypersdk.BackupScheduleSpec) { s.Schedule = "@every -6h" }, "spec.schedule"},
		{"every half a second", func(s *hypersdk.BackupScheduleSpec) { s.Schedule = "@every 500ms" }, "spec.schedule"},
		{"invalid cron and zone", func(s *hypersdk.BackupScheduleSpec) { s.Schedule, s.TimeZone = "61 * * * *", "Mars/Olympus" },
			"spec.schedule,spec.timeZone"},
		{"a date that never comes", func(s *hypersdk.BackupScheduleSpec) { s.Schedule = "0 2 31 4 *" }, "spec.schedule"},
		// The controller's own zone, not one the user sees.
		{"Local", func(s *hypersdk.BackupScheduleSpec) { s.TimeZone = "Local" }, "spec.timeZone"},
		// spec.timeZone would override the prefix without a word.
		{"time zone prefix", func(s *hypersdk.BackupScheduleSpec) { s.Schedule = "CRON_TZ=Europe/Madrid 0 2 * * *" }, "spec.schedule"},
		{"retention zero everywhere", func(s *hypersdk.BackupScheduleSpec) {
			s.Retention = hypersdk.BackupRetention{KeepLast: ptr.To[int32](0), MaxAge: &metav1.Duration{}}
		}, "spec.retention"},
		{"periods only", func(s *hypersdk.BackupScheduleSpec) {
			s.Retention = hypersdk.BackupRetention{KeepDaily: ptr.To[int32](7), KeepWeekly: ptr.To[int32](4), KeepMonthly: ptr.To[int32](12)}
		}, ""},
		{"negative and huge counts", func(s *hypersdk.BackupScheduleSpec) {
			s.Retention = hypersdk.BackupRetention{KeepHourly: ptr.To[int32](-1), KeepMonthly: ptr.To[int32](5000)}
		}, "spec.retention.keepHourly,spec.retention.keepMonthly"},
		{"no selector, no concurrency", func(s *hypersdk.BackupScheduleSpec) { s.VMSelector, s.MaxConcurrent = nil, ptr.To[int32](0) },
			"spec.vmSelector,spec.maxConcurrent"},
		{"carbon window", func(s *hypersdk.BackupScheduleSpec) {
			s.CarbonWindow = &hypersdk.BackupCarbonWindow{Within: metav1.Duration{Duration: 12 * time.Hour}, Zone: "ES"}
		}, ""},
		{"verification", func(s *hypersdk.BackupScheduleSpec) {
			s.Verification = &hypersdk.BackupVerification{Every: 7, Command: "hostname", Username: "fedora", ExpectedOutput: "db",
				Timeout: metav1.Duration{Duration: 5 * time.Minute}}
		}, ""},
		{"verification out of range", func(s *hypersdk.BackupScheduleSpec) {
			s.Verification = &hypersdk.BackupVerification{Every: 0, Command: "cat /etc/hostname\nrm -rf /", ExpectedOutput: "db"}
		}, "spec.verification.every,spec.verification.timeout,spec.verification.username,spec.verification.command"},
		{"replication", func(s *hypersdk.BackupScheduleSpec) {
			s.Replication = &hypersdk.BackupReplication{KubeconfigSecret: "dr-site", Namespace: "backups"}
		}, ""},
		{"replication without a secret, bad namespace", func(s *hypersdk.BackupScheduleSpec) {
			s.Replication = &hypersdk.BackupReplication{Namespace: "Backups!"}
		}, "spec.replication.kubeconfigSecret,spec.replication.namespace"},
		{"carbon window too short", func(s *hypersdk.BackupScheduleSpec) {
			s.CarbonWindow = &hypersdk.BackupCarbonWindow{Within: metav1.Duration{Duration: 30 * time.Minute}}
		}, "spec.carbonWindow.within"},
		{"carbon window beyond a week", func(s *hypersdk.BackupScheduleSpec) {
			s.CarbonWindow = &hypersdk.BackupCarbonWindow{Within: metav1.Duration{Duration: 200 * time.Hour}}
		}, "spec.carbonWindow.within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &hypersdk.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns"}, Spec: valid()}
			tc.change(&b.Spec)
			if got := fields(ValidateBackupSchedule(b)); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateBudget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*hypersdk.BudgetSpec)
		want   string
	}{
		{"valid", func(*hypersdk.BudgetSpec) {}, ""},
		{"negative amount", func(s *hypersdk.BudgetSpec) { s.Amount = resource.MustParse("-5") }, "spec.amount"},
		{"zero amount", func(s *hypersdk.BudgetSpec) { s.Amount = resource.Quantity{} }, "spec.amount"},
		{"thresholds out of order", func(s *hypersdk.BudgetSpec) { s.Thresholds = []int32{80, 50, 100} }, "spec.thresholds[1]"},
		{"threshold out of range", func(s *hypersdk.BudgetSpec) { s.Thresholds = []int32{0, 80} }, "spec.thresholds[0]"},
		{"bad selector", func(s *hypersdk.BudgetSpec) {
			s.VMSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Near"}}}
		}, "spec.vmSelector.matchExpressions[0].operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &hypersdk.Budget{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns"},
				Spec: hypersdk.BudgetSpec{Amount: resource.MustParse("250.50"), Thresholds: []int32{50, 80, 100}}}
			tc.change(&b.Spec)
			if got := fields(ValidateBudget(b)); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateIdleVMPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*hypersdk.IdleVMPolicySpec)
		want   string
	}{
		{"valid", func(*hypersdk.IdleVMPolicySpec) {}, ""},
		{"threshold and window out of range", func(s *hypersdk.IdleVMPolicySpec) {
			s.CPUThresholdPercent, s.Window = 150, &metav1.Duration{Duration: time.Second}
		}, "spec.cpuThresholdPercent,spec.window"},
		{"unknown action, negative grace", func(s *hypersdk.IdleVMPolicySpec) {
			s.Action, s.GracePeriod = "Delete", &metav1.Duration{Duration: -time.Minute}
		}, "spec.action,spec.gracePeriod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &hypersdk.IdleVMPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
				Spec: hypersdk.IdleVMPolicySpec{CPUThresholdPercent: 5, Window: &metav1.Duration{Duration: time.Hour},
					Action: hypersdk.IdleActionStop, GracePeriod: &metav1.Duration{Duration: time.Hour}}}
			tc.change(&p.Spec)
			if got := fields(ValidateIdleVMPolicy(p)); got != tc.want {
				t.Errorf("failing fields = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNamesThatLabelWhatTheyMake: the kinds whose controllers label what
// they make with the object's name refuse a name longer than a label value
// may be, and take one of exactly that length.
func TestNamesThatLabelWhatTheyMake(t *testing.T) {
	validate := map[string]func(name string) field.ErrorList{
		"RebalancePolicy": func(name string) field.ErrorList {
			return ValidateRebalancePolicy(&hypersdk.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: name}})
		},
		"BackupSchedule": func(name string) field.ErrorList {
			return ValidateBackupSchedule(&hypersdk.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}})
		},
		"IdleVMPolicy": func(name string) field.ErrorList {
			return ValidateIdleVMPolicy(&hypersdk.IdleVMPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}})
		},
		"VirtualMachineAutoscaler": func(name string) field.ErrorList {
			return ValidateVirtualMachineAutoscaler(&hypersdk.VirtualMachineAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}})
		},
		"Budget": func(name string) field.ErrorList {
			return ValidateBudget(&hypersdk.Budget{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}})
		},
	}
	onName := func(errs field.ErrorList) bool {
		return slices.ContainsFunc(errs, func(e *field.Error) bool { return e.Field == "metadata.name" })
	}
	for kind, v := range validate {
		if errs := v(strings.Repeat("a", 63)); onName(errs) {
			t.Errorf("%s: a name of 63 characters refused: %v", kind, errs)
		}
		if errs := v(strings.Repeat("a", 64)); !onName(errs) {
			t.Errorf("%s: a name of 64 characters taken: %v", kind, errs)
		}
	}
}
