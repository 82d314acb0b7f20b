package main

import (
	"strings"
	"testing"
)

// TestOnlyLoopbackWithoutClientCertificates: /bind binds pods with the
// extender's rights, so an address other hosts reach needs TLS and a
// client CA; the loopback default does not.
func TestOnlyLoopbackWithoutClientCertificates(t *testing.T) {
	for _, tc := range []struct {
		addr, cert, ca string
		refused        bool
	}{
		{addr: "127.0.0.1:8888"},
		{addr: "localhost:8888"},
		{addr: "[::1]:8888"},
		{addr: "10.0.0.7:8443", refused: true},
		{addr: "0.0.0.0:8443", cert: "tls.crt", refused: true},
		{addr: "10.0.0.7:8443", cert: "tls.crt", ca: "ca.crt"},
	} {
		o := newOptions()
		o.BindAddress, o.TLS.CertFile, o.TLS.ClientCAFile = tc.addr, tc.cert, tc.ca
		if tc.cert != "" {
			o.TLS.KeyFile = "tls.key"
		}
		err := o.validate()
		if refused := err != nil && strings.Contains(err.Error(), "reachable from other hosts"); refused != tc.refused {
			t.Errorf("--bind-address=%s, cert %q, client CA %q: %v, want refused %v", tc.addr, tc.cert, tc.ca, err, tc.refused)
		}
	}
}
