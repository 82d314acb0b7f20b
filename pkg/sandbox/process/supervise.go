package process

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Restart back-off and what counts as failing: the wait before a restart
// doubles from firstBackoff up to maxBackoff, and starts over once a run
// has lasted stableAfter; failingExits exits within failingWindow make the
// component failing, which the report says.
const (
	firstBackoff  = time.Second
	maxBackoff    = 30 * time.Second
	stableAfter   = time.Minute
	failingExits  = 5
	failingWindow = 5 * time.Minute
)

// Exit tells a Supervised's report that its process ended by itself.
type Exit struct {
	Name string
	// Err is why it ended.
	Err error
	// Restarts counts the restarts so far, this one included.
	Restarts int
	// Backoff is how long the supervisor waits before it starts it again.
	Backoff time.Duration
	// Failing is true when it has ended failingExits times within
	// failingWindow: something is wrong that a restart does not mend.
	Failing bool
	// Log is the process's log file.
	Log string
}

// Supervised keeps one process running, as a kubelet keeps a container of
// a pod with restartPolicy Always: when it ends without Stop, it is started
// again after a back-off, and report hears of it.
type Supervised struct {
	name, logDir, bin string
	opts              Options
	report            func(Exit)
	backoff           time.Duration // the first

	mu       sync.Mutex
	args     []string
	cur      *Process
	stopped  bool
	restarts int
	exits    []time.Time
	// restarting is set by Restart: the next exit is asked for, so it is
	// neither reported nor waited on.
	restarting bool
	started    chan struct{} // closed, and replaced, each time a process starts
	done       chan struct{} // closed when supervision ends
}

// Supervise starts bin and keeps it running until Stop. The first start
// must succeed; later ones are retried with the back-off.
func Supervise(name, logDir, bin string, args []string, opts Options, report func(Exit)) (*Supervised, error) {
	return supervise(name, logDir, bin, args, opts, report, firstBackoff)
}

func supervise(name, logDir, bin string, args []string, opts Options, report func(Exit), backoff time.Duration) (*Supervised, error) {
	s := &Supervised{name: name, logDir: logDir, bin: bin, opts: opts, report: report, args: args, backoff: backoff,
		started: make(chan struct{}), done: make(chan struct{})}
	p, err := StartWith(name, logDir, bin, args, opts)
	if err != nil {
		return nil, err
	}
	s.cur = p
	go s.watch(p)
	return s, nil
}

// Name of the supervised component.
func (s *Supervised) Name() string { return s.name }

// Current is the process running now (or the last one, while it waits to
// restart).
func (s *Supervised) Current() *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Restarts counts how often the process was started again.
func (s *Supervised) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Kill ends the current process with SIGKILL, as a crash would; the
// supervisor starts it again.
func (s *Supervised) Kill() { s.Current().Kill() }

// Stop ends supervision and then the process (SIGTERM, SIGKILL after grace).
func (s *Supervised) Stop(grace time.Duration) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	close(s.done)
	p := s.cur
	s.mu.Unlock()
	p.Stop(grace)
}

// Restart kills the current process and starts it again with args at once
// (no back-off), waiting until it has started.
func (s *Supervised) Restart(ctx context.Context, args []string) error {
	s.mu.Lock()
	s.args, s.restarting = args, true
	started := s.started
	p := s.cur
	s.mu.Unlock()
	p.Kill()
	select {
	case <-started:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("restarting %s: %w", s.name, ctx.Err())
	}
}

// WaitStarted waits until a process newer than p runs.
func (s *Supervised) WaitStarted(ctx context.Context, p *Process) error {
	for {
		s.mu.Lock()
		cur, started := s.cur, s.started
		s.mu.Unlock()
		if cur != p {
			return nil
		}
		select {
		case <-started:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to start again: %w", s.name, ctx.Err())
		}
	}
}

// watch waits for p to end and, unless supervision stopped, starts the
// next one after the back-off.
func (s *Supervised) watch(p *Process) {
	began := time.Now()
	backoff := s.backoff
	for {
		<-p.Exited()
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		now := time.Now()
		if now.Sub(began) >= stableAfter {
			backoff = s.backoff
		}
		asked := s.restarting
		s.restarting = false
		if !asked {
			s.exits = append(s.exits, now)
			for len(s.exits) > 0 && now.Sub(s.exits[0]) > failingWindow {
				s.exits = s.exits[1:]
			}
			s.restarts++
		}
		exit := Exit{Name: s.name, Err: p.Err(), Restarts: s.restarts, Backoff: backoff,
			Failing: len(s.exits) >= failingExits, Log: p.LogFile}
		s.mu.Unlock()
		if !asked {
			if s.report != nil {
				s.report(exit)
			}
			select {
			case <-time.After(backoff):
			case <-s.done:
				return
			}
			backoff = min(2*backoff, maxBackoff)
		}
		for {
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				return
			}
			next, err := StartWith(s.name, s.logDir, s.bin, s.args, s.opts)
			if err == nil {
				s.cur, p = next, next
				close(s.started)
				s.started = make(chan struct{})
				s.mu.Unlock()
				break
			}
			s.mu.Unlock()
			if s.report != nil {
				s.report(Exit{Name: s.name, Err: err, Restarts: s.restarts, Backoff: backoff, Failing: true, Log: p.LogFile})
			}
			select {
			case <-time.After(backoff):
			case <-s.done:
				return
			}
			backoff = min(2*backoff, maxBackoff)
		}
		began = time.Now()
	}
}
