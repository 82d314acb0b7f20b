package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	apirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/klog/v2"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// Protocols a client may speak to HyperSDK's console subresource.
const (
	// PlainProtocol is a binary WebSocket carrying the raw bytes, for
	// browsers (also accepted: "binary", as noVNC asks, and KubeVirt's
	// plain.kubevirt.io).
	PlainProtocol = "plain"
	v5Protocol    = "v5.channel.k8s.io"
)

// Bridge connects clients to guests: it dials the guest through a Dialer and
// copies bytes between it and the client, speaking the client's protocol.
type Bridge struct {
	Dialer Dialer
	// PingInterval keeps idle plain WebSocket sessions open through proxies.
	PingInterval time.Duration
	// StreamCreationTimeout bounds how long SPDY clients take to open streams.
	StreamCreationTimeout time.Duration
}

// NewBridge returns a bridge over dialer with sensible timeouts.
func NewBridge(dialer Dialer) *Bridge {
	return &Bridge{Dialer: dialer, PingInterval: 30 * time.Second, StreamCreationTimeout: 30 * time.Second}
}

// Serve attaches the client of req to the guest's console or display. The
// protocol follows the request: a plain binary WebSocket when asked for
// (?protocol=plain, or the plain/binary subprotocols; always for VNC and
// usbredir, which are binary protocols of their own), the
// Kubernetes remote-command protocols otherwise: WebSocket v5.channel.k8s.io
// down to channel.k8s.io, or SPDY, as client-go's executors and kubectl speak.
func (b *Bridge) Serve(w http.ResponseWriter, req *http.Request, namespace, name string, kind Kind, plain bool) {
	ctx := req.Context()
	logger := klog.FromContext(ctx).WithValues("vmi", klog.KRef(namespace, name), "kind", kind)
	// What the client asks for is checked before the guest is dialed:
	// KubeVirt gives a console or display to its newest client, so a
	// request that would fail anyway must not take it from the one there.
	subprotocols := wsProtocols(req)
	var serve func(up io.ReadWriteCloser)
	switch {
	case plain || kind != Serial || hasAny(subprotocols, "plain.kubevirt.io", "binary", PlainProtocol):
		if !wsstream.IsWebSocketRequest(req) {
			writeStatus(w, apierrors.NewBadRequest("a WebSocket upgrade is needed").ErrStatus)
			return
		}
		serve = func(up io.ReadWriteCloser) { b.servePlain(ctx, w, req, up) }
	case wsstream.IsWebSocketRequest(req) && hasAny(subprotocols, v5Protocol):
		if _, err := streamOptions(req); err != nil {
			writeStatus(w, apierrors.NewBadRequest(err.Error()).ErrStatus)
			return
		}
		serve = func(up io.ReadWriteCloser) { b.serveV5(w, req, up) }
	default:
		opts, err := streamOptions(req)
		if err != nil {
			writeStatus(w, apierrors.NewBadRequest(err.Error()).ErrStatus)
			return
		}
		if !httpstream.IsUpgradeRequest(req) {
			writeStatus(w, apierrors.NewBadRequest("a WebSocket or SPDY upgrade is needed").ErrStatus)
			return
		}
		serve = func(up io.ReadWriteCloser) {
			remotecommand.ServeAttach(w, req, attacher{up}, name, "", "console", opts, 0, b.StreamCreationTimeout,
				remotecommand.SupportedStreamingProtocols)
		}
	}
	up, err := b.Dialer.Dial(ctx, namespace, name, kind)
	if err != nil {
		logger.Error(err, "Dialing guest")
		writeStatus(w, dialStatus(err))
		return
	}
	defer up.Close()
	serve(up)
	logger.V(2).Info("Console session ended")
}

// dialStatus is the answer to a client whose guest could not be reached:
// KubeVirt's own refusal when it gave one (its code and reason, with where
// it came from), else 503. A refusal of HyperSDK's own identity (401, 403)
// is not the client's: 503 too.
func dialStatus(err error) metav1.Status {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code >= 400 && !apierrors.IsUnauthorized(err) && !apierrors.IsForbidden(err) {
		st := status.Status()
		st.Message = err.Error()
		return st
	}
	return apierrors.NewServiceUnavailable(err.Error()).ErrStatus
}

// writeStatus answers with st as a Kubernetes Status, as the API server
// answers a request it refuses before the stream starts.
func writeStatus(w http.ResponseWriter, st metav1.Status) {
	st.Kind, st.APIVersion, st.Status = "Status", "v1", metav1.StatusFailure
	responsewriters.WriteRawJSON(int(st.Code), st, w)
}

// streamOptions reads the streams a client asks for, with the API's query
// names (stdin, stdout, stderr, tty), as for pods/attach.
func streamOptions(req *http.Request) (*remotecommand.Options, error) {
	q := req.URL.Query()
	on := func(k string) bool { v := q.Get(k); return v == "true" || v == "1" }
	opts := &remotecommand.Options{Stdin: on("stdin"), Stdout: on("stdout"), Stderr: on("stderr"), TTY: on("tty")}
	if opts.TTY {
		opts.Stderr = false // a terminal has one output stream
	}
	if !opts.Stdin && !opts.Stdout && !opts.Stderr {
		return nil, errors.New("ask for at least one of stdin, stdout and stderr")
	}
	return opts, nil
}

