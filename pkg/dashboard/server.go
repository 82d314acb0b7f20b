package dashboard

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
)

// TokenCookie names the cookie that carries the dashboard's token once the
// browser has opened the URL with ?token= (local mode), for the dashboard
// at hostport. The name has the port: a browser sends a host's cookies to
// every port, and two dashboards side by side would otherwise overwrite
// each other's.
func TokenCookie(hostport string) string {
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "hypersdk-dashboard"
	}
	return "hypersdk-dashboard-" + port
}

// Server is the dashboard's HTTP server. In local mode (kubectl hyper
// dashboard) it talks to each cluster with the user's own kubeconfig
// credentials (so RBAC is the user's, and exec and OIDC credential plugins
// work), behind a random token, on a loopback address only. In in-cluster
// mode (hypersdk-dashboard) it holds no credentials for the clusters at
// all: each user logs in with their own bearer token, which the browser
// keeps in a cookie and the server forwards on every request.
type Server struct {
	// Source lists the clusters, read again every Resync.
	Source Source
	// Token, in local mode, must accompany every request but the first
	// page's, which trades ?token= for a cookie.
	Token string
	// InCluster selects in-cluster mode; Token is then unused.
	InCluster bool
	// Resync is how often the clusters are listed again; Probe how often
	// each cluster's health is checked (local mode: in-cluster, health is
	// checked with each user's token when they ask).
	Resync, Probe time.Duration

	mu       sync.RWMutex
	list     ClusterList
	clusters map[string]*cluster
	loadErr  error
}

// cluster is one shown cluster: the user's credentials for it (local mode)
// or none (in-cluster mode, the user's token comes with each request), a
// proxy, and what the last probe found.
type cluster struct {
	name     string
	revision string
	forward  bool
	config   *rest.Config
	// bounded is config with a timeout, for the dashboard's own reads.
	bounded *rest.Config
	proxy   *httputil.ReverseProxy
	client  hypersdkclient.Interface

	mu     sync.Mutex
	health ClusterHealth
}

// ClusterHealth is what GET /api/clusters says of one cluster.
type ClusterHealth struct {
	Name    string `json:"name"`
	Server  string `json:"server,omitempty"`
	Primary bool   `json:"primary"`
	// Up is true when the last probe reached the API server; HyperSDK
	// when hypersdk.io was served there.
	Up       bool      `json:"up"`
	HyperSDK bool      `json:"hypersdk"`
	Version  string    `json:"version,omitempty"`
	Error    string    `json:"error,omitempty"`
	Checked  time.Time `json:"checked,omitzero"`
}

// Start lists the clusters, then lists them again and (local mode) probes
// them in the background until ctx ends.
func (s *Server) Start(ctx context.Context) {
	s.sync()
	go wait.UntilWithContext(ctx, func(ctx context.Context) { s.sync() }, s.Resync)
	if !s.InCluster {
		go wait.UntilWithContext(ctx, s.probeAll, s.Probe)
	}
}

// sync builds what a changed list of clusters needs: a proxy per new or
// changed cluster, none for removed ones.
func (s *Server) sync() {
	l, endpoints, err := s.Source.Clusters()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadErr = err
	if err != nil {
		return
	}
	next := map[string]*cluster{}
	for _, name := range l.Contexts {
		ep := endpoints[name]
		if c, ok := s.clusters[name]; ok && c.revision == ep.Revision {
			next[name] = c
			continue
		}
		c, err := newCluster(name, ep, s.InCluster)
		if err != nil {
			c = &cluster{name: name, revision: ep.Revision, health: ClusterHealth{Name: name, Error: err.Error()}}
		}
		next[name] = c
		if c.config != nil && !s.InCluster {
			go c.probe(context.Background())
		}
	}
	s.list, s.clusters = l, next
}

