package virtualmachine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	ops "github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/viewcache"
)

// Writer writes views through to the KubeVirt VirtualMachines they are
// computed from. seen is the VirtualMachine version a client's view was
// made from (0 for an unconditional write); a VirtualMachine changed since is
// a *kubevirt.StaleError. Each returns the VirtualMachine's new version.
type Writer interface {
	Create(ctx context.Context, view *hypersdk.VirtualMachine, dryRun []string) (*hypersdk.VirtualMachine, uint64, error)
	Update(ctx context.Context, view *hypersdk.VirtualMachine, seen, admitted uint64, dryRun []string) (*hypersdk.VirtualMachine, uint64, error)
	Delete(ctx context.Context, namespace, name string, uid types.UID, seen uint64, opts metav1.DeleteOptions) error
	// Current reads the KubeVirt VirtualMachine now: its version, and
	// whether it is there.
	Current(ctx context.Context, namespace, name string) (uint64, bool, error)
}

// Admitter decides whether the caller in ctx may have an operation carried
// out (operations.Admission: the caller's rights, then the prechecks).
type Admitter interface {
	Admit(ctx context.Context, op *hypersdk.VMOperation) error
}

// REST serves virtualmachines from the view cache, which the KubeVirt feeder
// fills (see kubevirt.JoinView).
type REST struct {
	cache    *viewcache.Cache
	writer   Writer
	admitter Admitter
	// admitAs are the validating admissions each operation an update
	// amounts to meets on the other routes (AdmitAs).
	admitAs []func(ctx context.Context, op *hypersdk.VMOperation, dryRun bool) error
	// underWay, when set, returns an operation on the VM not yet ended.
	underWay func(ctx context.Context, namespace, vm string) (*hypersdk.VMOperation, error)
	strategy strategy
	tableConvertor
}

var (
	_ rest.Storage              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.Getter               = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Watcher              = &REST{}
	_ rest.Creater              = &REST{}
	_ rest.Updater              = &REST{}
	_ rest.GracefulDeleter      = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.CategoriesProvider   = &REST{}
	_ rest.SingularNameProvider = &REST{}
)

// NewCache returns the view cache of virtualmachines.
func NewCache() *viewcache.Cache {
	return viewcache.New(viewcache.Config{
		Resource:    hypersdk.Resource("virtualmachines"),
		Sources:     kubevirt.ViewSources,
		Join:        kubevirt.JoinView,
		History:     10000,
		NewBookmark: func() viewcache.Object { return &hypersdk.VirtualMachine{} },
		// As kube-apiserver's watch cache: about once a minute.
		BookmarkInterval: time.Minute,
		Equal:            equalIgnoringVersion,
	})
}

// NewREST returns the storage of virtualmachines over a view cache. An
// update that starts, stops or resizes the VM is admitted by admitter as
// that operation would be.
func NewREST(typer runtime.ObjectTyper, cache *viewcache.Cache, writer Writer, admitter Admitter) *REST {
	return &REST{cache: cache, writer: writer, admitter: admitter, strategy: strategy{typer, names.SimpleNameGenerator}}
}

// AdmitAs makes an update that starts, stops or resizes the VM meet, for
// each operation it amounts to, the validating admission of that
// operation's subresource (SubresourceAdmission) and of a VMOperation
// created directly (OperationAdmission): a policy written for
// virtualmachines/resize or for vmoperations holds for spec.cpus as on
// those routes.
func (r *REST) AdmitAs(admits ...func(ctx context.Context, op *hypersdk.VMOperation, dryRun bool) error) {
	r.admitAs = admits
}

// OrderAfter makes an update that starts, stops or resizes the VM wait
// for nothing: it is refused (409) while underWay returns an operation on
// the VM, which the change would race (a stop a cold migration's clean-up
// then undoes, a resize an earlier queued one then overwrites). The
// operation subresources queue behind it instead.
func (r *REST) OrderAfter(underWay func(ctx context.Context, namespace, vm string) (*hypersdk.VMOperation, error)) {
	r.underWay = underWay
}

