package operations

import (
	"encoding/json"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

func attachSpec(name, serial string) v1alpha1.VMOperationSpec {
	return v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationAttachUSB, AttachUSB: &v1alpha1.AttachUSBSpec{
		Device: v1alpha1.USBDeviceRequest{Name: name, Vendor: "1050", Product: "0407", Serial: serial}}}
}

// TestCancelledAttachLeavesAnothersDevice: two attaches under one name (both
// admitted before either was listed); the second, waiting for its turn, is
// cancelled, and the first one's device stays on the hot-plug list.
func TestCancelledAttachLeavesAnothersDevice(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	first := h.create("first", "vm", attachSpec("key", "A1"))
	h.until(first, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Progress == 20 })
	second := h.create("second", "vm", attachSpec("key", "B2"))
	if op, err := h.pass(second); err != nil || op.Status.Phase != v1alpha1.VMOperationPending {
		t.Fatalf("the second attach: %v %+v, want it Pending behind the first", err, op.Status)
	}
	h.cancelOp(second)
	if op := h.until(second, 2, ended); op.Status.Phase != v1alpha1.VMOperationCancelled {
		t.Fatalf("the cancelled attach ended %+v", op.Status)
	}
	vmi, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if listed := kubevirt.HotpluggedUSB(vmi.Annotations); len(listed) != 1 || listed[0].Serial != "A1" {
		t.Fatalf("hot-plug list after the second attach was cancelled: %+v, want the first's device", listed)
	}
}

// TestAttachListedBeforeTheRecordStaysItsOwn: an attach that listed its
// device before attaches recorded so (an upgrade in the middle of one) is
// still the device's owner: it goes on, and its cancel unlists it.
func TestAttachListedBeforeTheRecordStaysItsOwn(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("attach", "vm", attachSpec("key", "A1"))
	op := h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Progress == usbListedProgress })
	// As the executor before the record left it: listed, progress 20, no record.
	op.Status.Resources = slices.DeleteFunc(op.Status.Resources, func(r v1alpha1.ResourceReference) bool { return r.Kind == usbListedKind })
	if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").UpdateStatus(h.ctx, op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	if op, err := h.pass(key); err != nil || op.Status.Phase != v1alpha1.VMOperationRunning {
		t.Fatalf("the attach after the upgrade: %v %+v, want it still running", err, op.Status)
	}
	h.cancelOp(key)
	h.until(key, 2, ended)
	vmi, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if listed := kubevirt.HotpluggedUSB(vmi.Annotations); len(listed) != 0 {
		t.Fatalf("hot-plug list after the attach was cancelled: %+v, want it empty", listed)
	}
}

// TestAttachDoesNotReadAnEarlierDevicesReport: the agent was down when a
// device of the same name was unplugged, so its report still says
// Attached; a new attach of that name clears it as it lists the device,
// and waits for the agent rather than succeeding at once.
func TestAttachDoesNotReadAnEarlierDevicesReport(t *testing.T) {
	vmi := testVMI("vm", "node-a", "vmi-1")
	stale, err := kubevirt.HotplugStatusPatch(map[string]kubevirt.USBHotplugState{"key": {Phase: kubevirt.USBAttached},
		"other": {Phase: kubevirt.USBAttached}})
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Metadata struct{ Annotations map[string]string } `json:"metadata"`
	}
	if err := json.Unmarshal(stale, &p); err != nil {
		t.Fatal(err)
	}
	vmi.Annotations = p.Metadata.Annotations
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), vmi)
	key := h.create("attach", "vm", attachSpec("key", "A1"))
	h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Progress == usbListedProgress })
	op, err := h.pass(key)
	if err != nil || op.Status.Phase.Final() {
		t.Fatalf("the attach after its device was listed: %v %s %q, want it waiting for the agent", err, op.Status.Phase, op.Status.Message)
	}
	got, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if status := kubevirt.HotplugStatus(got.Annotations); len(status) != 1 || status["other"].Phase != kubevirt.USBAttached {
		t.Errorf("hot-plug report %+v, want only the other device's", status)
	}
}
