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
		// The manifest's [$(POD_IP)]:8443, on either family.
		{addr: "[10.0.0.7]:8443", refused: true},
		{addr: "[fd00::7]:8443", refused: true},
		{addr: "[fd00::7]:8443", cert: "tls.crt", ca: "ca.crt"},
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

// TestAnAddressThatIsNoHostPortIsRefused: an IPv6 address without brackets
// is refused at start, naming the flag, not at the listen.
func TestAnAddressThatIsNoHostPortIsRefused(t *testing.T) {
	o := newOptions()
	o.BindAddress, o.TLS.CertFile, o.TLS.KeyFile, o.TLS.ClientCAFile = "fd00::7:8443", "tls.crt", "tls.key", "ca.crt"
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "--bind-address=fd00::7:8443") {
		t.Errorf("--bind-address=fd00::7:8443: %v, want it refused", err)
	}
}

// TestAnEmptyAddressIsSaidOnce: no --bind-address is one error, not also
// an address reachable from other hosts.
func TestAnEmptyAddressIsSaidOnce(t *testing.T) {
	o := newOptions()
	o.BindAddress = ""
	if err := o.validate(); err == nil || err.Error() != "--bind-address is required" {
		t.Errorf("no --bind-address: %v, want it said once", err)
	}
}
