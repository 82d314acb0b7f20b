// Package looks runs slow checks in the background, one per key, so a
// controller's periodic pass starts them and collects their results
// without waiting for them.
package looks

import (
	"context"
	"sync"
	"time"
)

// Looks are the checks in flight and their results, by key; the zero
// value is ready. The backup scheduler's console looks wait up to 10 s for
// a guest: done inside the pass, a guest that never answered (a kernel
// panic) held every schedule of the cluster that long on each pass, and a
// carbon-aware run started hours of replay late.
type Looks struct {
	mu  sync.Mutex
	all map[string]*Look
}

// Look is one check: running until done, then its result.
type Look struct {
	done     bool
	finished time.Time
	// OK, Out and Err are what the check returned.
	OK  bool
	Out string
	Err error
}

// Poll returns the result of the finished look for key and forgets it, or
// nil while one runs; with none, it starts run in the background (until it
// returns or ctx ends) and returns nil. now stamps its end.
func (l *Looks) Poll(ctx context.Context, key string, now func() time.Time, run func(context.Context) (bool, string, error)) *Look {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lk, ok := l.all[key]; ok {
		if !lk.done {
			return nil
		}
		delete(l.all, key)
		return lk
	}
	if l.all == nil {
		l.all = map[string]*Look{}
	}
	lk := &Look{}
	l.all[key] = lk
	go func() {
		ok, out, err := run(ctx)
		l.mu.Lock()
		defer l.mu.Unlock()
		lk.done, lk.finished, lk.OK, lk.Out, lk.Err = true, now(), ok, out, err
	}()
	return nil
}

// ForgetBefore drops the results that finished before t and were not
// polled since. Called at the end of a pass that began at t and polled
// every key still wanted, it drops the results of keys nobody wants any
// more (the backup schedule or its verification is gone).
func (l *Looks) ForgetBefore(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, lk := range l.all {
		if lk.done && lk.finished.Before(t) {
			delete(l.all, key)
		}
	}
}
