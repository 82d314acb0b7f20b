package operations

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/apistatus"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// usbAgentTimeout is how long a hot-plug waits for the node's USB agent to
// answer before it fails: without an agent on the node nothing would ever
// lend the device.
const usbAgentTimeout = 2 * time.Minute

// attachUSB lists the device on the running instance for the node's USB
// agent to lend, and succeeds when the agent reports it attached. A
// failure, or no answer in time, unlists it again, so a failed hot-plug
// leaves nothing behind.
func (e *Executor) attachUSB(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	want := hypersdk.USBDeviceRequest(op.Spec.AttachUSB.Device)
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return step{}, err
	}
	if !running(vmi) {
		return step{failed: fmt.Errorf("the VM's instance is no longer running")}, nil
	}
	listed := kubevirt.HotpluggedUSB(vmi.Annotations)
	i := slices.IndexFunc(listed, func(d hypersdk.USBDeviceRequest) bool { return d.Name == want.Name })
	mine := listedByOp(op)
	switch {
	case i < 0 && !mine:
		// Recorded before it is listed, so that a cancel takes off the
		// list only what this operation put there, even when the status
		// write after the listing would have failed.
		record(op, v1alpha1.ResourceReference{Kind: usbListedKind, Name: want.Name, Role: usbListedRole})
		return step{progress: 10, message: "attaching " + kubevirt.USBID(want) + " as " + want.Name}, nil
	case i < 0:
		if err := e.listUSB(ctx, vmi, append(listed, want), want.Name); err != nil {
			return step{}, err
		}
		return step{progress: usbListedProgress, message: fmt.Sprintf("asking the USB agent on %s to lend %s", vmi.Status.NodeName, kubevirt.USBID(want))}, nil
	case listed[i] != want || !mine:
		return step{failed: fmt.Errorf("another device or operation has attached %q", want.Name)}, nil
	}
	state := kubevirt.HotplugStatus(vmi.Annotations)[want.Name]
	switch state.Phase {
	case kubevirt.USBAttached:
		return step{done: true, message: fmt.Sprintf("%s attached as %s on %s", kubevirt.USBID(want), want.Name, vmi.Status.NodeName)}, nil
	case kubevirt.USBFailed:
		if err := e.unlistUSB(ctx, op.Namespace, op.Spec.VMName, want.Name); err != nil {
			return step{}, err
		}
		return step{failed: fmt.Errorf("the USB agent on %s cannot lend %s: %s", vmi.Status.NodeName, kubevirt.USBID(want), state.Message)}, nil
	}
	if start := op.Status.StartTime; start != nil && e.cfg.Clock.Since(start.Time) > usbAgentTimeout {
		if err := e.unlistUSB(ctx, op.Namespace, op.Spec.VMName, want.Name); err != nil {
			return step{}, err
		}
		return step{failed: fmt.Errorf("no USB agent on node %s answered in %s: hot-plug needs hypersdk-usb-agent there (artifacts/deploy/components/usb-hotplug)",
			vmi.Status.NodeName, usbAgentTimeout)}, nil
	}
	return step{progress: 50, message: fmt.Sprintf("waiting for the USB agent on %s", vmi.Status.NodeName)}, nil
}

// detachUSB unlists the device and succeeds when the agent no longer
// reports it: the guest has seen it unplugged. An instance that ended took
// its devices with it.
func (e *Executor) detachUSB(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	name := op.Spec.DetachUSB.Name
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return step{}, err
	}
	if !running(vmi) {
		return step{done: true, message: "the instance has ended, and its USB devices with it"}, nil
	}
	if slices.ContainsFunc(kubevirt.HotpluggedUSB(vmi.Annotations), func(d hypersdk.USBDeviceRequest) bool { return d.Name == name }) {
		if err := e.unlistUSB(ctx, op.Namespace, op.Spec.VMName, name); err != nil {
			return step{}, err
		}
		return step{progress: 30, message: fmt.Sprintf("asking the USB agent on %s to unplug %s", vmi.Status.NodeName, name)}, nil
	}
	if _, reported := kubevirt.HotplugStatus(vmi.Annotations)[name]; reported {
		if start := op.Status.StartTime; start != nil && e.cfg.Clock.Since(start.Time) > usbAgentTimeout {
			return step{failed: fmt.Errorf("no USB agent on node %s confirmed in %s that %s is unplugged; it is no longer listed for the VM",
				vmi.Status.NodeName, usbAgentTimeout, name)}, nil
		}
		return step{progress: 60, message: fmt.Sprintf("waiting for the USB agent on %s to unplug %s", vmi.Status.NodeName, name)}, nil
	}
	return step{done: true, message: name + " detached"}, nil
}

// The record of a device an AttachUSB operation put on its VM's hot-plug
// list.
const (
	usbListedKind = "USBDevice"
	usbListedRole = "listed"
	// usbListedProgress is an attach's progress once its device is listed.
	usbListedProgress = 20
)

// listedByOp reports whether op put its device on the hot-plug list: it
// recorded so, or, running from before attaches recorded it, it reached
// the progress it reports once it has listed the device (an attach still
// waiting for its turn has none).
func listedByOp(op *v1alpha1.VMOperation) bool {
	return recorded(op, usbListedKind, usbListedRole) != nil || op.Status.Progress >= usbListedProgress
}

