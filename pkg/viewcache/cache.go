// Package viewcache is an in-memory watch cache for API objects that have no
// etcd behind them, such as the hypersdk.io VirtualMachine view computed from
// KubeVirt objects. It gives them what clients expect from any Kubernetes list
// and watch: a monotonically increasing resourceVersion, watches that resume
// from a version, 410 Gone for versions it no longer holds, and the
// sendInitialEvents protocol of client-go's streaming list.
package viewcache

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// Object is what the cache holds: any API object with metadata.
type Object interface {
	runtime.Object
	metav1.Object
}

// Predicate selects objects; nil selects all.
type Predicate func(Object) bool

// Config of a Cache.
type Config struct {
	// Resource names the cached resource in errors.
	Resource schema.GroupResource
	// StartVersion is the first resourceVersion the cache hands out. Start it
	// above any version an earlier process could have handed out (for example
	// from the wall clock), so clients of that process get 410 Gone and relist.
	StartVersion uint64
	// History is how many past events a watch can resume from.
	History int
	// WatchBuffer is how many events a slow watcher may lag before the cache
	// ends its watch (the client then resumes or relists).
	WatchBuffer int
	// NewBookmark returns an empty object of the cached kind, for bookmarks.
	NewBookmark func() Object
	// Equal reports whether two versions of an object are the same, ignoring
	// resourceVersion; an update that changes nothing is not an event.
	Equal func(a, b Object) bool
}

type event struct {
	typ     watch.EventType
	version uint64
	prev    Object // nil for an addition
	obj     Object // the deleted object for a deletion
}

// Cache holds the current objects by namespace/name and a bounded history of
// events. It is safe for concurrent use.
type Cache struct {
	cfg Config

	mu       sync.RWMutex
	version  uint64
	objects  map[string]Object
	history  []event // ring of the last cfg.History events, oldest first
	watchers map[*watcher]struct{}
}

// New returns an empty cache.
func New(cfg Config) *Cache {
	if cfg.History <= 0 {
		cfg.History = 1000
	}
	if cfg.WatchBuffer <= 0 {
		cfg.WatchBuffer = 256
	}
	return &Cache{
		cfg:      cfg,
		version:  cfg.StartVersion,
		objects:  map[string]Object{},
		watchers: map[*watcher]struct{}{},
	}
}

// Key is the cache key of a namespaced object.
func Key(namespace, name string) string { return namespace + "/" + name }

// Set stores obj under key, or deletes key when obj is nil, and notifies
// watchers. The cache takes ownership of obj and sets its resourceVersion.
func (c *Cache) Set(key string, obj Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, existed := c.objects[key]
	var ev event
	switch {
	case obj == nil && !existed:
		return
	case obj == nil:
		c.version++
		deleted := prev.DeepCopyObject().(Object)
		deleted.SetResourceVersion(strconv.FormatUint(c.version, 10))
		delete(c.objects, key)
		ev = event{typ: watch.Deleted, version: c.version, prev: prev, obj: deleted}
	case existed && c.cfg.Equal != nil && c.cfg.Equal(prev, obj):
		return
	default:
		c.version++
		obj.SetResourceVersion(strconv.FormatUint(c.version, 10))
		c.objects[key] = obj
		ev = event{typ: watch.Modified, version: c.version, prev: prev, obj: obj}
		if !existed {
			ev.typ, ev.prev = watch.Added, nil
		}
	}
	c.history = append(c.history, ev)
	if len(c.history) > c.cfg.History {
		c.history = c.history[len(c.history)-c.cfg.History:]
	}
	for w := range c.watchers {
		if !w.send(ev) {
			delete(c.watchers, w)
		}
	}
}

// Get returns a copy of the object under key.
func (c *Cache) Get(key string) (Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	obj, ok := c.objects[key]
	if !ok {
		return nil, false
	}
	return obj.DeepCopyObject().(Object), true
}

// List returns copies of the objects that match, in key order is not
// promised, and the version the list is consistent at.
func (c *Cache) List(match Predicate) ([]Object, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Object, 0, len(c.objects))
	for _, obj := range c.objects {
		if match == nil || match(obj) {
			out = append(out, obj.DeepCopyObject().(Object))
		}
	}
	return out, c.version
}

// Version is the cache's current resourceVersion.
func (c *Cache) Version() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.version
}

