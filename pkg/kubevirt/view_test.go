package kubevirt

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

func TestCPUCount(t *testing.T) {
	for _, tc := range []struct {
		cpu  *kvv1.CPU
		want int32
	}{
		{nil, 1},
		{&kvv1.CPU{}, 1},
		{&kvv1.CPU{Cores: 4}, 4},
		{&kvv1.CPU{Sockets: 2, Cores: 4, Threads: 2}, 16},
		{&kvv1.CPU{Sockets: 3}, 3},
	} {
		if got := CPUCount(tc.cpu); got != tc.want {
			t.Errorf("CPUCount(%+v) = %d, want %d", tc.cpu, got, tc.want)
		}
	}
}

func TestWantsRunning(t *testing.T) {
	vmi := &kvv1.VirtualMachineInstance{}
	for _, tc := range []struct {
		name     string
		running  *bool
		strategy *kvv1.VirtualMachineRunStrategy
		vmi      *kvv1.VirtualMachineInstance
		want     bool
	}{
		{"running true", ptr.To(true), nil, nil, true},
		{"running false", ptr.To(false), nil, vmi, false},
		{"unset", nil, nil, nil, false},
		{"Always", nil, ptr.To(kvv1.RunStrategyAlways), nil, true},
		{"RerunOnFailure", nil, ptr.To(kvv1.RunStrategyRerunOnFailure), nil, true},
		{"Halted", nil, ptr.To(kvv1.RunStrategyHalted), vmi, false},
		{"Manual with instance", nil, ptr.To(kvv1.RunStrategyManual), vmi, true},
		{"Manual without", nil, ptr.To(kvv1.RunStrategyManual), nil, false},
	} {
		vm := &kvv1.VirtualMachine{Spec: kvv1.VirtualMachineSpec{Running: tc.running, RunStrategy: tc.strategy}}
		if got := WantsRunning(vm, tc.vmi); got != tc.want {
			t.Errorf("%s: WantsRunning = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPhase(t *testing.T) {
	now := metav1.Now()
	vm := &kvv1.VirtualMachine{}
	inPhase := func(p kvv1.VirtualMachineInstancePhase) *kvv1.VirtualMachineInstance {
		return &kvv1.VirtualMachineInstance{Status: kvv1.VirtualMachineInstanceStatus{Phase: p}}
	}
	migrating := inPhase(kvv1.Running)
	migrating.Status.MigrationState = &kvv1.VirtualMachineInstanceMigrationState{}
	migrated := inPhase(kvv1.Running)
	migrated.Status.MigrationState = &kvv1.VirtualMachineInstanceMigrationState{Completed: true}
	stopping := inPhase(kvv1.Running)
	stopping.DeletionTimestamp = &now
	for _, tc := range []struct {
		name    string
		vmi     *kvv1.VirtualMachineInstance
		running bool
		want    hypersdk.VirtualMachinePhase
	}{
		{"halted", nil, false, hypersdk.VirtualMachineStopped},
		{"asked to run", nil, true, hypersdk.VirtualMachineStarting},
		{"pending", inPhase(kvv1.Pending), true, hypersdk.VirtualMachineScheduling},
		{"scheduling", inPhase(kvv1.Scheduling), true, hypersdk.VirtualMachineScheduling},
		{"scheduled", inPhase(kvv1.Scheduled), true, hypersdk.VirtualMachineStarting},
		{"running", inPhase(kvv1.Running), true, hypersdk.VirtualMachineRunning},
		{"migrating", migrating, true, hypersdk.VirtualMachineMigrating},
		{"migrated", migrated, true, hypersdk.VirtualMachineRunning},
		{"stopping", stopping, true, hypersdk.VirtualMachineStopping},
		{"succeeded", inPhase(kvv1.Succeeded), false, hypersdk.VirtualMachineStopped},
		{"failed", inPhase(kvv1.Failed), true, hypersdk.VirtualMachineFailed},
		{"unknown", inPhase(kvv1.Unknown), true, hypersdk.VirtualMachineUnknown},
	} {
		if got := Phase(vm, tc.vmi, tc.running); got != tc.want {
			t.Errorf("%s: Phase = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestNewVirtualMachineRoundTrip: the KubeVirt VM made from a view reads
// back as the same view.
func TestNewVirtualMachineRoundTrip(t *testing.T) {
	mem := resource.MustParse("3Gi")
	for _, spec := range []hypersdk.VirtualMachineSpec{
		{CPUs: 4, Memory: &mem, Image: "img:1", Running: ptr.To(true)},
		{CPUs: 1, Memory: &mem, Running: ptr.To(false), Source: &hypersdk.VirtualMachineSource{PersistentVolumeClaim: "root"},
			GPUs: []hypersdk.GPURequest{{DeviceName: "nvidia.com/A100", Count: 2}, {DeviceName: "nvidia.com/T4", Count: 1}}},
		{CPUs: 2, Memory: &mem, Running: ptr.To(true), Source: &hypersdk.VirtualMachineSource{DataVolume: "dv"}},
		{CPUs: 1, Memory: &mem, Image: "img:1", Running: ptr.To(true), USBRedirection: true},
	} {
		view := &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns"}, Spec: spec}
		vm, err := NewVirtualMachine(view)
		if err != nil {
			t.Fatal(err)
		}
		got := View(vm, nil)
		if !equality.Semantic.DeepEqual(got.Spec, spec) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got.Spec, spec)
		}
	}
}

// TestApplySpecKeepsWhatTheViewDoesNotDescribe: a write through the view
// leaves the rest of a hand-written KubeVirt VM alone.
// TestApplySpecResizesBySockets: a new CPU count through the view keeps the
// cores and threads of a socket when it can (sockets are what KubeVirt
// hotplugs, up to maxSockets), as the resize operation does.
func TestApplySpecResizesBySockets(t *testing.T) {
	for _, tc := range []struct {
		cpus int32
		want kvv1.CPU
	}{
		{6, kvv1.CPU{Sockets: 3, Cores: 2, MaxSockets: 4}},
		{5, kvv1.CPU{Sockets: 5, Cores: 1, Threads: 1, MaxSockets: 4}},
	} {
		vm := &kvv1.VirtualMachine{Spec: kvv1.VirtualMachineSpec{Template: &kvv1.VirtualMachineInstanceTemplateSpec{
			Spec: kvv1.VirtualMachineInstanceSpec{Domain: kvv1.DomainSpec{CPU: &kvv1.CPU{Sockets: 2, Cores: 2, MaxSockets: 4}}}}}}
		if err := ApplySpec(vm, nil, &hypersdk.VirtualMachineSpec{CPUs: tc.cpus}); err != nil {
			t.Fatal(err)
		}
		if got := *vm.Spec.Template.Spec.Domain.CPU; !equality.Semantic.DeepEqual(got, tc.want) {
			t.Errorf("%d vCPUs: %+v, want %+v", tc.cpus, got, tc.want)
		}
	}
}

func TestApplySpecKeepsWhatTheViewDoesNotDescribe(t *testing.T) {
	vm := &kvv1.VirtualMachine{Spec: kvv1.VirtualMachineSpec{
		Running: ptr.To(true),
		Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{
			Domain: kvv1.DomainSpec{
				CPU:       &kvv1.CPU{Cores: 2, Model: "host-passthrough"},
				Resources: kvv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}},
			},
			Volumes: []kvv1.Volume{
				{Name: RootDiskName, VolumeSource: kvv1.VolumeSource{ContainerDisk: &kvv1.ContainerDiskSource{Image: "old"}}},
				{Name: "cloudinit", VolumeSource: kvv1.VolumeSource{CloudInitNoCloud: &kvv1.CloudInitNoCloudSource{UserData: "#cloud-config"}}},
			},
		}},
	}}
	mem := resource.MustParse("4Gi")
	if err := ApplySpec(vm, nil, &hypersdk.VirtualMachineSpec{CPUs: 2, Memory: &mem, Image: "new", Running: ptr.To(false)}); err != nil {
		t.Fatal(err)
	}
	tmpl := vm.Spec.Template.Spec
	if tmpl.Domain.CPU.Cores != 2 || tmpl.Domain.CPU.Model != "host-passthrough" {
		t.Errorf("unchanged CPU count rewrote the topology: %+v", tmpl.Domain.CPU)
	}
	if req := tmpl.Domain.Resources.Requests[corev1.ResourceMemory]; req.String() != "4Gi" || tmpl.Domain.Memory.Guest.String() != "4Gi" {
		t.Errorf("memory request %s guest %s, want 4Gi both", req.String(), tmpl.Domain.Memory.Guest)
	}
	if len(tmpl.Volumes) != 2 || tmpl.Volumes[0].ContainerDisk.Image != "new" || tmpl.Volumes[1].CloudInitNoCloud == nil {
		t.Errorf("volumes = %+v, want the root disk replaced and cloud-init kept", tmpl.Volumes)
	}
	if vm.Spec.Running != nil || *vm.Spec.RunStrategy != kvv1.RunStrategyHalted {
		t.Errorf("running=%v runStrategy=%v, want runStrategy Halted only", vm.Spec.Running, vm.Spec.RunStrategy)
	}
}

func TestViewStatus(t *testing.T) {
	vm := &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", Labels: map[string]string{"a": "b"}},
		Spec: kvv1.VirtualMachineSpec{RunStrategy: ptr.To(kvv1.RunStrategyAlways), Template: &kvv1.VirtualMachineInstanceTemplateSpec{
			Spec: kvv1.VirtualMachineInstanceSpec{Domain: kvv1.DomainSpec{CPU: &kvv1.CPU{Sockets: 2}}},
		}},
	}
	vmi := &kvv1.VirtualMachineInstance{
		Spec: kvv1.VirtualMachineInstanceSpec{Domain: kvv1.DomainSpec{CPU: &kvv1.CPU{Sockets: 2},
			Memory: &kvv1.Memory{Guest: ptr.To(resource.MustParse("2Gi"))}}},
		Status: kvv1.VirtualMachineInstanceStatus{
			Phase:    kvv1.Running,
			NodeName: "n1",
			Interfaces: []kvv1.VirtualMachineInstanceNetworkInterface{
				{IP: "10.0.0.1"}, {IPs: []string{"10.0.1.1", "fd00::1"}},
			},
			CurrentCPUTopology: &kvv1.CPUTopology{Sockets: 3, Cores: 1, Threads: 1},
			Conditions: []kvv1.VirtualMachineInstanceCondition{
				{Type: kvv1.VirtualMachineInstanceIsMigratable, Status: corev1.ConditionFalse, Reason: "DisksNotLiveMigratable"},
				{Type: kvv1.VirtualMachineInstanceReady, Status: corev1.ConditionTrue},
			},
		},
	}
	v := View(vm, vmi)
	st := v.Status
	if st.Phase != hypersdk.VirtualMachineRunning || st.NodeName != "n1" || len(st.IPs) != 3 || st.IPs[2] != "fd00::1" {
		t.Errorf("status = %+v", st)
	}
	if st.AllocatedCPUs != 3 || st.AllocatedMemory.String() != "2Gi" {
		t.Errorf("allocated %d CPUs %v memory, want the hotplugged 3 and 2Gi", st.AllocatedCPUs, st.AllocatedMemory)
	}
	if len(st.Conditions) != 2 || st.Conditions[0].Reason != "DisksNotLiveMigratable" || st.Conditions[1].Reason == "" {
		t.Errorf("conditions = %+v, want KubeVirt's reasons and a placeholder where it gave none", st.Conditions)
	}
	// The view owns its memory.
	v.Labels["a"] = "changed"
	if vm.Labels["a"] != "b" {
		t.Error("View shares labels with the KubeVirt object")
	}
}

// TestBlankDiskRoundTrip: a blank source becomes a DataVolume template with
// a blank source that the root disk uses, and reads back as the same source.
func TestBlankDiskRoundTrip(t *testing.T) {
	vm := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "installer"}, Spec: kvv1.VirtualMachineSpec{
		Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{
			Volumes: []kvv1.Volume{{Name: RootDiskName, VolumeSource: kvv1.VolumeSource{ContainerDisk: &kvv1.ContainerDiskSource{Image: "old"}}}},
		}},
	}}
	blank := &hypersdk.BlankDisk{Size: resource.MustParse("20Gi"), StorageClassName: "fast"}
	for i := 0; i < 2; i++ { // applying twice keeps one template
		if err := ApplySpec(vm, nil, &hypersdk.VirtualMachineSpec{Source: &hypersdk.VirtualMachineSource{Blank: blank}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(vm.Spec.DataVolumeTemplates); n != 1 || vm.Spec.DataVolumeTemplates[0].Spec.Source.Blank == nil {
		t.Fatalf("DataVolume templates %+v, want one with a blank source", vm.Spec.DataVolumeTemplates)
	}
	if dv := vm.Spec.Template.Spec.Volumes[0].DataVolume; dv == nil || dv.Name != "installer-rootdisk" {
		t.Errorf("root disk %+v, want DataVolume installer-rootdisk", vm.Spec.Template.Spec.Volumes[0])
	}
	src := View(vm, nil).Spec.Source
	if src == nil || src.Blank == nil || src.Blank.Size.String() != "20Gi" || src.Blank.StorageClassName != "fast" {
		t.Errorf("view source %+v, want the blank disk back", src)
	}
}

// TestApplySpecKeepsTheRunStrategyItShowed: a write through the view that
// asks for the run state it showed (a label change, say) keeps a Manual or
// RerunOnFailure strategy, so it starts nothing, and keeps what the view
// does not describe of the GPUs; asking for another state sets Always or
// Halted.
func TestApplySpecKeepsTheRunStrategyItShowed(t *testing.T) {
	finished := &kvv1.VirtualMachineInstance{Status: kvv1.VirtualMachineInstanceStatus{Phase: kvv1.Succeeded}}
	for _, tc := range []struct {
		name     string
		strategy kvv1.VirtualMachineRunStrategy
		vmi      *kvv1.VirtualMachineInstance
		running  bool
		want     kvv1.VirtualMachineRunStrategy
	}{
		{"RerunOnFailure, guest shut down, unchanged", kvv1.RunStrategyRerunOnFailure, finished, true, kvv1.RunStrategyRerunOnFailure},
		{"Manual with an instance, unchanged", kvv1.RunStrategyManual, finished, true, kvv1.RunStrategyManual},
		{"Manual without one, unchanged", kvv1.RunStrategyManual, nil, false, kvv1.RunStrategyManual},
		{"Manual with an instance, stopped", kvv1.RunStrategyManual, finished, false, kvv1.RunStrategyHalted},
		{"Halted, started", kvv1.RunStrategyHalted, nil, true, kvv1.RunStrategyAlways},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := &kvv1.VirtualMachine{Spec: kvv1.VirtualMachineSpec{RunStrategy: ptr.To(tc.strategy),
				Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{Domain: kvv1.DomainSpec{
					CPU:     &kvv1.CPU{Sockets: 1},
					Devices: kvv1.Devices{GPUs: []kvv1.GPU{{Name: "a100", DeviceName: "nvidia.com/A100", Tag: "train"}}},
				}}}}}
			spec := specFromTemplate(&vm.Spec.Template.Spec, nil)
			spec.Running = ptr.To(tc.running)
			if err := ApplySpec(vm, tc.vmi, &spec); err != nil {
				t.Fatal(err)
			}
			if got := ptr.Deref(vm.Spec.RunStrategy, ""); got != tc.want {
				t.Errorf("runStrategy %s, want %s", got, tc.want)
			}
			if gpus := vm.Spec.Template.Spec.Domain.Devices.GPUs; len(gpus) != 1 || gpus[0].Tag != "train" || gpus[0].Name != "a100" {
				t.Errorf("GPUs %+v, want the one GPU kept as it was", gpus)
			}
		})
	}
}

