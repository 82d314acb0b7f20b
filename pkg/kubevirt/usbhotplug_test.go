package kubevirt

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// applyAnnotations applies a merge patch's annotations as kube-apiserver
// would: a null value removes the key.
func applyAnnotations(t *testing.T, annotations map[string]string, patch []byte) (map[string]string, string) {
	t.Helper()
	var p struct {
		Metadata struct {
			ResourceVersion string             `json:"resourceVersion"`
			Annotations     map[string]*string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range annotations {
		out[k] = v
	}
	for k, v := range p.Metadata.Annotations {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out, p.Metadata.ResourceVersion
}

// TestHotplugAnnotationsRoundTrip: what the executor and the agent write is
// what they read back, the executor's write is conditional on the VMI's
// version, and empty lists remove the annotations.
func TestHotplugAnnotationsRoundTrip(t *testing.T) {
	devices := []hypersdk.USBDeviceRequest{{Name: "stick", Vendor: "0781", Product: "5581", Class: "08"},
		{Name: "key", Vendor: "1050", Product: "0407", Class: "03", Serial: "X1"}}
	patch, err := HotplugPatch("42", devices)
	if err != nil {
		t.Fatal(err)
	}
	annotations, rv := applyAnnotations(t, map[string]string{"other": "kept"}, patch)
	if rv != "42" {
		t.Errorf("patch is conditional on resourceVersion %q, want 42", rv)
	}
	if got := HotpluggedUSB(annotations); !reflect.DeepEqual(got, devices) {
		t.Errorf("read back %+v, want %+v", got, devices)
	}
	status := map[string]USBHotplugState{"stick": {Phase: USBAttached}, "key": {Phase: USBFailed, Message: "busy"}}
	sp, err := HotplugStatusPatch(status)
	if err != nil {
		t.Fatal(err)
	}
	annotations, _ = applyAnnotations(t, annotations, sp)
	if got := HotplugStatus(annotations); !reflect.DeepEqual(got, status) {
		t.Errorf("status read back %+v, want %+v", got, status)
	}

	patch, _ = HotplugPatch("43", nil)
	sp, _ = HotplugStatusPatch(nil)
	annotations, _ = applyAnnotations(t, annotations, patch)
	annotations, _ = applyAnnotations(t, annotations, sp)
	if want := map[string]string{"other": "kept"}; !reflect.DeepEqual(annotations, want) {
		t.Errorf("after emptying: %v, want %v", annotations, want)
	}
	if HotpluggedUSB(map[string]string{USBHotplugAnnotation: "{not json"}) != nil {
		t.Error("an unreadable list gave devices")
	}
}

// TestNodeHasUSB matches filters against NFD's USB labels: vendor and
// product always, class and serial when the filter has them.
func TestNodeHasUSB(t *testing.T) {
	labels := map[string]string{
		NFDUSBLabel("08", "0781", "5581", ""):      "true",
		NFDUSBLabel("03", "1050", "0407", "X1"):    "true",
		NFDUSBLabel("03", "1050", "0407", "AB_CD"): "true",
		"feature.node.kubernetes.io/cpu-cpuid.AVX": "true",
	}
	for _, tc := range []struct {
		d    hypersdk.USBDeviceRequest
		want bool
	}{
		{hypersdk.USBDeviceRequest{Vendor: "0781", Product: "5581"}, true},
		{hypersdk.USBDeviceRequest{Vendor: "0781", Product: "5581", Class: "08"}, true},
		{hypersdk.USBDeviceRequest{Vendor: "0781", Product: "5581", Class: "03"}, false},
		{hypersdk.USBDeviceRequest{Vendor: "0781", Product: "5581", Class: "08", Serial: "S"}, false},
		{hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407", Class: "03", Serial: "X1"}, true},
		{hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407", Class: "03", Serial: "X2"}, false},
		{hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407", Class: "03", Serial: "AB_CD"}, true},
		{hypersdk.USBDeviceRequest{Vendor: "1050", Product: "0407", Class: "03", Serial: "AB"}, false},
		{hypersdk.USBDeviceRequest{Vendor: "dead", Product: "beef"}, false},
	} {
		if got := NodeHasUSB(labels, tc.d); got != tc.want {
			t.Errorf("NodeHasUSB(%+v) = %v, want %v", tc.d, got, tc.want)
		}
	}
}
