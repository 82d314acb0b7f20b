package e2e

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestUSBPassthrough: a VM asking for a host USB device by vendor, product
// and class lands on the one node whose KubeVirt resource and NFD label
// show such a device, and its guest sees it; a second VM asking for the only
// stick stays unscheduled; a filter no permitted device matches, or an ID
// that is not hexadecimal, is refused with the field named.
func TestUSBPassthrough(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	addNode(t, fleet.Node{Name: "node-usb", Zone: fleet.Zones[2], Type: fleet.USBEdge, Price: fleet.USBEdge.Price})
	ns := env.Namespace(t, "usb-host")
	vms := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns)
	stick := fleet.USBStick
	filter := []v1alpha1.USBDeviceRequest{{Name: "stick", Vendor: stick.Vendor, Product: stick.Product, Class: stick.Class}}
	newVM := func(name string, usb []v1alpha1.USBDeviceRequest) error {
		_, err := vms.Create(ctx, &v1alpha1.VirtualMachine{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.VirtualMachineSpec{CPUs: 1, Memory: ptr.To(resourceQuantity("1Gi")),
				Image: "quay.io/containerdisks/fedora:41", USBDevices: usb},
		}, metav1.CreateOptions{})
		return err
	}

	if err := newVM("stick", filter); err != nil {
		t.Fatal(err)
	}
	vmi := runningVMI(t, ns, "stick", "")
	if vmi.Status.NodeName != "node-usb" {
		t.Fatalf("the USB VM runs on %s, not on the node with the stick", vmi.Status.NodeName)
	}
	kvm, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "stick", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (kvv1.HostDevice{Name: "usb-stick", DeviceName: stick.Resource}); !slices.Contains(kvm.Spec.Template.Spec.Domain.Devices.HostDevices, want) {
		t.Errorf("KubeVirt VM hostDevices %+v, want %+v", kvm.Spec.Template.Spec.Domain.Devices.HostDevices, want)
	}
	view, err := vms.Get(ctx, "stick", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(view.Spec.USBDevices, filter) {
		t.Errorf("the view reads back %+v, want %+v", view.Spec.USBDevices, filter)
	}
	cfg := env.ConfigFor(env.ServiceAccountToken(t, ns, "operator", "edit"))
	if out := guestLsusb(t, cfg, ns, "stick"); !strings.Contains(out, fmt.Sprintf("ID %s:%s", stick.Vendor, stick.Product)) {
		t.Errorf("the guest's lsusb does not show the stick:\n%s", out)
	}

	// The node's only stick is taken: a second VM cannot be placed.
	if err := newVM("stick-2", filter); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "stick-2 unschedulable", func(ctx context.Context) (bool, error) {
		for _, p := range launcherPods(t, ns, "stick-2") {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
					return p.Spec.NodeName == "", nil
				}
			}
		}
		return false, nil
	})

	err = newVM("nothing", []v1alpha1.USBDeviceRequest{{Name: "x", Vendor: "dead", Product: "beef"}})
	assertInvalid(t, err, "spec.usbDevices[0]")
	err = newVM("bad-id", []v1alpha1.USBDeviceRequest{{Name: "x", Vendor: "ZZZZ", Product: "beef"}})
	assertInvalid(t, err, "spec.usbDevices[0].vendor")
}
