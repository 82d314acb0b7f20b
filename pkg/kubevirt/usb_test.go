package kubevirt

import (
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

func TestUSBResource(t *testing.T) {
	kvs := []kvv1.KubeVirt{{}, {Spec: kvv1.KubeVirtSpec{Configuration: kvv1.KubeVirtConfiguration{
		PermittedHostDevices: &kvv1.PermittedHostDevices{USB: []kvv1.USBHostDevice{
			{ResourceName: "kubevirt.io/storage", Selectors: []kvv1.USBSelector{{Vendor: "46f4", Product: "0001"}, {Vendor: "0781", Product: "5581"}}},
		}}}}}}
	if r, ok := USBResource(kvs, "0781", "5581"); !ok || r != "kubevirt.io/storage" {
		t.Errorf("0781:5581 -> %q, %v", r, ok)
	}
	if r, ok := USBResource(kvs, "0781", "5582"); ok {
		t.Errorf("0781:5582 matched %q", r)
	}
}

// TestUSBRoundTrip: a view's USB devices become hostDevices, a node
// selector for the class filter and the template annotation, read back as
// the same view; a later write without them removes only what they added,
// and a USB device the VM's author passed through in KubeVirt stays.
func TestUSBRoundTrip(t *testing.T) {
	mem := resource.MustParse("1Gi")
	devices := []hypersdk.USBDeviceRequest{{Name: "stick", Vendor: "0781", Product: "5581", Class: "08"},
		{Name: "key", Vendor: "1050", Product: "0407"}}
	view := &hypersdk.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns"},
		Spec: hypersdk.VirtualMachineSpec{CPUs: 1, Memory: &mem, Image: "img", Running: ptr.To(true), USBDevices: devices}}
	vm, err := NewVirtualMachine(view)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &vm.Spec.Template.Spec
	// A device and a selector the VM's author set in KubeVirt, named as the
	// view's would be: not the view's.
	theirs := kvv1.HostDevice{Name: "usb-storage", DeviceName: "kubevirt.io/storage"}
	theirLabel := "feature.node.kubernetes.io/usb-08_0781_5567.present"
	tmpl.Domain.Devices.HostDevices = []kvv1.HostDevice{{Name: "nic", DeviceName: "intel.com/sriov"}, theirs}
	tmpl.NodeSelector = map[string]string{"zone": "a", theirLabel: "true"}
	if err := applyUSB(vm, devices, []string{"kubevirt.io/sandisk", "kubevirt.io/yubikey"}); err != nil {
		t.Fatal(err)
	}
	want := []kvv1.HostDevice{{Name: "nic", DeviceName: "intel.com/sriov"}, theirs, {Name: "usb-stick", DeviceName: "kubevirt.io/sandisk"},
		{Name: "usb-key", DeviceName: "kubevirt.io/yubikey"}}
	if !reflect.DeepEqual(tmpl.Domain.Devices.HostDevices, want) {
		t.Errorf("hostDevices %+v", tmpl.Domain.Devices.HostDevices)
	}
	if !reflect.DeepEqual(tmpl.NodeSelector, map[string]string{"zone": "a", theirLabel: "true",
		"feature.node.kubernetes.io/usb-08_0781_5581.present": "true"}) {
		t.Errorf("nodeSelector %v", tmpl.NodeSelector)
	}
	if got := View(vm, nil).Spec.USBDevices; !reflect.DeepEqual(got, devices) {
		t.Errorf("view reads back %+v", got)
	}
	if err := applyUSB(vm, nil, nil); err != nil {
		t.Fatal(err)
	}
	// A device of the view named as one of the author's is refused, naming
	// the field.
	clash := []hypersdk.USBDeviceRequest{{Name: "storage", Vendor: "0781", Product: "5581"}}
	if err := applyUSB(vm, clash, []string{"kubevirt.io/sandisk"}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.usbDevices[0].name") {
		t.Errorf("a view device named as the author's host device: %v, want 422 naming spec.usbDevices[0].name", err)
	}
	if !reflect.DeepEqual(tmpl.Domain.Devices.HostDevices, want[:2]) || !reflect.DeepEqual(tmpl.NodeSelector, map[string]string{"zone": "a", theirLabel: "true"}) ||
		View(vm, nil).Spec.USBDevices != nil {
		t.Errorf("after removing the USB devices: %+v, %v, %+v", tmpl.Domain.Devices.HostDevices, tmpl.NodeSelector,
			View(vm, nil).Spec.USBDevices)
	}
}
