package kubevirt

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// USB hot-plug. KubeVirt cannot add a host device to a running instance
// (hostDevices change only at a restart), but it can take USB devices a
// client lends over usbredir while the VM runs (clientPassthrough). So a
// hot-plugged device is lent by the USB agent on the instance's node: the
// executor lists the wanted devices on the instance, the agent redirects
// each one and reports back, and the device goes when it is unlisted or the
// instance ends.
const (
	// USBHotplugAnnotation on a VMI lists the USB devices hot-plugged into
	// it, as JSON filters; HyperSDK's executor writes it.
	USBHotplugAnnotation = "hypersdk.io/usb-hotplug"
	// USBHotplugStatusAnnotation on a VMI is the node agent's report on
	// each hot-plugged device, by name, as JSON.
	USBHotplugStatusAnnotation = "hypersdk.io/usb-hotplug-status"
)

// USBHotplugPhase is where one hot-plugged device is.
type USBHotplugPhase string

// The phases a node agent reports.
const (
	// USBAttached: the device is lent to the guest.
	USBAttached USBHotplugPhase = "Attached"
	// USBFailed: the agent cannot lend the device; the message says why.
	USBFailed USBHotplugPhase = "Failed"
)

// USBHotplugState is the agent's report on one device.
type USBHotplugState struct {
	Phase   USBHotplugPhase `json:"phase"`
	Message string          `json:"message,omitempty"`
}

// HotpluggedUSB reads the devices listed for hot-plug on a VMI; none when
// the annotation is missing or unreadable.
func HotpluggedUSB(annotations map[string]string) []hypersdk.USBDeviceRequest {
	var filters []usbFilter
	if err := json.Unmarshal([]byte(annotations[USBHotplugAnnotation]), &filters); err != nil {
		return nil
	}
	devices := make([]hypersdk.USBDeviceRequest, len(filters))
	for i, f := range filters {
		devices[i] = hypersdk.USBDeviceRequest(f)
	}
	return devices
}

// HotplugStatus reads the agent's report from a VMI's annotations.
func HotplugStatus(annotations map[string]string) map[string]USBHotplugState {
	var status map[string]USBHotplugState
	if err := json.Unmarshal([]byte(annotations[USBHotplugStatusAnnotation]), &status); err != nil {
		return nil
	}
	return status
}

// HotplugPatch is the merge patch that sets a VMI's hot-plug list to
// devices, on the condition that the VMI is still at resourceVersion, so
// two writers never lose each other's change.
func HotplugPatch(resourceVersion string, devices []hypersdk.USBDeviceRequest) ([]byte, error) {
	var value interface{} // an empty list removes the annotation
	if len(devices) > 0 {
		filters := make([]usbFilter, len(devices))
		for i, d := range devices {
			filters[i] = usbFilter(d)
		}
		raw, err := json.Marshal(filters)
		if err != nil {
			return nil, err
		}
		value = string(raw)
	}
	return json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{
		"resourceVersion": resourceVersion,
		"annotations":     map[string]interface{}{USBHotplugAnnotation: value},
	}})
}

// WithStatus adds to patch (HotplugPatch's) the VMI's hot-plug report set
// to status.
func WithStatus(patch []byte, status map[string]USBHotplugState) ([]byte, error) {
	var p map[string]map[string]interface{}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	value, err := statusValue(status)
	if err != nil {
		return nil, err
	}
	p["metadata"]["annotations"].(map[string]interface{})[USBHotplugStatusAnnotation] = value
	return json.Marshal(p)
}

// HotplugStatusPatch is the merge patch that sets a VMI's hot-plug report.
func HotplugStatusPatch(status map[string]USBHotplugState) ([]byte, error) {
	value, err := statusValue(status)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{
		"annotations": map[string]interface{}{USBHotplugStatusAnnotation: value},
	}})
}

// statusValue is the report annotation's value in a merge patch: nil, which
// removes it, for an empty report.
func statusValue(status map[string]USBHotplugState) (interface{}, error) {
	if len(status) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(status)
	if err != nil {
		return nil, err
	}
	return string(raw), nil
}

// NodeHasUSB says whether a node's NFD labels show a device d matches: its
// vendor and product, and its class and serial when the filter has them.
func NodeHasUSB(labels map[string]string, d hypersdk.USBDeviceRequest) bool {
	for label := range labels {
		rest, ok := strings.CutPrefix(label, nfdUSBLabelPrefix)
		if !ok {
			continue
		}
		// The serial is last and may itself hold '_'.
		fields := strings.SplitN(strings.TrimSuffix(rest, ".present"), "_", 4)
		if len(fields) < 3 || fields[1] != d.Vendor || fields[2] != d.Product {
			continue
		}
		if d.Class != "" && fields[0] != d.Class {
			continue
		}
		if d.Serial != "" && (len(fields) < 4 || fields[3] != d.Serial) {
			continue
		}
		return true
	}
	return false
}

// USBID is vendor:product, as lsusb and usbredirect write a device.
func USBID(d hypersdk.USBDeviceRequest) string { return fmt.Sprintf("%s:%s", d.Vendor, d.Product) }
