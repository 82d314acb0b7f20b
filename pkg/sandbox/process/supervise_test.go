package process

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestSupervisedRestartsWhatExits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var exits []Exit
	s, err := supervise("sleeper", t.TempDir(), "/bin/sleep", []string{"1000"}, Options{}, func(e Exit) {
		mu.Lock()
		defer mu.Unlock()
		exits = append(exits, e)
	}, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(time.Second)

	first := s.Current()
	s.Kill()
	if err := s.WaitStarted(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := s.Current()
	if second.Pid() == first.Pid() || s.Restarts() != 1 {
		t.Fatalf("after a kill: pid %d (was %d), %d restarts; want a new process and 1 restart", second.Pid(), first.Pid(), s.Restarts())
	}
	mu.Lock()
	if len(exits) != 1 || exits[0].Restarts != 1 || exits[0].Failing || exits[0].Err == nil {
		t.Fatalf("reported %+v, want one exit, not failing", exits)
	}
	mu.Unlock()

	// A restart asked for is neither reported nor counted, and takes new args.
	if err := s.Restart(ctx, []string{"999"}); err != nil {
		t.Fatal(err)
	}
	if s.Current() == second || s.Restarts() != 1 {
		t.Fatalf("Restart: same process or %d restarts", s.Restarts())
	}
	mu.Lock()
	if len(exits) != 1 {
		t.Fatalf("Restart was reported: %+v", exits)
	}
	mu.Unlock()

	// Stopped, it stays stopped.
	last := s.Current()
	s.Stop(time.Second)
	select {
	case <-last.Exited():
	default:
		t.Fatal("Stop returned before the process ended")
	}
	if s.Current() != last {
		t.Fatal("started again after Stop")
	}
}

// A process that keeps exiting is reported failing.
func TestSupervisedReportsFailing(t *testing.T) {
	failing := make(chan Exit, 1)
	s, err := supervise("crasher", t.TempDir(), "/bin/false", nil, Options{}, func(e Exit) {
		if e.Failing {
			select {
			case failing <- e:
			default:
			}
		}
	}, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(time.Second)
	select {
	case e := <-failing:
		if e.Restarts < failingExits {
			t.Fatalf("failing after %d restarts, want at least %d", e.Restarts, failingExits)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("not reported failing after %d restarts", s.Restarts())
	}
}
