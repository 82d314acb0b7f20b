// Package kubevirt is HyperSDK's one adapter to KubeVirt: it builds the
// hypersdk.io VirtualMachine view from KubeVirt objects, writes view changes
// back to them, and owns the KubeVirt clients and informers. Nothing else in
// HyperSDK imports KubeVirt client packages.
package kubevirt

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// RootDiskName is the volume and disk name HyperSDK gives a VM's boot disk.
const RootDiskName = "rootdisk"

// View joins a KubeVirt VirtualMachine with its VirtualMachineInstance (nil when
// the VM does not run) into the hypersdk.io view. The result shares no memory
// with its inputs. Its ResourceVersion is left empty: the view cache versions it.
func View(vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance) *hypersdk.VirtualMachine {
	out := &hypersdk.VirtualMachine{}
	meta := vm.ObjectMeta.DeepCopy()
	annotations, managed := splitManagedFields(meta.Annotations)
	out.ObjectMeta = metav1.ObjectMeta{
		Name:              meta.Name,
		Namespace:         meta.Namespace,
		UID:               meta.UID,
		Generation:        meta.Generation,
		CreationTimestamp: meta.CreationTimestamp,
		DeletionTimestamp: meta.DeletionTimestamp,
		Labels:            meta.Labels,
		Annotations:       annotations,
		ManagedFields:     managed,
		OwnerReferences:   meta.OwnerReferences,
		Finalizers:        meta.Finalizers,
	}
	created := meta.CreationTimestamp
	if vm.Spec.Template != nil {
		out.Spec = specFromTemplate(&vm.Spec.Template.Spec, vm.Spec.DataVolumeTemplates)
		out.Spec.USBDevices = USBDevicesOf(vm.Spec.Template.ObjectMeta.Annotations)
	}
	running := WantsRunning(vm, vmi)
	out.Spec.Running = &running
	out.Status = statusFrom(vm, vmi, running)
	out.Status.CreatedAt = &created
	return out
}

// WantsRunning reports whether the VM's run strategy asks for a running
// instance. Manual follows whatever runs now.
func WantsRunning(vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance) bool {
	if vm.Spec.RunStrategy != nil {
		switch *vm.Spec.RunStrategy {
		case kvv1.RunStrategyAlways, kvv1.RunStrategyRerunOnFailure, kvv1.RunStrategyOnce:
			return true
		case kvv1.RunStrategyManual:
			return vmi != nil && vmi.DeletionTimestamp == nil
		default:
			return false
		}
	}
	return vm.Spec.Running != nil && *vm.Spec.Running
}

// RestartsWhenDeleted reports whether KubeVirt starts a VM again when its
// instance is deleted: runStrategy Always (or the legacy running: true).
// Under Manual, Once and RerunOnFailure a deleted instance stays gone, so a
// restart made by deleting it would leave the VM stopped.
func RestartsWhenDeleted(vm *kvv1.VirtualMachine) bool {
	if vm.Spec.RunStrategy != nil {
		return *vm.Spec.RunStrategy == kvv1.RunStrategyAlways
	}
	return vm.Spec.Running != nil && *vm.Spec.Running
}

// RunStrategyOf names how the VM runs, for messages.
func RunStrategyOf(vm *kvv1.VirtualMachine) string {
	switch {
	case vm.Spec.RunStrategy != nil:
		return string(*vm.Spec.RunStrategy)
	case vm.Spec.Running != nil && *vm.Spec.Running:
		return "running: true"
	}
	return "running: false"
}

func specFromTemplate(t *kvv1.VirtualMachineInstanceSpec, dvTemplates []kvv1.DataVolumeTemplateSpec) hypersdk.VirtualMachineSpec {
	var spec hypersdk.VirtualMachineSpec
	spec.CPUs = CPUCount(t.Domain.CPU)
	if m := GuestMemory(t); m != nil {
		spec.Memory = m
	}
	counts := map[string]int32{}
	for _, gpu := range t.Domain.Devices.GPUs {
		counts[gpu.DeviceName]++
	}
	for name, n := range counts {
		spec.GPUs = append(spec.GPUs, hypersdk.GPURequest{DeviceName: name, Count: n})
	}
	sort.Slice(spec.GPUs, func(i, j int) bool { return spec.GPUs[i].DeviceName < spec.GPUs[j].DeviceName })
	spec.USBRedirection = t.Domain.Devices.ClientPassthrough != nil
	spec.Image, spec.Source = rootDisk(t, dvTemplates)
	return spec
}