func equalIgnoringVersion(a, b viewcache.Object) bool {
	x, y := *a.(*hypersdk.VirtualMachine), *b.(*hypersdk.VirtualMachine)
	x.ResourceVersion, y.ResourceVersion = "", ""
	return equality.Semantic.DeepEqual(x, y)
}

// HasSynced reports whether the view holds every VM: true from the first
// time both KubeVirt sources were listed on.
func (r *REST) HasSynced() bool { return r.cache.Synced() }

// New returns an empty VirtualMachine.
func (r *REST) New() runtime.Object { return &hypersdk.VirtualMachine{} }

// NewList returns an empty VirtualMachineList.
func (r *REST) NewList() runtime.Object { return &hypersdk.VirtualMachineList{} }

// Destroy releases nothing: the cache lives in memory only.
func (r *REST) Destroy() {}

// NamespaceScoped is true: VMs live in namespaces.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName names one VM in discovery.
func (r *REST) GetSingularName() string { return "virtualmachine" }

// ShortNames lets `kubectl get hvm` work ("vm" belongs to KubeVirt).
func (r *REST) ShortNames() []string { return []string{"hvm"} }

// Categories puts VMs in `kubectl get hypersdk`.
func (r *REST) Categories() []string { return []string{"hypersdk"} }

// unsynced is the answer before the view holds every VM: until KubeVirt's
// VMs and instances have both been listed, an empty list or a 404 would be
// a wrong answer, not an empty one. (The server is not ready until then,
// but not every client goes through a readiness-gated Service.)
func (r *REST) unsynced() error {
	if r.cache.Synced() {
		return nil
	}
	return apierrors.NewServiceUnavailable("the VM view has not listed KubeVirt's VirtualMachines and instances yet; try again")
}

// Get returns one VM.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if err := r.unsynced(); err != nil {
		return nil, err
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	return r.lookup(ctx, ns, name)
}

// lookup is the view of a VM. A VM the cache does not hold may have been
// made just now, through another replica or before this one's watch
// brought it (a client creating then reading or deleting it would be told
// 404, and kubectl delete --ignore-not-found would leave it): KubeVirt is
// asked, and a VM it has is answered once the cache holds that version.
func (r *REST) lookup(ctx context.Context, ns, name string) (runtime.Object, error) {
	key := viewcache.Key(ns, name)
	if obj, ok := r.cache.Get(key); ok {
		return obj, nil
	}
	version, exists, err := r.writer.Current(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if exists {
		if err := r.cache.WaitForSource(ctx, kubevirt.SourceVM, version); err != nil {
			return nil, err
		}
		// Caught up with KubeVirt as read: a VM not there now went since.
		if obj, ok := r.cache.Get(key); ok {
			return obj, nil
		}
	}
	return nil, apierrors.NewNotFound(hypersdk.Resource("virtualmachines"), name)
}

// List returns the VMs that match the request's namespace and selectors,
// which are applied here, on the server. limit and continue page the list;
// every page is at the position of the first, on any replica.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	if err := r.unsynced(); err != nil {
		return nil, err
	}
	opts := viewcache.ListOptions{Match: predicate(ctx, options)}
	if options != nil {
		opts.ResourceVersion = options.ResourceVersion
		opts.Exact = options.ResourceVersionMatch == metav1.ResourceVersionMatchExact
		opts.Limit = options.Limit
		opts.Continue = options.Continue
	}
	res, err := r.cache.List(ctx, opts)
	if err != nil {
		return nil, err
	}
	list := &hypersdk.VirtualMachineList{Items: make([]hypersdk.VirtualMachine, 0, len(res.Items))}
	for _, obj := range res.Items {
		list.Items = append(list.Items, *obj.(*hypersdk.VirtualMachine))
	}
	list.ResourceVersion, list.Continue = res.ResourceVersion, res.Continue
	return list, nil
}

