package dashboard

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func kubeconfigFor(t *testing.T, server string, user *clientcmdapi.AuthInfo) []byte {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: []byte("ca")}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	if user != nil {
		cfg.AuthInfos["u"] = user
	}
	cfg.CurrentContext = "x"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestEndpointFromKubeconfig(t *testing.T) {
	cfg, err := EndpointFromKubeconfig(kubeconfigFor(t, "https://remote:6443", nil))
	if err != nil || cfg.Host != "https://remote:6443" || string(cfg.CAData) != "ca" || cfg.BearerToken != "" {
		t.Fatalf("server and CA only: %+v %v", cfg, err)
	}
	for name, data := range map[string][]byte{
		"token":       kubeconfigFor(t, "https://remote:6443", &clientcmdapi.AuthInfo{Token: "admin"}),
		"client cert": kubeconfigFor(t, "https://remote:6443", &clientcmdapi.AuthInfo{ClientCertificateData: []byte("x")}),
		"exec":        kubeconfigFor(t, "https://remote:6443", &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: "sh"}}),
		"act-as":      kubeconfigFor(t, "https://remote:6443", &clientcmdapi.AuthInfo{Impersonate: "admin"}),
		"no server":   kubeconfigFor(t, "", nil),
		"plain http":  kubeconfigFor(t, "http://remote:8080", nil),
		"no scheme":   kubeconfigFor(t, "remote:8080", nil),
		"empty":       nil,
		"not yaml":    []byte("{"),
	} {
		if cfg, err := EndpointFromKubeconfig(data); err == nil {
			t.Errorf("%s: accepted as %+v", name, cfg)
		}
	}
}

// TestSecretSource: the dashboard's own cluster first and primary unless a
// Secret says otherwise; a Secret with credentials is shown with its error.
func TestSecretSource(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	secret := func(name, rv string, kubeconfig []byte, primary bool) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dash", ResourceVersion: rv,
			Labels: map[string]string{ClusterLabel: ""}}, Data: map[string][]byte{KubeconfigKey: kubeconfig}}
		if primary {
			s.Annotations = map[string]string{PrimaryAnnotation: "true"}
		}
		return s
	}
	for _, s := range []*corev1.Secret{
		secret("west", "1", kubeconfigFor(t, "https://west:6443", nil), false),
		secret("east", "2", kubeconfigFor(t, "https://east:6443", nil), true),
		secret("leaky", "3", kubeconfigFor(t, "https://leaky:6443", &clientcmdapi.AuthInfo{Token: "admin"}), false),
	} {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	src := &SecretSource{Local: "home", LocalConfig: &rest.Config{Host: "https://home"}, Namespace: "dash",
		Secrets: corelisters.NewSecretLister(idx).Secrets("dash")}
	l, eps, err := src.Clusters()
	if err != nil || l.Primary != "east" || strings.Join(l.Contexts, ",") != "home,east,leaky,west" {
		t.Fatalf("%+v %v", l, err)
	}
	if eps["east"].Config.Host != "https://east:6443" || eps["east"].Revision != "2" || eps["leaky"].Err == nil || eps["home"].Config.Host != "https://home" {
		t.Errorf("endpoints %+v", eps)
	}
	if err := src.Add("x"); err == nil || !strings.Contains(err.Error(), ClusterLabel) {
		t.Errorf("Add from the dashboard: %v", err)
	}
}

