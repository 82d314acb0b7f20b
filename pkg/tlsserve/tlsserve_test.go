package tlsserve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestRequireClientCert: the named paths, and everything under a path
// ending in /, need a verified client certificate; other paths do not.
func TestRequireClientCert(t *testing.T) {
	h := (&Options{}).RequireClientCert(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), "/bind", "/debug/pprof/")
	for path, want := range map[string]int{
		"/bind": http.StatusUnauthorized, "/debug/pprof/": http.StatusUnauthorized, "/debug/pprof/heap": http.StatusUnauthorized,
		"/bindings": http.StatusOK, "/healthz": http.StatusOK, "/metrics": http.StatusOK,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("%s without a certificate: %d, want %d", path, rec.Code, want)
		}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.TLS = verified("anyone")
		rec = httptest.NewRecorder()
		if h.ServeHTTP(rec, req); rec.Code != http.StatusOK {
			t.Errorf("%s with a verified certificate: %d, want 200", path, rec.Code)
		}
	}
}

// TestClientNames: with --client-common-names, a certificate the client CA
// signed for another use (HyperSDK's CA signs etcd's clients too) is
// refused where one is required.
func TestClientNames(t *testing.T) {
	o := &Options{ClientNames: []string{"kube-scheduler"}}
	h := o.RequireClientCert(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), "/bind")
	for _, c := range []struct {
		cn, path string
		want     int
	}{
		{"kube-scheduler", "/bind", http.StatusOK},
		{"hypersdk-apiserver", "/bind", http.StatusForbidden},
		{"hypersdk-etcd", "/bind", http.StatusForbidden},
		{"hypersdk-etcd", "/healthz", http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodPost, c.path, nil)
		req.TLS = verified(c.cn)
		rec := httptest.NewRecorder()
		if h.ServeHTTP(rec, req); rec.Code != c.want {
			t.Errorf("%s with a certificate of %q: %d, want %d", c.path, c.cn, rec.Code, c.want)
		}
	}
}

// verified is a connection whose client certificate, of common name cn,
// the client CA verified.
func verified(cn string) *tls.ConnectionState {
	return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: cn}}}}}
}

// TestServeDrains: Serve returns only once a request in flight when ctx
// ended has been answered.
func TestServeDrains(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var answered atomic.Bool
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		answered.Store(true)
	})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, srv, ln, time.Minute) }()
	reply := make(chan error, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/bind", "application/json", nil)
		if err == nil {
			resp.Body.Close()
		}
		reply <- err
	}()
	<-entered
	cancel()
	// The handler is let go when Serve returns, or after a while: Serve
	// must not return before it.
	select {
	case err := <-served:
		close(release)
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(2 * time.Second):
		close(release)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if !answered.Load() {
		t.Error("Serve returned before the request in flight was answered")
	}
	if err := <-reply; err != nil {
		t.Errorf("the request in flight: %v", err)
	}
}
