package dashboard

import (
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// UserCookie begins the names of the cookies that carry, in in-cluster
// mode, the bearer tokens the user logged in with, one per cluster and
// dashboard (UserCookieFor): a token goes to the cluster it was checked
// with and to no other, which may belong to someone else. The browser cannot send an
// Authorization header on a WebSocket (the consoles), but it sends a
// cookie; HttpOnly keeps the token from the page's scripts, Secure from
// plain HTTP, SameSite=Strict from other sites.
const UserCookie = "hypersdk-dashboard-user"

// UserCookieFor is the cookie carrying the user's token for cluster, on
// the dashboard at host (the Host a request names). Browsers send a host's
// cookies to each of its ports: two dashboards port-forwarded side by side
// (production on localhost:8443, staging on localhost:9443) would else
// each receive, and forward to their cluster of that name, the other's
// token.
func UserCookieFor(host, cluster string) string {
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return UserCookie + "-" + port + "." + cluster
	}
	return UserCookie + "." + cluster
}

// userToken is the bearer token r carries for cluster, "" if none.
func userToken(r *http.Request, cluster string) string {
	c, err := r.Cookie(UserCookieFor(r.Host, cluster))
	if err != nil {
		return ""
	}
	return c.Value
}

// loggedIn says r carries a token for some cluster of this dashboard.
func loggedIn(r *http.Request) bool {
	prefix := UserCookieFor(r.Host, "")
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, prefix) && c.Value != "" {
			return true
		}
	}
	return false
}

// guardInCluster (in-cluster mode) lets through requests from the
// dashboard's own origin that carry a user's token; the login page and the
// health check need none. The dashboard does not judge the token itself:
// every cluster does, on every request.
func (s *Server) guardInCluster(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Framed by the dashboard's own pages only: a saved dashboard shows
		// each widget as a frame of charts.html, index.html or
		// console.html; no other site may frame it (clickjacking).
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		w.Header().Set("Content-Security-Policy", "frame-ancestors 'self'")
		if o := r.Header.Get("Origin"); o != "" {
			if u, err := url.Parse(o); err != nil || u.Host != r.Host {
				writeError(w, http.StatusForbidden, fmt.Errorf("origin %q is not the dashboard's", o))
				return
			}
		}
		// SameSite=Strict still sends the cookie from a sibling subdomain
		// or another port of the host (same-site), with links and image
		// loads that carry no Origin: such a request may open a page of the
		// dashboard, nothing else (a GET through the proxy could reach a
		// service's proxy subresource as the user).
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" && !pageRequest(r) {
			writeError(w, http.StatusForbidden, fmt.Errorf("a request from a %s page: only the dashboard's own pages may use it", site))
			return
		}
		if r.URL.Path == "/login" || r.URL.Path == "/healthz" || loggedIn(r) {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet && (r.URL.Path == "/" || strings.HasSuffix(r.URL.Path, ".html")) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		writeError(w, http.StatusUnauthorized, errors.New("log in at /login with your bearer token"))
	})
}

// pageRequest: a browser opening one of the dashboard's pages (following a
// link to it), which shows what the user may see and does nothing.
func pageRequest(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") == "navigate" &&
		(r.URL.Path == "/" || r.URL.Path == "/login" || strings.HasSuffix(r.URL.Path, ".html"))
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>HyperSDK dashboard: log in</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>HyperSDK dashboard</h1>
<p>Log in{{with .Cluster}} to cluster <b>{{.}}</b>{{end}} with your own bearer token for it: every request goes to that cluster with it, and to no other, so you see and may do there exactly what your RBAC allows.
A ServiceAccount's token comes from <code>kubectl create token NAME</code>. The browser keeps it in a cookie until it closes.
Another cluster of the dashboard asks for its own token: log in to it at <code>/login?cluster=NAME</code>.</p>
{{with .Problem}}<p id="error" style="color: #b00">{{.}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="cluster" value="{{.Cluster}}">
<textarea name="token" rows="6" cols="80" autocomplete="off" spellcheck="false" required></textarea><br>
<button type="submit">Log in</button>
</form>
</body></html>
`))

// loginView is what the login page shows: the cluster the token is for
// ("" for the primary) and what went wrong.
type loginView struct{ Cluster, Problem string }

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	writeLoginPage(w, http.StatusOK, loginView{Cluster: r.URL.Query().Get("cluster")})
}

func writeLoginPage(w http.ResponseWriter, code int, v loginView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := loginTemplate.Execute(w, v); err != nil {
		klog.V(2).InfoS("Writing the login page", "err", err)
	}
}

// login checks the token with the cluster it is for (the form's cluster,
// else the primary; a SelfSubjectReview, as the user) before the browser
// keeps it for that cluster alone, so a mistyped token is told at once
// rather than as errors on every view.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeLoginPage(w, http.StatusBadRequest, loginView{Problem: "Unreadable form: " + err.Error()})
		return
	}
	asked := r.PostForm.Get("cluster")
	fail := func(code int, problem string) { writeLoginPage(w, code, loginView{Cluster: asked, Problem: problem}) }
	token := strings.TrimSpace(r.PostForm.Get("token"))
	switch {
	case token == "":
		fail(http.StatusBadRequest, "No token given.")
		return
	case strings.ContainsFunc(token, notInCookie):
		// net/http would drop such bytes and keep a different token.
		fail(http.StatusBadRequest, `This token has characters a cookie cannot hold (spaces, quotes, semicolons, backslashes or non-ASCII): no bearer token has them.`)
		return
	}
	c, name := s.lookup(asked)
	switch {
	case c == nil && asked != "":
		fail(http.StatusNotFound, fmt.Sprintf("The dashboard shows no cluster %q.", asked))
		return
	case c == nil || c.config == nil:
		fail(http.StatusBadGateway, fmt.Sprintf("Cannot check the token: cluster %q cannot be reached.", name))
		return
	}
	cfg := rest.CopyConfig(c.bounded)
	cfg.BearerToken = token
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	review, err := kube.AuthenticationV1().SelfSubjectReviews().Create(r.Context(), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	switch {
	case apierrors.IsUnauthorized(err):
		fail(http.StatusUnauthorized, fmt.Sprintf("Cluster %s does not accept this token.", name))
		return
	case err != nil:
		fail(http.StatusBadGateway, fmt.Sprintf("Cannot check the token with cluster %s: %v", name, err))
		return
	}
	klog.InfoS("Dashboard login", "cluster", name, "user", review.Status.UserInfo.Username)
	http.SetCookie(w, &http.Cookie{Name: UserCookieFor(r.Host, name), Value: token, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// notInCookie tells the bytes a cookie value cannot carry as they are.
func notInCookie(r rune) bool {
	return r <= ' ' || r > '~' || r == '"' || r == ';' || r == '\\'
}
