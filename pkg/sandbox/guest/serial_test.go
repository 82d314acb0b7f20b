package guest

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

const waitTimeout = 5 * time.Second

// terminal is the client end of a console session: it collects everything
// the guest writes so tests can wait for a piece of output.
type terminal struct {
	t      *testing.T
	conn   net.Conn
	mu     sync.Mutex
	buf    strings.Builder
	notify chan struct{}
	closed chan struct{}
}

func newTerminal(t *testing.T, conn net.Conn) *terminal {
	term := &terminal{t: t, conn: conn, notify: make(chan struct{}, 1), closed: make(chan struct{})}
	go func() {
		defer close(term.closed)
		b := make([]byte, 1024)
		for {
			n, err := conn.Read(b)
			term.mu.Lock()
			term.buf.Write(b[:n])
			term.mu.Unlock()
			select {
			case term.notify <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return term
}

func (term *terminal) typ(s string) {
	term.t.Helper()
	term.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := term.conn.Write([]byte(s)); err != nil {
		term.t.Fatalf("typing %q: %v", s, err)
	}
}

// expect waits for want in the output and returns (and consumes) the
// output up to and including it.
func (term *terminal) expect(want string) string {
	term.t.Helper()
	timeout := time.After(waitTimeout)
	for {
		term.mu.Lock()
		got := term.buf.String()
		if i := strings.Index(got, want); i >= 0 {
			term.buf.Reset()
			term.buf.WriteString(got[i+len(want):])
			term.mu.Unlock()
			return got[:i+len(want)]
		}
		term.mu.Unlock()
		select {
		case <-term.notify:
		case <-term.closed:
			// One more look: the last read may have brought it.
			select {
			case <-term.notify:
				continue
			default:
			}
			term.t.Fatalf("connection closed waiting for %q; got %q", want, got)
		case <-timeout:
			term.t.Fatalf("timed out waiting for %q; got %q", want, got)
		}
	}
}

type session struct {
	term  *terminal
	clock *testingclock.FakeClock
	cpus  atomic.Int64
	done  chan error
	close func()
}

var bootTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// startConsole runs serve on one end of a pipe with a VM named vm1.
func startConsole(t *testing.T, serve func(context.Context, net.Conn, func() Info, *testingclock.FakeClock) error) *session {
	t.Helper()
	guestEnd, clientEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{clock: testingclock.NewFakeClock(bootTime.Add(5 * time.Minute)), done: make(chan error, 1)}
	s.cpus.Store(2)
	info := func() Info {
		return Info{Hostname: "vm1", CPUs: int(s.cpus.Load()), MemoryMiB: 2048, Boot: bootTime, OS: "Fedora Linux 41"}
	}
	go func() { s.done <- serve(ctx, guestEnd, info, s.clock) }()
	s.term = newTerminal(t, clientEnd)
	s.close = func() { clientEnd.Close() }
	t.Cleanup(func() {
		cancel()
		clientEnd.Close()
		guestEnd.Close()
	})
	return s
}

func loggedIn(ctx context.Context, c net.Conn, info func() Info, clk *testingclock.FakeClock) error {
	return ServeLoggedIn(ctx, c, info, clk)
}

func fromLogin(ctx context.Context, c net.Conn, info func() Info, clk *testingclock.FakeClock) error {
	return Serve(ctx, c, info, clk)
}

const prompt = "[fedora@vm1 ~]$ "

func TestLoginAndEcho(t *testing.T) {
	s := startConsole(t, fromLogin)
	banner := s.term.expect("vm1 login: ")
	for _, want := range []string{"Fedora Linux 41 (Cloud Edition)\r\n", "Kernel 6.11", "(ttyS0)\r\n"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner %q lacks %q", banner, want)
		}
	}
	s.term.typ("fedora\r")
	s.term.expect("fedora\r\nPassword: ")
	s.term.typ("s3cret\r")
	if got := s.term.expect(prompt); strings.Contains(got, "s3cret") {
		t.Errorf("password echoed: %q", got)
	}
	s.term.typ("echo hello\r")
	if got, want := s.term.expect(prompt), "echo hello\r\nhello\r\n"+prompt; got != want {
		t.Errorf("echo hello: got %q, want %q", got, want)
	}
	s.term.typ("echo  a   b \r")
	s.term.expect("\r\na b\r\n" + prompt)
}

func TestLoginEmptyUserAsksAgain(t *testing.T) {
	s := startConsole(t, fromLogin)
	s.term.expect("login: ")
	s.term.typ("\r")
	s.term.expect("\r\nvm1 login: ")
}

func TestCommands(t *testing.T) {
	s := startConsole(t, loggedIn)
	if got := s.term.expect(prompt); got != "\r\n"+prompt {
		t.Fatalf("start: got %q", got)
	}
	tests := []struct{ cmd, want string }{
		{"hostname", "vm1\r\n"},
		{"nproc", "2\r\n"},
		{"uptime", " 12:05:00 up 5 min,  1 user,  load average: 0.00, 0.01, 0.05\r\n"},
		{"uname -a", "Linux vm1 6.11.4-301.fc41.x86_64 #1 SMP PREEMPT_DYNAMIC Sun Oct 20 15:02:33 UTC 2024 x86_64 GNU/Linux\r\n"},
		{"uname -r", "6.11.4-301.fc41.x86_64\r\n"},
		{"frobnicate --now", "-bash: frobnicate: command not found\r\n"},
		{"cat /etc/shadow", "cat: /etc/shadow: No such file or directory\r\n"},
		{"", ""},
	}
	for _, tt := range tests {
		s.term.typ(tt.cmd + "\r")
		if got, want := s.term.expect(prompt), tt.cmd+"\r\n"+tt.want+prompt; got != want {
			t.Errorf("%q: got %q, want %q", tt.cmd, got, want)
		}
	}

	s.term.typ("free -m\r")
	out := s.term.expect(prompt)
	lines := strings.Split(out, "\r\n")
	if len(lines) < 4 || !strings.HasSuffix(lines[1], "total        used        free      shared  buff/cache   available") ||
		!strings.HasPrefix(lines[3], "Swap:") {
		t.Fatalf("free -m: got %q", out)
	}
	// 97% of 2048 MiB: what the kernel leaves of the VM's memory.
	if mem := strings.Fields(lines[2]); len(mem) != 7 || mem[0] != "Mem:" || mem[1] != "1986" {
		t.Errorf("free -m Mem line: %q", lines[2])
	}
}

func TestHotplugShowsInNextCommand(t *testing.T) {
	s := startConsole(t, loggedIn)
	s.term.expect(prompt)
	s.term.typ("nproc\r")
	s.term.expect("nproc\r\n2\r\n" + prompt)

	s.cpus.Store(4)
	s.term.typ("nproc\r")
	s.term.expect("nproc\r\n4\r\n" + prompt)
	s.term.typ("cat /proc/cpuinfo\r")
	out := s.term.expect(prompt)
	if n := strings.Count(out, "processor\t: "); n != 4 {
		t.Errorf("cpuinfo has %d processor blocks, want 4:\n%s", n, out)
	}
	if !strings.Contains(out, "processor\t: 3\r\n") || !strings.Contains(out, "model name\t: ") {
		t.Errorf("cpuinfo lacks processor 3 or a model name:\n%s", out)
	}
}

func TestLineEditing(t *testing.T) {
	s := startConsole(t, loggedIn)
	s.term.expect(prompt)

	// Backspace (both codes), an arrow key and CRLF line ends.
	s.term.typ("echx\x7fo hu\x08i\x1b[A\r\n")
	if got, want := s.term.expect(prompt), "echx\b \bo hu\b \bi\r\nhi\r\n"+prompt; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// The \n of the CRLF must not have produced a second prompt.
	s.term.typ("echo x\r")
	if got := s.term.expect("echo x"); got != "echo x" {
		t.Errorf("output before next command: %q", got)
	}
	s.term.expect("x\r\n" + prompt)

	s.term.typ("echo lost\x03")
	s.term.expect("echo lost^C\r\n" + prompt)
}

func TestExitReturnsToLogin(t *testing.T) {
	s := startConsole(t, loggedIn)
	s.term.expect(prompt)
	s.term.typ("exit\r")
	s.term.expect("exit\r\nlogout\r\n")
	s.term.expect("vm1 login: ")
	s.term.typ("root\rpw\r")
	s.term.expect(prompt)
	s.term.typ("\x04") // Ctrl-D on an empty line logs out too
	s.term.expect("logout\r\n")
	s.term.expect("vm1 login: ")
}

func TestPeerCloseEndsSession(t *testing.T) {
	s := startConsole(t, fromLogin)
	s.term.expect("login: ")
	s.close()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Serve did not return after the peer closed")
	}
}

func TestContextEndsSession(t *testing.T) {
	guestEnd, clientEnd := net.Pipe()
	defer clientEnd.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeLoggedIn(ctx, guestEnd, func() Info { return Info{} }, testingclock.NewFakeClock(bootTime))
	}()
	newTerminal(t, clientEnd).expect("[fedora@localhost ~]$ ")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ServeLoggedIn = %v, want context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("ServeLoggedIn did not return after ctx ended")
	}
}

func TestFormatUptime(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 1, 2, 0, time.UTC)
	tests := []struct {
		up   time.Duration
		want string
	}{
		{5 * time.Minute, " 12:01:02 up 5 min,  1 user,  load average: 0.00, 0.01, 0.05"},
		{2*time.Hour + 3*time.Minute, " 12:01:02 up  2:03,  1 user,  load average: 0.00, 0.01, 0.05"},
		{24*time.Hour + 7*time.Minute, " 12:01:02 up 1 day, 7 min,  1 user,  load average: 0.00, 0.01, 0.05"},
		{50*time.Hour + 7*time.Minute, " 12:01:02 up 2 days,  2:07,  1 user,  load average: 0.00, 0.01, 0.05"},
	}
	for _, tt := range tests {
		if got := formatUptime(now, now.Add(-tt.up)); got != tt.want {
			t.Errorf("uptime %v: got %q, want %q", tt.up, got, tt.want)
		}
	}
}