// newCluster makes the proxy and the client for one cluster. With forward
// set, ep.Config carries no credentials and the proxy sends each request
// with the token of the user who made it.
func newCluster(name string, ep Endpoint, forward bool) (*cluster, error) {
	if ep.Err != nil {
		return nil, ep.Err
	}
	cfg := ep.Config
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("credentials of context %s: %w", name, err)
	}
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("server of context %s: %w", name, err)
	}
	prefix := "/k8s/" + name
	proxy := &httputil.ReverseProxy{
		Transport: rt,
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = strings.TrimRight(target.Path, "/") + strings.TrimPrefix(r.In.URL.Path, prefix)
			r.Out.URL.RawPath = ""
			// The user's credentials go to the cluster (their kubeconfig's,
			// or the token they logged in with); the dashboard's token, the
			// browser's cookies and origin, and any other credential or
			// impersonation the browser sent do not.
			for h := range r.Out.Header {
				if strings.HasPrefix(h, "Impersonate-") {
					r.Out.Header.Del(h)
				}
			}
			for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Origin"} {
				r.Out.Header.Del(h)
			}
			if forward {
				r.Out.Header.Set("Authorization", "Bearer "+userToken(r.In, name))
			}
		},
		FlushInterval: -1, // watches stream
		// What a cluster answers is data, never a page of the dashboard's
		// origin: a pod's or a service's proxy subresource may answer HTML
		// that, served from here, would run with the user's login. In a
		// sandbox with no scripts, it cannot.
		ModifyResponse: func(resp *http.Response) error {
			// Nor does it set the dashboard's cookies: a service behind
			// the proxy subresource could otherwise log the viewer in as
			// someone else, or overwrite their token.
			resp.Header.Del("Set-Cookie")
			resp.Header.Set("Content-Security-Policy", "sandbox")
			resp.Header.Set("X-Content-Type-Options", "nosniff")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// A browser that went away (a watch it stopped) is no error.
			if r.Context().Err() == nil {
				klog.ErrorS(err, "Proxying to a cluster", "cluster", name, "method", r.Method, "path", r.URL.Path)
			}
			writeError(w, http.StatusBadGateway, fmt.Errorf("cluster %s: %w", name, err))
		},
	}
	// The dashboard's own reads (probes, counts) give up on a cluster that
	// does not answer, so one that hangs shows as down.
	bounded := rest.CopyConfig(cfg)
	bounded.Timeout = 15 * time.Second
	client, err := hypersdkclient.NewForConfig(bounded)
	if err != nil {
		return nil, err
	}
	return &cluster{name: name, revision: ep.Revision, forward: forward, config: cfg, bounded: bounded, proxy: proxy,
		client: client, health: ClusterHealth{Name: name, Server: cfg.Host}}, nil
}

// readerFor is the client for the dashboard's own reads on behalf of r:
// the user's kubeconfig credentials, or the token r carries for c.
func (c *cluster) readerFor(r *http.Request) (hypersdkclient.Interface, error) {
	if !c.forward {
		return c.client, nil
	}
	cfg := rest.CopyConfig(c.bounded)
	if cfg.BearerToken = userToken(r, c.name); cfg.BearerToken == "" {
		return nil, fmt.Errorf("not logged in to cluster %s: log in at /login?cluster=%s", c.name, url.QueryEscape(c.name))
	}
	return hypersdkclient.NewForConfig(cfg)
}

func (s *Server) probeAll(ctx context.Context) {
	s.mu.RLock()
	clusters := make([]*cluster, 0, len(s.clusters))
	for _, c := range s.clusters {
		if c.config != nil {
			clusters = append(clusters, c)
		}
	}
	s.mu.RUnlock()
	var wg sync.WaitGroup
	for _, c := range clusters {
		wg.Go(func() { c.probe(ctx) })
	}
	wg.Wait()
}

// probe asks the cluster for its version and for hypersdk.io, with the
// user's kubeconfig credentials, and keeps the answer.
func (c *cluster) probe(ctx context.Context) {
	h := c.check(ctx, c.client)
	c.mu.Lock()
	c.health = h
	c.mu.Unlock()
}

// check asks the cluster for its version and for hypersdk.io as client.
func (c *cluster) check(ctx context.Context, client hypersdkclient.Interface) ClusterHealth {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	h := ClusterHealth{Name: c.name, Server: c.config.Host, Checked: time.Now()}
	disco := client.Discovery()
	if v, err := disco.ServerVersion(); err != nil {
		h.Error = err.Error()
	} else {
		h.Up, h.Version = true, v.GitVersion
		err := disco.RESTClient().Get().AbsPath("/apis/hypersdk.io/v1alpha1").Do(ctx).Error()
		h.HyperSDK = err == nil
		if err != nil {
			h.Error = "hypersdk.io not served: " + err.Error()
		}
	}
	return h
}

func (c *cluster) status() ClusterHealth {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.health
}

