package kubevirt

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// Writer writes views through to KubeVirt VirtualMachines. A view is a
// lossy projection of its VirtualMachine, so a write reads the VirtualMachine,
// changes what the view covers and writes it back with the version it read
// as precondition: a change made to the VirtualMachine in between is never
// overwritten.
type Writer struct {
	client Clientset
}

// NewWriter returns a writer that uses client.
func NewWriter(client Clientset) *Writer { return &Writer{client: client} }

// StaleError refuses a write made from a view older than the KubeVirt
// VirtualMachine is now. Clients see it as 409 Conflict.
type StaleError struct {
	*apierrors.StatusError
	// Current is the VirtualMachine's resourceVersion now.
	Current uint64
	// Admitted says the VirtualMachine changed after the operations the
	// update amounts to were admitted against it (Update's admitted), not
	// after the client's version: the update is to be admitted again on
	// what it is now, whatever version the client sent.
	Admitted bool
}

func stale(name string, seen, current uint64) *StaleError {
	return &StaleError{
		StatusError: apierrors.NewConflict(hypersdk.Resource("virtualmachines"), name, fmt.Errorf(
			"the object has been modified (the KubeVirt VirtualMachine is at version %d, the request was made from %d); "+
				"please apply your changes to the latest version and try again", current, seen)),
		Current: current,
	}
}

// Version is a KubeVirt object's resourceVersion as a number.
func Version(m metav1.Object) uint64 {
	v, _ := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	return v
}

// Current reads the KubeVirt VirtualMachine: its resourceVersion, and
// whether it is there.
func (w *Writer) Current(ctx context.Context, namespace, name string) (uint64, bool, error) {
	vm, err := w.client.KubevirtV1().VirtualMachines(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, translate(err, name)
	}
	return Version(vm), true, nil
}

// Create creates the KubeVirt VM of a view and returns the view of what was
// created and the VirtualMachine's resourceVersion.
func (w *Writer) Create(ctx context.Context, view *hypersdk.VirtualMachine, dryRun []string) (*hypersdk.VirtualMachine, uint64, error) {
	vm, err := NewVirtualMachine(view)
	if err != nil {
		return nil, 0, err
	}
	resources, err := resolveUSB(ctx, w.client, view)
	if err != nil {
		return nil, 0, err
	}
	if err := applyUSB(vm, view.Spec.USBDevices, resources); err != nil {
		return nil, 0, err
	}
	created, err := w.client.KubevirtV1().VirtualMachines(view.Namespace).Create(ctx, vm, metav1.CreateOptions{DryRun: dryRun})
	if err != nil {
		return nil, 0, translate(err, view.Name)
	}
	return View(created, nil), Version(created), nil
}

// Update writes a view's labels, annotations and spec to its KubeVirt VM and
// returns the view of what was written and the VirtualMachine's new
// resourceVersion. seen is the VirtualMachine version the view was made
// from: a VirtualMachine that has changed since is a StaleError. With seen 0
// (the client asked for an unconditional update) the write is retried on
// conflicts, each time on a fresh read. admitted, when not 0, is the
// VirtualMachine version the start, stop or resize the update amounts to
// was admitted against (the cached view's): a VirtualMachine changed since
// is a StaleError marked Admitted, since that admission may not hold for
// it. The view's UID, when set, must be the VirtualMachine's (a
// precondition against a replaced VM).
func (w *Writer) Update(ctx context.Context, view *hypersdk.VirtualMachine, seen, admitted uint64, dryRun []string) (*hypersdk.VirtualMachine, uint64, error) {
	vms := w.client.KubevirtV1().VirtualMachines(view.Namespace)
	resources, err := resolveUSB(ctx, w.client, view)
	if err != nil {
		return nil, 0, err
	}
	var out *kvv1.VirtualMachine
	write := func() error {
		vm, err := vms.Get(ctx, view.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := sameUID(view.Name, view.UID, vm.UID); err != nil {
			return err
		}
		if current := Version(vm); seen > 0 && current > seen {
			return stale(view.Name, seen, current)
		} else if admitted > 0 && current > admitted {
			s := stale(view.Name, admitted, current)
			s.Admitted = true
			return s
		}
		annotations, err := joinManagedFields(view.Annotations, view.ManagedFields)
		if err != nil {
			return err
		}
		vm.Labels, vm.Annotations = view.Labels, annotations
		vm.OwnerReferences = view.OwnerReferences
		vm.Finalizers = append(kubeVirtFinalizers(vm.Finalizers), userFinalizers(view.Finalizers)...)
		// Its instance, for the run state the view showed (Manual follows
		// whether one runs).
		vmi, err := w.client.KubevirtV1().VirtualMachineInstances(view.Namespace).Get(ctx, view.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			vmi = nil
		case err != nil:
			return err
		}
		if err := ApplySpec(vm, vmi, &view.Spec); err != nil {
			return err
		}
		if err := applyUSB(vm, view.Spec.USBDevices, resources); err != nil {
			return err
		}
		out, err = vms.Update(ctx, vm, metav1.UpdateOptions{DryRun: dryRun})
		if apierrors.IsConflict(err) && seen > 0 {
			// Changed between the read and the write: say to what.
			if now, getErr := vms.Get(ctx, view.Name, metav1.GetOptions{}); getErr == nil {
				return stale(view.Name, seen, Version(now))
			}
		}
		return err
	}
	if seen == 0 {
		// Conflicts of the write itself, not a stale admission: that one
		// the caller admits again.
		err = retry.OnError(retry.DefaultRetry, func(err error) bool {
			var s *StaleError
			return apierrors.IsConflict(err) && !(errors.As(err, &s) && s.Admitted)
		}, write)
	} else {
		err = write()
	}
	if err != nil {
		return nil, 0, translate(err, view.Name)
	}
	return View(out, nil), Version(out), nil
}

// Delete deletes the KubeVirt VM, guarded by its UID and, when seen is not
// 0, by the version the client saw; KubeVirt then stops and removes its
// instance.
func (w *Writer) Delete(ctx context.Context, namespace, name string, uid types.UID, seen uint64, opts metav1.DeleteOptions) error {
	vms := w.client.KubevirtV1().VirtualMachines(namespace)
	pre := &metav1.Preconditions{UID: &uid}
	if seen > 0 {
		vm, err := vms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return translate(err, name)
		}
		if err := sameUID(name, uid, vm.UID); err != nil {
			return err
		}
		if current := Version(vm); current > seen {
			return stale(name, seen, current)
		}
		pre.ResourceVersion = &vm.ResourceVersion
	}
	opts.Preconditions = pre
	return translate(vms.Delete(ctx, name, opts), name)
}

func sameUID(name string, want, got types.UID) error {
	if want != "" && want != got {
		return apierrors.NewConflict(hypersdk.Resource("virtualmachines"), name,
			fmt.Errorf("the object has been replaced: UID %s is now %s", want, got))
	}
	return nil
}

// translate names hypersdk.io virtualmachines, not KubeVirt's resource, in
// the errors clients see for the view.
func translate(err error, name string) error {
	gr := hypersdk.Resource("virtualmachines")
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return apierrors.NewNotFound(gr, name)
	case apierrors.IsAlreadyExists(err):
		return apierrors.NewAlreadyExists(gr, name)
	case apierrors.IsConflict(err):
		if _, ok := err.(*StaleError); ok {
			return err
		}
		return apierrors.NewConflict(gr, name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	default:
		return err
	}
}
