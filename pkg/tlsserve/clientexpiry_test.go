package tlsserve

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestClientCertExpiry: the expiry of the certificate a client presents is
// a gauge, and a certificate with a third of its life or less left (its
// issuer has renewed it: the caller's copy is not refreshed) is flagged;
// a request without one is passed on and changes nothing.
func TestClientCertExpiry(t *testing.T) {
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	notAfter := start.Add(90 * 24 * time.Hour)
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "kube-scheduler"}, SerialNumber: big.NewInt(7), NotBefore: start, NotAfter: notAfter}
	clk := clocktesting.NewFakePassiveClock(start.Add(59 * 24 * time.Hour))
	c := NewClientCertExpiry(prometheus.NewRegistry(), clk)
	passed := 0
	h := c.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed++ }))
	get := func(state *tls.ConnectionState) {
		req := httptest.NewRequest(http.MethodPost, "/filter", nil)
		req.TLS = state
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	get(&tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}})
	if got := testutil.ToFloat64(c.expiry.WithLabelValues("kube-scheduler")); got != float64(notAfter.Unix()) {
		t.Errorf("expiry %v, want %d", got, notAfter.Unix())
	}
	if got := testutil.ToFloat64(c.stale.WithLabelValues("kube-scheduler")); got != 0 {
		t.Errorf("past renewal %v on day 59 of 90, want 0", got)
	}
	clk.SetTime(start.Add(61 * 24 * time.Hour))
	get(&tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}})
	if got := testutil.ToFloat64(c.stale.WithLabelValues("kube-scheduler")); got != 1 {
		t.Errorf("past renewal %v on day 61 of 90, want 1", got)
	}
	get(nil)
	get(&tls.ConnectionState{})
	if passed != 4 || testutil.CollectAndCount(c.expiry) != 1 {
		t.Errorf("%d requests passed on, %d series; want 4, 1", passed, testutil.CollectAndCount(c.expiry))
	}
}
