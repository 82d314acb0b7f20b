// Package viewcache is an in-memory watch cache for API objects that have no
// etcd behind them, but are joined from objects that do: the hypersdk.io
// VirtualMachine view, computed from a KubeVirt VirtualMachine and its
// VirtualMachineInstance. It gives such views what clients expect from any
// Kubernetes list and watch: resourceVersions, watches that resume from a
// version, 410 Gone for versions it no longer holds, paged lists, and the
// sendInitialEvents protocol of client-go's streaming list.
//
// Its versions are Positions derived from the sources' own resourceVersions,
// so every replica of a server that feeds a cache from the same API server
// hands out the same version for the same state, with no coordination: a
// client may list on one replica and resume its watch on another.
package viewcache

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// Object is what the cache holds and is fed: any API object with metadata.
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
	// Sources is how many source streams a view is joined from (for the VM
	// view: VirtualMachines and VirtualMachineInstances).
	Sources int
	// Join computes the view of key from one object per source (nil where a
	// source has none), or nil when key has no view. It must not modify the
	// sides, and the view it returns must share no memory with them.
	Join func(key string, sides []Object) Object
	// History is how many past source events a watch can resume from.
	History int
	// WatchBuffer is how many events a slow watcher may lag before the cache
	// ends its watch (the client then resumes or relists).
	WatchBuffer int
	// NewBookmark returns an empty object of the cached kind, for bookmarks.
	NewBookmark func() Object
	// BookmarkInterval is how often a watch that allows bookmarks gets one
	// at the cache's position (0: never), as kube-apiserver's watch cache
	// sends them: a client whose filter matches few events then resumes
	// from a recent position when its watch ends, not from one the history
	// no longer covers (410 Gone).
	BookmarkInterval time.Duration
	// Equal reports whether two views are the same, ignoring
	// resourceVersion; a source event that changes no view is no watch event.
	Equal func(a, b Object) bool
	// CatchUp bounds how long a request for a position this cache has not
	// reached yet (one another replica handed out) waits for it.
	CatchUp time.Duration
}

type entry struct {
	sides []Object // one object per source, nil where absent
	view  Object   // the joined view, nil when there is none
	// applied is, per source, the version of the last event of key applied
	// (its deletion's for a side gone, where the view's own version says
	// 0); changed is applied when the view last changed as Equal sees it:
	// later source events changed nothing a client sees.
	applied, changed Position
}

// record is one applied source event, kept so that a watch or list at an
// earlier position can be answered.
type record struct {
	src    int
	rv     uint64
	key    string
	before Object   // the source's object of key before the event
	sides  []Object // every source's object of key after the event
	cut    Position // the cache's position after the event
}

type event struct {
	typ  watch.EventType
	rv   string // the position to stamp on the object sent
	prev Object // nil for an addition
	obj  Object // the deleted view for a deletion

	// sentObj and sentPrev are obj and prev as watchers receive them,
	// stamped with rv: copied on first use and then shared by every watcher,
	// as kube-apiserver's watch cache shares one object among its watchers.
	// Nothing downstream modifies them (the watch handler only encodes), so
	// a change costs one copy, and one encoding per format (sentObject),
	// however many watch it.
	sentObj, sentPrev Object
}

// stamped returns the object of the event (or, with prev, the one before
// it) as sent: a copy carrying the event's position as resourceVersion.
func (ev *event) stamped(prev bool) Object {
	sent, src := &ev.sentObj, ev.obj
	if prev {
		sent, src = &ev.sentPrev, ev.prev
	}
	if *sent == nil {
		o := src.DeepCopyObject().(Object)
		o.SetResourceVersion(ev.rv)
		*sent = &sentObject{Object: o}
	}
	return *sent
}

// Cache holds the current source objects and views by key, the position it
// is at, and a bounded history of source events. It is safe for concurrent use.
type Cache struct {
	cfg Config

	mu       sync.RWMutex
	pos      Position
	floor    Position // the earliest position history fully covers, per source
	synced   []bool
	entries  map[string]*entry
	history  []*record
	watchers map[*watcher]struct{}
	changed  chan struct{} // closed and replaced whenever pos moves
}

// New returns an empty cache.
func New(cfg Config) *Cache {
	if cfg.Sources <= 0 {
		cfg.Sources = 1
	}
	if cfg.History <= 0 {
		cfg.History = 1000
	}
	if cfg.WatchBuffer <= 0 {
		cfg.WatchBuffer = 256
	}
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = 3 * time.Second
	}
	return &Cache{
		cfg:      cfg,
		pos:      make(Position, cfg.Sources),
		floor:    make(Position, cfg.Sources),
		synced:   make([]bool, cfg.Sources),
		entries:  map[string]*entry{},
		watchers: map[*watcher]struct{}{},
		changed:  make(chan struct{}),
	}
}