// rootVolume is the index of a template's root disk volume: the one named
// rootdisk, else the only volume when it is a disk; -1 when there is none. Reads and writes
// of the view's root disk both go through it, so that a write lands on
// the volume the view showed.
func rootVolume(t *kvv1.VirtualMachineInstanceSpec) int {
	for i := range t.Volumes {
		if t.Volumes[i].Name == RootDiskName {
			return i
		}
	}
	if len(t.Volumes) == 1 {
		// A lone disk, not a lone cloud-init or config volume, which a
		// new image must not replace.
		if v := t.Volumes[0]; v.ContainerDisk != nil || v.PersistentVolumeClaim != nil || v.DataVolume != nil {
			return 0
		}
	}
	return -1
}

// rootDisk is the view of a template's root disk: a container disk image,
// or a source (a claim, a DataVolume, or a blank disk the VM's own
// DataVolume template makes, whatever that template is called).
func rootDisk(t *kvv1.VirtualMachineInstanceSpec, dvTemplates []kvv1.DataVolumeTemplateSpec) (string, *hypersdk.VirtualMachineSource) {
	i := rootVolume(t)
	if i < 0 {
		return "", nil
	}
	v := t.Volumes[i]
	switch {
	case v.ContainerDisk != nil:
		return v.ContainerDisk.Image, nil
	case v.PersistentVolumeClaim != nil:
		return "", &hypersdk.VirtualMachineSource{PersistentVolumeClaim: v.PersistentVolumeClaim.ClaimName}
	case v.DataVolume != nil:
		if blank := blankDisk(v.DataVolume.Name, dvTemplates); blank != nil {
			return "", &hypersdk.VirtualMachineSource{Blank: blank}
		}
		return "", &hypersdk.VirtualMachineSource{DataVolume: v.DataVolume.Name}
	}
	return "", nil
}

// CPUCount is the number of vCPUs a KubeVirt CPU topology gives the guest:
// sockets x cores x threads, each defaulting to 1.
func CPUCount(cpu *kvv1.CPU) int32 {
	if cpu == nil {
		return 1
	}
	n := int32(1)
	for _, v := range []uint32{cpu.Sockets, cpu.Cores, cpu.Threads} {
		if v > 0 {
			n *= int32(v)
		}
	}
	return n
}

// SetCPUCount gives the topology n vCPUs. Sockets are the unit KubeVirt
// hotplugs, so the count goes there and the cores and threads per socket
// stay, when n is a multiple of them; otherwise it becomes n sockets of
// one core and one thread.
func SetCPUCount(dom *kvv1.DomainSpec, n uint32) {
	if dom.CPU == nil {
		dom.CPU = &kvv1.CPU{}
	}
	c := dom.CPU
	per := max(c.Cores, 1) * max(c.Threads, 1)
	if n%per != 0 {
		c.Cores, c.Threads, per = 1, 1, 1
	}
	c.Sockets = n / per
}

// GuestMemory is the memory the guest sees: domain.memory.guest, else the
// memory request, as KubeVirt defaults it.
func GuestMemory(t *kvv1.VirtualMachineInstanceSpec) *resource.Quantity {
	if t.Domain.Memory != nil && t.Domain.Memory.Guest != nil {
		m := t.Domain.Memory.Guest.DeepCopy()
		return &m
	}
	if m, ok := t.Domain.Resources.Requests[corev1.ResourceMemory]; ok {
		m = m.DeepCopy()
		return &m
	}
	return nil
}

func statusFrom(vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance, running bool) hypersdk.VirtualMachineStatus {
	var st hypersdk.VirtualMachineStatus
	st.Phase = Phase(vm, vmi, running)
	if vmi == nil {
		return st
	}
	st.NodeName = vmi.Status.NodeName
	for _, iface := range vmi.Status.Interfaces {
		ips := iface.IPs
		if len(ips) == 0 && iface.IP != "" {
			ips = []string{iface.IP}
		}
		st.IPs = append(st.IPs, ips...)
	}
	if vmi.Status.Phase == kvv1.Running {
		if topo := vmi.Status.CurrentCPUTopology; topo != nil {
			st.AllocatedCPUs = CPUCount(&kvv1.CPU{Sockets: topo.Sockets, Cores: topo.Cores, Threads: topo.Threads})
		} else {
			st.AllocatedCPUs = CPUCount(vmi.Spec.Domain.CPU)
		}
		if vmi.Status.Memory != nil && vmi.Status.Memory.GuestCurrent != nil {
			m := vmi.Status.Memory.GuestCurrent.DeepCopy()
			st.AllocatedMemory = &m
		} else {
			st.AllocatedMemory = GuestMemory(&vmi.Spec)
		}
	}
	for _, c := range vmi.Status.Conditions {
		reason := c.Reason
		if reason == "" {
			// metav1.Condition requires a reason; KubeVirt often leaves it empty.
			reason = "AsReportedByKubeVirt"
		}
		st.Conditions = append(st.Conditions, metav1.Condition{
			Type:               string(c.Type),
			Status:             metav1.ConditionStatus(c.Status),
			LastTransitionTime: c.LastTransitionTime,
			Reason:             reason,
			Message:            c.Message,
		})
	}
	return st
}

