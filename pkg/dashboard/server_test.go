package dashboard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// testStore is a clusters file beside a kubeconfig with the given
// contexts, each pointing at server.
func testStore(t *testing.T, server string, contexts ...string) *ClusterStore {
	t.Helper()
	dir := t.TempDir()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "user-token"}
	for _, c := range contexts {
		cfg.Contexts[c] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	}
	cfg.CurrentContext = contexts[0]
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	loader := func() clientcmd.ClientConfig {
		return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, nil)
	}
	return &ClusterStore{Path: filepath.Join(dir, "hypersdk", "clusters.yaml"), Kubeconfig: loader}
}

func TestClusterStore(t *testing.T) {
	s := testStore(t, "https://127.0.0.1:1", "a", "b", "c")
	l, err := s.Load()
	if err != nil || l.Primary != "a" || len(l.Contexts) != 1 {
		t.Fatalf("without a file: %+v %v, want the current context alone", l, err)
	}
	for _, step := range []struct {
		f       func(string) error
		context string
		ok      bool
	}{{s.Add, "b", true}, {s.Add, "b", false}, {s.Add, "missing", false}, {s.Use, "c", false},
		{s.Add, "c", true}, {s.Use, "c", true}, {s.Remove, "c", true}, {s.Remove, "c", false}} {
		if err := step.f(step.context); (err == nil) != step.ok {
			t.Errorf("%s: error %v, want ok=%v", step.context, err, step.ok)
		}
	}
	// Removing the primary made the first remaining one primary.
	if l, err := s.Load(); err != nil || l.Primary != "a" || strings.Join(l.Contexts, ",") != "a,b" {
		t.Errorf("after the changes: %+v %v", l, err)
	}
	if err := os.WriteFile(s.Path, []byte("primary: a\nclusterz: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err == nil {
		t.Error("a clusters file with an unknown field loaded")
	}
}

// TestClusterStoreRevision: a context's endpoint changes revision when its
// kubeconfig entries do (re-pointed at another server, its user's token
// changed), so a running dashboard rebuilds it, and not otherwise.
func TestClusterStoreRevision(t *testing.T) {
	s := testStore(t, "https://127.0.0.1:1", "a", "b")
	revisions := func() (string, string, string) {
		t.Helper()
		_, eps, err := s.Clusters()
		if err != nil || eps["a"].Err != nil {
			t.Fatalf("clusters: %v %+v", err, eps)
		}
		return eps["a"].Revision, eps["a"].Config.Host, eps["a"].Config.BearerToken
	}
	rev, host, _ := revisions()
	if again, _, _ := revisions(); again != rev || rev == "" {
		t.Errorf("revision %q then %q of an unchanged context, want one non-empty revision", rev, again)
	}
	path := s.Kubeconfig().ConfigAccess().GetExplicitFile()
	for _, change := range []func(*clientcmdapi.Config){
		func(c *clientcmdapi.Config) {
			c.Clusters["other"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:2"}
			c.Contexts["a"].Cluster = "other"
		},
		func(c *clientcmdapi.Config) { c.AuthInfos["u"].Token = "rotated" },
	} {
		cfg, err := clientcmd.LoadFromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		change(cfg)
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			t.Fatal(err)
		}
		next, nextHost, token := revisions()
		if next == rev {
			t.Errorf("revision %q unchanged after the kubeconfig changed (host %s, token %s)", next, nextHost, token)
		}
		rev, host = next, nextHost
	}
	if host != "https://127.0.0.1:2" {
		t.Errorf("host %s, want the re-pointed context's", host)
	}
}

// TestServerGuard: only loopback hosts, the dashboard's own origin and the
// token get through; the token in the URL is traded for a cookie.
func TestServerGuard(t *testing.T) {
	s := &Server{Source: testStore(t, "https://127.0.0.1:1", "a"), Token: "secret", Resync: time.Hour, Probe: time.Hour}
	s.Start(t.Context())
	h := s.Handler(UI())
	do := func(host, origin, cookie, target string, site ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Host = host
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: TokenCookie(host), Value: cookie})
		}
		if len(site) > 0 {
			r.Header.Set("Sec-Fetch-Site", site[0])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name, host, origin, cookie, target string
		want                               int
	}{
		{"token traded for a cookie", "127.0.0.1:8000", "", "", "/?token=secret", http.StatusSeeOther},
		{"wrong token", "127.0.0.1:8000", "", "", "/?token=guess", http.StatusUnauthorized},
		{"no token", "localhost:8000", "", "", "/api/clusters", http.StatusUnauthorized},
		{"rebinding host", "evil.example:8000", "", "secret", "/api/clusters", http.StatusForbidden},
		{"other origin", "127.0.0.1:8000", "http://evil.example", "secret", "/api/clusters", http.StatusForbidden},
		{"own origin", "127.0.0.1:8000", "http://127.0.0.1:8000", "secret", "/api/clusters", http.StatusOK},
		{"IPv6 loopback", "[::1]:8000", "", "secret", "/", http.StatusOK},
		{"cluster not shown", "127.0.0.1:8000", "", "secret", "/k8s/b/version", http.StatusNotFound},
		{"summary of a cluster not shown", "127.0.0.1:8000", "", "secret", "/api/summary?cluster=b", http.StatusNotFound},
	} {
		if w := do(tc.host, tc.origin, tc.cookie, tc.target); w.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
		}
	}
	w := do("127.0.0.1:8000", "", "", "/?token=secret")
	if c := w.Result().Cookies(); len(c) != 1 || c[0].Name != "hypersdk-dashboard-8000" || c[0].Value != "secret" || !c[0].HttpOnly ||
		c[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie %+v, want hypersdk-dashboard-8000, HttpOnly, SameSite=Strict", c)
	}
	// A page on another port of the host is the same site: its links and
	// images carry the cookie but no Origin; the browser's Sec-Fetch-Site
	// tells them from the dashboard's own requests and the user's.
	for site, want := range map[string]int{"same-site": http.StatusForbidden, "cross-site": http.StatusForbidden,
		"same-origin": http.StatusOK, "none": http.StatusOK} {
		if w := do("127.0.0.1:8000", "", "secret", "/api/clusters", site); w.Code != want {
			t.Errorf("Sec-Fetch-Site %s: %d %s, want %d", site, w.Code, w.Body, want)
		}
	}
	// The cookie of a dashboard on another port is not this one's.
	r := httptest.NewRequest(http.MethodGet, "/api/clusters", nil)
	r.Host = "127.0.0.1:8000"
	r.AddCookie(&http.Cookie{Name: TokenCookie("127.0.0.1:9000"), Value: "secret"})
	other := httptest.NewRecorder()
	h.ServeHTTP(other, r)
	if other.Code != http.StatusUnauthorized {
		t.Errorf("another port's cookie: %d, want 401", other.Code)
	}
	for _, r := range []*http.Request{httptest.NewRequest(http.MethodDelete, "/api/clusters/b", nil),
		httptest.NewRequest(http.MethodPut, "/api/primary", strings.NewReader(`{"context":"b"}`))} {
		r.Host = "127.0.0.1:8000"
		r.Header.Set("Origin", "http://127.0.0.1:8000")
		r.AddCookie(&http.Cookie{Name: TokenCookie(r.Host), Value: "secret"})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNotFound {
			t.Errorf("%s %s of a cluster not shown: %d %s, want 404", r.Method, r.URL, w.Code, w.Body)
		}
	}
	var clusters []ClusterHealth
	if err := json.Unmarshal(do("127.0.0.1:8000", "", "secret", "/api/clusters").Body.Bytes(), &clusters); err != nil ||
		len(clusters) != 1 || clusters[0].Name != "a" || !clusters[0].Primary {
		t.Errorf("clusters %+v %v", clusters, err)
	}
}
