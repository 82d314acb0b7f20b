package tlsserve

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRequireClientCert: the named paths, and everything under a path
// ending in /, need a verified client certificate; other paths do not.
func TestRequireClientCert(t *testing.T) {
	h := RequireClientCert(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), "/bind", "/debug/pprof/")
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
		req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{}}}}
		rec = httptest.NewRecorder()
		if h.ServeHTTP(rec, req); rec.Code != http.StatusOK {
			t.Errorf("%s with a verified certificate: %d, want 200", path, rec.Code)
		}
	}
}
