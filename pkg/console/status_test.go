package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

type failingDialer struct{ err error }

func (d failingDialer) Dial(context.Context, string, string, Kind) (io.ReadWriteCloser, error) {
	return nil, d.err
}

// TestUnreachableGuestIsAStatus: a guest that cannot be dialled is answered
// with a Kubernetes Status, KubeVirt's code when it refused with one (read
// from its answer by the dialer), else 503.
func TestUnreachableGuestIsAStatus(t *testing.T) {
	virtAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest, Message: "VMI is paused"})
	}))
	defer virtAPI.Close()
	_, kubevirtErr := NewKubeVirtDialer(&rest.Config{Host: virtAPI.URL}).Dial(t.Context(), "ns", "vm", VNC)
	if !apierrors.IsBadRequest(kubevirtErr) {
		t.Fatalf("dial refused by KubeVirt with a 400 Status: %v, want that Status", kubevirtErr)
	}
	for _, tc := range []struct {
		err    error
		code   int
		reason metav1.StatusReason
	}{
		{kubevirtErr, http.StatusBadRequest, metav1.StatusReasonBadRequest},
		{errors.New("dial tcp: connection refused"), http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/vnc", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		NewBridge(failingDialer{tc.err}).Serve(rec, req, "ns", "vm", VNC, true)
		var st metav1.Status
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != tc.code || st.Kind != "Status" ||
			st.Code != int32(tc.code) || st.Reason != tc.reason || !strings.Contains(st.Message, tc.err.Error()) {
			t.Errorf("dial failing with %v: %d %q (%v), want a %d Status with reason %s and the message", tc.err, rec.Code, rec.Body.String(), err, tc.code, tc.reason)
		}
	}
}

// countingDialer counts its dials, which fail.
type countingDialer struct{ dials *int }

func (d countingDialer) Dial(context.Context, string, string, Kind) (io.ReadWriteCloser, error) {
	*d.dials++
	return nil, errors.New("not dialed in this test")
}

// TestBadRequestsDoNotDialTheGuest: KubeVirt gives a console or display to
// its newest client, so a request that cannot become a session (no
// upgrade, no stream asked for) is a 400 before the guest is dialed, and
// takes the console from nobody.
func TestBadRequestsDoNotDialTheGuest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    Kind
		target  string
		upgrade string
	}{
		{"a serial console read with GET", Serial, "/console", ""},
		{"a serial console asking for no stream", Serial, "/console", "SPDY/3.1"},
		{"a display read with GET", VNC, "/vnc", ""},
	} {
		dials := 0
		req := httptest.NewRequest(http.MethodGet, tc.target, nil)
		if tc.upgrade != "" {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", tc.upgrade)
		}
		rec := httptest.NewRecorder()
		NewBridge(countingDialer{&dials}).Serve(rec, req, "ns", "vm", tc.kind, false)
		var st metav1.Status
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != http.StatusBadRequest || st.Reason != metav1.StatusReasonBadRequest || dials != 0 {
			t.Errorf("%s: %d %q, %d dials; want a 400 Status and no dial", tc.name, rec.Code, rec.Body.String(), dials)
		}
	}
}