// TestUnchangedRootDiskIsLeftAlone: a write through the view (a label, a
// start) keeps the root disk the view showed. After a restore or a clone,
// KubeVirt names the blank root disk's DataVolume template
// restore-<uid>-rootdisk; a VM made outside HyperSDK may boot from a lone
// volume of another name. Writing either anew would boot the VM from a new
// empty disk, or attach its disk a second time.
func TestUnchangedRootDiskIsLeftAlone(t *testing.T) {
	restored := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "installer"}, Spec: kvv1.VirtualMachineSpec{
		DataVolumeTemplates: []kvv1.DataVolumeTemplateSpec{blankDiskTemplate("restore-u1-rootdisk", &hypersdk.BlankDisk{Size: resource.MustParse("20Gi")})},
		Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{
			Volumes: []kvv1.Volume{{Name: RootDiskName, VolumeSource: kvv1.VolumeSource{DataVolume: &kvv1.DataVolumeSource{Name: "restore-u1-rootdisk"}}}},
		}},
	}}
	lone := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "alpine"}, Spec: kvv1.VirtualMachineSpec{
		Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{
			Volumes: []kvv1.Volume{{Name: "datavolumevolume", VolumeSource: kvv1.VolumeSource{DataVolume: &kvv1.DataVolumeSource{Name: "alpine-dv"}}}},
		}},
	}}
	for _, vm := range []*kvv1.VirtualMachine{restored, lone} {
		want := vm.DeepCopy()
		spec := View(vm, nil).Spec
		spec.Running = ptr.To(false)
		if err := ApplySpec(vm, nil, &spec); err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(vm.Spec.Template.Spec.Volumes, want.Spec.Template.Spec.Volumes) ||
			!equality.Semantic.DeepEqual(vm.Spec.DataVolumeTemplates, want.Spec.DataVolumeTemplates) {
			t.Errorf("%s: volumes %+v and DataVolume templates %+v after writing its own view, want them unchanged",
				vm.Name, vm.Spec.Template.Spec.Volumes, vm.Spec.DataVolumeTemplates)
		}
	}

	// A new image on the lone volume goes to that volume, not to a second one.
	disk := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "cd"}, Spec: kvv1.VirtualMachineSpec{
		Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{
			Volumes: []kvv1.Volume{{Name: "boot", VolumeSource: kvv1.VolumeSource{ContainerDisk: &kvv1.ContainerDiskSource{Image: "old"}}}},
		}},
	}}
	spec := View(disk, nil).Spec
	spec.Image = "new"
	if err := ApplySpec(disk, nil, &spec); err != nil {
		t.Fatal(err)
	}
	if v := disk.Spec.Template.Spec.Volumes; len(v) != 1 || v[0].Name != "boot" || v[0].ContainerDisk.Image != "new" {
		t.Errorf("volumes %+v, want volume boot with the new image", v)
	}

	// A lone volume that is not a disk (cloud-init) is kept, and the image
	// gets a root disk of its own.
	initOnly := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "init"}, Spec: kvv1.VirtualMachineSpec{
		Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{
			Volumes: []kvv1.Volume{{Name: "cloudinit", VolumeSource: kvv1.VolumeSource{CloudInitNoCloud: &kvv1.CloudInitNoCloudSource{UserData: "#cloud-config"}}}},
		}},
	}}
	spec = View(initOnly, nil).Spec
	spec.Image = "new"
	if err := ApplySpec(initOnly, nil, &spec); err != nil {
		t.Fatal(err)
	}
	if v := initOnly.Spec.Template.Spec.Volumes; len(v) != 2 || v[0].CloudInitNoCloud == nil || v[1].Name != RootDiskName || v[1].ContainerDisk == nil {
		t.Errorf("volumes %+v, want cloud-init kept and a rootdisk with the image", v)
	}
}
