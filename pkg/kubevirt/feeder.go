package kubevirt

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/viewcache"
)

// The sources of the VM view, in the order of the components of its
// resourceVersions (see viewcache.Position).
const (
	SourceVM    = 0
	SourceVMI   = 1
	ViewSources = 2
)

// JoinView is the view cache's join: the view of a VM from its KubeVirt
// VirtualMachine and VirtualMachineInstance (same namespace and name), none
// without a VirtualMachine.
func JoinView(_ string, sides []viewcache.Object) viewcache.Object {
	vm, _ := sides[SourceVM].(*kvv1.VirtualMachine)
	if vm == nil {
		return nil
	}
	vmi, _ := sides[SourceVMI].(*kvv1.VirtualMachineInstance)
	return View(vm, vmi)
}

// ViewSink takes the KubeVirt objects views are joined from, in the order
// each source's watch delivers them (viewcache.Cache is one).
type ViewSink interface {
	Replace(src int, objs map[string]viewcache.Object, rv uint64) error
	Apply(src int, key string, obj viewcache.Object, deleted bool) error
}

// ViewFeeder lists and watches KubeVirt VirtualMachines and
// VirtualMachineInstances in all namespaces and hands every object and event
// to a sink, in the order of each watch and with nothing in between, so the
// sink's positions are the sources' own resourceVersions.
type ViewFeeder struct {
	reflectors []*cache.Reflector
}

// NewViewFeeder returns a feeder over the KubeVirt API reached by client.
func NewViewFeeder(client Clientset, sink ViewSink) *ViewFeeder {
	vms, vmis := client.KubevirtV1().VirtualMachines(metav1.NamespaceAll), client.KubevirtV1().VirtualMachineInstances(metav1.NamespaceAll)
	return &ViewFeeder{reflectors: []*cache.Reflector{
		cache.NewReflectorWithOptions(newSourceListWatch(vms), &kvv1.VirtualMachine{},
			&sourceStore{src: SourceVM, sink: sink}, cache.ReflectorOptions{Name: "vm-view-vms"}),
		cache.NewReflectorWithOptions(newSourceListWatch(vmis), &kvv1.VirtualMachineInstance{},
			&sourceStore{src: SourceVMI, sink: sink}, cache.ReflectorOptions{Name: "vm-view-vmis"}),
	}}
}

// CachedObjects reads the KubeVirt objects behind the VM view from its
// cache, without a request to kube-apiserver.
type CachedObjects struct{ Cache *viewcache.Cache }

// Objects returns the VM namespace/name and its instance (nil when it has
// none); false when the cache holds no such VM.
func (c CachedObjects) Objects(namespace, name string) (*kvv1.VirtualMachine, *kvv1.VirtualMachineInstance, bool) {
	key := viewcache.Key(namespace, name)
	o, ok := c.Cache.Side(key, SourceVM)
	if !ok {
		return nil, nil, false
	}
	vm := o.(*kvv1.VirtualMachine)
	if o, ok := c.Cache.Side(key, SourceVMI); ok {
		return vm, o.(*kvv1.VirtualMachineInstance), true
	}
	return vm, nil, true
}

// Run feeds the sink until ctx is done.
func (f *ViewFeeder) Run(ctx context.Context) {
	for _, r := range f.reflectors {
		go r.RunWithContext(ctx)
	}
	<-ctx.Done()
}

// sourceStore is where a reflector puts one source's objects: straight into
// the sink.
type sourceStore struct {
	src  int
	sink ViewSink
}

var _ cache.ReflectorStore = &sourceStore{}

func (s *sourceStore) apply(obj interface{}, deleted bool) error {
	o, ok := obj.(viewcache.Object)
	if !ok {
		return fmt.Errorf("unexpected %T from the watch", obj)
	}
	if err := s.sink.Apply(s.src, viewcache.Key(o.GetNamespace(), o.GetName()), o, deleted); err != nil {
		utilruntime.HandleError(fmt.Errorf("applying %s/%s to the VM view: %w", o.GetNamespace(), o.GetName(), err))
	}
	return nil
}

