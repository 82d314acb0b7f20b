package viewcache

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// WatchOptions say where a watch starts.
type WatchOptions struct {
	// ResourceVersion is "" or "0" to start with the current state, else the
	// position after which events are wanted (from this or another replica).
	ResourceVersion string
	// SendInitialEvents sends the current state as ADDED events followed by a
	// bookmark annotated k8s.io/initial-events-end, as client-go's streaming
	// list expects.
	SendInitialEvents *bool
	// AllowBookmarks permits the initial-events-end bookmark and the
	// periodic ones (Config.BookmarkInterval).
	AllowBookmarks bool
}

// Watch starts a watch of the views that match. It ends when ctx is done,
// when the client stops it, or when the client falls too far behind. A
// position this cache has not reached yet is waited for (CatchUp); one its
// history no longer covers is 410 Gone.
func (c *Cache) Watch(ctx context.Context, match Predicate, opts WatchOptions) (watch.Interface, error) {
	from, err := c.parse(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	initial := from == nil
	if opts.SendInitialEvents != nil {
		initial = *opts.SendInitialEvents
	}
	if from != nil {
		if err := c.waitFor(ctx, from); err != nil {
			return nil, err
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var replay []event
	switch {
	case initial:
		rv := c.pos.String()
		for _, e := range c.entries {
			if e.view != nil && (match == nil || match(e.view)) {
				replay = append(replay, event{typ: watch.Added, obj: e.view, rv: rv})
			}
		}
	case from != nil:
		if err := c.covered(from); err != nil {
			return nil, err
		}
		replay = c.replay(from)
	}
	// Else sendInitialEvents=false from no version: changes from now on.

	// The buffer holds the replay as well as live events, so it never blocks.
	w := &watcher{
		match:  match,
		result: make(chan watch.Event, len(replay)+c.cfg.WatchBuffer+1),
		done:   make(chan struct{}),
	}
	for i := range replay {
		w.send(&replay[i])
	}
	if initial && opts.SendInitialEvents != nil && opts.AllowBookmarks && c.cfg.NewBookmark != nil {
		bm := c.cfg.NewBookmark()
		bm.SetResourceVersion(c.pos.String())
		bm.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		w.result <- watch.Event{Type: watch.Bookmark, Object: bm}
	}
	c.watchers[w] = struct{}{}
	bookmarks := opts.AllowBookmarks && c.cfg.NewBookmark != nil && c.cfg.BookmarkInterval > 0
	go func() {
		var tick <-chan time.Time
		if bookmarks {
			t := time.NewTicker(c.cfg.BookmarkInterval)
			defer t.Stop()
			tick = t.C
		}
		for ended := false; !ended; {
			select {
			case <-ctx.Done():
				ended = true
			case <-w.done:
				ended = true
			case <-tick:
				c.bookmark(w)
			}
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

// bookmark sends w a bookmark at the cache's position, after every event
// up to it; a watcher whose buffer is full goes without (it is behind, and
// its next event moves it on).
func (c *Cache) bookmark(w *watcher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.watchers[w]; !ok || w.closed {
		return
	}
	bm := c.cfg.NewBookmark()
	bm.SetResourceVersion(c.pos.String())
	select {
	case w.result <- watch.Event{Type: watch.Bookmark, Object: bm}:
	default:
	}
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
// watcher, one that starts matching is ADDED. The object sent carries the
// event's position as its resourceVersion, so a client resumes from it. It
// returns false, closing the watcher, when the client lags too far behind.
func (w *watcher) send(ev *event) bool {
	if w.closed {
		return false
	}
	cur := w.match == nil || w.match(ev.obj)
	was := ev.prev != nil && (w.match == nil || w.match(ev.prev))
	out := watch.Event{Type: ev.typ}
	sendPrev := false
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
			// As kube-apiserver does: the object as it last matched.
			out.Type, sendPrev = watch.Deleted, true
		default:
			return true
		}
	case watch.Deleted:
		if !was {
			return true
		}
	}
	out.Object = ev.stamped(sendPrev)
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