// Watch streams changes of the VMs that match.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	if err := r.unsynced(); err != nil {
		return nil, err
	}
	opts := viewcache.WatchOptions{}
	if options != nil {
		opts.ResourceVersion = options.ResourceVersion
		opts.SendInitialEvents = options.SendInitialEvents
		opts.AllowBookmarks = options.AllowWatchBookmarks
	}
	return r.cache.Watch(ctx, predicate(ctx, options), opts)
}

func predicate(ctx context.Context, options *metainternalversion.ListOptions) viewcache.Predicate {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	label, field := labels.Everything(), fields.Everything()
	if options != nil {
		if options.LabelSelector != nil {
			label = options.LabelSelector
		}
		if options.FieldSelector != nil {
			field = options.FieldSelector
		}
	}
	return func(obj viewcache.Object) bool {
		vm := obj.(*hypersdk.VirtualMachine)
		if ns != "" && vm.Namespace != ns {
			return false
		}
		return label.Matches(labels.Set(vm.Labels)) && field.Matches(SelectableFields(vm))
	}
}

// Create writes a new KubeVirt VirtualMachine and answers with its view.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	objMeta, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	rest.FillObjectMetaSystemFields(objMeta)
	// A name from metadata.generateName is made here, as kube-apiserver's
	// own storage makes it before BeforeCreate (which refuses a missing
	// one), and so the KubeVirt VM gets the same name.
	if objMeta.GetGenerateName() != "" && objMeta.GetName() == "" {
		objMeta.SetName(r.strategy.GenerateName(objMeta.GetGenerateName()))
	}
	if err := rest.BeforeCreate(r.strategy, ctx, obj); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	created, version, err := r.writer.Create(ctx, obj.(*hypersdk.VirtualMachine), options.DryRun)
	if err != nil {
		return nil, err
	}
	if len(options.DryRun) > 0 {
		return created, nil
	}
	return r.written(ctx, created, version), nil
}

