package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestUSBHotplug: on a running VM with USB redirection, an editor's
// attachusb walks a VMOperation to Succeeded once the node's
// hypersdk-usb-agent (started as its DaemonSet would) lends the stick, which
// the guest's lsusb then shows, and `kubectl hyper usb unplug` (detachusb)
// takes it away again. A viewer
// is refused; a stopped VM, a filter nothing matches, a name already
// attached or not attached are refused with the field named, and leave no
// operation behind.
func TestUSBHotplug(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	const node = "node-usb-hotplug"
	addNode(t, fleet.Node{Name: node, Zone: fleet.Zones[2], Type: fleet.USBEdge, Price: fleet.USBEdge.Price})
	stop, err := env.StartUSBAgent(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ns := env.Namespace(t, "usb-hotplug")
	vms := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns)
	// The YubiKey passed through at start puts the VM on the USB node.
	key := fleet.USBYubiKey
	for _, vm := range []struct {
		name    string
		running bool
	}{{"hp", true}, {"off", false}} {
		if _, err := vms.Create(ctx, &v1alpha1.VirtualMachine{
			ObjectMeta: metav1.ObjectMeta{Name: vm.name},
			Spec: v1alpha1.VirtualMachineSpec{CPUs: 1, Memory: ptr.To(resourceQuantity("1Gi")), Running: ptr.To(vm.running),
				Image: "quay.io/containerdisks/fedora:41", USBRedirection: true,
				USBDevices: []v1alpha1.USBDeviceRequest{{Name: "key", Vendor: key.Vendor, Product: key.Product}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if vmi := runningVMI(t, ns, "hp", ""); vmi.Status.NodeName != node {
		t.Fatalf("hp runs on %s, not on %s", vmi.Status.NodeName, node)
	}
	editor := env.ServiceAccountToken(t, ns, "editor", "edit")
	viewer := env.ServiceAccountToken(t, ns, "viewer", "view")
	cfg := env.ConfigFor(editor)
	stick := fleet.USBStick
	stickID := fmt.Sprintf("ID %s:%s", stick.Vendor, stick.Product)
	attach := map[string]interface{}{"device": map[string]string{"name": "stick", "vendor": stick.Vendor, "product": stick.Product, "class": stick.Class}}

	if code, _, err := post(t, client(t, viewer), ns, "hp", "attachusb", attach, false); code != http.StatusForbidden {
		t.Errorf("a viewer's attachusb: %d (%v), want 403", code, err)
	}
	if out := guestLsusb(t, cfg, ns, "hp"); strings.Contains(out, stickID) {
		t.Fatalf("the stick is in the guest before it was attached:\n%s", out)
	}

	code, op, err := post(t, client(t, editor), ns, "hp", "attachusb", attach, false)
	if code != http.StatusCreated {
		t.Fatalf("attachusb: %d %v", code, err)
	}
	op = follow(t, op, v1alpha1.VMOperationSucceeded)
	t.Logf("attachusb: %s", op.Status.Message)
	if op.Spec.Requester == nil || !strings.HasSuffix(op.Spec.Requester.Username, ":editor") {
		t.Errorf("operation requester %+v, want the editor", op.Spec.Requester)
	}
	framework.Eventually(t, "the stick in the guest", func(context.Context) (bool, error) {
		return strings.Contains(guestLsusb(t, cfg, ns, "hp"), stickID), nil
	})
	vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "hp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := kubevirt.HotplugStatus(vmi.Annotations)["stick"]; st.Phase != kubevirt.USBAttached {
		t.Errorf("the agent reports the stick %+v, want Attached", st)
	}
	// The list the agent lends from is hypersdk-controller's alone: not
	// even a cluster admin writing the VMI adds a device to it (the
	// component's admission policy), so no one skips attachusb's review.
	listing := fmt.Sprintf(`[{"name":"key2","vendor":%q,"product":%q}]`, key.Vendor, key.Product)
	forged, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{kubevirt.USBHotplugAnnotation: listing}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Patch(ctx, "hp", types.MergePatchType, forged, metav1.PatchOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "only hypersdk-controller lists USB devices") {
		t.Errorf("listing a device on the VMI by hand: %v, want 403 from the admission policy", err)
	}

	// Refused, each with its field, before anything is created: through the
	// subresource the field is the options' (a 409's VM is the URL's), as a
	// VMOperation it is under spec.
	for _, tc := range []struct {
		name, vm, sub string
		body          interface{}
		code          int
		field         string
	}{
		{"hot-plug on a stopped VM", "off", "attachusb", attach, http.StatusConflict, ""},
		{"a filter nothing matches", "hp", "attachusb",
			map[string]interface{}{"device": map[string]string{"name": "x", "vendor": "dead", "product": "beef"}}, http.StatusUnprocessableEntity, "device"},
		{"a device the node lacks", "hp", "attachusb",
			map[string]interface{}{"device": map[string]string{"name": "x", "vendor": stick.Vendor, "product": stick.Product, "class": "03"}}, http.StatusUnprocessableEntity, "device"},
		{"a name already attached", "hp", "attachusb", attach, http.StatusUnprocessableEntity, "device.name"},
		{"a bad vendor ID", "hp", "attachusb",
			map[string]interface{}{"device": map[string]string{"name": "x", "vendor": "ZZZZ", "product": "beef"}}, http.StatusUnprocessableEntity, "device.vendor"},
		{"unplug what is not attached", "hp", "detachusb", map[string]string{"name": "nothing"}, http.StatusUnprocessableEntity, "name"},
		{"unplug on a stopped VM", "off", "detachusb", map[string]string{"name": "stick"}, http.StatusConflict, ""},
	} {
		code, _, err := post(t, client(t, editor), ns, tc.vm, tc.sub, tc.body, false)
		if code != tc.code {
			t.Errorf("%s: %d (%v), want %d", tc.name, code, err, tc.code)
			continue
		}
		status, ok := err.(apierrors.APIStatus)
		if !ok || status.Status().Details == nil || (tc.field != "" && !causeNames(status.Status().Details.Causes, tc.field)) {
			t.Errorf("%s: %v does not name %s", tc.name, err, tc.field)
		}
		raw, _ := json.Marshal(tc.body)
		code, err = createOperation(t, client(t, editor), ns, tc.vm, tc.sub, string(raw))
		want := "spec.vmName"
		if tc.field != "" {
			want = "spec." + operationBlock(tc.sub) + "." + tc.field
		}
		if status, ok := err.(apierrors.APIStatus); code != tc.code || !ok || status.Status().Details == nil || !causeNames(status.Status().Details.Causes, want) {
			t.Errorf("%s as a VMOperation: %d %v, want %d naming %s", tc.name, code, err, tc.code, want)
		}
	}

	t.Logf("usb unplug: %s", hyperOK(t, "usb", "unplug", "hp", "-n", ns, "--device", "stick", "--wait"))
	// The guest sees the stream end after the operation does, as with the
	// attach.
	framework.Eventually(t, "the stick gone from the guest, the YubiKey there", func(context.Context) (bool, error) {
		out := guestLsusb(t, cfg, ns, "hp")
		if strings.Contains(out, stickID) || !strings.Contains(out, fmt.Sprintf("ID %s:%s", key.Vendor, key.Product)) {
			return false, fmt.Errorf("the guest's lsusb shows:\n%s", out)
		}
		return true, nil
	})
	ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ops.Items) != 2 {
		t.Errorf("%d operations, want the attach and the detach only", len(ops.Items))
	}
}

// causeNames says whether a Status's causes name field (or a field under it).
func causeNames(causes []metav1.StatusCause, field string) bool {
	for _, c := range causes {
		if c.Field == field || strings.HasPrefix(c.Field, field+".") {
			return true
		}
	}
	return false
}
