package kubevirt

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/apistatus"
)

// USB host passthrough in KubeVirt: the KubeVirt CR's
// permittedHostDevices.usb names a resource for each vendor:product
// selector, virt-handler advertises free matching devices as that resource
// on each node, and a VM asks for one with a hostDevices entry. A view's
// USB filters are kept on the template (KubeVirt's hostDevices name only
// the resource); the class and serial filters become a node selector on
// node-feature-discovery's USB labels.
const (
	// USBDevicesAnnotation on a VM's template holds the view's USB filters
	// as JSON.
	USBDevicesAnnotation = "hypersdk.io/usb-devices"
	// usbHostDevicePrefix starts the names of the hostDevices a view owns.
	usbHostDevicePrefix = "usb-"
	// nfdUSBLabelPrefix starts NFD's labels of USB devices:
	// feature.node.kubernetes.io/usb-<class>_<vendor>_<device>[_<serial>].present.
	nfdUSBLabelPrefix = "feature.node.kubernetes.io/usb-"
)

// NFDUSBLabel is the node label NFD sets for a device of this class,
// vendor, product and (when NFD is configured to add it) serial.
func NFDUSBLabel(class, vendor, product, serial string) string {
	fields := []string{class, vendor, product}
	if serial != "" {
		fields = append(fields, serial)
	}
	return nfdUSBLabelPrefix + strings.Join(fields, "_") + ".present"
}

// USBResource is the resource KubeVirt advertises devices of
// vendor:product as, from the KubeVirt CRs' permitted USB host devices;
// false when none permits it.
func USBResource(kvs []kvv1.KubeVirt, vendor, product string) (string, bool) {
	for _, kv := range kvs {
		p := kv.Spec.Configuration.PermittedHostDevices
		if p == nil {
			continue
		}
		for _, u := range p.USB {
			for _, s := range u.Selectors {
				if strings.EqualFold(s.Vendor, vendor) && strings.EqualFold(s.Product, product) {
					return u.ResourceName, true
				}
			}
		}
	}
	return "", false
}

// USBHostDeviceName is the hostDevices entry of the view's USB device name.
func USBHostDeviceName(name string) string { return usbHostDevicePrefix + name }

// resolveUSB finds the resource of each requested device, listing the
// KubeVirt CRs only when there is something to resolve. A filter no
// permitted device matches is a 422 naming it.
func resolveUSB(ctx context.Context, client Clientset, view *hypersdk.VirtualMachine) ([]string, error) {
	devices := view.Spec.USBDevices
	if len(devices) == 0 {
		return nil, nil
	}
	list, err := client.KubevirtV1().KubeVirts(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, apistatus.Wrapf(err, "reading KubeVirt's permitted USB host devices")
	}
	resources := make([]string, len(devices))
	var errs field.ErrorList
	for i, d := range devices {
		r, ok := USBResource(list.Items, d.Vendor, d.Product)
		if !ok {
			errs = append(errs, field.NotFound(field.NewPath("spec", "usbDevices").Index(i),
				fmt.Sprintf("%s:%s (no permittedHostDevices.usb selector of the KubeVirt CR matches it)", d.Vendor, d.Product)))
		}
		resources[i] = r
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(hypersdk.Kind("VirtualMachine"), view.Name, errs)
	}
	return resources, nil
}

// applyUSB writes a view's USB devices into vm, resources[i] being the
// resource of devices[i]: a hostDevices entry each, the filters on the
// template, and the NFD labels their class and serial need as a node
// selector. Host devices and labels the view does not own stay: the view
// owns those its annotation lists, not every one named like them (a VM
// made in KubeVirt may pass a USB device through itself).
func applyUSB(vm *kvv1.VirtualMachine, devices []hypersdk.USBDeviceRequest, resources []string) error {
	t := vm.Spec.Template
	d := &t.Spec.Domain.Devices
	owned := USBDevicesOf(t.ObjectMeta.Annotations)
	d.HostDevices = slices.DeleteFunc(d.HostDevices, func(h kvv1.HostDevice) bool {
		return slices.ContainsFunc(owned, func(u hypersdk.USBDeviceRequest) bool { return h.Name == USBHostDeviceName(u.Name) })
	})
	for _, u := range owned {
		if u.Class != "" {
			delete(t.Spec.NodeSelector, NFDUSBLabel(u.Class, u.Vendor, u.Product, u.Serial))
		}
	}
	if len(devices) == 0 {
		delete(t.ObjectMeta.Annotations, USBDevicesAnnotation)
		return nil
	}
	for i, u := range devices {
		if slices.ContainsFunc(d.HostDevices, func(h kvv1.HostDevice) bool { return h.Name == USBHostDeviceName(u.Name) }) {
			return apierrors.NewInvalid(hypersdk.Kind("VirtualMachine"), vm.Name, field.ErrorList{field.Duplicate(
				field.NewPath("spec", "usbDevices").Index(i).Child("name"),
				fmt.Sprintf("%s (the KubeVirt VM has a host device %s of its own)", u.Name, USBHostDeviceName(u.Name)))})
		}
		d.HostDevices = append(d.HostDevices, kvv1.HostDevice{Name: USBHostDeviceName(u.Name), DeviceName: resources[i]})
		if u.Class != "" {
			if t.Spec.NodeSelector == nil {
				t.Spec.NodeSelector = map[string]string{}
			}
			t.Spec.NodeSelector[NFDUSBLabel(u.Class, u.Vendor, u.Product, u.Serial)] = "true"
		}
	}
	filters := make([]usbFilter, len(devices))
	for i, u := range devices {
		filters[i] = usbFilter(u)
	}
	raw, err := json.Marshal(filters)
	if err != nil {
		return fmt.Errorf("encoding USB devices: %w", err)
	}
	if t.ObjectMeta.Annotations == nil {
		t.ObjectMeta.Annotations = map[string]string{}
	}
	t.ObjectMeta.Annotations[USBDevicesAnnotation] = string(raw)
	return nil
}

// USBDevicesOf reads a template's USB filters; a template without the
// annotation (or with one HyperSDK cannot read) has none in the view.
func USBDevicesOf(annotations map[string]string) []hypersdk.USBDeviceRequest {
	raw := annotations[USBDevicesAnnotation]
	if raw == "" {
		return nil
	}
	var filters []usbFilter
	if err := json.Unmarshal([]byte(raw), &filters); err != nil {
		return nil
	}
	devices := make([]hypersdk.USBDeviceRequest, len(filters))
	for i, f := range filters {
		devices[i] = hypersdk.USBDeviceRequest(f)
	}
	return devices
}

// usbFilter is a USB filter as the annotation stores it, in the API's
// field names.
type usbFilter struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
	Class   string `json:"class,omitempty"`
	Serial  string `json:"serial,omitempty"`
}