// Update applies a change to the view to the KubeVirt VirtualMachine, with
// optimistic concurrency: a resourceVersion in the request (any this
// resource handed out, on any replica) must be at least the KubeVirt
// VirtualMachine's current version, or the answer is 409 Conflict. Like
// kube-apiserver's own storage, a change computed from a view the cache had
// not brought up to date yet (a patch applies to what the cache holds) is
// computed again once it has, rather than refused. A server-side apply
// (forceAllowCreate) of a VM that is not there creates it.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	for attempt := 0; ; attempt++ {
		oldObj, err := r.Get(ctx, name, nil)
		if apierrors.IsNotFound(err) && forceAllowCreate {
			obj, err := objInfo.UpdatedObject(ctx, r.New())
			if err != nil {
				return nil, false, err
			}
			created, err := r.Create(ctx, obj, createValidation, &metav1.CreateOptions{DryRun: options.DryRun, FieldManager: options.FieldManager})
			return created, err == nil, err
		}
		if err != nil {
			return nil, false, err
		}
		obj, err := objInfo.UpdatedObject(ctx, oldObj)
		if err != nil {
			return nil, false, err
		}
		vm, old := obj.(*hypersdk.VirtualMachine), oldObj.(*hypersdk.VirtualMachine)
		seen, err := seenVersion(vm.ResourceVersion)
		if err != nil {
			return nil, false, err
		}
		current, err := seenVersion(old.ResourceVersion)
		if err != nil {
			return nil, false, err
		}
		// KubeVirt writes the VM's status often, which the view does not
		// show and sends no watch event for: a client fed by a watch holds
		// the last version it was sent. Held since the view's last visible
		// change, on both sides (an instance gone changes what the view
		// shows, not the VM's version), it is the view the cache holds now.
		if held, err := viewcache.ParsePosition(vm.ResourceVersion, kubevirt.ViewSources); err == nil &&
			r.cache.Holds(viewcache.Key(old.Namespace, old.Name), held) {
			seen = max(seen, current)
		}
		if err := rest.BeforeUpdate(r.strategy, ctx, obj, oldObj); err != nil {
			return nil, false, err
		}
		if updateValidation != nil {
			if err := updateValidation(ctx, obj.DeepCopyObject(), oldObj.DeepCopyObject()); err != nil {
				return nil, false, err
			}
		}
		vm.UID = old.UID
		operations := operationsOf(old, vm)
		for _, op := range operations {
			if err := r.admitter.Admit(ops.ThroughVMUpdate(ctx), op); err != nil {
				return nil, false, err
			}
			for _, admit := range r.admitAs {
				if err := admit(ctx, op, len(options.DryRun) > 0); err != nil {
					return nil, false, err
				}
			}
		}
		// After authorization: a caller refused the operation learns
		// nothing of another's.
		if len(operations) > 0 && r.underWay != nil {
			busy, err := r.underWay(ctx, vm.Namespace, vm.Name)
			if err != nil {
				return nil, false, err
			}
			if busy != nil {
				sub := strings.ToLower(string(operations[0].Spec.Type))
				return nil, false, apierrors.NewConflict(hypersdk.Resource("virtualmachines"), vm.Name,
					fmt.Errorf("operation %s (%s) is under way on the VM and this change would race it: wait for it to end, or POST virtualmachines/%s/%s, which waits its turn",
						busy.Name, busy.Spec.Type, vm.Name, sub))
			}
		}
		// Admitted against the cached view: the write must find the VM as
		// that view had it, or admit again (another replica, or KubeVirt,
		// may have started or stopped it since).
		var admitted uint64
		if len(operations) > 0 {
			if admitted, err = seenVersion(old.ResourceVersion); err != nil {
				return nil, false, err
			}
		}
		updated, version, err := r.writer.Update(ctx, vm, seen, admitted, options.DryRun)
		var staleErr *kubevirt.StaleError
		if errors.As(err, &staleErr) && (staleErr.Admitted || seen == current) && attempt < 3 {
			// The request was computed, or admitted, from the cache's view,
			// which was behind KubeVirt: once the cache has caught up,
			// compute it again.
			if err := r.cache.WaitForSource(ctx, kubevirt.SourceVM, staleErr.Current); err != nil {
				return nil, false, staleErr
			}
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if len(options.DryRun) > 0 {
			return dryRunView(old, vm, updated), false, nil
		}
		return r.written(ctx, updated, version), false, nil
	}
}

// operationsOf are the operations an update of old to vm amounts to: a
// start or stop when it changes whether the VM runs, a resize when it
// changes its CPUs or memory. Each is admitted as if asked for through its
// subresource (the caller's rights on it, its prechecks), so the VM's spec
// is no way around what the operation would refuse.
func operationsOf(old, vm *hypersdk.VirtualMachine) []*hypersdk.VMOperation {
	op := func(typ hypersdk.VMOperationType) *hypersdk.VMOperation {
		return &hypersdk.VMOperation{ObjectMeta: metav1.ObjectMeta{Namespace: vm.Namespace},
			Spec: hypersdk.VMOperationSpec{VMName: vm.Name, Type: typ}}
	}
	var out []*hypersdk.VMOperation
	if run := vm.Spec.Running; run != nil && *run != ptr.Deref(old.Spec.Running, true) {
		if *run {
			o := op(hypersdk.VMOperationStart)
			o.Spec.Start = &hypersdk.StartSpec{}
			out = append(out, o)
		} else {
			o := op(hypersdk.VMOperationStop)
			o.Spec.Stop = &hypersdk.StopSpec{}
			out = append(out, o)
		}
	}
	resize := &hypersdk.ResizeSpec{}
	if vm.Spec.CPUs != old.Spec.CPUs {
		resize.CPUs = ptr.To(vm.Spec.CPUs)
	}
	if vm.Spec.Memory != nil && (old.Spec.Memory == nil || !vm.Spec.Memory.Equal(*old.Spec.Memory)) {
		resize.Memory = vm.Spec.Memory
	}
	if resize.CPUs != nil || resize.Memory != nil {
		o := op(hypersdk.VMOperationResize)
		o.Spec.Resize = resize
		out = append(out, o)
	}
	return out
}