// WatchOptions say where a watch starts.
type WatchOptions struct {
	// ResourceVersion is "" or "0" to start with the current state, else the
	// version after which events are wanted.
	ResourceVersion string
	// SendInitialEvents sends the current state as ADDED events followed by a
	// bookmark annotated k8s.io/initial-events-end, as client-go's streaming
	// list expects.
	SendInitialEvents *bool
	// AllowBookmarks permits the initial-events-end bookmark.
	AllowBookmarks bool
}

// Watch starts a watch of the objects that match. It ends when ctx is done,
// when the client stops it, or when the client falls too far behind.
func (c *Cache) Watch(ctx context.Context, match Predicate, opts WatchOptions) (watch.Interface, error) {
	var from uint64
	if opts.ResourceVersion != "" {
		v, err := strconv.ParseUint(opts.ResourceVersion, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q: %v", opts.ResourceVersion, err))
		}
		from = v
	}
	initial := from == 0
	if opts.SendInitialEvents != nil {
		initial = *opts.SendInitialEvents
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var replay []event
	switch {
	case initial:
		if from > c.version {
			return nil, c.tooNew(from)
		}
		for _, obj := range c.objects {
			if match == nil || match(obj) {
				replay = append(replay, event{typ: watch.Added, version: c.version, obj: obj})
			}
		}
	case from > c.version:
		return nil, c.tooNew(from)
	case from < c.version:
		oldest := c.version + 1
		if len(c.history) > 0 {
			oldest = c.history[0].version
		}
		if from+1 < oldest {
			return nil, apierrors.NewResourceExpired(fmt.Sprintf(
				"too old resource version: %d (%d)", from, oldest-1))
		}
		for _, ev := range c.history {
			if ev.version > from {
				replay = append(replay, ev)
			}
		}
	}

	// The buffer holds the replay as well as live events, so it never blocks.
	w := &watcher{
		match:  match,
		result: make(chan watch.Event, len(replay)+c.cfg.WatchBuffer+1),
		done:   make(chan struct{}),
	}
	for _, ev := range replay {
		w.send(ev)
	}
	if initial && opts.SendInitialEvents != nil && opts.AllowBookmarks && c.cfg.NewBookmark != nil {
		bm := c.cfg.NewBookmark()
		bm.SetResourceVersion(strconv.FormatUint(c.version, 10))
		bm.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		w.result <- watch.Event{Type: watch.Bookmark, Object: bm}
	}
	c.watchers[w] = struct{}{}
	go func() {
		select {
		case <-ctx.Done():
		case <-w.done:
		}
		c.mu.Lock()
		if _, ok := c.watchers[w]; ok {
			delete(c.watchers, w)
			w.close()
		}
		c.mu.Unlock()
	}()
	return w, nil
}

func (c *Cache) tooNew(v uint64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf(
		"resource version %d of %s is newer than this server's %d: relist", v, c.cfg.Resource, c.version))
}

type watcher struct {
	match  Predicate
	result chan watch.Event
	done   chan struct{}
	once   sync.Once
	closed bool // guarded by the cache's lock
}

// send delivers ev as this watcher sees it through its predicate, following
// the apiserver's rules: an object that stops matching is DELETED for this
// watcher, one that starts matching is ADDED. It returns false, closing the
// watcher, when the client lags too far behind.
func (w *watcher) send(ev event) bool {
	if w.closed {
		return false
	}
	cur := w.match == nil || w.match(ev.obj)
	was := ev.prev != nil && (w.match == nil || w.match(ev.prev))
	out := watch.Event{Type: ev.typ, Object: ev.obj}
	switch ev.typ {
	case watch.Added:
		if !cur {
			return true
		}
	case watch.Modified:
		switch {
		case cur && was:
		case cur:
			out.Type = watch.Added
		case was:
			out.Type = watch.Deleted
		default:
			return true
		}
	case watch.Deleted:
		if !was {
			return true
		}
	}
	out.Object = out.Object.DeepCopyObject()
	select {
	case w.result <- out:
		return true
	default:
		w.close()
		return false
	}
}

func (w *watcher) close() {
	if !w.closed {
		w.closed = true
		close(w.result)
	}
}

// Stop ends the watch.
func (w *watcher) Stop() { w.once.Do(func() { close(w.done) }) }

// ResultChan delivers the events.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

var _ watch.Interface = &watcher{}

// SetListVersion stamps a list with the version it is consistent at.
func SetListVersion(list runtime.Object, version uint64) error {
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return err
	}
	lm.SetResourceVersion(strconv.FormatUint(version, 10))
	return nil
}