func (s *sourceStore) Add(obj interface{}) error    { return s.apply(obj, false) }
func (s *sourceStore) Update(obj interface{}) error { return s.apply(obj, false) }
func (s *sourceStore) Delete(obj interface{}) error { return s.apply(obj, true) }
func (s *sourceStore) Resync() error                { return nil }

func (s *sourceStore) Replace(list []interface{}, rv string) error {
	v, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return fmt.Errorf("list resourceVersion %q: %w", rv, err)
	}
	objs := make(map[string]viewcache.Object, len(list))
	for _, obj := range list {
		o, ok := obj.(viewcache.Object)
		if !ok {
			return fmt.Errorf("unexpected %T in the list", obj)
		}
		objs[viewcache.Key(o.GetNamespace(), o.GetName())] = o
	}
	return s.sink.Replace(s.src, objs, v)
}

// sourceListWatch lists and watches one source for the view. A list at
// revision L says nothing about when objects deleted before L went, so a
// cache loaded from it could not answer a client that still holds them. So
// the list claims the version of its newest object (M <= L) instead, and the
// watch that follows starts there: every event in (M, L] (only deletions, or
// objects made and removed in between) arrives as an event. Every replica
// that lists the same objects then starts at the same position. When
// kube-apiserver no longer holds M, the next list keeps its own L.
type sourceListWatch[L runtime.Object] struct {
	client listWatcher[L]

	mu         sync.Mutex
	rewritten  bool // the last list claimed its newest object's version
	keepListRV bool // a watch from such a version was too old: do not claim it again
}

func newSourceListWatch[L runtime.Object](client listWatcher[L]) *sourceListWatch[L] {
	return &sourceListWatch[L]{client: client}
}

var _ cache.ListerWatcherWithContext = &sourceListWatch[*kvv1.VirtualMachineList]{}

// IsWatchListSemanticsUnSupported makes the reflector list and then watch,
// so the list's version can be chosen as above.
func (lw *sourceListWatch[L]) IsWatchListSemanticsUnSupported() bool { return true }

func (lw *sourceListWatch[L]) List(opts metav1.ListOptions) (runtime.Object, error) {
	return lw.ListWithContext(context.Background(), opts)
}

func (lw *sourceListWatch[L]) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return lw.WatchWithContext(context.Background(), opts)
}

func (lw *sourceListWatch[L]) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	// One page: the version claimed below is the newest object's of the
	// whole list.
	opts.Limit, opts.Continue = 0, ""
	list, err := lw.client.List(ctx, opts)
	if err != nil {
		return nil, err
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.rewritten = false
	if lw.keepListRV {
		lw.keepListRV = false
		return list, nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	var newest uint64
	for _, item := range items {
		m, err := meta.Accessor(item)
		if err != nil {
			return nil, err
		}
		if v, err := strconv.ParseUint(m.GetResourceVersion(), 10, 64); err == nil {
			newest = max(newest, v)
		}
	}
	if newest == 0 {
		return list, nil
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	lm.SetResourceVersion(strconv.FormatUint(newest, 10))
	lw.rewritten = true
	return list, nil
}

func (lw *sourceListWatch[L]) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	lw.mu.Lock()
	rewritten := lw.rewritten
	lw.rewritten = false
	lw.mu.Unlock()
	w, err := lw.client.Watch(ctx, opts)
	if !rewritten {
		return w, err
	}
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			lw.expired()
		}
		return nil, err
	}
	return watch.Filter(w, func(ev watch.Event) (watch.Event, bool) {
		if ev.Type == watch.Error {
			if st, ok := ev.Object.(*metav1.Status); ok && (st.Reason == metav1.StatusReasonExpired || st.Reason == metav1.StatusReasonGone) {
				lw.expired()
			}
		}
		return ev, true
	}), nil
}

func (lw *sourceListWatch[L]) expired() {
	lw.mu.Lock()
	lw.keepListRV = true
	lw.mu.Unlock()
}