// dryRunView is what a dry-run update answers: the VM as it is (status,
// resourceVersion), with the metadata, spec and generation the update would
// write, so kubectl diff shows only what the update changes. written is the
// view of the KubeVirt VM the dry run returned, made without the instance:
// whether the VM runs is the request's.
func dryRunView(old, requested, written *hypersdk.VirtualMachine) *hypersdk.VirtualMachine {
	out := old.DeepCopy()
	out.Labels, out.Annotations, out.ManagedFields = written.Labels, written.Annotations, written.ManagedFields
	out.OwnerReferences, out.Finalizers = written.OwnerReferences, written.Finalizers
	out.Generation = written.Generation
	out.Spec = *written.Spec.DeepCopy()
	out.Spec.Running = requested.Spec.Running
	return out
}

// seenVersion is the KubeVirt VirtualMachine version a resourceVersion the
// client sent was made from; 0 when it sent none.
func seenVersion(rv string) (uint64, error) {
	if rv == "" {
		return 0, nil
	}
	p, err := viewcache.ParsePosition(rv, kubevirt.ViewSources)
	if err != nil {
		return 0, apierrors.NewConflict(hypersdk.Resource("virtualmachines"), "", fmt.Errorf(
			"resourceVersion %q was not handed out by this resource; get the object again", rv))
	}
	return max(p[kubevirt.SourceVM], 1), nil
}

// Delete deletes the KubeVirt VirtualMachine; the view disappears when
// KubeVirt has removed it. Preconditions are checked against the KubeVirt
// VirtualMachine.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := r.Get(ctx, name, nil)
	if err != nil {
		return nil, false, err
	}
	vm := obj.(*hypersdk.VirtualMachine)
	if deleteValidation != nil {
		if err := deleteValidation(ctx, obj); err != nil {
			return nil, false, err
		}
	}
	opts := metav1.DeleteOptions{}
	if options != nil {
		opts = *options.DeepCopy()
	}
	uid, seen := vm.UID, uint64(0)
	if p := opts.Preconditions; p != nil {
		if p.UID != nil && *p.UID != vm.UID {
			return nil, false, apierrors.NewConflict(hypersdk.Resource("virtualmachines"), name,
				fmt.Errorf("precondition failed: UID %s, object has %s", *p.UID, vm.UID))
		}
		if p.ResourceVersion != nil {
			if seen, err = seenVersion(*p.ResourceVersion); err != nil {
				return nil, false, err
			}
		}
	}
	if err := r.writer.Delete(ctx, vm.Namespace, name, uid, seen, opts); err != nil {
		return nil, false, err
	}
	return obj, false, nil
}

// written returns the view of a write once the cache holds it (so a watch
// from its resourceVersion sees what follows), or, if that takes too long,
// the view computed from the write itself.
func (r *REST) written(ctx context.Context, view *hypersdk.VirtualMachine, version uint64) runtime.Object {
	if err := r.cache.WaitForSource(ctx, kubevirt.SourceVM, version); err == nil {
		if obj, ok := r.cache.Get(viewcache.Key(view.Namespace, view.Name)); ok {
			return obj
		}
	}
	view.ResourceVersion = viewcache.Position{version, 0}.String()
	return view
}

// ConvertToTable prints VMs for kubectl.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	return r.tableConvertor.ConvertToTable(ctx, obj, opts)
}
