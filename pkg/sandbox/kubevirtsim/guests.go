package kubevirtsim

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/consoleapi"
	"github.com/hypersdk/hypersdk/pkg/sandbox/guest"
)

var _ consoleapi.Guests = &Simulator{}

// CorruptDiskAnnotation on a VM's template (and so on its instances) makes
// its simulated guest stop at a kernel panic, as one whose root disk is
// corrupt would: a fault to inject into a snapshot to see that backup
// verification notices. Restoring such a snapshot restores the fault.
const CorruptDiskAnnotation = "sandbox.hypersdk.io/corrupt-disk"

// Guest describes the guest of a running VMI from its live object, so CPU
// and memory hotplug show inside the guest at once.
func (s *Simulator) Guest(namespace, name string) (func() guest.Info, bool) {
	if vmi := s.runningVMI(namespace, name); vmi == nil {
		return nil, false
	}
	return func() guest.Info {
		vmi := s.runningVMI(namespace, name)
		if vmi == nil {
			return guest.Info{Hostname: name}
		}
		cpus := int(kubevirt.CPUCount(vmi.Spec.Domain.CPU))
		if t := vmi.Status.CurrentCPUTopology; t != nil {
			cpus = int(max(t.Sockets, 1) * max(t.Cores, 1) * max(t.Threads, 1))
		}
		var memMiB int64 = 1024
		if vmi.Status.Memory != nil && vmi.Status.Memory.GuestCurrent != nil {
			memMiB = vmi.Status.Memory.GuestCurrent.Value() >> 20
		} else if m := guestMemory(vmi); m != nil {
			memMiB = m.Value() >> 20
		}
		info := guest.Info{Hostname: name, CPUs: cpus, MemoryMiB: memMiB, OS: osOf(vmi), USB: s.usbBus(vmi), HostUSB: hostUSB(vmi)}
		if vmi.Annotations[CorruptDiskAnnotation] == "true" {
			info.Panic = "VFS: Unable to mount root fs on unknown-block(252,1)"
		}
		for _, t := range vmi.Status.PhaseTransitionTimestamps {
			if t.Phase == kvv1.Running {
				info.Boot = t.PhaseTransitionTimestamp.Time
			}
		}
		return info
	}, true
}

func (s *Simulator) runningVMI(namespace, name string) *kvv1.VirtualMachineInstance {
	obj, ok, err := s.vmiInformer.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil
	}
	vmi := obj.(*kvv1.VirtualMachineInstance)
	if vmi.Status.Phase != kvv1.Running || vmi.DeletionTimestamp != nil {
		return nil
	}
	return vmi
}

// osOf guesses the guest OS from its boot image, for the console banner.
func osOf(vmi *kvv1.VirtualMachineInstance) string {
	for _, v := range vmi.Spec.Volumes {
		if v.ContainerDisk == nil {
			continue
		}
		img := strings.ToLower(v.ContainerDisk.Image)
		switch {
		case strings.Contains(img, "ubuntu"):
			return "Ubuntu 24.04 LTS"
		case strings.Contains(img, "centos"):
			return "CentOS Stream 9"
		case strings.Contains(img, "fedora"):
			return "Fedora Linux 41"
		}
	}
	return "Fedora Linux 41"
}

// usbBus is the USB bus of a VMI with client USB redirection
// (spec.domain.devices.clientPassthrough), nil for one without. Buses of
// VMIs that are gone are dropped when a new one is made.
func (s *Simulator) usbBus(vmi *kvv1.VirtualMachineInstance) *guest.USBBus {
	if vmi.Spec.Domain.Devices.ClientPassthrough == nil {
		return nil
	}
	s.usbMu.Lock()
	defer s.usbMu.Unlock()
	if bus, ok := s.usbBuses[vmi.UID]; ok {
		return bus
	}
	live := map[types.UID]bool{}
	for _, obj := range s.vmiInformer.GetStore().List() {
		live[obj.(*kvv1.VirtualMachineInstance).UID] = true
	}
	for uid := range s.usbBuses {
		if !live[uid] {
			delete(s.usbBuses, uid)
		}
	}
	bus := &guest.USBBus{}
	s.usbBuses[vmi.UID] = bus
	return bus
}

// hostUSB are the host USB devices of a VMI: its hostDevices that
// HyperSDK's USB filters (kept in an annotation the template passes on)
// name, as vendor:product, in filter order.
func hostUSB(vmi *kvv1.VirtualMachineInstance) []guest.USBDevice {
	var out []guest.USBDevice
	for _, f := range kubevirt.USBDevicesOf(vmi.Annotations) {
		for _, h := range vmi.Spec.Domain.Devices.HostDevices {
			if h.Name != kubevirt.USBHostDeviceName(f.Name) {
				continue
			}
			vendor, err1 := strconv.ParseUint(f.Vendor, 16, 16)
			product, err2 := strconv.ParseUint(f.Product, 16, 16)
			if err1 == nil && err2 == nil {
				out = append(out, guest.USBDevice{Vendor: uint16(vendor), Product: uint16(product)})
			}
		}
	}
	return out
}
