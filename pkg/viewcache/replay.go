package viewcache

// Answering at an earlier position.
//
// A replica applies each source's events in order, but interleaves the
// sources as its watches deliver them, so two replicas pass through
// different positions. A client at position p (from any replica) holds, for
// every key, the view joined from each source's object as of p. The events
// that take it from p to this cache's current position are this cache's
// history records whose version is above p in their own source, each
// answered with the view at the merged position max(p, record's cut): its
// own source as the record left it, every other source as of the later of
// p and this cache at that record. Those positions only grow, each step
// changes one key, and the last one is this cache's position, so the client
// ends where this cache is with nothing missed or repeated.

import "k8s.io/apimachinery/pkg/watch"

// keyHistory is the cache's records grouped by key, in order.
type keyHistory map[string][]*record

func (c *Cache) byKey() keyHistory {
	h := keyHistory{}
	for _, r := range c.history {
		h[r.key] = append(h[r.key], r)
	}
	return h
}

// sideAt is source src's object of a key at version v of that source, from
// the key's records; cur is the key's object now, for keys with no record of
// that source.
func sideAt(recs []*record, src int, v uint64, cur Object) Object {
	var last, next *record
	for _, r := range recs {
		if r.src != src {
			continue
		}
		if r.rv <= v {
			last = r
		} else if next == nil {
			next = r
		}
	}
	switch {
	case last != nil:
		return last.sides[src]
	case next != nil:
		return next.before
	}
	// No event of this source for the key in history: its object has not
	// changed at any position history covers, so it is the current one.
	// Not a record's copy of it: a record made before this source first
	// loaded holds nil for it.
	return cur
}

// viewAt is the view of key at position p.
func (c *Cache) viewAt(key string, recs []*record, p Position) Object {
	sides := make([]Object, c.cfg.Sources)
	var cur []Object
	if e, ok := c.entries[key]; ok {
		cur = e.sides
	}
	for s := range sides {
		var now Object
		if cur != nil {
			now = cur[s]
		}
		sides[s] = sideAt(recs, s, p[s], now)
	}
	if !hasAny(sides) {
		return nil
	}
	return c.join(key, sides)
}

// replay returns the events that take a client from position p to the
// cache's position, as described above. The caller holds the lock and has
// checked that history covers p.
func (c *Cache) replay(p Position) []event {
	var todo []*record
	for _, r := range c.history {
		if r.rv > p[r.src] {
			todo = append(todo, r)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	h := c.byKey()
	held := map[string]Object{} // the view the client holds, per key touched
	for _, r := range todo {
		if _, ok := held[r.key]; !ok {
			held[r.key] = c.viewAt(r.key, h[r.key], p)
		}
	}
	var out []event
	for _, r := range todo {
		at := p.Max(r.cut)
		view := c.viewAt(r.key, h[r.key], at)
		prev := held[r.key]
		held[r.key] = view
		var ev event
		switch {
		case prev == nil && view == nil:
			continue
		case prev == nil:
			ev = event{typ: watch.Added, obj: view}
		case view == nil:
			ev = event{typ: watch.Deleted, prev: prev, obj: prev}
		case c.cfg.Equal != nil && c.cfg.Equal(prev, view):
			continue
		default:
			ev = event{typ: watch.Modified, prev: prev, obj: view}
		}
		ev.rv = at.String()
		out = append(out, ev)
	}
	return out
}

// snapshotAt returns every view at an earlier position p, by key. The
// caller holds the lock and has checked that history covers p.
func (c *Cache) snapshotAt(p Position) map[string]Object {
	out := make(map[string]Object, len(c.entries))
	h := c.byKey()
	for key, e := range c.entries {
		if _, changed := h[key]; !changed && e.view != nil {
			out[key] = e.view
		}
	}
	for key, recs := range h {
		if view := c.viewAt(key, recs, p); view != nil {
			out[key] = view
		}
	}
	return out
}
