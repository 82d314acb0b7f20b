package backup

import (
	"context"
	"sync"
	"time"
)

// looks runs verifications' console looks in the background. A look waits
// up to checkFor for its guest; done inside the pass, a guest that never
// answers (a kernel panic) held every schedule of the cluster for that
// long on each pass, and a carbon-aware run started hours of replay late.
type looks struct {
	mu  sync.Mutex
	all map[string]*look
}

// look is one console look: running until done, then its result.
type look struct {
	done     bool
	finished time.Time
	ok       bool
	out      string
	err      error
}

// poll returns the result of the finished look for key and forgets it, or
// nil while one runs; with none, it starts run in the background and
// returns nil.
func (l *looks) poll(ctx context.Context, key string, now func() time.Time, run func(context.Context) (bool, string, error)) *look {
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
		l.all = map[string]*look{}
	}
	lk := &look{}
	l.all[key] = lk
	go func() {
		ok, out, err := run(ctx)
		l.mu.Lock()
		defer l.mu.Unlock()
		lk.done, lk.finished, lk.ok, lk.out, lk.err = true, now(), ok, out, err
	}()
	return nil
}

// forgetBefore drops the results that finished before t and were not
// polled since: a pass that began after a look finished visits every
// schedule, so nothing will poll them (the schedule or its verification
// is gone).
func (l *looks) forgetBefore(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, lk := range l.all {
		if lk.done && lk.finished.Before(t) {
			delete(l.all, key)
		}
	}
}