// TestInClusterForwardsTheUsersToken: in in-cluster mode a request needs
// the login cookie; the cluster receives that token as the only credential,
// whatever else the browser sent.
func TestInClusterForwardsTheUsersToken(t *testing.T) {
	var got http.Header
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		// As a service behind the proxy subresource could answer.
		http.SetCookie(w, &http.Cookie{Name: UserCookieFor("dashboard.example", "home"), Value: "mallory", Path: "/"})
		_, _ = w.Write([]byte("{}"))
	}))
	defer api.Close()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	s := &Server{InCluster: true, Resync: time.Hour, Source: &SecretSource{Local: "home",
		LocalConfig: &rest.Config{Host: api.URL}, Namespace: "dash", Secrets: corelisters.NewSecretLister(idx).Secrets("dash")}}
	s.Start(t.Context())
	h := s.Handler(UI())
	do := func(method, target, origin, token string, extra http.Header) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		r.Host = "dashboard.example"
		for k, v := range extra {
			r.Header[k] = v
		}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if token != "" {
			r.AddCookie(&http.Cookie{Name: UserCookieFor("dashboard.example", "home"), Value: token})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := do(http.MethodGet, "/", "", "", nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Errorf("page without login: %d %s", w.Code, w.Header().Get("Location"))
	}
	if w := do(http.MethodGet, "/k8s/home/api", "", "", http.Header{"Authorization": {"Bearer admin"}}); w.Code != http.StatusUnauthorized || got != nil {
		t.Errorf("API without login but with an Authorization header: %d, reached the cluster: %v", w.Code, got != nil)
	}
	if w := do(http.MethodGet, "/login", "", "", nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `name="token"`) {
		t.Errorf("login page: %d", w.Code)
	}
	if w := do(http.MethodPost, "/k8s/home/api", "https://evil.example", "alice", nil); w.Code != http.StatusForbidden || got != nil {
		t.Errorf("another origin: %d", w.Code)
	}
	w := do(http.MethodGet, "/k8s/home/api", "https://dashboard.example", "alice", http.Header{
		"Authorization": {"Bearer admin"}, "Impersonate-User": {"admin"}, "Impersonate-Group": {"system:masters"}})
	if w.Code != http.StatusOK || got == nil {
		t.Fatalf("with login: %d %s", w.Code, w.Body)
	}
	// A saved dashboard frames the dashboard's own pages (dashboard.js
	// makes an iframe per widget): they may be framed by the same origin,
	// and by no other.
	page := do(http.MethodGet, "/charts.html", "", "alice", nil)
	if xfo, csp := page.Header().Get("X-Frame-Options"), page.Header().Get("Content-Security-Policy"); page.Code != http.StatusOK ||
		xfo != "SAMEORIGIN" || csp != "frame-ancestors 'self'" {
		t.Errorf("charts.html: %d, X-Frame-Options %q, Content-Security-Policy %q; want 200, SAMEORIGIN and frame-ancestors 'self'", page.Code, xfo, csp)
	}
	// A cluster's answer (here, as a pod's proxy would answer a page) is
	// served in a sandbox: it runs no script with the user's login.
	if csp := w.Header().Values("Content-Security-Policy"); !slices.Contains(csp, "sandbox") || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("a cluster's answer came with Content-Security-Policy %q, X-Content-Type-Options %q; want sandbox, nosniff",
			csp, w.Header().Get("X-Content-Type-Options"))
	}
	if c := w.Header().Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("a cluster's answer set cookies of the dashboard's origin: %q", c)
	}
	if a := got.Values("Authorization"); len(a) != 1 || a[0] != "Bearer alice" {
		t.Errorf("the cluster got Authorization %q, want the user's token alone", a)
	}
	for k := range got {
		if strings.HasPrefix(k, "Impersonate-") || k == "Cookie" || k == "Origin" {
			t.Errorf("the cluster got %s: %q", k, got.Values(k))
		}
	}
	if w := do(http.MethodPost, "/api/clusters", "", "alice", nil); w.Code != http.StatusBadRequest {
		t.Errorf("a change without a body: %d", w.Code)
	}
	// A token a cookie cannot carry as it is is refused before any cluster
	// is asked.
	got = nil
	login := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("token=abc%3Bdef"))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, login)
	if w.Code != http.StatusBadRequest || len(w.Result().Cookies()) != 0 || got != nil {
		t.Errorf("login with a token holding ';': %d, cookies %v, asked the cluster: %v", w.Code, w.Result().Cookies(), got != nil)
	}
	r := httptest.NewRequest(http.MethodPut, "/api/primary", strings.NewReader(`{"context":"home"}`))
	r.Host = "dashboard.example"
	r.AddCookie(&http.Cookie{Name: UserCookieFor("dashboard.example", "home"), Value: "alice"})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("changing the clusters from the in-cluster dashboard: %d %s", w.Code, w.Body)
	}
}

