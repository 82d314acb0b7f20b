package viewcache

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

// The sources are ConfigMaps standing in for a VM and its instance: the
// view of a key exists while its "vm" exists, and carries the label v of
// each side, so every source event shows in the view.
const (
	vmSrc  = 0
	vmiSrc = 1
)

// src is a source object at resourceVersion rv with label v.
func src(name string, rv uint64, v string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "ns", ResourceVersion: strconv.FormatUint(rv, 10), Labels: map[string]string{"v": v},
	}}
}

func join(_ string, sides []Object) Object {
	if sides[vmSrc] == nil {
		return nil
	}
	view := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: sides[vmSrc].GetName(), Namespace: "ns",
		Labels: map[string]string{"vm": sides[vmSrc].GetLabels()["v"]},
	}}
	if sides[vmiSrc] != nil {
		view.Labels["vmi"] = sides[vmiSrc].GetLabels()["v"]
	}
	return view
}

func newCache(history int) *Cache {
	return New(Config{
		Sources:     2,
		Join:        join,
		History:     history,
		WatchBuffer: 4,
		CatchUp:     200 * time.Millisecond,
		NewBookmark: func() Object { return &corev1.ConfigMap{} },
		Equal: func(a, b Object) bool {
			x, y := a.DeepCopyObject().(*corev1.ConfigMap), b.DeepCopyObject().(*corev1.ConfigMap)
			x.ResourceVersion, y.ResourceVersion = "", ""
			return equality.Semantic.DeepEqual(x, y)
		},
	})
}

