package console

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

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
