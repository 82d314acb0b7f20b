package virtualmachine

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/viewcache"
)

// Writer writes views through to the objects they are computed from.
type Writer interface {
	Create(ctx context.Context, view *hypersdk.VirtualMachine, dryRun []string) (*hypersdk.VirtualMachine, error)
	Update(ctx context.Context, view *hypersdk.VirtualMachine, dryRun []string) (*hypersdk.VirtualMachine, error)
	Delete(ctx context.Context, namespace, name string, opts metav1.DeleteOptions) error
}

// REST serves virtualmachines from the view cache.
type REST struct {
	cache    *viewcache.Cache
	writer   Writer
	strategy strategy
	tableConvertor
	// settle bounds how long a write waits for the informers to bring its
	// result into the cache, so the answer carries a resourceVersion that a
	// following watch can start from.
	settle time.Duration
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

// NewREST returns the storage of virtualmachines. Its cache starts at
// startVersion: pass something above any version an earlier process handed
// out (the wall clock in microseconds does), so their watchers relist.
func NewREST(typer runtime.ObjectTyper, writer Writer, startVersion uint64) *REST {
	return &REST{
		cache: viewcache.New(viewcache.Config{
			Resource:     hypersdk.Resource("virtualmachines"),
			StartVersion: startVersion,
			NewBookmark:  func() viewcache.Object { return &hypersdk.VirtualMachine{} },
			Equal:        equalIgnoringVersion,
		}),
		writer:   writer,
		strategy: strategy{typer, names.SimpleNameGenerator},
		settle:   10 * time.Second,
	}
}

func equalIgnoringVersion(a, b viewcache.Object) bool {
	x, y := *a.(*hypersdk.VirtualMachine), *b.(*hypersdk.VirtualMachine)
	x.ResourceVersion, y.ResourceVersion = "", ""
	return equality.Semantic.DeepEqual(x, y)
}

// SetView stores the view of one VM; nil removes it. The KubeVirt feeder calls it.
func (r *REST) SetView(namespace, name string, view *hypersdk.VirtualMachine) {
	if view == nil {
		r.cache.Set(viewcache.Key(namespace, name), nil)
		return
	}
	r.cache.Set(viewcache.Key(namespace, name), view)
}

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

// Get returns one VM.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	obj, ok := r.cache.Get(viewcache.Key(ns, name))
	if !ok {
		return nil, apierrors.NewNotFound(hypersdk.Resource("virtualmachines"), name)
	}
	return obj, nil
}

// List returns the VMs that match the request's namespace and selectors.
// Selectors are applied here, on the server.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	items, version := r.cache.List(predicate(ctx, options))
	list := &hypersdk.VirtualMachineList{Items: make([]hypersdk.VirtualMachine, 0, len(items))}
	for _, obj := range items {
		list.Items = append(list.Items, *obj.(*hypersdk.VirtualMachine))
	}
	if err := viewcache.SetListVersion(list, version); err != nil {
		return nil, err
	}
	return list, nil
}

// Watch streams changes of the VMs that match.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
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
	if objMeta, err := meta.Accessor(obj); err == nil {
		rest.FillObjectMetaSystemFields(objMeta)
	}
	if err := rest.BeforeCreate(r.strategy, ctx, obj); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	created, err := r.writer.Create(ctx, obj.(*hypersdk.VirtualMachine), options.DryRun)
	if err != nil {
		return nil, err
	}
	if len(options.DryRun) > 0 {
		return created, nil
	}
	return r.awaitView(ctx, created), nil
}

// Update applies a change to the view to the KubeVirt VirtualMachine. A
// resourceVersion in the request must be the view's current one.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	oldObj, err := r.Get(ctx, name, nil)
	if err != nil {
		return nil, false, err
	}
	obj, err := objInfo.UpdatedObject(ctx, oldObj)
	if err != nil {
		return nil, false, err
	}
	vm, old := obj.(*hypersdk.VirtualMachine), oldObj.(*hypersdk.VirtualMachine)
	if vm.ResourceVersion != "" && vm.ResourceVersion != old.ResourceVersion {
		return nil, false, apierrors.NewConflict(hypersdk.Resource("virtualmachines"), name,
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
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
	updated, err := r.writer.Update(ctx, vm, options.DryRun)
	if err != nil {
		return nil, false, err
	}
	if len(options.DryRun) > 0 {
		return updated, false, nil
	}
	return r.awaitView(ctx, updated), false, nil
}

// Delete deletes the KubeVirt VirtualMachine; the view disappears when
// KubeVirt has removed it.
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
	if p := opts.Preconditions; p != nil {
		if p.ResourceVersion != nil && *p.ResourceVersion != vm.ResourceVersion {
			return nil, false, apierrors.NewConflict(hypersdk.Resource("virtualmachines"), name,
				fmt.Errorf("precondition failed: resourceVersion %s, object has %s", *p.ResourceVersion, vm.ResourceVersion))
		}
		if p.UID != nil && *p.UID != vm.UID {
			return nil, false, apierrors.NewConflict(hypersdk.Resource("virtualmachines"), name,
				fmt.Errorf("precondition failed: UID %s, object has %s", *p.UID, vm.UID))
		}
	}
	// The KubeVirt object has its own resourceVersion; guard by UID only.
	uid := vm.UID
	opts.Preconditions = &metav1.Preconditions{UID: &uid}
	if err := r.writer.Delete(ctx, vm.Namespace, name, opts); err != nil {
		return nil, false, err
	}
	return obj, false, nil
}

// awaitView waits until the informers brought a write into the cache and
// returns the cached view, which carries the resourceVersion watchers see.
// If that takes too long it returns the view computed from the write.
func (r *REST) awaitView(ctx context.Context, written *hypersdk.VirtualMachine) runtime.Object {
	key := viewcache.Key(written.Namespace, written.Name)
	var found runtime.Object
	_ = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, r.settle, true, func(context.Context) (bool, error) {
		obj, ok := r.cache.Get(key)
		if !ok {
			return false, nil
		}
		vm := obj.(*hypersdk.VirtualMachine)
		if vm.UID != written.UID || vm.Generation < written.Generation ||
			!equality.Semantic.DeepEqual(vm.Labels, written.Labels) ||
			!equality.Semantic.DeepEqual(vm.Annotations, written.Annotations) {
			return false, nil
		}
		found = obj
		return true, nil
	})
	if found == nil {
		return written
	}
	return found
}

// ConvertToTable prints VMs for kubectl.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	return r.tableConvertor.ConvertToTable(ctx, obj, opts)
}
