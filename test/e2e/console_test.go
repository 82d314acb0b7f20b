package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestConsoleSubresource: through kube-apiserver with a ServiceAccount bound
// to edit, client-go's WebSocket (v5) and SPDY executors attach to
// virtualmachines/console and run `echo hello`; so does a browser-style plain
// WebSocket; virtualmachines/vnc completes an RFB 3.8 handshake, and an
// exclusive viewer is refused while another watches.
func TestConsoleSubresource(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "console")
	createKubeVirtVM(t, ns, kubevirtVM("tty", 1, "1Gi", nil))
	runningVMI(t, ns, "tty", "")
	cfg := env.ConfigFor(env.ServiceAccountToken(t, ns, "operator", "edit"))
	base := cfg.Host + "/apis/hypersdk.io/v1alpha1/namespaces/" + ns + "/virtualmachines/tty/"
	framework.Eventually(t, "edit to reach the console", func(ctx context.Context) (bool, error) {
		_, err := client(t, cfg.BearerToken).HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, "tty", metav1.GetOptions{})
		return err == nil, err
	})

	for _, tc := range []struct {
		name string
		exec func() (remotecommand.Executor, error)
	}{
		{"websocket-v5", func() (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(cfg, http.MethodGet, base+"console?stdin=true&stdout=true&tty=true")
		}},
		{"spdy", func() (remotecommand.Executor, error) {
			u, _ := url.Parse(base + "console?stdin=true&stdout=true&tty=true")
			return remotecommand.NewSPDYExecutor(cfg, http.MethodGet, u)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec, err := tc.exec()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), framework.Timeout)
			defer cancel()
			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			go func() {
				err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Tty: true})
				// Whatever ended the stream ends the test's reads and writes too.
				ended := fmt.Errorf("stream ended: %v", err)
				outW.CloseWithError(ended)
				inR.CloseWithError(ended)
			}()
			shell(t, bufio.NewReader(outR), inW)
		})
	}

	t.Run("plain-websocket", func(t *testing.T) {
		conn := dialPlain(t, cfg, base+"console?protocol=plain", http.StatusSwitchingProtocols)
		defer conn.Close()
		shell(t, bufio.NewReader(conn), conn)
	})

	t.Run("vnc", func(t *testing.T) {
		viewer := dialPlain(t, cfg, base+"vnc", http.StatusSwitchingProtocols)
		defer viewer.Close()
		rfbHandshake(t, viewer)
		// Someone watches: an exclusive viewer is refused with 409.
		dialPlain(t, cfg, base+"vnc?shared=false", http.StatusConflict)
	})
}

// TestConsoleOutlivesRequestTimeout: a console session is long-running, like
// pods/attach: it still answers after the API servers' request timeout
// (--request-timeout, 60 s), which used to end every session after a minute.
func TestConsoleOutlivesRequestTimeout(t *testing.T) {
	// Mostly waiting (for the request timeout to pass): it runs beside the other
	// waiting tests once the sequential ones are done.
	t.Parallel()
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "console-long")
	createKubeVirtVM(t, ns, kubevirtVM("long", 1, "1Gi", nil))
	runningVMI(t, ns, "long", "")
	var conn io.ReadWriteCloser
	framework.Eventually(t, "the console to accept a session", func(context.Context) (bool, error) {
		c, code := dialStatus(t, env.Admin, env.Admin.Host+"/apis/hypersdk.io/v1alpha1/namespaces/"+ns+"/virtualmachines/long/console?protocol=plain")
		conn = c
		return code == http.StatusSwitchingProtocols, fmt.Errorf("status %d", code)
	})
	defer conn.Close()
	r := bufio.NewReader(conn)
	shell(t, r, conn)
	// The session is used, not idle, for longer than the timeout.
	for i, end := 0, time.Now().Add(75*time.Second); time.Now().Before(end); i++ {
		token := fmt.Sprintf("tick-%d", i)
		io.WriteString(conn, "echo "+token+"\r")
		expect(t, r, token+"\r\n")
		time.Sleep(5 * time.Second) // the user's pause between commands
	}
}

// shell logs in on the serial console and runs echo hello.
func shell(t *testing.T, r *bufio.Reader, w io.Writer) {
	t.Helper()
	io.WriteString(w, "\r")
	expect(t, r, "login: ")
	io.WriteString(w, "fedora\r")
	expect(t, r, "Password: ")
	io.WriteString(w, "secret\r")
	expect(t, r, "$ ")
	io.WriteString(w, "echo hello\r")
	expect(t, r, "echo hello\r\nhello\r\n")
}

// dialPlain opens a binary WebSocket like a browser (noVNC) would, through
// kube-apiserver, and checks the HTTP status of the upgrade.
func dialPlain(t *testing.T, cfg *rest.Config, rawURL string, wantStatus int) io.ReadWriteCloser {
	t.Helper()
	conn, code := dialStatus(t, cfg, rawURL)
	if code != wantStatus {
		t.Fatalf("WebSocket to %s: status %d, want %d", rawURL, code, wantStatus)
	}
	if conn == nil {
		return nil
	}
	return conn
}

// dialStatus tries a binary WebSocket and returns it (nil when refused) and
// the HTTP status of the upgrade.
func dialStatus(t *testing.T, cfg *rest.Config, rawURL string) (io.ReadWriteCloser, int) {
	t.Helper()
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{TLSClientConfig: tlsCfg, Subprotocols: []string{"binary"}}
	header := http.Header{}
	if cfg.BearerToken != "" {
		header.Set("Authorization", "Bearer "+cfg.BearerToken)
	}
	conn, resp, _ := d.Dial(strings.Replace(rawURL, "https://", "wss://", 1), header)
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	if conn == nil {
		return nil, code
	}
	return console.NewStream(conn), code
}

// TestConsoleClosesWhenVMStops: an attached session ends cleanly when the VM
// stops.
func TestConsoleClosesWhenVMStops(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "console-stop")
	createKubeVirtVM(t, ns, kubevirtVM("brief", 1, "1Gi", nil))
	runningVMI(t, ns, "brief", "")
	cfg := env.Admin
	conn := dialPlain(t, cfg, cfg.Host+"/apis/hypersdk.io/v1alpha1/namespaces/"+ns+"/virtualmachines/brief/console?protocol=plain", http.StatusSwitchingProtocols)
	defer conn.Close()
	r := bufio.NewReader(conn)
	expect(t, r, "login: ")
	runOperation(t, ns, "brief", "stop", map[string]interface{}{})
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, r)
		ended <- err
	}()
	select {
	case <-ended:
	case <-time.After(framework.Timeout):
		t.Fatal("the console session outlived the VM")
	}
}
