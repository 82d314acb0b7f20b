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
		NewBridge(failingDialer{tc.err}).Serve(rec, httptest.NewRequest(http.MethodGet, "/vnc", nil), "ns", "vm", VNC, true)
		var st metav1.Status
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != tc.code || st.Kind != "Status" ||
			st.Code != int32(tc.code) || st.Reason != tc.reason || !strings.Contains(st.Message, tc.err.Error()) {
			t.Errorf("dial failing with %v: %d %q (%v), want a %d Status with reason %s and the message", tc.err, rec.Code, rec.Body.String(), err, tc.code, tc.reason)
		}
	}
}
