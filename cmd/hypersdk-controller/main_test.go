package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hypersdk/hypersdk/pkg/tlsserve"
)

// TestMetricsNeedAClientCertificateWithAClientCA: --client-ca-file makes
// /metrics answer only clients with a certificate; without it, anyone.
func TestMetricsNeedAClientCertificateWithAClientCA(t *testing.T) {
	for ca, want := range map[string]int{"": http.StatusOK, "/etc/hypersdk/client-ca.crt": http.StatusUnauthorized} {
		h := metricsHandler(&tlsserve.Options{ClientCAFile: ca}, prometheus.NewRegistry())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != want {
			t.Errorf("client CA %q, no certificate: %d, want %d", ca, rec.Code, want)
		}
	}
}

// TestMetricsAddressIsAHostPort: an IPv6 address without brackets is
// refused at start, naming the flag; the manifest's [$(POD_IP)]:8080 is
// one on either family.
func TestMetricsAddressIsAHostPort(t *testing.T) {
	for addr, ok := range map[string]bool{"fd00::7:8080": false, "[fd00::7]:8080": true, "[10.0.0.7]:8080": true, "": true} {
		o := newOptions()
		o.MetricsAddress = addr
		err := o.validate()
		if refused := err != nil && strings.Contains(err.Error(), "--metrics-bind-address"); refused == ok {
			t.Errorf("--metrics-bind-address=%q: %v, want accepted %t", addr, err, ok)
		}
	}
}

// TestIdleAloneNeedsARecordInterval: the idle finder reads history at the
// recorder's step, so run alone it still needs a positive one.
func TestIdleAloneNeedsARecordInterval(t *testing.T) {
	o := newOptions()
	o.Controllers, o.RecordInterval = []string{idleController}, 0
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "--record-interval") {
		t.Errorf("idle alone, --record-interval=0: %v, want it refused", err)
	}
	// Samples two hours apart would read as outages, each spending a minute.
	o.RecordInterval = 2 * time.Hour
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "--record-interval must be at most") {
		t.Errorf("--record-interval=2h: %v, want it refused", err)
	}
}

// TestControllersFlag: '*' gives the defaults wherever it stands, and the
// last entry naming a controller decides: "-rebalance,*" runs no
// rebalancer, and "*,-recorder" with "recorder" appended (the prometheus
// component's patch) runs the recorder.
func TestControllersFlag(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		on    string
		want  bool
	}{
		{[]string{"-rebalance", "*"}, "rebalance", false},
		{[]string{"*", "-rebalance"}, "rebalance", false},
		{[]string{"*", "-recorder", "recorder"}, "recorder", true},
		{[]string{"*"}, "executor", true},
	} {
		o := newOptions()
		o.Controllers = tc.flags
		if got := slices.Contains(o.enabled(), tc.on); got != tc.want {
			t.Errorf("--controllers=%s: %s on %v, want %v", strings.Join(tc.flags, ","), tc.on, got, tc.want)
		}
	}
}
