package viewcache

import (
	"context"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

// ConfigMaps stand in for views: any object with metadata works.
func cm(name, colour string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"colour": colour}},
	}
}

func newCache(history int) *Cache {
	return New(Config{
		StartVersion: 100,
		History:      history,
		WatchBuffer:  4,
		NewBookmark:  func() Object { return &corev1.ConfigMap{} },
		Equal: func(a, b Object) bool {
			x, y := a.DeepCopyObject().(*corev1.ConfigMap), b.DeepCopyObject().(*corev1.ConfigMap)
			x.ResourceVersion, y.ResourceVersion = "", ""
			return equality.Semantic.DeepEqual(x, y)
		},
	})
}

func red(o Object) bool { return o.GetLabels()["colour"] == "red" }

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

func TestSetVersionsAndNoOpUpdates(t *testing.T) {
	c := newCache(10)
	c.Set("ns/a", cm("a", "red"))
	c.Set("ns/a", cm("a", "red")) // unchanged: no new version
	if v := c.Version(); v != 101 {
		t.Fatalf("version after one real change = %d, want 101", v)
	}
	c.Set("ns/a", cm("a", "blue"))
	got, ok := c.Get("ns/a")
	if !ok || got.GetResourceVersion() != "102" || got.GetLabels()["colour"] != "blue" {
		t.Fatalf("Get = %v %v, want blue at 102", got, ok)
	}
	c.Set("ns/a", nil)
	c.Set("ns/missing", nil) // deleting nothing is no event
	if _, ok := c.Get("ns/a"); ok || c.Version() != 103 {
		t.Fatalf("after delete: present=%v version=%d, want gone at 103", ok, c.Version())
	}
}

func TestListFilters(t *testing.T) {
	c := newCache(10)
	c.Set("ns/a", cm("a", "red"))
	c.Set("ns/b", cm("b", "blue"))
	items, v := c.List(red)
	if len(items) != 1 || items[0].GetName() != "a" || v != 102 {
		t.Fatalf("List(red) = %d items at %d, want [a] at 102", len(items), v)
	}
	// The caller gets a copy.
	items[0].SetName("changed")
	if got, _ := c.Get("ns/a"); got.GetName() != "a" {
		t.Fatal("List handed out the cached object")
	}
}

func TestWatchFromNowSendsStateThenChanges(t *testing.T) {
	c := newCache(10)
	c.Set("ns/a", cm("a", "red"))
	w, err := c.Watch(context.Background(), nil, WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	assertEvent(t, recv(t, w), watch.Added, "a", "101")
	c.Set("ns/b", cm("b", "blue"))
	assertEvent(t, recv(t, w), watch.Added, "b", "102")
	c.Set("ns/a", nil)
	assertEvent(t, recv(t, w), watch.Deleted, "a", "103")
}

func TestWatchResumesFromVersion(t *testing.T) {
	c := newCache(10)
	c.Set("ns/a", cm("a", "red"))  // 101
	c.Set("ns/a", cm("a", "blue")) // 102
	c.Set("ns/b", cm("b", "red"))  // 103
	w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "101"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	assertEvent(t, recv(t, w), watch.Modified, "a", "102")
	assertEvent(t, recv(t, w), watch.Added, "b", "103")
}

func TestWatchPredicateTransitions(t *testing.T) {
	c := newCache(10)
	c.Set("ns/a", cm("a", "blue"))
	w, err := c.Watch(context.Background(), red, WatchOptions{ResourceVersion: strconv.FormatUint(c.Version(), 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	c.Set("ns/a", cm("a", "red")) // starts matching: ADDED for this watcher
	assertEvent(t, recv(t, w), watch.Added, "a", "102")
	c.Set("ns/b", cm("b", "blue"))  // never matches: nothing
	c.Set("ns/a", cm("a", "green")) // stops matching: DELETED
	assertEvent(t, recv(t, w), watch.Deleted, "a", "104")
}

func TestWatchTooOldOrTooNewIsGone(t *testing.T) {
	c := newCache(2)
	for i := 0; i < 5; i++ {
		c.Set("ns/a", cm("a", strconv.Itoa(i))) // 101..105; history keeps 104, 105
	}
	if _, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "102"}); !apierrors.IsResourceExpired(err) {
		t.Errorf("watch from an evicted version: err = %v, want 410 Expired", err)
	}
	if _, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "103"}); err != nil {
		t.Errorf("watch from the version just before the history: %v", err)
	}
	// A version from another (earlier or other) process.
	if _, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "900"}); !apierrors.IsResourceExpired(err) {
		t.Errorf("watch from a future version: err = %v, want 410 Expired", err)
	}
	if _, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "x"}); !apierrors.IsBadRequest(err) {
		t.Errorf("watch from a malformed version: err = %v, want 400", err)
	}
}

func TestSendInitialEventsEndsWithBookmark(t *testing.T) {
	c := newCache(10)
	c.Set("ns/a", cm("a", "red"))
	c.Set("ns/b", cm("b", "blue"))
	w, err := c.Watch(context.Background(), red, WatchOptions{SendInitialEvents: ptr.To(true), AllowBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	assertEvent(t, recv(t, w), watch.Added, "a", "101")
	bm := recv(t, w)
	m := bm.Object.(metav1.Object)
	if bm.Type != watch.Bookmark || m.GetResourceVersion() != "102" || m.GetAnnotations()[metav1.InitialEventsAnnotationKey] != "true" {
		t.Fatalf("got %s at %s with %v, want the initial-events-end bookmark at 102", bm.Type, m.GetResourceVersion(), m.GetAnnotations())
	}
}

func TestSlowWatcherIsClosed(t *testing.T) {
	c := newCache(100)
	w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "100"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // far past the buffer of 4
		c.Set("ns/a", cm("a", strconv.Itoa(i)))
	}
	n := 0
	for range w.ResultChan() {
		n++
	}
	if n == 0 || n >= 20 {
		t.Fatalf("slow watcher got %d events before closing, want some but not all", n)
	}
	// Others are unaffected.
	if _, err := c.Watch(context.Background(), nil, WatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestWatchEndsWithContextAndStop(t *testing.T) {
	c := newCache(10)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := c.Watch(ctx, nil, WatchOptions{ResourceVersion: "100"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, ok := <-w.ResultChan(); ok {
		t.Fatal("event after the context ended")
	}
	w2, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: "100"})
	if err != nil {
		t.Fatal(err)
	}
	w2.Stop()
	w2.Stop() // twice is fine
	if _, ok := <-w2.ResultChan(); ok {
		t.Fatal("event after Stop")
	}
	c.Set("ns/a", cm("a", "red")) // no panic sending to closed watchers
}
