package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Kind is what to connect to.
type Kind string

const (
	// Serial is the guest's serial console.
	Serial Kind = "console"
	// VNC is the guest's graphical display, spoken as RFB.
	VNC Kind = "vnc"
	// USBRedir is a client USB redirection slot, spoken as usbredir: the
	// client lends the guest one of its USB devices.
	USBRedir Kind = "usbredir"
)

// Dialer opens a byte stream to a VM instance's console or display.
type Dialer interface {
	Dial(ctx context.Context, namespace, name string, kind Kind) (io.ReadWriteCloser, error)
}

// KubeVirtDialer dials KubeVirt's subresources.kubevirt.io console and vnc
// endpoints through kube-apiserver, with the plain.kubevirt.io WebSocket
// protocol virt-api speaks.
type KubeVirtDialer struct {
	cfg *rest.Config
	// handshake bounds the WebSocket upgrade: a console request has no
	// deadline of its own (it is long-running), so a virt-api that never
	// answers would hold it, and a USB agent's session, for ever.
	handshake time.Duration
}

var _ Dialer = &KubeVirtDialer{}

// NewKubeVirtDialer dials with cfg's server and credentials (client
// certificates, bearer token or token file).
func NewKubeVirtDialer(cfg *rest.Config) *KubeVirtDialer {
	return &KubeVirtDialer{cfg: cfg, handshake: 30 * time.Second}
}

// Dial connects to the console or VNC display of a running VMI.
func (d *KubeVirtDialer) Dial(ctx context.Context, namespace, name string, kind Kind) (io.ReadWriteCloser, error) {
	tlsCfg, err := rest.TLSConfigFor(d.cfg)
	if err != nil {
		return nil, fmt.Errorf("TLS configuration: %w", err)
	}
	u, err := url.Parse(d.cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("parsing host %q: %w", d.cfg.Host, err)
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = strings.TrimSuffix(u.Path, "/") + fmt.Sprintf("/apis/subresources.kubevirt.io/v1/namespaces/%s/virtualmachineinstances/%s/%s",
		url.PathEscape(namespace), url.PathEscape(name), kind)
	header := http.Header{}
	token := d.cfg.BearerToken
	if d.cfg.BearerTokenFile != "" {
		// The file wins over the token in cfg, which rest.InClusterConfig
		// read from it at start: a projected service-account token is
		// rotated in place (client-go's own transport reads it again too).
		data, err := os.ReadFile(d.cfg.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading token file: %w", err)
		}
		token = strings.TrimSpace(string(data))
	}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	dialer := websocket.Dialer{TLSClientConfig: tlsCfg, Subprotocols: []string{"plain.kubevirt.io"}, HandshakeTimeout: d.handshake,
		ReadBufferSize: frameBuffer, WriteBufferSize: frameBuffer, WriteBufferPool: writeBuffers}
	conn, resp, err := dialer.DialContext(ctx, u.String(), header)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			// KubeVirt (or kube-apiserver) refuses with a Status: its code
			// and reason are the client's answer too.
			var st metav1.Status
			if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Code >= 400 {
				st.Message = fmt.Sprintf("connecting to %s of %s/%s: %s", kind, namespace, name, st.Message)
				return nil, &apierrors.StatusError{ErrStatus: st}
			}
			return nil, fmt.Errorf("connecting to %s of %s/%s: %s: %s", kind, namespace, name, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil, fmt.Errorf("connecting to %s of %s/%s: %w", kind, namespace, name, err)
	}
	return NewStream(conn), nil
}