// Phase summarises a VM and its instance in one word.
func Phase(vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance, running bool) hypersdk.VirtualMachinePhase {
	if vmi == nil {
		if running && vm.DeletionTimestamp == nil {
			return hypersdk.VirtualMachineStarting
		}
		return hypersdk.VirtualMachineStopped
	}
	if vmi.DeletionTimestamp != nil || vm.DeletionTimestamp != nil {
		return hypersdk.VirtualMachineStopping
	}
	switch vmi.Status.Phase {
	case kvv1.VmPhaseUnset, kvv1.Pending, kvv1.Scheduling:
		return hypersdk.VirtualMachineScheduling
	case kvv1.Scheduled:
		return hypersdk.VirtualMachineStarting
	case kvv1.Running:
		if ms := vmi.Status.MigrationState; ms != nil && !ms.Completed && !ms.Failed {
			return hypersdk.VirtualMachineMigrating
		}
		return hypersdk.VirtualMachineRunning
	case kvv1.Succeeded:
		return hypersdk.VirtualMachineStopped
	case kvv1.Failed:
		return hypersdk.VirtualMachineFailed
	default:
		return hypersdk.VirtualMachineUnknown
	}
}

// NewVirtualMachine builds the KubeVirt VirtualMachine for a view being created.
func NewVirtualMachine(view *hypersdk.VirtualMachine) (*kvv1.VirtualMachine, error) {
	annotations, err := joinManagedFields(view.Annotations, view.ManagedFields)
	if err != nil {
		return nil, err
	}
	vm := &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{
			Name:            view.Name,
			GenerateName:    view.GenerateName,
			Namespace:       view.Namespace,
			Labels:          view.Labels,
			Annotations:     annotations,
			OwnerReferences: view.OwnerReferences,
			Finalizers:      userFinalizers(view.Finalizers),
		},
		Spec: kvv1.VirtualMachineSpec{
			Template: &kvv1.VirtualMachineInstanceTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kubevirt.io/domain": view.Name}},
				Spec: kvv1.VirtualMachineInstanceSpec{
					Domain: kvv1.DomainSpec{
						Devices: kvv1.Devices{
							Disks: []kvv1.Disk{{
								Name:       RootDiskName,
								DiskDevice: kvv1.DiskDevice{Disk: &kvv1.DiskTarget{Bus: kvv1.DiskBusVirtio}},
							}},
						},
					},
				},
			},
		},
	}
	if err := ApplySpec(vm, nil, &view.Spec); err != nil {
		return nil, err
	}
	return vm, nil
}

// ApplySpec writes a view's spec into a KubeVirt VM whose instance is vmi
// (nil when there is none), changing only what the view describes and
// differs: CPU count, guest memory, GPUs, USB redirection, run strategy
// and root disk.
func ApplySpec(vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance, spec *hypersdk.VirtualMachineSpec) error {
	if vm.Spec.Template == nil {
		return fmt.Errorf("KubeVirt VirtualMachine %s/%s has no template", vm.Namespace, vm.Name)
	}
	t := &vm.Spec.Template.Spec
	if spec.CPUs > 0 && CPUCount(t.Domain.CPU) != spec.CPUs {
		SetCPUCount(&t.Domain, uint32(spec.CPUs))
	}
	if spec.Memory != nil {
		if t.Domain.Memory == nil {
			t.Domain.Memory = &kvv1.Memory{}
		}
		m := spec.Memory.DeepCopy()
		t.Domain.Memory.Guest = &m
		if req, ok := t.Domain.Resources.Requests[corev1.ResourceMemory]; ok && req.Cmp(m) != 0 {
			t.Domain.Resources.Requests[corev1.ResourceMemory] = m.DeepCopy()
		}
	}
	if !sameGPUs(t.Domain.Devices.GPUs, spec.GPUs) {
		// Rebuilt only when the counts change: the view does not describe
		// the per-device fields (tags, virtual GPU options) it would drop.
		var gpus []kvv1.GPU
		for _, g := range spec.GPUs {
			for i := int32(0); i < g.Count; i++ {
				gpus = append(gpus, kvv1.GPU{Name: fmt.Sprintf("gpu%d", len(gpus)), DeviceName: g.DeviceName})
			}
		}
		t.Domain.Devices.GPUs = gpus
	}
	switch {
	case !spec.USBRedirection:
		t.Domain.Devices.ClientPassthrough = nil
	case t.Domain.Devices.ClientPassthrough == nil:
		t.Domain.Devices.ClientPassthrough = &kvv1.ClientPassthroughDevices{}
	}
	// The run strategy is rewritten only when the view asks for another
	// state than the one it showed: a label change on a Manual or
	// RerunOnFailure VM keeps its strategy (and starts nothing).
	unset := vm.Spec.RunStrategy == nil && vm.Spec.Running == nil
	if spec.Running != nil && (unset || *spec.Running != WantsRunning(vm, vmi)) {
		strategy := kvv1.RunStrategyHalted
		if *spec.Running {
			strategy = kvv1.RunStrategyAlways
		}
		vm.Spec.Running = nil
		vm.Spec.RunStrategy = &strategy
	}
	applyRootDisk(vm, spec)
	return nil
}

