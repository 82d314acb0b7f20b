package console

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// silentGuest is a guest that prints nothing; typed is closed once it
// reads what the user typed, closed once the bridge closes its end.
type silentGuest struct{ typed, closed chan struct{} }

func (g silentGuest) Dial(context.Context, string, string, Kind) (io.ReadWriteCloser, error) {
	bridge, guest := net.Pipe()
	go func() {
		if _, err := guest.Read(make([]byte, 1)); err == nil {
			close(g.typed)
		}
		_, _ = io.Copy(io.Discard, guest) // until the bridge closes its end
		close(g.closed)
	}()
	return bridge, nil
}

// TestSessionEndsWithItsClient: a serial console session over the v5
// WebSocket protocol or SPDY, with a terminal, ends when its client goes,
// although the guest prints nothing that would show the client gone.
func TestSessionEndsWithItsClient(t *testing.T) {
	for _, tc := range []struct {
		name     string
		executor func(*rest.Config, string) (remotecommand.Executor, error)
	}{
		{"v5 WebSocket", func(c *rest.Config, u string) (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(c, "GET", u)
		}},
		{"SPDY", func(c *rest.Config, u string) (remotecommand.Executor, error) {
			return remotecommand.NewSPDYExecutor(c, "POST", mustParse(t, u))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			guest := silentGuest{typed: make(chan struct{}), closed: make(chan struct{})}
			b := NewBridge(guest)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b.Serve(w, r, "ns", "vm", Serial, false)
			}))
			defer srv.Close()
			exec, err := tc.executor(&rest.Config{Host: srv.URL}, srv.URL+"/console?stdin=true&stdout=true&tty=true")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			stdin, feed := io.Pipe()
			defer feed.Close()
			ended := make(chan error, 1)
			go func() {
				ended <- exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: io.Discard, Tty: true})
			}()
			go func() { _, _ = feed.Write([]byte("x")) }()
			select { // the session is up
			case <-guest.typed:
			case <-time.After(30 * time.Second):
				t.Fatal("what the user typed did not reach the guest")
			}
			cancel() // the client goes
			select {
			case <-guest.closed:
			case <-time.After(30 * time.Second):
				t.Fatal("the guest connection is still open 30 s after the client went")
			}
			<-ended
		})
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// chattyGuest prints without end; closed is closed once the bridge closes
// its end.
type chattyGuest struct{ closed chan struct{} }

func (g chattyGuest) Dial(context.Context, string, string, Kind) (io.ReadWriteCloser, error) {
	bridge, guest := net.Pipe()
	go func() {
		line := make([]byte, 64<<10)
		for {
			if _, err := guest.Write(line); err != nil {
				close(g.closed)
				return
			}
		}
	}()
	return bridge, nil
}

// idleVNCClient opens a plain WebSocket VNC session to guest through a
// bridge pinging every 100 ms, and returns the client's connection, which
// the caller neither reads nor closes until it is done.
func idleVNCClient(t *testing.T, guest Dialer) *websocket.Conn {
	t.Helper()
	b := NewBridge(guest)
	b.PingInterval = 100 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.Serve(w, r, "ns", "vm", VNC, true)
	}))
	t.Cleanup(srv.Close)
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/vnc", http.Header{"Sec-WebSocket-Protocol": {PlainProtocol}})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestSessionEndsWithAClientThatStoppedReading: a plain WebSocket client
// that stops reading (its network gone, say) while the guest prints is
// found out by the next ping, which a write blocked on it does not hold
// up, and the session ends.
func TestSessionEndsWithAClientThatStoppedReading(t *testing.T) {
	guest := chattyGuest{closed: make(chan struct{})}
	conn := idleVNCClient(t, guest)
	defer conn.Close() // open, and never read
	select {
	case <-guest.closed:
	case <-time.After(60 * time.Second):
		t.Fatal("the session outlived a client that stopped reading by a minute")
	}
}

// TestSessionEndsWithAGoneClientOfASilentGuest: a client that answers no
// pings (gone without closing, behind a proxy that holds its connection)
// ends the session although the guest, an idle display, writes nothing
// that would fail.
func TestSessionEndsWithAGoneClientOfASilentGuest(t *testing.T) {
	guest := silentGuest{typed: make(chan struct{}), closed: make(chan struct{})}
	conn := idleVNCClient(t, guest)
	defer conn.Close() // open, never reading, so never answering a ping
	select {
	case <-guest.closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the session outlived by 30s a client that answered no ping")
	}
}
