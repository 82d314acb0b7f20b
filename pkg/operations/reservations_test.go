package operations

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/tools/cache"
)

// Many workers asking at once never hold more slots than the limits, and
// every one gets its turn as slots come back.
func TestReservationsConcurrentMigrations(t *testing.T) {
	r := newReservations(5, 2)
	var cluster atomic.Int32
	var perNode [4]atomic.Int32
	var over atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			op := cache.ObjectName{Namespace: "ns", Name: fmt.Sprintf("mig%d", i)}
			node := i % len(perNode)
			for {
				if ok, _ := r.migration(op, fmt.Sprintf("node-%d", node)); ok {
					break
				}
			}
			if cluster.Add(1) > 5 || perNode[node].Add(1) > 2 {
				over.Store(true)
			}
			// Asking again while holding grants the same slot, not another.
			if ok, _ := r.migration(op, fmt.Sprintf("node-%d", node)); !ok || r.migrationsInFlight() > 5 {
				over.Store(true)
			}
			perNode[node].Add(-1)
			cluster.Add(-1)
			r.release(op)
		}(i)
	}
	wg.Wait()
	if over.Load() {
		t.Fatal("more migrations granted than the limits allow")
	}
	if n := r.migrationsInFlight(); n != 0 {
		t.Fatalf("%d slots held after every migration ended", n)
	}
}

// Of many operations claiming one clone target at once, exactly one wins.
func TestReservationsConcurrentTargets(t *testing.T) {
	r := newReservations(1, 1)
	var winners atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, ok := r.target(cache.ObjectName{Namespace: "ns", Name: fmt.Sprintf("clone%d", i)}, "other", "copy"); ok {
				winners.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if winners.Load() != 1 {
		t.Fatalf("%d operations reserved one target", winners.Load())
	}
}
