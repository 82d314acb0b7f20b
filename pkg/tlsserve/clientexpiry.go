package tlsserve

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// ClientCertExpiry tells when the client certificates callers present
// expire, and warns of a caller whose copy is no longer being renewed.
// The issuers of HyperSDK's client certificates (its certificates
// controller, cert-manager) renew them with a third of their life left, and
// in-cluster callers read the renewed files; a caller still presenting one
// past that point holds a copy nobody refreshes (the Secret copied to a
// control-plane node for a kube-scheduler configured by hand), which is
// refused once it expires: for an ignorable extender, silently.
type ClientCertExpiry struct {
	clock         clock.PassiveClock
	expiry, stale *prometheus.GaugeVec

	mu     sync.Mutex
	warned map[string]string // common name -> serial of the certificate warned about
}

// NewClientCertExpiry registers its gauges with reg.
func NewClientCertExpiry(reg prometheus.Registerer, clk clock.PassiveClock) *ClientCertExpiry {
	c := &ClientCertExpiry{clock: clk, warned: map[string]string{},
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hypersdk_client_certificate_expiry_timestamp_seconds",
			Help: "When the client certificate last presented under each common name expires, as a Unix time.",
		}, []string{"common_name"}),
		stale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hypersdk_client_certificate_past_renewal",
			Help: "1 when the client certificate last presented under each common name has a third of its life or less left, " +
				"when its issuer has renewed it: the caller holds a copy nobody refreshes, refused once it expires.",
		}, []string{"common_name"})}
	reg.MustRegister(c.expiry, c.stale)
	return c
}

// Handler records the verified client certificate of each request, then
// passes the request to h.
func (c *ClientCertExpiry) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			c.observe(r.TLS.VerifiedChains[0][0])
		}
		h.ServeHTTP(w, r)
	})
}

func (c *ClientCertExpiry) observe(cert *x509.Certificate) {
	name := cert.Subject.CommonName
	c.expiry.WithLabelValues(name).Set(float64(cert.NotAfter.Unix()))
	if renewBy := cert.NotAfter.Add(-cert.NotAfter.Sub(cert.NotBefore) / 3); c.clock.Now().Before(renewBy) {
		c.stale.WithLabelValues(name).Set(0)
		return
	}
	c.stale.WithLabelValues(name).Set(1)
	serial := fmt.Sprint(cert.SerialNumber)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.warned[name] == serial {
		return
	}
	c.warned[name] = serial
	klog.InfoS("A client presents a certificate its issuer has renewed by now: refresh the caller's copy, or it is refused once it expires",
		"commonName", name, "serial", serial, "notAfter", cert.NotAfter)
}