// Key is the cache key of a namespaced object.
func Key(namespace, name string) string { return namespace + "/" + name }

func resourceVersion(obj Object) (uint64, error) {
	v, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s/%s has resourceVersion %q: %w", obj.GetNamespace(), obj.GetName(), obj.GetResourceVersion(), err)
	}
	return v, nil
}

// Replace loads every object of source src, as listed at version rv. The
// first call for a source sets where its history begins. A later call (the
// source's watch broke and it relisted) applies the difference as events,
// and history no longer reaches back before it for that source, since the
// events in between are unknown.
func (c *Cache) Replace(src int, objs map[string]Object, rv uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.synced[src] {
		for key, obj := range objs {
			v, _ := resourceVersion(obj) // as join reads it
			e := c.entry(key)
			e.sides[src], e.applied[src] = obj, v
			c.update(key, e, "")
		}
		c.pos[src] = max(c.pos[src], rv)
		c.floor[src] = c.pos[src]
		c.synced[src] = true
		// A side a listed source does not have may have gone before the
		// list, unseen: as far as this cache knows, it went then.
		for _, e := range c.entries {
			for s := range e.sides {
				if c.synced[s] && e.sides[s] == nil && e.applied[s] < c.floor[s] {
					e.applied[s] = c.floor[s]
					if e.changed != nil {
						e.changed[s] = max(e.changed[s], c.floor[s])
					}
				}
			}
		}
		c.moved()
		return nil
	}
	// Objects that changed, in the order of their versions, then those that
	// are gone, at the list's version (when they went is unknown).
	type change struct {
		key string
		obj Object
		rv  uint64
	}
	var changes []change
	for key, obj := range objs {
		v, err := resourceVersion(obj)
		if err != nil {
			return err
		}
		if cur := c.side(key, src); cur == nil || cur.GetResourceVersion() != obj.GetResourceVersion() {
			changes = append(changes, change{key, obj, max(v, c.pos[src]+1)})
		}
	}
	slices.SortFunc(changes, func(a, b change) int { return cmp.Compare(a.rv, b.rv) })
	for key, e := range c.entries {
		if e.sides[src] != nil {
			if _, ok := objs[key]; !ok {
				changes = append(changes, change{key, nil, max(rv, c.pos[src]+1)})
			}
		}
	}
	for _, ch := range changes {
		c.apply(src, ch.key, ch.obj, ch.obj == nil, max(ch.rv, c.pos[src]))
	}
	c.pos[src] = max(c.pos[src], rv)
	c.floor[src] = c.pos[src]
	c.moved()
	return nil
}

// Apply applies one event of source src: obj is the object's new state, or
// its final state when deleted. Events of one source must come in the
// order of their resourceVersions, as one watch delivers them; an event at
// or below the source's position has been applied already and is ignored.
func (c *Cache) Apply(src int, key string, obj Object, deleted bool) error {
	rv, err := resourceVersion(obj)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rv <= c.pos[src] {
		return nil
	}
	c.apply(src, key, obj, deleted, rv)
	c.moved()
	return nil
}

func (c *Cache) apply(src int, key string, obj Object, deleted bool, rv uint64) {
	e := c.entry(key)
	before := e.sides[src]
	if deleted {
		if before == nil {
			// Deleted before this cache saw it (it was listed after the
			// deletion): the object still existed at earlier positions.
			before = obj
		}
		e.sides[src] = nil
	} else {
		e.sides[src] = obj
	}
	c.pos[src], e.applied[src] = rv, rv
	r := &record{src: src, rv: rv, key: key, before: before, sides: append([]Object(nil), e.sides...), cut: c.pos.clone()}
	c.history = append(c.history, r)
	if over := len(c.history) - c.cfg.History; over > 0 {
		for _, old := range c.history[:over] {
			c.floor[old.src] = max(c.floor[old.src], old.rv)
		}
		c.history = c.history[over:]
	}
	c.update(key, e, c.pos.String())
}

// update recomputes the view of key and tells watchers when it changed; rv
// is the position to stamp on events.
func (c *Cache) update(key string, e *entry, rv string) {
	prev := e.view
	view := c.join(key, e.sides)
	e.view = view
	if view == nil && !hasAny(e.sides) {
		delete(c.entries, key)
	}
	var ev event
	switch {
	case prev == nil && view == nil:
		return
	case prev == nil:
		ev = event{typ: watch.Added, obj: view}
	case view == nil:
		ev = event{typ: watch.Deleted, prev: prev, obj: prev}
	case c.cfg.Equal != nil && c.cfg.Equal(prev, view):
		return
	default:
		ev = event{typ: watch.Modified, prev: prev, obj: view}
	}
	e.changed = e.applied.clone()
	if rv == "" {
		rv = c.pos.String()
	}
	ev.rv = rv
	for w := range c.watchers {
		if !w.send(&ev) {
			delete(c.watchers, w)
		}
	}
}

