package looks

import (
	"context"
	"errors"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// TestLooksDoNotHoldThePass: a look that blocks leaves poll free to answer
// at once (nil while it runs), its result is polled once, and a result
// nobody polls during a later pass is forgotten.
func TestLooksDoNotHoldThePass(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC))
	var l Looks
	release := make(chan struct{})
	started := 0
	blocked := func(context.Context) (bool, string, error) {
		started++
		<-release
		return false, "Kernel panic", errors.New("no login prompt")
	}
	polled := make(chan *Look)
	go func() { polled <- l.Poll(ctx, "ns/a", clk.Now, blocked) }()
	select {
	case lk := <-polled:
		if lk != nil {
			t.Fatalf("the first poll returned %+v, want nil while the look runs", lk)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("poll waited for the look")
	}
	if lk := l.Poll(ctx, "ns/a", clk.Now, blocked); lk != nil {
		t.Fatalf("a poll while the look runs returned %+v", lk)
	}
	close(release)
	var lk *Look
	for deadline := time.Now().Add(30 * time.Second); lk == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		lk = l.Poll(ctx, "ns/a", clk.Now, blocked)
	}
	if lk == nil || lk.OK || lk.Out != "Kernel panic" || lk.Err == nil || started != 1 {
		t.Fatalf("the finished look: %+v after %d starts, want one failed look that saw the panic", lk, started)
	}

	// A result polled by nobody during a pass that began after it finished
	// is forgotten; one that finished during the pass is kept.
	done := func(context.Context) (bool, string, error) { return true, "login:", nil }
	l.Poll(ctx, "ns/gone", clk.Now, done)
	waitDone(t, &l, "ns/gone")
	clk.Step(time.Second)
	passStart := clk.Now()
	l.Poll(ctx, "ns/new", clk.Now, done)
	waitDone(t, &l, "ns/new")
	l.ForgetBefore(passStart)
	l.mu.Lock()
	_, gone := l.all["ns/gone"]
	_, kept := l.all["ns/new"]
	l.mu.Unlock()
	if gone || !kept {
		t.Errorf("after the pass: orphaned result kept %v, fresh result kept %v; want false, true", gone, kept)
	}
}

func waitDone(t *testing.T, l *Looks, key string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		l.mu.Lock()
		lk := l.all[key]
		done := lk != nil && lk.done
		l.mu.Unlock()
		if done {
			return
		}
	}
	t.Fatalf("look %s did not finish", key)
}