// synced returns a cache loaded with no objects at version 100 of each source.
func synced(t *testing.T, history int) *Cache {
	t.Helper()
	c := newCache(history)
	for s := range 2 {
		if err := c.Replace(s, nil, 100); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func apply(t *testing.T, c *Cache, s int, obj *corev1.ConfigMap, deleted bool) {
	t.Helper()
	if err := c.Apply(s, Key(obj.Namespace, obj.Name), obj, deleted); err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, c *Cache, s int, obj *corev1.ConfigMap) {
	t.Helper()
	apply(t, c, s, obj, false)
}

func recv(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return watch.Event{}
}

func assertEvent(t *testing.T, ev watch.Event, typ watch.EventType, name, rv string) {
	t.Helper()
	m := ev.Object.(metav1.Object)
	if ev.Type != typ || m.GetName() != name || (rv != "" && m.GetResourceVersion() != rv) {
		t.Fatalf("event %s %s@%s, want %s %s@%s", ev.Type, m.GetName(), m.GetResourceVersion(), typ, name, rv)
	}
}

func TestPositions(t *testing.T) {
	p, err := ParsePosition("12.7", 2)
	if err != nil || p[0] != 12 || p[1] != 7 || p.String() != "12.7" {
		t.Fatalf("ParsePosition(12.7) = %v, %v", p, err)
	}
	for _, bad := range []string{"12", "1.2.3", "a.1", "-1.2", ""} {
		if _, err := ParsePosition(bad, 2); err == nil {
			t.Errorf("ParsePosition(%q) accepted", bad)
		}
	}
	q := Position{10, 9}
	if !p.Max(q).Equal(Position{12, 9}) || p.AtLeast(q) || q.AtLeast(p) || !p.AtLeast(Position{12, 7}) {
		t.Errorf("Max/AtLeast of %v and %v wrong", p, q)
	}
}

func TestViewsFollowBothSources(t *testing.T) {
	c := synced(t, 10)
	apply(t, c, vmiSrc, src("a", 101, "i1"), false) // no VM yet: no view
	if _, ok := c.Get("ns/a"); ok {
		t.Fatal("a view without its VM")
	}
	apply(t, c, vmSrc, src("a", 102, "m1"), false)
	got, ok := c.Get("ns/a")
	if !ok || got.GetLabels()["vm"] != "m1" || got.GetLabels()["vmi"] != "i1" || got.GetResourceVersion() != "102.101" {
		t.Fatalf("view = %v, want m1/i1 with its own versions 102.101", got)
	}
	if p := c.Position(); !p.Equal(Position{102, 101}) {
		t.Fatalf("position = %v, want 102.101", p)
	}
	// An event at or below a source's position was applied already.
	apply(t, c, vmSrc, src("a", 102, "stale"), false)
	if got, _ := c.Get("ns/a"); got.GetLabels()["vm"] != "m1" {
		t.Fatal("a replayed event was applied twice")
	}
	apply(t, c, vmSrc, src("a", 103, "m1"), true)
	if _, ok := c.Get("ns/a"); ok {
		t.Fatal("view of a deleted VM")
	}
}

func TestWatchFromNowSendsStateThenChanges(t *testing.T) {
	c := synced(t, 10)
	apply(t, c, vmSrc, src("a", 101, "m1"), false)
	w, err := c.Watch(context.Background(), nil, WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	assertEvent(t, recv(t, w), watch.Added, "a", "101.100")
	apply(t, c, vmiSrc, src("a", 102, "i1"), false)
	assertEvent(t, recv(t, w), watch.Modified, "a", "101.102")
	apply(t, c, vmiSrc, src("a", 103, "i1"), false) // same view: no event
	apply(t, c, vmSrc, src("a", 104, "m1"), true)
	assertEvent(t, recv(t, w), watch.Deleted, "a", "104.103")
}

// TestHoldsUntilAVisibleChange: a client holds the cache's view of a key
// until a source event changes what the view shows: events that change
// nothing it shows (a status it does not read) leave its copy current,
// an instance gone does not, and a copy without an instance stays current
// while there is none.
func TestHoldsUntilAVisibleChange(t *testing.T) {
	c := synced(t, 10)
	apply(t, c, vmSrc, src("a", 101, "m1"), false)
	apply(t, c, vmiSrc, src("a", 102, "i1"), false)
	held := Position{101, 102}
	apply(t, c, vmSrc, src("a", 103, "m1"), false) // same view
	if got, _ := c.Get("ns/a"); !c.Holds("ns/a", held) || got.GetResourceVersion() != "103.102" {
		t.Errorf("after an event the view does not show: holds %v (view at %s), want true", c.Holds("ns/a", held), got.GetResourceVersion())
	}
	apply(t, c, vmiSrc, src("a", 104, "i1"), true) // the instance gone
	if c.Holds("ns/a", held) {
		t.Error("a copy from before the instance went holds the view")
	}
	got, _ := c.Get("ns/a")
	current, _ := ParsePosition(got.GetResourceVersion(), 2)
	apply(t, c, vmSrc, src("a", 105, "m1"), false) // same view
	if !c.Holds("ns/a", current) || !c.Holds("ns/a", Position{105, 104}) {
		t.Errorf("a get's copy (%v) or a watch's after the instance went: not held", current)
	}
	if c.Holds("ns/none", current) {
		t.Error("a key without a view is held")
	}
}

// TestHoldsAfterAListMissedADeletion: a cache that lists after an instance
// went takes it to have gone at the list, so a copy from before (another
// replica's) does not hold the view.
func TestHoldsAfterAListMissedADeletion(t *testing.T) {
	c := newCache(10)
	if err := c.Replace(vmSrc, map[string]Object{"ns/a": src("a", 101, "m1")}, 110); err != nil {
		t.Fatal(err)
	}
	if err := c.Replace(vmiSrc, map[string]Object{}, 120); err != nil {
		t.Fatal(err)
	}
	if c.Holds("ns/a", Position{101, 102}) {
		t.Error("a copy with an instance the list did not see holds the view")
	}
	if !c.Holds("ns/a", Position{101, 0}) || !c.Holds("ns/a", Position{110, 120}) {
		t.Error("a copy without an instance, or the list's own position, does not hold the view")
	}
}

func TestWatchPredicateTransitions(t *testing.T) {
	c := synced(t, 10)
	apply(t, c, vmSrc, src("a", 101, "blue"), false)
	red := func(o Object) bool { return o.GetLabels()["vm"] == "red" }
	w, err := c.Watch(context.Background(), red, WatchOptions{ResourceVersion: c.Position().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	apply(t, c, vmSrc, src("a", 102, "red"), false) // starts matching: ADDED for this watcher
	assertEvent(t, recv(t, w), watch.Added, "a", "102.100")
	apply(t, c, vmSrc, src("b", 103, "blue"), false)  // never matches: nothing
	apply(t, c, vmSrc, src("a", 104, "green"), false) // stops matching: DELETED, as it last matched
	ev := recv(t, w)
	assertEvent(t, ev, watch.Deleted, "a", "104.100")
	if ev.Object.(metav1.Object).GetLabels()["vm"] != "red" {
		t.Errorf("DELETED carries %v, want the object as it last matched", ev.Object.(metav1.Object).GetLabels())
	}
}

func TestWatchVersionsOutOfReach(t *testing.T) {
	c := synced(t, 2)
	for i := range 5 {
		put(t, c, vmSrc, src("a", uint64(101+i), strconv.Itoa(i))) // history keeps 104, 105
	}
	ctx := context.Background()
	if _, err := c.Watch(ctx, nil, WatchOptions{ResourceVersion: "102.100"}); !apierrors.IsResourceExpired(err) {
		t.Errorf("watch from an evicted position: err = %v, want 410 Expired", err)
	}
	if _, err := c.Watch(ctx, nil, WatchOptions{ResourceVersion: "103.100"}); err != nil {
		t.Errorf("watch from the position just before the history: %v", err)
	}
	if _, err := c.Watch(ctx, nil, WatchOptions{ResourceVersion: "99.100"}); !apierrors.IsResourceExpired(err) {
		t.Errorf("watch from before the cache's first list: err = %v, want 410 Expired", err)
	}
	// A version of another scheme (an earlier release's counters).
	if _, err := c.Watch(ctx, nil, WatchOptions{ResourceVersion: "1764300000000000"}); !apierrors.IsResourceExpired(err) {
		t.Errorf("watch from a single-number version: err = %v, want 410 Expired", err)
	}
	// A position this cache has not reached: waited for, then 504 with the
	// cause client-go's reflector retries on.
	_, err := c.Watch(ctx, nil, WatchOptions{ResourceVersion: "900.100"})
	if !apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) {
		t.Errorf("watch from a position not reached: err = %v, want too large", err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = c.Apply(vmSrc, "ns/b", src("b", 106, "x"), false)
	}()
	w, err := c.Watch(ctx, nil, WatchOptions{ResourceVersion: "106.100"})
	if err != nil {
		t.Fatalf("watch from a position reached while waiting: %v", err)
	}
	w.Stop()
}

func TestSendInitialEventsEndsWithBookmark(t *testing.T) {
	c := synced(t, 10)
	put(t, c, vmSrc, src("a", 101, "red"))
	put(t, c, vmSrc, src("b", 102, "blue"))
	red := func(o Object) bool { return o.GetLabels()["vm"] == "red" }
	w, err := c.Watch(context.Background(), red, WatchOptions{SendInitialEvents: ptr.To(true), AllowBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	assertEvent(t, recv(t, w), watch.Added, "a", "102.100")
	bm := recv(t, w)
	m := bm.Object.(metav1.Object)
	if bm.Type != watch.Bookmark || m.GetResourceVersion() != "102.100" || m.GetAnnotations()[metav1.InitialEventsAnnotationKey] != "true" {
		t.Fatalf("got %s at %s with %v, want the initial-events-end bookmark at 102.100", bm.Type, m.GetResourceVersion(), m.GetAnnotations())
	}
}

// TestWatchGetsPeriodicBookmarks: a watch that allows bookmarks gets them
// at the cache's position, also when its filter matches no event, so a
// client can resume from there; one that does not allow them gets none.
func TestWatchGetsPeriodicBookmarks(t *testing.T) {
	c := synced(t, 10)
	c.cfg.BookmarkInterval = 10 * time.Millisecond
	none := func(Object) bool { return false }
	quiet, err := c.Watch(context.Background(), none, WatchOptions{ResourceVersion: "100.100"})
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Stop()
	w, err := c.Watch(context.Background(), none, WatchOptions{ResourceVersion: "100.100", AllowBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	put(t, c, vmSrc, src("a", 101, "red"))
	put(t, c, vmSrc, src("b", 102, "blue"))
	for {
		ev := recv(t, w)
		if ev.Type != watch.Bookmark {
			t.Fatalf("got %s, want only bookmarks", ev.Type)
		}
		if ev.Object.(metav1.Object).GetResourceVersion() == "102.100" {
			break
		}
	}
	select {
	case ev := <-quiet.ResultChan():
		t.Errorf("a watch that allows no bookmarks got %s", ev.Type)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestWatchFromNowWithoutInitialEvents: sendInitialEvents=false with no
// version (or "0") is a watch of the changes from now on, as kube-apiserver
// serves it, not a replay from nowhere.
func TestWatchFromNowWithoutInitialEvents(t *testing.T) {
	for _, rv := range []string{"", "0"} {
		c := synced(t, 10)
		put(t, c, vmSrc, src("a", 101, "red"))
		w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: rv, SendInitialEvents: ptr.To(false), AllowBookmarks: true})
		if err != nil {
			t.Fatalf("resourceVersion %q: %v", rv, err)
		}
		put(t, c, vmSrc, src("b", 102, "blue"))
		assertEvent(t, recv(t, w), watch.Added, "b", "102.100") // not a, which was there before
		w.Stop()
	}
}

func TestSlowWatcherIsClosed(t *testing.T) {
	c := synced(t, 100)
	w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "100.100"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // far past the buffer of 4
		put(t, c, vmSrc, src("a", uint64(101+i), strconv.Itoa(i)))
	}
	n := 0
	for range w.ResultChan() {
		n++
	}
	if n == 0 || n >= 20 {
		t.Fatalf("slow watcher got %d events before closing, want some but not all", n)
	}
	if _, err := c.Watch(context.Background(), nil, WatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestWatchEndsWithContextAndStop(t *testing.T) {
	c := synced(t, 10)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := c.Watch(ctx, nil, WatchOptions{ResourceVersion: "100.100"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, ok := <-w.ResultChan(); ok {
		t.Fatal("event after the context ended")
	}
	w2, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "100.100"})
	if err != nil {
		t.Fatal(err)
	}
	w2.Stop()
	w2.Stop() // twice is fine
	if _, ok := <-w2.ResultChan(); ok {
		t.Fatal("event after Stop")
	}
	put(t, c, vmSrc, src("a", 101, "red")) // no panic sending to closed watchers
}

// sourceEvent is one event of one source, as its watch delivers it.
type sourceEvent struct {
	src     int
	obj     *corev1.ConfigMap
	deleted bool
}

// interleave merges the two sources' events in a random order that keeps
// each source's own order, as two watches deliver them.
func interleave(rng *rand.Rand, events []sourceEvent) []sourceEvent {
	var per [2][]sourceEvent
	for _, e := range events {
		per[e.src] = append(per[e.src], e)
	}
	var out []sourceEvent
	for len(per[0])+len(per[1]) > 0 {
		s := rng.Intn(2)
		if len(per[s]) == 0 {
			s = 1 - s
		}
		out = append(out, per[s][0])
		per[s] = per[s][1:]
	}
	return out
}

// client is what a watcher holds: views by key, built from its events.
type client struct {
	t     *testing.T
	views map[string]Object
	seen  map[string][]string // per key, every view it was shown
	rv    string
}

// drain takes every event w has queued; events are queued before Apply and
// Watch return.
func (cl *client) drain(w watch.Interface) {
	cl.t.Helper()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				cl.t.Fatal("watch closed")
			}
			cl.take(ev)
		default:
			return
		}
	}
}

func (cl *client) take(ev watch.Event) {
	cl.t.Helper()
	obj := ev.Object.(Object)
	key := Key(obj.GetNamespace(), obj.GetName())
	cl.rv = obj.GetResourceVersion()
	label := obj.GetLabels()["vm"] + "/" + obj.GetLabels()["vmi"]
	switch ev.Type {
	case watch.Added, watch.Modified:
		if prev, ok := cl.views[key]; ok && prev.GetLabels()["vm"]+"/"+prev.GetLabels()["vmi"] == label {
			cl.t.Errorf("%s: repeated %s", key, label)
		}
		cl.views[key] = obj
		cl.seen[key] = append(cl.seen[key], label)
	case watch.Deleted:
		if _, ok := cl.views[key]; !ok {
			cl.t.Errorf("%s: deleted without being held", key)
		}
		delete(cl.views, key)
		cl.seen[key] = append(cl.seen[key], "deleted")
	}
}

// TestResumeOnAnotherReplica: two caches fed the same source events in
// different interleavings; a client watches one, stops anywhere, and resumes
// on the other from its last version. It must end holding exactly what the
// second cache holds, and have been shown every source change once, in
// order: each VM and instance change carries a label value of its own.
func TestResumeOnAnotherReplica(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			var events []sourceEvent
			rv := uint64(100)
			keys := []string{"a", "b", "c"}
			exists := map[string]bool{}
			for i := 0; i < 40; i++ {
				rv++
				key := keys[rng.Intn(len(keys))]
				s := rng.Intn(2)
				if s == vmSrc && exists[key] && rng.Intn(8) == 0 {
					events = append(events, sourceEvent{vmSrc, src(key, rv, "gone"), true})
					exists[key] = false
					continue
				}
				if s == vmSrc {
					exists[key] = true
				}
				events = append(events, sourceEvent{s, src(key, rv, fmt.Sprintf("%c%d", "mi"[s], rv)), false})
			}
			a, b := synced(t, 1000), synced(t, 1000)
			a.cfg.WatchBuffer, b.cfg.WatchBuffer = 1000, 1000
			for _, e := range interleave(rng, events) {
				apply(t, b, e.src, e.obj, e.deleted)
			}
			w, err := a.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "100.100"})
			if err != nil {
				t.Fatal(err)
			}
			cl := &client{t: t, views: map[string]Object{}, seen: map[string][]string{}, rv: "100.100"}
			order := interleave(rng, events)
			stop := rng.Intn(len(order) + 1)
			for _, e := range order[:stop] {
				apply(t, a, e.src, e.obj, e.deleted)
			}
			// Take what a delivered for those events, then stop watching a.
			cl.drain(w)
			w.Stop()

			w2, err := b.Watch(context.Background(), nil, WatchOptions{ResourceVersion: cl.rv})
			if err != nil {
				t.Fatalf("resuming at %s on the other replica: %v", cl.rv, err)
			}
			defer w2.Stop()
			cl.drain(w2)
			res, err := b.List(context.Background(), ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Items) != len(cl.views) {
				t.Errorf("client holds %d views, the replica %d", len(cl.views), len(res.Items))
			}
			for _, item := range res.Items {
				held, ok := cl.views[Key(item.GetNamespace(), item.GetName())]
				if !ok || !equality.Semantic.DeepEqual(held.GetLabels(), item.GetLabels()) {
					t.Errorf("%s: client holds %v, replica %v", item.GetName(), held, item.GetLabels())
				}
			}
			// Every change of a VM is shown once, in order; the instance's
			// changes show, in order, whenever its VM exists at that point
			// of the stream (which depends on how the sources interleave).
			for _, key := range keys {
				var vmWant, vmiWant []string
				for _, e := range events {
					switch {
					case e.obj.Name != key:
					case e.src == vmSrc && e.deleted:
						vmWant = append(vmWant, "deleted")
					case e.src == vmSrc:
						vmWant = append(vmWant, e.obj.Labels["v"])
					default:
						vmiWant = append(vmiWant, e.obj.Labels["v"])
					}
				}
				var vmShown, vmiShown []string
				for _, v := range cl.seen[Key("ns", key)] {
					vm, vmi, _ := strings.Cut(v, "/")
					if v == "deleted" {
						vm, vmi = "deleted", ""
					}
					if len(vmShown) == 0 || vmShown[len(vmShown)-1] != vm {
						vmShown = append(vmShown, vm)
					}
					if vmi != "" && (len(vmiShown) == 0 || vmiShown[len(vmiShown)-1] != vmi) {
						vmiShown = append(vmiShown, vmi)
					}
				}
				if fmt.Sprint(vmShown) != fmt.Sprint(vmWant) {
					t.Errorf("%s: VM changes shown %v, want %v", key, vmShown, vmWant)
				}
				i := 0
				for _, v := range vmiShown {
					for i < len(vmiWant) && vmiWant[i] != v {
						i++
					}
					if i == len(vmiWant) {
						t.Errorf("%s: instance changes shown %v, not in the order of %v", key, vmiShown, vmiWant)
						break
					}
				}
			}
		})
	}
}

// TestDeletedBeforeTheListIsReplayed: a replica that listed after a VM was
// deleted, from the version of its newest object (as the feeder lists), gets
// the deletion as an event with the deleted object, so a client of another
// replica that still holds the VM is told.
func TestDeletedBeforeTheListIsReplayed(t *testing.T) {
	a := synced(t, 100)
	put(t, a, vmSrc, src("a", 101, "m1"))
	put(t, a, vmSrc, src("b", 102, "m2"))
	held := a.Position() // a client of a holds a and b at 102.100

	// b starts after the deletion of "b" at 103: its list holds "a" only and
	// claims the version of its newest object, 101; the watch from there
	// delivers the deletion.
	b := newCache(100)
	if err := b.Replace(vmSrc, map[string]Object{"ns/a": src("a", 101, "m1")}, 101); err != nil {
		t.Fatal(err)
	}
	if err := b.Replace(vmiSrc, nil, 100); err != nil {
		t.Fatal(err)
	}
	apply(t, b, vmSrc, src("b", 103, "m2"), true)

	w, err := b.Watch(context.Background(), nil, WatchOptions{ResourceVersion: held.String()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := recv(t, w)
	assertEvent(t, ev, watch.Deleted, "b", "103.100")
}

// TestPagedListIsConsistent: the pages of one list are at the position of the
// first, also on another replica and after the cache has moved on.
func TestPagedListIsConsistent(t *testing.T) {
	a, b := synced(t, 100), synced(t, 100)
	feed := func(c *Cache, events ...sourceEvent) {
		for _, e := range events {
			apply(t, c, e.src, e.obj, e.deleted)
		}
	}
	initial := []sourceEvent{
		{vmSrc, src("a", 101, "a1"), false}, {vmSrc, src("b", 102, "b1"), false},
		{vmSrc, src("c", 103, "c1"), false}, {vmiSrc, src("c", 104, "ci1"), false},
		{vmSrc, src("d", 105, "d1"), false},
	}
	feed(a, initial...)
	feed(b, initial[0], initial[1], initial[3], initial[2], initial[4]) // another interleaving
	ctx := context.Background()
	page1, err := a.List(ctx, ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page1.Items) != 2 || page1.Items[0].GetName() != "a" || page1.Items[1].GetName() != "b" || page1.Continue == "" {
		t.Fatalf("page 1 = %v (continue %q), want a, b and more", page1.Items, page1.Continue)
	}
	later := []sourceEvent{
		{vmSrc, src("c", 106, "c1"), true},    // deleted after the list began
		{vmSrc, src("e", 107, "e1"), false},   // made after it
		{vmiSrc, src("d", 108, "di1"), false}, // changed after it
	}
	feed(a, later...)
	feed(b, later...)
	for name, c := range map[string]*Cache{"same replica": a, "other replica": b} {
		page2, err := c.List(ctx, ListOptions{Limit: 5, Continue: page1.Continue})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, item := range page2.Items {
			got = append(got, item.GetName()+":"+item.GetLabels()["vm"]+"/"+item.GetLabels()["vmi"])
		}
		if fmt.Sprint(got) != "[c:c1/ci1 d:d1/]" || page2.Continue != "" || page2.ResourceVersion != page1.ResourceVersion {
			t.Errorf("%s: page 2 = %v at %s (continue %q), want [c:c1/ci1 d:d1/] at %s", name, got, page2.ResourceVersion,
				page2.Continue, page1.ResourceVersion)
		}
	}
	// A token whose position history no longer covers is 410.
	small := synced(t, 1)
	feed(small, initial...)
	tok, _ := small.List(ctx, ListOptions{Limit: 1})
	feed(small, later...)
	if _, err := small.List(ctx, ListOptions{Limit: 1, Continue: tok.Continue}); !apierrors.IsResourceExpired(err) {
		t.Errorf("continue past history: err = %v, want 410", err)
	}
	if _, err := a.List(ctx, ListOptions{Continue: "not a token"}); !apierrors.IsBadRequest(err) {
		t.Errorf("malformed continue: err = %v, want 400", err)
	}
}

// TestRelistResetsHistory: when a source's watch broke and it relisted, the
// difference is applied and positions before it are no longer served.
func TestRelistResetsHistory(t *testing.T) {
	c := synced(t, 100)
	put(t, c, vmSrc, src("a", 101, "a1"))
	put(t, c, vmSrc, src("b", 102, "b1"))
	before := c.Position()
	w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: before.String()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Relisted at 120: "a" changed at 110, "b" is gone, "c" appeared at 115.
	if err := c.Replace(vmSrc, map[string]Object{"ns/a": src("a", 110, "a2"), "ns/c": src("c", 115, "c1")}, 120); err != nil {
		t.Fatal(err)
	}
	got := map[string]watch.EventType{}
	for range 3 {
		ev := recv(t, w)
		got[ev.Object.(metav1.Object).GetName()] = ev.Type
	}
	if got["a"] != watch.Modified || got["b"] != watch.Deleted || got["c"] != watch.Added {
		t.Errorf("events after the relist = %v, want a modified, b deleted, c added", got)
	}
	if p := c.Position(); p[vmSrc] != 120 {
		t.Errorf("position after the relist = %v, want 120 for the VMs", p)
	}
	if _, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: before.String()}); !apierrors.IsResourceExpired(err) {
		t.Errorf("watch from before the relist: %v, want 410", err)
	}
}

// TestSourceLoadedAfterAnEventOfTheOther: a VM event recorded while the
// instances were still being listed does not make the instance that list
// then loads missing from views replayed later (a resumed watch, a page of
// a list).
func TestSourceLoadedAfterAnEventOfTheOther(t *testing.T) {
	c := newCache(100)
	if err := c.Replace(vmSrc, map[string]Object{"ns/a": src("a", 100, "m1")}, 100); err != nil {
		t.Fatal(err)
	}
	put(t, c, vmSrc, src("a", 101, "m2")) // before the instances have loaded
	if err := c.Replace(vmiSrc, map[string]Object{"ns/a": src("a", 90, "i1")}, 90); err != nil {
		t.Fatal(err)
	}
	held := c.Position()
	put(t, c, vmSrc, src("a", 102, "m3"))

	w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: held.String()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := recv(t, w)
	assertEvent(t, ev, watch.Modified, "a", "")
	if got := ev.Object.(metav1.Object).GetLabels(); got["vm"] != "m3" || got["vmi"] != "i1" {
		t.Errorf("resumed watch: a with labels %v, want vm m3 and its instance i1", got)
	}
}