func wsProtocols(req *http.Request) []string {
	var out []string
	for _, h := range req.Header.Values("Sec-Websocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

func hasAny(list []string, want ...string) bool {
	for _, l := range list {
		for _, w := range want {
			if l == w {
				return true
			}
		}
	}
	return false
}

// servePlain copies raw bytes over a binary WebSocket, with pings.
func (b *Bridge) servePlain(ctx context.Context, w http.ResponseWriter, req *http.Request, up io.ReadWriteCloser) {
	u := websocket.Upgrader{
		Subprotocols:    []string{"plain.kubevirt.io", "binary", PlainProtocol},
		ReadBufferSize:  frameBuffer,
		WriteBufferSize: frameBuffer,
		WriteBufferPool: writeBuffers,
		// Authentication and authorization already happened in the API server
		// chain; the origin is the browser page's.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	conn, err := u.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	client := NewStream(conn)
	defer client.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if b.PingInterval > 0 {
		// A client that went away without closing is seen by its missing
		// pongs: writing pings succeeds as long as a proxy in between
		// (kube-apiserver's) holds the connection, and a silent guest (an
		// idle display) writes nothing that would fail.
		alive := func() error { return conn.SetReadDeadline(time.Now().Add(3 * b.PingInterval)) }
		if alive() != nil {
			return
		}
		conn.SetPongHandler(func(string) error { return alive() })
		go func() {
			t := time.NewTicker(b.PingInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if client.Ping() != nil {
						cancel()
						return
					}
				}
			}
		}()
	}
	pipe(ctx, client, up)
}

// serveV5 speaks v5.channel.k8s.io (stdin 0, stdout 1, stderr 2, error 3,
// resize 4, and the stream-close signal), which client-go's WebSocket
// executor needs and the kubelet's library does not offer.
func (b *Bridge) serveV5(w http.ResponseWriter, req *http.Request, up io.ReadWriteCloser) {
	opts, err := streamOptions(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	channel := func(on bool, t wsstream.ChannelType) wsstream.ChannelType {
		if on {
			return t
		}
		return wsstream.IgnoreChannel
	}
	channels := []wsstream.ChannelType{
		channel(opts.Stdin, wsstream.ReadChannel), channel(opts.Stdout, wsstream.WriteChannel),
		channel(opts.Stderr, wsstream.WriteChannel), wsstream.WriteChannel, wsstream.ReadChannel,
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{v5Protocol: {Binary: true, Channels: channels}})
	_, streams, err := conn.Open(w, req)
	if err != nil {
		klog.FromContext(req.Context()).Error(err, "Opening v5 WebSocket streams")
		return
	}
	defer conn.Close()
	// An empty write tells the client the session is established.
	out := streams[1]
	if !opts.Stdout {
		out = streams[3]
	}
	_, _ = out.Write(nil)
	go func() {
		_, _ = io.Copy(io.Discard, streams[4]) // serial consoles have no size
		// The resize stream ends with the client's connection, and so does
		// the session: a silent guest would otherwise hold it open.
		_ = up.Close()
	}()
	done := make(chan struct{})
	go func() {
		if opts.Stdin {
			_, _ = io.Copy(up, streams[0])
		}
		<-done
	}()
	_, copyErr := io.Copy(out, up)
	close(done)
	status := map[string]interface{}{"metadata": map[string]interface{}{}, "status": "Success"}
	if copyErr != nil && copyErr != io.EOF {
		status = map[string]interface{}{"metadata": map[string]interface{}{}, "status": "Failure", "message": copyErr.Error()}
	}
	data, _ := json.Marshal(status)
	_, _ = streams[3].Write(data)
}

// attacher plugs the guest stream into the kubelet's attach server.
type attacher struct{ up io.ReadWriteCloser }

func (a attacher) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, _ io.WriteCloser, _ bool, resize <-chan remotecommand.TerminalSize) error {
	// The session ends when the client's connection does, which its resize
	// stream (a terminal's) tells, or its request: the copy from a silent
	// guest would otherwise hold it open. (A client without a terminal
	// is only seen gone at the guest's next output.)
	gone := make(chan struct{})
	if resize != nil {
		go func() {
			for range resize { // serial consoles have no size
			}
			close(gone)
		}()
	}
	ended := make(chan struct{})
	defer close(ended)
	go func() {
		select {
		case <-ctx.Done():
		case <-gone:
		case <-ended:
			return
		}
		_ = a.up.Close()
	}()
	if out == nil {
		out = nopWriteCloser{io.Discard}
	}
	var wg sync.WaitGroup
	if in != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(a.up, in)
		}()
	}
	_, err := io.Copy(out, a.up)
	if err == io.EOF {
		err = nil
	}
	return err
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// pipe copies both ways until either side ends or ctx does. Each read
// becomes one WebSocket message on the other side, so the copy buffer is
// as large as a frame: a VNC update crosses in a few large messages rather
// than many 32 KiB ones.
func pipe(ctx context.Context, a, b io.ReadWriteCloser) {
	done := make(chan struct{}, 2)
	copyAll := func(dst io.Writer, src io.Reader) {
		buf := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(buf)
		_, _ = io.CopyBuffer(dst, src, *buf)
		done <- struct{}{}
	}
	go copyAll(a, b)
	go copyAll(b, a)
	select {
	case <-done:
	case <-ctx.Done():
	}
	_ = a.Close()
	_ = b.Close()
}

// Ping sends a WebSocket ping. It fails when it cannot be sent within 10
// seconds, as when a Write is blocked on a peer that stopped reading: the
// session then ends, rather than wait for TCP to give up on the peer.
func (s *Stream) Ping() error {
	return s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second))
}

// LongRunning is the long-running request check of an API server that
// serves console, VNC or USB redirection subresources: their sessions last
// as long as their users keep them, as pods/attach does, so neither the
// request deadline (--request-timeout, 60 s by default) nor the in-flight
// limits may apply to them. Watches are long-running as by default.
func LongRunning() apirequest.LongRunningRequestCheck {
	return genericfilters.BasicLongRunningRequestCheck(sets.NewString("watch"),
		sets.NewString(string(Serial), string(VNC), string(USBRedir)))
}
