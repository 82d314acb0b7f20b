package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// TestDialReadsTheTokenFileEachTime: with a token file (as
// rest.InClusterConfig sets, with the token it read at start), each dial
// sends what the file holds then, so a rotated service-account token is
// used once kubelet writes it.
func TestDialReadsTheTokenFileEachTime(t *testing.T) {
	var got []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer api.Close()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("rotated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := NewKubeVirtDialer(&rest.Config{Host: api.URL, BearerToken: "at-start", BearerTokenFile: file})
	if _, err := d.Dial(t.Context(), "ns", "vm", Serial); err == nil {
		t.Fatal("dial answered 403: want an error")
	}
	if err := os.WriteFile(file, []byte("rotated-again"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dial(t.Context(), "ns", "vm", Serial); err == nil {
		t.Fatal("dial answered 403: want an error")
	}
	if len(got) != 2 || got[0] != "Bearer rotated" || got[1] != "Bearer rotated-again" {
		t.Errorf("Authorization sent %q, want the file's token at each dial", got)
	}
}

// TestDialGivesUpOnAnUnansweredUpgrade: a virt-api that takes the
// connection and never answers the upgrade is an error once the handshake
// timeout passes, not a console request (which has no deadline) held for
// ever.
func TestDialGivesUpOnAnUnansweredUpgrade(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer api.Close()
	defer api.CloseClientConnections()
	d := NewKubeVirtDialer(&rest.Config{Host: api.URL})
	d.handshake = 200 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		_, err := d.Dial(context.Background(), "ns", "vm", VNC)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("dial with no answer: no error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dial with no answer still waiting after 30s")
	}
}