// unlistOwnUSB takes op's device off the hot-plug list if op listed it and
// it is still the one listed under its name: a cancelled attach that never
// got its turn must not unplug another operation's device of that name.
func (e *Executor) unlistOwnUSB(ctx context.Context, op *v1alpha1.VMOperation) error {
	if !listedByOp(op) {
		return nil
	}
	want := hypersdk.USBDeviceRequest(op.Spec.AttachUSB.Device)
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil || vmi == nil {
		return err
	}
	listed := kubevirt.HotpluggedUSB(vmi.Annotations)
	kept := slices.DeleteFunc(slices.Clone(listed), func(d hypersdk.USBDeviceRequest) bool { return d == want })
	if len(kept) == len(listed) {
		return nil
	}
	return e.listUSB(ctx, vmi, kept)
}

// listUSB sets the instance's hot-plug list, failing on a concurrent change
// (the pass is retried on a fresh read).
//
// A device listed anew has no report yet: one under its name is of an
// earlier device the agent did not clear (it was down when that one was
// unplugged), and would read as this one attached with no agent to lend
// it. It goes in the same write.
func (e *Executor) listUSB(ctx context.Context, vmi *kvv1.VirtualMachineInstance, devices []hypersdk.USBDeviceRequest, fresh ...string) error {
	patch, err := kubevirt.HotplugPatch(vmi.ResourceVersion, devices)
	if err != nil {
		return err
	}
	status := kubevirt.HotplugStatus(vmi.Annotations)
	stale := false
	for _, name := range fresh {
		if _, ok := status[name]; ok {
			delete(status, name)
			stale = true
		}
	}
	if stale {
		if patch, err = kubevirt.WithStatus(patch, status); err != nil {
			return err
		}
	}
	_, err = e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(vmi.Namespace).Patch(ctx, vmi.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// unlistUSB takes the device named name off the instance's hot-plug list,
// if the instance still has it.
func (e *Executor) unlistUSB(ctx context.Context, namespace, vmName, name string) error {
	vmi, err := e.getVMI(ctx, namespace, vmName)
	if err != nil || vmi == nil {
		return err
	}
	listed := kubevirt.HotpluggedUSB(vmi.Annotations)
	kept := slices.DeleteFunc(slices.Clone(listed), func(d hypersdk.USBDeviceRequest) bool { return d.Name == name })
	if len(kept) == len(listed) {
		return nil
	}
	return e.listUSB(ctx, vmi, kept)
}

// checkUSBHotplug refuses a hot-plug or unplug that cannot work: on a VM
// that is not running or has no client USB redirection (409, naming
// spec.vmName in a VMOperation), of a device KubeVirt does not permit or the
// VM's node does not have, under a name already attached, beyond the guest's
// redirection slots, or an unplug of a name not attached (422 naming the
// field).
func (p *Prechecker) checkUSBHotplug(ctx context.Context, op *hypersdk.VMOperation, vmi *kvv1.VirtualMachineInstance, r refusal) error {
	var vmField *field.Path // a subresource's VM is in its URL
	if r.root != nil {
		vmField = field.NewPath("spec", "vmName")
	}
	if vmi == nil || vmi.Status.Phase != kvv1.Running || vmi.DeletionTimestamp != nil {
		return conflictOn(op, vmField, "VM is not running: USB hot-plug changes a running VM; list the device in spec.usbDevices for its next start")
	}
	if vmi.Spec.Domain.Devices.ClientPassthrough == nil {
		return conflictOn(op, vmField, "VM has no USB redirection: KubeVirt hot-plugs USB devices only over client passthrough; set spec.usbRedirection (it applies at the next start)")
	}
	listed := kubevirt.HotpluggedUSB(vmi.Annotations)
	has := func(name string) bool {
		return slices.ContainsFunc(listed, func(d hypersdk.USBDeviceRequest) bool { return d.Name == name })
	}
	if d := op.Spec.DetachUSB; d != nil {
		if !has(d.Name) {
			return r.invalid(field.ErrorList{field.NotFound(r.root.Child("name"), d.Name)})
		}
		return nil
	}
	want := op.Spec.AttachUSB.Device
	path := r.root.Child("device")
	var errs field.ErrorList
	switch {
	case has(want.Name):
		errs = append(errs, field.Duplicate(path.Child("name"), want.Name))
	case len(listed) >= guestUSBSlots:
		errs = append(errs, field.TooMany(path, len(listed)+1, guestUSBSlots))
	}
	kvs, err := p.KubeVirt.KubevirtV1().KubeVirts(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return apistatus.Wrapf(err, "reading KubeVirt's permitted USB host devices")
	}
	node, err := p.Kube.CoreV1().Nodes().Get(ctx, vmi.Status.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("node %s, where the VM's instance runs, is gone", vmi.Status.NodeName))
	}
	if err != nil {
		return apistatus.Wrapf(err, "reading node %s", vmi.Status.NodeName)
	}
	if _, ok := kubevirt.USBResource(kvs.Items, want.Vendor, want.Product); !ok {
		errs = append(errs, field.NotFound(path, kubevirt.USBID(want)+" (no permittedHostDevices.usb selector of the KubeVirt CR matches it)"))
	} else if !kubevirt.NodeHasUSB(node.Labels, want) {
		errs = append(errs, field.NotFound(path, fmt.Sprintf("%s (node %s, where the VM runs, shows no such device in its USB feature labels)", kubevirt.USBID(want), node.Name)))
	}
	if len(errs) > 0 {
		return r.invalid(errs)
	}
	return nil
}

// guestUSBSlots is how many USB redirection slots KubeVirt gives a VM with
// client passthrough; each hot-plugged device takes one.
const guestUSBSlots = 4

// conflictOn is a 409 whose cause names the field the conflict is about,
// if there is one.
func conflictOn(op *hypersdk.VMOperation, f *field.Path, msg string) error {
	err := apierrors.NewConflict(hypersdk.Resource("virtualmachines"), op.Spec.VMName, fmt.Errorf("%s", msg))
	if f != nil {
		err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: f.String(), Message: msg}}
	}
	return err
}
