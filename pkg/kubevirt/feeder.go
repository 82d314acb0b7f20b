package kubevirt

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// ViewSink receives VM views; a nil view means the VM is gone.
type ViewSink interface {
	SetView(namespace, name string, view *hypersdk.VirtualMachine)
}

// ViewFeeder watches KubeVirt VirtualMachines and VirtualMachineInstances in
// all namespaces and sends the joined view of every VM whose objects changed
// to a sink. A work queue serialises the work per VM, so a slow event on one
// informer never overwrites a newer view computed from the other.
type ViewFeeder struct {
	vms   cache.SharedIndexInformer
	vmis  cache.SharedIndexInformer
	sink  ViewSink
	queue workqueue.TypedRateLimitingInterface[cache.ObjectName]
}

// NewViewFeeder returns a feeder over the KubeVirt API reached by client.
func NewViewFeeder(client Clientset, sink ViewSink, resync time.Duration) *ViewFeeder {
	f := &ViewFeeder{
		vms:  NewVirtualMachineInformer(client, resync),
		vmis: NewVirtualMachineInstanceInformer(client, resync),
		sink: sink,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "vm-views"}),
	}
	// A VMI has its VM's name, so both informers enqueue the same key.
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    f.enqueue,
		UpdateFunc: func(_, obj interface{}) { f.enqueue(obj) },
		DeleteFunc: f.enqueue,
	}
	utilruntime.Must(addHandler(f.vms, handler))
	utilruntime.Must(addHandler(f.vmis, handler))
	return f
}

func addHandler(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) error {
	_, err := inf.AddEventHandler(h)
	return err
}

func (f *ViewFeeder) enqueue(obj interface{}) {
	name, err := cache.DeletionHandlingObjectToName(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	f.queue.Add(name)
}

// HasSynced reports whether both informers listed once and every VM they
// listed has been sent to the sink.
func (f *ViewFeeder) HasSynced() bool {
	return f.vms.HasSynced() && f.vmis.HasSynced() && f.queue.Len() == 0
}

// Run feeds the sink until ctx is done.
func (f *ViewFeeder) Run(ctx context.Context, workers int) {
	defer f.queue.ShutDown()
	logger := klog.FromContext(ctx).WithValues("controller", "vm-views")
	go f.vms.RunWithContext(ctx)
	go f.vmis.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), f.vms.HasSynced, f.vmis.HasSynced) {
		return
	}
	logger.Info("KubeVirt informers synced")
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, f.work, time.Second)
	}
	<-ctx.Done()
}

func (f *ViewFeeder) work(ctx context.Context) {
	for {
		key, quit := f.queue.Get()
		if quit {
			return
		}
		err := f.sync(key)
		if err != nil {
			klog.FromContext(ctx).Error(err, "Building VM view", "vm", klog.KRef(key.Namespace, key.Name))
			f.queue.AddRateLimited(key)
		} else {
			f.queue.Forget(key)
		}
		f.queue.Done(key)
	}
}

func (f *ViewFeeder) sync(key cache.ObjectName) error {
	vmObj, vmExists, err := f.vms.GetIndexer().GetByKey(key.String())
	if err != nil {
		return fmt.Errorf("reading VM cache: %w", err)
	}
	if !vmExists {
		f.sink.SetView(key.Namespace, key.Name, nil)
		return nil
	}
	var vmi *kvv1.VirtualMachineInstance
	vmiObj, vmiExists, err := f.vmis.GetIndexer().GetByKey(key.String())
	if err != nil {
		return fmt.Errorf("reading VMI cache: %w", err)
	}
	if vmiExists {
		vmi = vmiObj.(*kvv1.VirtualMachineInstance)
	}
	f.sink.SetView(key.Namespace, key.Name, View(vmObj.(*kvv1.VirtualMachine), vmi))
	return nil
}

// Writer writes views through to KubeVirt VirtualMachines.
type Writer struct {
	client Clientset
}

// NewWriter returns a writer that uses client.
func NewWriter(client Clientset) *Writer { return &Writer{client: client} }

// Create creates the KubeVirt VM of a view and returns the view of what was
// created.
func (w *Writer) Create(ctx context.Context, view *hypersdk.VirtualMachine, dryRun []string) (*hypersdk.VirtualMachine, error) {
	vm, err := NewVirtualMachine(view)
	if err != nil {
		return nil, err
	}
	created, err := w.client.KubevirtV1().VirtualMachines(view.Namespace).Create(ctx, vm, metav1.CreateOptions{DryRun: dryRun})
	if err != nil {
		return nil, translate(err, view.Name)
	}
	return View(created, nil), nil
}

// Update writes a view's labels, annotations and spec to its KubeVirt VM,
// retrying on conflicts with other writers of the KubeVirt object. uid, when
// set, must match the KubeVirt VM's (a precondition against a replaced VM).
func (w *Writer) Update(ctx context.Context, view *hypersdk.VirtualMachine, dryRun []string) (*hypersdk.VirtualMachine, error) {
	vms := w.client.KubevirtV1().VirtualMachines(view.Namespace)
	var out *hypersdk.VirtualMachine
	err := retryOnConflict(ctx, func() error {
		vm, err := vms.Get(ctx, view.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if view.UID != "" && vm.UID != view.UID {
			return apierrors.NewConflict(hypersdk.Resource("virtualmachines"), view.Name,
				fmt.Errorf("the object has been replaced: UID %s is now %s", view.UID, vm.UID))
		}
		vm.Labels, vm.Annotations = view.Labels, view.Annotations
		if err := ApplySpec(vm, &view.Spec); err != nil {
			return err
		}
		updated, err := vms.Update(ctx, vm, metav1.UpdateOptions{DryRun: dryRun})
		if err != nil {
			return err
		}
		out = View(updated, nil)
		return nil
	})
	if err != nil {
		return nil, translate(err, view.Name)
	}
	return out, nil
}

// Delete deletes the KubeVirt VM; KubeVirt then stops and removes its instance.
func (w *Writer) Delete(ctx context.Context, namespace, name string, opts metav1.DeleteOptions) error {
	return translate(w.client.KubevirtV1().VirtualMachines(namespace).Delete(ctx, name, opts), name)
}

func retryOnConflict(ctx context.Context, fn func() error) error {
	backoff := wait.Backoff{Steps: 5, Duration: 10 * time.Millisecond, Factor: 2, Jitter: 0.1}
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(context.Context) (bool, error) {
		last = fn()
		switch {
		case last == nil:
			return true, nil
		case apierrors.IsConflict(last):
			return false, nil
		default:
			return false, last
		}
	})
	if wait.Interrupted(err) && last != nil {
		return last
	}
	return err
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
	default:
		return err
	}
}
