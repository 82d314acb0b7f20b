package viewcache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
)

// Watchers share one copy of each event's object. Two sources applied
// from their own goroutines, lists and gets alongside, and watchers (some
// filtered) that read what they receive concurrently; every watcher must
// end with exactly the views the cache holds, having seen positions that
// never go back. `make race` (part of `make test`) runs it with -race,
// which catches a read outside the lock (dropping Get's read lock fails it).
func TestWatchFanOutUnderConcurrency(t *testing.T) {
	const (
		keys     = 50
		perSrc   = 1000
		watchers = 20
	)
	c := synced(t, 4*perSrc)
	c.cfg.WatchBuffer = 4 * perSrc
	even := func(o Object) bool { return strings.HasSuffix(o.GetName(), "0") }

	type seen struct {
		mu    sync.Mutex
		views map[string]string // name -> "vm/vmi" labels
		last  Position
		err   error
	}
	states := make([]*seen, watchers)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var consumers sync.WaitGroup
	for i := range watchers {
		var match Predicate
		if i%2 == 1 {
			match = even
		}
		w, err := c.Watch(ctx, match, WatchOptions{ResourceVersion: c.Position().String()})
		if err != nil {
			t.Fatal(err)
		}
		st := &seen{views: map[string]string{}}
		states[i] = st
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			for ev := range w.ResultChan() {
				o := ev.Object.(Object)
				// Reading the shared object, as the watch handler's encoder does.
				if _, err := json.Marshal(o); err != nil {
					panic(err)
				}
				p, err := ParsePosition(o.GetResourceVersion(), 2)
				st.mu.Lock()
				switch {
				case err != nil:
					st.err = err
				case st.last != nil && !p.AtLeast(st.last):
					st.err = fmt.Errorf("position %s after %s", p, st.last)
				}
				st.last = p
				if ev.Type == watch.Deleted {
					delete(st.views, o.GetName())
				} else {
					st.views[o.GetName()] = o.GetLabels()["vm"] + "/" + o.GetLabels()["vmi"]
				}
				st.mu.Unlock()
			}
		}()
	}

	var writers sync.WaitGroup
	for s := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range perSrc {
				rv := uint64(101 + i)
				name := fmt.Sprintf("vm-%02d", (i*7+s*3)%keys)
				// Every ninth VM event deletes, so views also leave.
				deleted := s == vmSrc && i%9 == 8
				if err := c.Apply(s, Key("ns", name), src(name, rv, fmt.Sprint(rv)), deleted); err != nil {
					panic(err)
				}
			}
		}()
	}
	readers, stopReading := context.WithCancel(ctx)
	var reading sync.WaitGroup
	reading.Add(1)
	go func() {
		defer reading.Done()
		for readers.Err() == nil {
			if _, err := c.List(readers, ListOptions{Limit: 7}); err != nil {
				panic(err)
			}
			if v, ok := c.Get(Key("ns", "vm-00")); ok {
				_ = v.GetLabels()["vm"]
			}
		}
	}()
	writers.Wait()
	stopReading()
	reading.Wait()

	list, err := c.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, wantEven := map[string]string{}, map[string]string{}
	for _, o := range list.Items {
		v := o.GetLabels()["vm"] + "/" + o.GetLabels()["vmi"]
		want[o.GetName()] = v
		if even(o) {
			wantEven[o.GetName()] = v
		}
	}
	if len(want) == 0 || len(wantEven) == 0 {
		t.Fatalf("the test leaves %d views, %d even: it must leave some of both", len(want), len(wantEven))
	}
	for i, st := range states {
		expect := want
		if i%2 == 1 {
			expect = wantEven
		}
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.err != nil {
				return false, st.err
			}
			return fmt.Sprint(st.views) == fmt.Sprint(expect), nil
		})
		if err != nil {
			st.mu.Lock()
			t.Fatalf("watcher %d: %v: has %v, want %v", i, err, st.views, expect)
		}
	}
	cancel()
	consumers.Wait()
}

// Two watchers of one change receive one object, which encodes once per
// encoder identifier; what GetObject returns is the caller's to change.
func TestWatchersShareOneEncodingPerFormat(t *testing.T) {
	c := synced(t, 100)
	var ws []watch.Interface
	for range 2 {
		w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: c.Position().String()})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		ws = append(ws, w)
	}
	put(t, c, vmSrc, src("a", 101, "one"))
	calls := map[runtime.Identifier]int{}
	for _, w := range ws {
		ev := recv(t, w)
		co, ok := ev.Object.(runtime.CacheableObject)
		if !ok {
			t.Fatalf("watch object %T is not a runtime.CacheableObject", ev.Object)
		}
		for _, id := range []runtime.Identifier{"json", "yaml"} {
			var out bytes.Buffer
			err := co.CacheEncode(id, func(o runtime.Object, w io.Writer) error {
				calls[id]++
				return json.NewEncoder(w).Encode(o)
			}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), `"vm":"one"`) || !strings.Contains(out.String(), `"resourceVersion":"101.100"`) {
				t.Fatalf("%s encoding %s lacks the view or its position", id, out.String())
			}
		}
		copied := co.GetObject().(Object)
		copied.SetLabels(map[string]string{"changed": "yes"})
		if ev.Object.(Object).GetLabels()["vm"] != "one" {
			t.Fatal("changing GetObject's result changed the shared object")
		}
	}
	if calls["json"] != 1 || calls["yaml"] != 1 {
		t.Fatalf("encodings per format %v, want one each for both watchers", calls)
	}
}