// TestInClusterTokensStayWithTheirCluster: the token a user logged in with
// for the dashboard's own cluster goes to no other cluster of the list
// (which may be someone else's), not even for the health the page polls;
// another cluster asks for its own login, checked with it, and then gets
// that token alone.
func TestInClusterTokensStayWithTheirCluster(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // server -> Authorization headers
	serve := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = append(seen[name], r.Header.Get("Authorization"))
			mu.Unlock()
			if r.URL.Path == "/apis/authentication.k8s.io/v1/selfsubjectreviews" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1","status":{"userInfo":{"username":"bob"}}}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{}`))
		}
	}
	home := httptest.NewServer(serve("home"))
	defer home.Close()
	west := httptest.NewTLSServer(serve("west"))
	defer west.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: west.Certificate().Raw})
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: west.URL, CertificateAuthorityData: ca}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c"}
	cfg.CurrentContext = "x"
	kubeconfig, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := idx.Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "west", Namespace: "dash", ResourceVersion: "1",
		Labels: map[string]string{ClusterLabel: ""}}, Data: map[string][]byte{KubeconfigKey: kubeconfig}}); err != nil {
		t.Fatal(err)
	}
	s := &Server{InCluster: true, Resync: time.Hour, Source: &SecretSource{Local: "home",
		LocalConfig: &rest.Config{Host: home.URL}, Namespace: "dash", Secrets: corelisters.NewSecretLister(idx).Secrets("dash")}}
	s.Start(t.Context())
	h := s.Handler(UI())
	do := func(r *http.Request, cookies map[string]string) *httptest.ResponseRecorder {
		r.Host = "dashboard.example"
		for cluster, token := range cookies {
			r.AddCookie(&http.Cookie{Name: UserCookieFor("dashboard.example", cluster), Value: token})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	alice := map[string]string{"home": "alice"}
	w := do(httptest.NewRequest(http.MethodGet, "/api/clusters", nil), alice)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "/login?cluster=west") {
		t.Errorf("clusters with a login for home only: %d %s, want west saying where to log in", w.Code, w.Body)
	}
	if w := do(httptest.NewRequest(http.MethodGet, "/k8s/west/api", nil), alice); w.Code != http.StatusUnauthorized ||
		!strings.Contains(w.Body.String(), "/login?cluster=west") {
		t.Errorf("west through the proxy with a login for home only: %d %s, want 401 saying where to log in", w.Code, w.Body)
	}
	mu.Lock()
	if slices.Contains(seen["west"], "Bearer alice") || !slices.Contains(seen["home"], "Bearer alice") {
		t.Errorf("Authorization seen by west %q, by home %q: home's token went to west, or not to home", seen["west"], seen["home"])
	}
	mu.Unlock()

	login := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("cluster=west&token=bob"))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = do(login, nil)
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == UserCookieFor("dashboard.example", "west") {
			cookie = c
		}
	}
	if w.Code != http.StatusSeeOther || cookie == nil || cookie.Value != "bob" {
		t.Fatalf("login to west: %d, cookies %v, want bob's token in west's cookie", w.Code, w.Result().Cookies())
	}
	mu.Lock()
	checked := slices.Contains(seen["west"], "Bearer bob") && !slices.Contains(seen["home"], "Bearer bob")
	seen = map[string][]string{}
	mu.Unlock()
	if !checked {
		t.Errorf("bob's token was not checked with west alone")
	}
	both := map[string]string{"home": "alice", "west": "bob"}
	if w := do(httptest.NewRequest(http.MethodGet, "/k8s/west/api", nil), both); w.Code != http.StatusOK {
		t.Errorf("west with its login: %d %s", w.Code, w.Body)
	}
	mu.Lock()
	if a := seen["west"]; len(a) != 1 || a[0] != "Bearer bob" {
		t.Errorf("west got Authorization %q, want bob's token alone", a)
	}
	mu.Unlock()
	// Another dashboard on another port of the same host (browsers send a
	// host's cookies to every port): its cookies are not this one's.
	other := httptest.NewRequest(http.MethodGet, "/k8s/home/api", nil)
	other.Host = "dashboard.example:9443"
	other.AddCookie(&http.Cookie{Name: UserCookieFor("dashboard.example:8443", "home"), Value: "prod-admin"})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, other)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("a request carrying only another port's dashboard's login: %d, want 401", w.Code)
	}
	if UserCookieFor("dashboard.example:8443", "home") == UserCookieFor("dashboard.example:9443", "home") {
		t.Error("two ports of a host share a login cookie")
	}
	// From a sibling subdomain (same-site: the cookie comes along): an
	// image load through the proxy is refused; following a link to a page
	// is not.
	for _, tc := range []struct {
		path, mode string
		code       int
	}{
		{"/k8s/home/api/v1/namespaces/x/services/app:80/proxy/admin/reset", "no-cors", http.StatusForbidden},
		{"/k8s/home/api", "navigate", http.StatusForbidden},
		{"/", "navigate", http.StatusOK},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		r.Header.Set("Sec-Fetch-Site", "same-site")
		r.Header.Set("Sec-Fetch-Mode", tc.mode)
		if w := do(r, alice); w.Code != tc.code {
			t.Errorf("GET %s (%s) from a same-site page: %d, want %d", tc.path, tc.mode, w.Code, tc.code)
		}
	}
	nosuch := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("cluster=nosuch&token=bob"))
	nosuch.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w := do(nosuch, nil); w.Code != http.StatusNotFound || len(w.Result().Cookies()) != 0 {
		t.Errorf("login to a cluster the dashboard does not show: %d, cookies %v", w.Code, w.Result().Cookies())
	}
}