// join computes a view and stamps it with the versions of its own sides.
func (c *Cache) join(key string, sides []Object) Object {
	view := c.cfg.Join(key, sides)
	if view == nil {
		return nil
	}
	own := make(Position, len(sides))
	for i, s := range sides {
		if s != nil {
			own[i], _ = resourceVersion(s)
		}
	}
	view.SetResourceVersion(own.String())
	return view
}

func hasAny(sides []Object) bool {
	for _, s := range sides {
		if s != nil {
			return true
		}
	}
	return false
}

func (c *Cache) entry(key string) *entry {
	e, ok := c.entries[key]
	if !ok {
		e = &entry{sides: make([]Object, c.cfg.Sources), applied: make(Position, c.cfg.Sources)}
		c.entries[key] = e
	}
	return e
}

func (c *Cache) side(key string, src int) Object {
	if e, ok := c.entries[key]; ok {
		return e.sides[src]
	}
	return nil
}

// moved wakes everyone waiting for the position to move.
func (c *Cache) moved() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Synced reports whether every source has been listed once. It stays true.
func (c *Cache) Synced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, s := range c.synced {
		if !s {
			return false
		}
	}
	return true
}

// Position returns where the cache is.
func (c *Cache) Position() Position {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.pos.clone()
}

// Get returns a copy of the view under key. Its resourceVersion is the
// position of its own sources' versions.
func (c *Cache) Get(key string) (Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[key]
	if !ok || e.view == nil {
		return nil, false
	}
	return e.view.DeepCopyObject().(Object), true
}

// Holds reports whether a client holding the view of key at position held
// (a watch event's, or a get's own versions) holds what the cache holds
// now, whatever source events (a status the view does not show) came
// since: for every source, held has reached the event applied when the
// view last changed as Config.Equal sees it (a deletion's for a side
// gone, as far as this cache knows), or held had no side of that source
// (own version 0) and there is none now.
func (c *Cache) Holds(key string, held Position) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[key]
	if !ok || e.view == nil || e.changed == nil || len(held) != len(e.changed) {
		return false
	}
	for s, v := range e.changed {
		if held[s] < v && (held[s] != 0 || e.sides[s] != nil) {
			return false
		}
	}
	return true
}

// Side returns a copy of what source src last gave for key, or false.
func (c *Cache) Side(key string, src int) (Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o := c.side(key, src)
	if o == nil {
		return nil, false
	}
	return o.DeepCopyObject().(Object), true
}

// WaitForSource waits until the cache has applied source src up to rv (for
// example a write's own result), for at most the CatchUp time.
func (c *Cache) WaitForSource(ctx context.Context, src int, rv uint64) error {
	c.mu.RLock()
	want := c.pos.clone()
	c.mu.RUnlock()
	want[src] = max(want[src], rv)
	return c.waitFor(ctx, want)
}

// waitFor waits until the cache has reached p, for at most CatchUp.
func (c *Cache) waitFor(ctx context.Context, p Position) error {
	timer := time.NewTimer(c.cfg.CatchUp)
	defer timer.Stop()
	for {
		c.mu.RLock()
		reached, ch, cur := c.pos.AtLeast(p), c.changed, c.pos.clone()
		c.mu.RUnlock()
		if reached {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return c.tooLarge(p, cur)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tooLarge is the error kube-apiserver gives for a version it has not
// reached: 504 with a ResourceVersionTooLarge cause, which client-go's
// reflector answers by retrying.
func (c *Cache) tooLarge(want, have Position) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %s, current: %s", want, have), 1)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    metav1.CauseTypeResourceVersionTooLarge,
		Message: "Too large resource version",
	})
	return err
}

// parse reads a resourceVersion a client sent: nil for "" and "0", which
// mean "any version"; 410 Gone for versions of another scheme (such as those
// of an earlier release), so the client relists.
func (c *Cache) parse(rv string) (Position, error) {
	if rv == "" || rv == "0" {
		return nil, nil
	}
	p, err := ParsePosition(rv, c.cfg.Sources)
	if err != nil {
		return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %s: %v", rv, err))
	}
	return p, nil
}

// covered returns 410 Gone unless history reaches back to p.
func (c *Cache) covered(p Position) error {
	if !p.AtLeast(c.floor) {
		return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %s (%s)", p, c.floor))
	}
	return nil
}

// SetListVersion stamps a list with the version it is consistent at.
func SetListVersion(list runtime.Object, rv string) error {
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return err
	}
	lm.SetResourceVersion(rv)
	return nil
}