// sameGPUs reports whether a template's GPUs are the requests' count of
// each device.
func sameGPUs(have []kvv1.GPU, want []hypersdk.GPURequest) bool {
	counts := map[string]int32{}
	for _, g := range have {
		counts[g.DeviceName]++
	}
	for _, r := range want {
		counts[r.DeviceName] -= r.Count
	}
	for _, n := range counts {
		if n != 0 {
			return false
		}
	}
	return true
}

// blankDisk is the blank disk a VM's template makes for the DataVolume
// name, nil when the template makes none or makes it from a source.
func blankDisk(name string, templates []kvv1.DataVolumeTemplateSpec) *hypersdk.BlankDisk {
	for _, t := range templates {
		if t.Name != name || t.Spec.Source == nil || t.Spec.Source.Blank == nil || t.Spec.Storage == nil {
			continue
		}
		size := t.Spec.Storage.Resources.Requests[corev1.ResourceStorage]
		return &hypersdk.BlankDisk{Size: size, StorageClassName: ptr.Deref(t.Spec.Storage.StorageClassName, "")}
	}
	return nil
}

// blankDiskTemplate is the DataVolume template of a VM's blank root disk.
func blankDiskTemplate(name string, blank *hypersdk.BlankDisk) kvv1.DataVolumeTemplateSpec {
	// ReadWriteOnce: CDI fills access modes in only from a StorageProfile
	// that has them, and a root disk needs one writer.
	storage := &cdiv1.StorageSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: blank.Size.DeepCopy()}}}
	if blank.StorageClassName != "" {
		storage.StorageClassName = ptr.To(blank.StorageClassName)
	}
	return kvv1.DataVolumeTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}, Storage: storage},
	}
}

// applyRootDisk writes the view's root disk into vm when it differs from
// the one the view shows. An unchanged disk is left exactly as it is: after
// a restore or a clone its blank DataVolume template has another name than
// <vm>-rootdisk, and a VM made outside HyperSDK may boot from a lone volume
// of any name; writing them anew would boot the VM from a new empty disk
// or attach its disk twice.
func applyRootDisk(vm *kvv1.VirtualMachine, spec *hypersdk.VirtualMachineSpec) {
	t := &vm.Spec.Template.Spec
	if image, source := rootDisk(t, vm.Spec.DataVolumeTemplates); image == spec.Image && apiequality.Semantic.DeepEqual(source, spec.Source) {
		return
	}
	var src kvv1.VolumeSource
	switch {
	case spec.Image != "":
		src.ContainerDisk = &kvv1.ContainerDiskSource{Image: spec.Image}
	case spec.Source != nil && spec.Source.PersistentVolumeClaim != "":
		src.PersistentVolumeClaim = &kvv1.PersistentVolumeClaimVolumeSource{
			PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: spec.Source.PersistentVolumeClaim},
		}
	case spec.Source != nil && spec.Source.DataVolume != "":
		src.DataVolume = &kvv1.DataVolumeSource{Name: spec.Source.DataVolume}
	case spec.Source != nil && spec.Source.Blank != nil:
		name := vm.Name + "-" + RootDiskName
		src.DataVolume = &kvv1.DataVolumeSource{Name: name}
		dv := blankDiskTemplate(name, spec.Source.Blank)
		replaced := false
		for i := range vm.Spec.DataVolumeTemplates {
			if vm.Spec.DataVolumeTemplates[i].Name == name {
				vm.Spec.DataVolumeTemplates[i], replaced = dv, true
			}
		}
		if !replaced {
			vm.Spec.DataVolumeTemplates = append(vm.Spec.DataVolumeTemplates, dv)
		}
	default:
		return
	}
	if i := rootVolume(t); i >= 0 {
		t.Volumes[i].VolumeSource = src
		return
	}
	t.Volumes = append(t.Volumes, kvv1.Volume{Name: RootDiskName, VolumeSource: src})
}
