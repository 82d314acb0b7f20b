package viewcache

import (
	"context"
	"fmt"
	"testing"
)

// What positions derived from the sources cost at list and watch time, with
// 10,000 views and 1,000 source events of history: a list or a watch at the
// cache's own position (what a single replica answers, and what the old
// counter-based cache answered) against one at a position another replica
// handed out, which history answers (a paged list's later pages, a watch
// resumed on another replica).
//
//	go test -run '^$' -bench . ./pkg/viewcache/
const (
	benchViews  = 10000
	benchEvents = 1000
)

// loaded returns a cache of benchViews VMs whose last benchEvents source
// events (alternately a VM and an instance change) are in history, and the
// position before those events.
func loaded(b *testing.B) (*Cache, Position) {
	b.Helper()
	c := New(Config{Sources: 2, Join: join, History: 2 * benchEvents, WatchBuffer: 2 * benchEvents,
		Equal: func(a, b Object) bool {
			return a.GetLabels()["vm"] == b.GetLabels()["vm"] && a.GetLabels()["vmi"] == b.GetLabels()["vmi"]
		}})
	vms := map[string]Object{}
	for i := range benchViews {
		name := fmt.Sprintf("vm-%05d", i)
		vms[Key("ns", name)] = src(name, uint64(1+i), "m0")
	}
	if err := c.Replace(vmSrc, vms, benchViews); err != nil {
		b.Fatal(err)
	}
	if err := c.Replace(vmiSrc, nil, benchViews); err != nil {
		b.Fatal(err)
	}
	before := c.Position()
	rv := uint64(benchViews)
	for i := range benchEvents {
		rv++
		name := fmt.Sprintf("vm-%05d", (i*7919)%benchViews)
		s := i % 2
		if err := c.Apply(s, Key("ns", name), src(name, rv, fmt.Sprint(rv)), false); err != nil {
			b.Fatal(err)
		}
	}
	return c, before
}

func BenchmarkListAtOwnPosition(b *testing.B) {
	c, _ := loaded(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.List(context.Background(), ListOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListAtEarlierPosition(b *testing.B) {
	c, before := loaded(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.List(context.Background(), ListOptions{ResourceVersion: before.String(), Exact: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPageOf500AtOwnPosition(b *testing.B) {
	c, _ := loaded(b)
	first, err := c.List(context.Background(), ListOptions{Limit: 500})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.List(context.Background(), ListOptions{Limit: 500, Continue: first.Continue}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWatchFromOwnPosition(b *testing.B) {
	c, _ := loaded(b)
	rv := c.Position().String()
	b.ResetTimer()
	for b.Loop() {
		w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: rv})
		if err != nil {
			b.Fatal(err)
		}
		w.Stop()
	}
}

// A watch resumed 1,000 events back: the replay every client needs after a
// reconnect, whichever replica it reaches.
func BenchmarkWatchResumed1000EventsBack(b *testing.B) {
	c, before := loaded(b)
	b.ResetTimer()
	for b.Loop() {
		w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: before.String()})
		if err != nil {
			b.Fatal(err)
		}
		w.Stop()
	}
}

// Applying one source event and fanning it out to 100 watchers.
func BenchmarkApplyWith100Watchers(b *testing.B) {
	c, _ := loaded(b)
	c.cfg.WatchBuffer = 1 << 20
	for range 100 {
		w, err := c.Watch(context.Background(), nil, WatchOptions{ResourceVersion: c.Position().String()})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for range w.ResultChan() {
			}
		}()
	}
	rv := c.Position()[vmSrc]
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rv++
		name := fmt.Sprintf("vm-%05d", i%benchViews)
		if err := c.Apply(vmSrc, Key("ns", name), src(name, rv, fmt.Sprint(rv)), false); err != nil {
			b.Fatal(err)
		}
	}
}
