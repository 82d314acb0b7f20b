// Package process runs the binaries of a local cluster as child processes:
// output to a log file, a process group of their own, killed with the parent,
// and stopped gracefully with a deadline.
package process

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Process is one running child.
type Process struct {
	Name    string
	LogFile string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs bin with args, its output appended to <logDir>/<name>.log.
func Start(name, logDir, bin string, args []string, env []string) (*Process, error) {
	return StartWith(name, logDir, bin, args, Options{Env: env})
}

// Options of StartWith.
type Options struct {
	// Env is added to this process's environment.
	Env []string
	// Cloneflags are namespaces (syscall.CLONE_NEW*) the child gets.
	Cloneflags uintptr
}

// StartWith is Start with options.
func StartWith(name, logDir, bin string, args []string, opts Options) (*Process, error) {
	env := opts.Env
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logFile := filepath.Join(logDir, name+".log")
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// A group of its own, so stopping it reaches its children too, and
		// killed with us, so a crashed test leaves nothing running.
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Cloneflags: opts.Cloneflags,
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, LogFile: logFile, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is why the process ended; valid after Exited is closed.
func (p *Process) Err() error { return p.err }

// Stop sends SIGTERM to the process group, then SIGKILL after grace, and
// waits for the process to end.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill ends the process group at once with SIGKILL and waits for it.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// WaitFor polls check until it succeeds, the process exits (an error naming
// its log) or ctx ends.
func (p *Process) WaitFor(ctx context.Context, what string, check func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before %s; see %s", p.Name, p.err, what, p.LogFile)
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w (last: %v); see %s", p.Name, what, ctx.Err(), last, p.LogFile)
		case <-tick.C:
		}
	}
}

// FreePorts returns n distinct free ports.
func FreePorts(n int) ([]int, error) {
	// Hold every listener until all are chosen, so no port repeats.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Addr is 127.0.0.1:port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Poll calls fn until it succeeds or timeout passes, returning its last error.
func Poll(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

// StopAll stops procs concurrently and waits for all of them.
func StopAll[P interface{ Stop(time.Duration) }](procs []P, grace time.Duration) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Stop(grace)
		}()
	}
	wg.Wait()
}

// GetOK asks url with GET and wants 200 OK, as a readiness check.
func GetOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// ReservedPorts returns n free ports below the kernel's default ephemeral
// range (32768 and up), for servers that start well after their port is
// chosen: a port from FreePorts may meanwhile be taken as the local port of
// some outbound connection, one below the range cannot.
func ReservedPorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for port := 20000 + rand.IntN(10000); len(ports) < n && port < 32768; port++ {
		l, err := net.Listen("tcp", Addr(port))
		if err != nil {
			continue // in use
		}
		ls = append(ls, l)
		ports = append(ports, port)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("no %d free ports below 32768", n)
	}
	return ports, nil
}