// Handler serves the UI, the clusters API and the per-cluster proxies.
func (s *Server) Handler(ui http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/clusters", s.getClusters)
	mux.HandleFunc("POST /api/clusters", s.changeClusters(s.Source.Add))
	mux.HandleFunc("DELETE /api/clusters/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.apply(w, r, s.Source.Remove(r.PathValue("name")))
	})
	mux.HandleFunc("PUT /api/primary", s.changeClusters(s.Source.Use))
	mux.HandleFunc("GET /api/summary", s.summary)
	mux.HandleFunc("/k8s/{cluster}/", s.proxy)
	mux.Handle("/", ui)
	if s.InCluster {
		mux.HandleFunc("GET /login", s.loginPage)
		mux.HandleFunc("POST /login", s.login)
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		return s.guardInCluster(mux)
	}
	return s.guard(mux)
}

// guard (local mode) lets through only requests to a loopback host name
// (no DNS rebinding), from the dashboard's own origin (no cross-site
// requests), with the token.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if !IsLoopback(host) {
			writeError(w, http.StatusForbidden, fmt.Errorf("host %q: the dashboard answers on localhost only", r.Host))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			writeError(w, http.StatusForbidden, fmt.Errorf("origin %q is not the dashboard's", o))
			return
		}
		// Another port of this host is the same site: SameSite cookies go
		// with its links and image loads, which carry no Origin. A browser
		// says where a request comes from; only the dashboard's own pages
		// and the user (a typed or pasted URL) may use it.
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			writeError(w, http.StatusForbidden, fmt.Errorf("a request from a %s page: only the dashboard's own pages may use it", site))
			return
		}
		cookie := TokenCookie(r.Host)
		if t := r.URL.Query().Get("token"); r.Method == http.MethodGet && r.URL.Path == "/" && s.tokenMatches(t) {
			http.SetCookie(w, &http.Cookie{Name: cookie, Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if c, err := r.Cookie(cookie); err != nil || !s.tokenMatches(c.Value) {
			writeError(w, http.StatusUnauthorized, errors.New("open the URL kubectl hyper dashboard printed: it carries the token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// IsLoopback tells whether host (a name or an address, without a port)
// can only be this machine: localhost or a loopback address.
func IsLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func (s *Server) tokenMatches(t string) bool {
	return t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(s.Token)) == 1
}

// Clusters lists the shown clusters, primary first, with their health: in
// local mode as the last probe found it, in in-cluster mode checked now with
// the token r carries (the only credentials the dashboard has).
func (s *Server) Clusters(r *http.Request) ([]ClusterHealth, error) {
	s.mu.RLock()
	if s.loadErr != nil {
		s.mu.RUnlock()
		return nil, s.loadErr
	}
	out := make([]ClusterHealth, len(s.list.Contexts))
	shown := make([]*cluster, len(s.list.Contexts))
	primary := s.list.Primary
	for i, name := range s.list.Contexts {
		shown[i] = s.clusters[name]
	}
	s.mu.RUnlock()
	var wg sync.WaitGroup
	for i, c := range shown {
		if !c.forward {
			out[i] = c.status()
			continue
		}
		wg.Go(func() {
			client, err := c.readerFor(r)
			if err != nil {
				out[i] = ClusterHealth{Name: c.name, Server: c.config.Host, Error: err.Error()}
				return
			}
			out[i] = c.check(r.Context(), client)
		})
	}
	wg.Wait()
	for i := range out {
		out[i].Primary = out[i].Name == primary
	}
	slices.SortStableFunc(out, func(a, b ClusterHealth) int {
		switch {
		case a.Primary == b.Primary:
			return 0
		case a.Primary:
			return -1
		}
		return 1
	})
	return out, nil
}

func (s *Server) getClusters(w http.ResponseWriter, r *http.Request) {
	out, err := s.Clusters(r)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// changeClusters applies a change named by {"context": ...}.
func (s *Server) changeClusters(change func(string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Context string `json:"context"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Context == "" {
			writeError(w, http.StatusBadRequest, errors.New(`want {"context": "<kubeconfig context>"}`))
			return
		}
		s.apply(w, r, change(body.Context))
	}
}

// apply answers a change of the list of clusters and takes it in at once.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrReadOnly):
		writeError(w, http.StatusMethodNotAllowed, err)
		return
	case errors.Is(err, ErrNotShown):
		writeError(w, http.StatusNotFound, err)
		return
	case err != nil:
		writeError(w, http.StatusConflict, err)
		return
	}
	s.sync()
	s.getClusters(w, r)
}

func (s *Server) lookup(name string) (*cluster, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if name == "" {
		name = s.list.Primary
	}
	return s.clusters[name], name
}

func (s *Server) proxy(w http.ResponseWriter, r *http.Request) {
	c, name := s.lookup(r.PathValue("cluster"))
	switch {
	case c == nil:
		writeError(w, http.StatusNotFound, fmt.Errorf("cluster %q is not shown", name))
	case c.proxy == nil:
		writeError(w, http.StatusBadGateway, errors.New(c.status().Error))
	case c.forward && userToken(r, c.name) == "":
		// Not logged in to this cluster: said here, not sent on as an
		// anonymous request that the cluster would refuse without saying
		// where to log in.
		writeError(w, http.StatusUnauthorized, fmt.Errorf("not logged in to cluster %s: log in at /login?cluster=%s", c.name, url.QueryEscape(c.name)))
	default:
		c.proxy.ServeHTTP(w, r)
	}
}

// ClusterVMs counts one cluster's VMs by phase, or says why it could not.
type ClusterVMs struct {
	Cluster string         `json:"cluster"`
	Up      bool           `json:"up"`
	Error   string         `json:"error,omitempty"`
	Total   int            `json:"total"`
	ByPhase map[string]int `json:"byPhase"`
}

// Summary is GET /api/summary: VMs per cluster and over all of them.
type Summary struct {
	Clusters []ClusterVMs   `json:"clusters"`
	Total    int            `json:"total"`
	ByPhase  map[string]int `json:"byPhase"`
}

// summary counts the VMs the user may list (?namespace=, ?cluster= one
// cluster or * for all, the primary by default), each cluster on its own:
// one that is down is reported with its error and left out of the totals.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	names := []string{s.list.Primary}
	switch want := r.URL.Query().Get("cluster"); want {
	case "*":
		names = slices.Clone(s.list.Contexts)
	case "":
	default:
		if _, ok := s.clusters[want]; !ok {
			s.mu.RUnlock()
			writeError(w, http.StatusNotFound, fmt.Errorf("cluster %q: %w", want, ErrNotShown))
			return
		}
		names = []string{want}
	}
	s.mu.RUnlock()
	ns := r.URL.Query().Get("namespace")
	out := Summary{Clusters: make([]ClusterVMs, len(names)), ByPhase: map[string]int{}}
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { out.Clusters[i] = s.countVMs(r, name, ns) })
	}
	wg.Wait()
	for _, c := range out.Clusters {
		out.Total += c.Total
		for p, n := range c.ByPhase {
			out.ByPhase[p] += n
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) countVMs(r *http.Request, name, ns string) ClusterVMs {
	out := ClusterVMs{Cluster: name, ByPhase: map[string]int{}}
	c, _ := s.lookup(name)
	switch {
	case c == nil:
		out.Error = "not shown"
		return out
	case c.client == nil:
		out.Error = c.status().Error
		return out
	}
	client, err := c.readerFor(r)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := client.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, opts)
		if err != nil {
			out.Error, out.Total, out.ByPhase = err.Error(), 0, map[string]int{}
			return out
		}
		for i := range list.Items {
			out.ByPhase[phaseOf(&list.Items[i])]++
		}
		out.Total += len(list.Items)
		if opts.Continue = list.Continue; opts.Continue == "" {
			break
		}
	}
	out.Up = true
	return out
}

func phaseOf(vm *v1alpha1.VirtualMachine) string {
	if vm.Status.Phase == "" {
		return "Unknown"
	}
	return string(vm.Status.Phase)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		klog.V(2).Info("Writing a dashboard response", "err", err)
	}
}

// writeError answers with a Kubernetes-style Status, as the proxied API
// servers do, so the UI reads one error shape.
func writeError(w http.ResponseWriter, code int, err error) {
	reason := map[int]metav1.StatusReason{http.StatusBadRequest: metav1.StatusReasonBadRequest,
		http.StatusUnauthorized: metav1.StatusReasonUnauthorized, http.StatusForbidden: metav1.StatusReasonForbidden,
		http.StatusNotFound: metav1.StatusReasonNotFound, http.StatusConflict: metav1.StatusReasonConflict,
		http.StatusBadGateway: metav1.StatusReasonServiceUnavailable}[code]
	if reason == "" {
		reason = metav1.StatusReasonInternalError
	}
	writeJSON(w, code, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Message: err.Error(), Code: int32(code), Reason: reason})
}
