package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/dashboard"
	"github.com/hypersdk/hypersdk/test/framework"
)

const dashboardNamespace = "hypersdk-dashboard"

// dashboardClient talks to the in-cluster dashboard through its Service as
// a browser would: HTTPS (its self-signed certificate is not checked here),
// redirects not followed, the login cookie sent by hand.
type dashboardClient struct {
	base string
	hc   *http.Client
}

func (d *dashboardClient) do(t *testing.T, method, path, token string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, d.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: dashboard.UserCookieFor(req.Host, "in-cluster"), Value: token})
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// serviceAccountToken makes a ServiceAccount in ns bound to clusterRole there
// and returns a token for it.
func serviceAccountToken(t *testing.T, ns, name, clusterRole string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}}}
	if _, err := env.Kube.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := env.Kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// clusterViewerToken is a token of a ServiceAccount in ns bound to view in
// every namespace.
func clusterViewerToken(t *testing.T, ns string) string {
	t.Helper()
	ctx := context.Background()
	name := "reader-" + ns
	if _, err := env.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: ns}}}
	if _, err := env.Kube.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	tr, err := env.Kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "reader",
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// clusterSecret is a cluster Secret for the in-cluster dashboard whose
// kubeconfig names server with ca, and user if given.
func clusterSecret(t *testing.T, name, server string, ca []byte, user *clientcmdapi.AuthInfo) *corev1.Secret {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	if user != nil {
		kc.AuthInfos["u"] = user
	}
	kc.CurrentContext = "c"
	data, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: dashboardNamespace,
		Labels: map[string]string{dashboard.ClusterLabel: ""}}, Data: map[string][]byte{dashboard.KubeconfigKey: data}}
}

// TestDashboardInCluster: artifacts/dashboard, applied as written, runs the
// dashboard as its manifest says; a user logs in with their own token and
// acts with exactly their rights (a view user's migrate is refused by the
// API, as that user, whatever other credentials the browser sends); the
// dashboard's ServiceAccount can read only its namespace's Secrets; clusters
// are added, made primary and removed with Secrets while it runs, and one
// whose Secret carries credentials is shown with why it is refused.
func TestDashboardInCluster(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	if _, err := env.Kubectl(t, "apply", "--server-side", "-k", filepath.Join(env.ArtifactsDir(), "dashboard")); err != nil {
		t.Fatal(err)
	}
	ws := workloads(t, "dashboard")
	if len(ws) != 1 {
		t.Fatalf("artifacts/dashboard has %d workloads, want the dashboard's Deployment", len(ws))
	}
	w := ws[0]
	var pods []corev1.Pod
	framework.Eventually(t, fmt.Sprintf("%d ready dashboard pods", w.replicas), func(ctx context.Context) (bool, error) {
		var err error
		pods, err = readyPods(ctx, w)
		return len(pods) == int(w.replicas), err
	})
	for _, pod := range pods {
		for _, c := range w.template.Spec.Containers {
			checkContainer(t, &pod, w.template.Spec, c)
		}
	}

	// The ServiceAccount's only rights: the Secrets of its own namespace.
	sa := "system:serviceaccount:" + dashboardNamespace + ":hypersdk-dashboard"
	for _, ra := range []authzv1.ResourceAttributes{
		{Namespace: dashboardNamespace, Verb: "watch", Resource: "secrets"},
		{Namespace: system, Verb: "get", Resource: "secrets"},
		{Namespace: "default", Verb: "list", Group: "hypersdk.io", Resource: "virtualmachines"},
		{Namespace: "default", Verb: "create", Group: "hypersdk.io", Resource: "virtualmachines", Subresource: "migrate"},
		{Namespace: dashboardNamespace, Verb: "create", Resource: "secrets"},
	} {
		review, err := env.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
			Spec: authzv1.SubjectAccessReviewSpec{User: sa, Groups: []string{"system:serviceaccounts", "system:authenticated"}, ResourceAttributes: &ra}},
			metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := ra.Namespace == dashboardNamespace && ra.Verb == "watch"; review.Status.Allowed != want {
			t.Errorf("the dashboard's ServiceAccount may %s %s/%s in %s: %t, want %t", ra.Verb, ra.Resource, ra.Subresource, ra.Namespace, review.Status.Allowed, want)
		}
	}

	svc, err := env.Kube.CoreV1().Services(dashboardNamespace).Get(ctx, "hypersdk-dashboard", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := &dashboardClient{base: "https://" + svc.Spec.ClusterIP + ":443", hc: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the certificate is self-signed; what is checked is who acts
		}}}}
	framework.Eventually(t, "the dashboard answers through its Service", func(ctx context.Context) (bool, error) {
		resp, err := d.hc.Get(d.base + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("/healthz: %s", resp.Status)
	})
	if resp, err := http.Get("http://" + svc.Spec.ClusterIP + ":443/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("the dashboard answers plain HTTP")
	}

	// Without logging in: the pages send to the login form, the API refuses.
	if resp, _ := d.do(t, http.MethodGet, "/", "", nil, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("GET / without a token: %s to %q, want the login page", resp.Status, resp.Header.Get("Location"))
	}
	if resp, body := d.do(t, http.MethodGet, "/api/clusters", "", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/clusters without a token: %s %s", resp.Status, body)
	}

	ns := env.Namespace(t, "dashboard-users")
	viewer := serviceAccountToken(t, ns, "viewer", "view")
	editor := serviceAccountToken(t, ns, "editor", "edit")
	login := func(token string) *http.Response {
		resp, _ := d.do(t, http.MethodPost, "/login", "", strings.NewReader(url.Values{"token": {token}}.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		return resp
	}
	if resp := login("not-a-token"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("login with a bad token: %s, cookies %v", resp.Status, resp.Cookies())
	}
	resp := login(viewer)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == dashboard.UserCookieFor(strings.TrimPrefix(d.base, "https://"), "in-cluster") {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil || cookie.Value != viewer || !cookie.HttpOnly || !cookie.Secure ||
		cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login as the viewer: %s, cookie %+v, want the token in an HttpOnly, Secure, SameSite=Strict cookie", resp.Status, cookie)
	}

	// The viewer reads, and is refused a migration by the API as itself,
	// even with the editor's token in an Authorization header and an
	// impersonation request: only the logged-in token goes through.
	vms := "/k8s/in-cluster/apis/hypersdk.io/v1alpha1/namespaces/" + ns + "/virtualmachines"
	if resp, body := d.do(t, http.MethodGet, vms, viewer, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the viewer lists VMs: %s %s", resp.Status, body)
	}
	smuggled := http.Header{"Authorization": {"Bearer " + editor}, "Impersonate-User": {"system:serviceaccount:" + ns + ":editor"},
		"Content-Type": {"application/json"}}
	resp, body := d.do(t, http.MethodPost, vms+"/web/migrate", viewer, strings.NewReader(`{}`), smuggled)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "system:serviceaccount:"+ns+":viewer") {
		t.Errorf("the viewer's migrate: %s %s, want 403 for the viewer", resp.Status, body)
	}
	dash := `{"apiVersion":"hypersdk.io/v1alpha1","kind":"Dashboard","metadata":{"name":"mine"},"spec":{"title":"Mine",` +
		`"widgets":[{"name":"cpu","type":"Chart","chart":"CPUUsedVsAllocated","column":0,"row":0,"width":6,"height":4}]}}`
	dashboards := "/k8s/in-cluster/apis/hypersdk.io/v1alpha1/namespaces/" + ns + "/dashboards"
	if resp, body := d.do(t, http.MethodPost, dashboards, viewer, strings.NewReader(dash), smuggled); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the viewer saves a Dashboard: %s %s, want 403", resp.Status, body)
	}
	if resp := login(editor); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as the editor: %s", resp.Status)
	}
	if resp, body := d.do(t, http.MethodPost, dashboards, editor, strings.NewReader(dash), http.Header{"Content-Type": {"application/json"}}); resp.StatusCode != http.StatusCreated {
		t.Errorf("the editor saves a Dashboard: %s %s", resp.Status, body)
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().Dashboards(ns).Get(ctx, "mine", metav1.GetOptions{}); err != nil {
		t.Errorf("the editor's Dashboard: %v", err)
	}

	// More clusters from Secrets, while the dashboard runs: this same
	// cluster again (its API server as the pods reach it, its CA), and one
	// whose kubeconfig carries a token.
	kubeSvc, err := env.Kube.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rootCA, err := env.Kube.CoreV1().ConfigMaps(dashboardNamespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	server := "https://" + kubeSvc.Spec.ClusterIP + ":443"
	secrets := env.Kube.CoreV1().Secrets(dashboardNamespace)
	for _, s := range []*corev1.Secret{
		clusterSecret(t, "again", server, []byte(rootCA.Data["ca.crt"]), nil),
		clusterSecret(t, "leaky", server, []byte(rootCA.Data["ca.crt"]), &clientcmdapi.AuthInfo{Token: editor}),
	} {
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = secrets.Delete(context.Background(), s.Name, metav1.DeleteOptions{}) })
	}
	clusters := func(token string) (map[string]dashboard.ClusterHealth, []dashboard.ClusterHealth, error) {
		resp, body := d.do(t, http.MethodGet, "/api/clusters", token, nil, nil)
		var list []dashboard.ClusterHealth
		if err := json.Unmarshal([]byte(body), &list); err != nil || resp.StatusCode != http.StatusOK {
			return nil, nil, fmt.Errorf("%s %s: %v", resp.Status, body, err)
		}
		byName := map[string]dashboard.ClusterHealth{}
		for _, c := range list {
			byName[c.Name] = c
		}
		return byName, list, nil
	}
	// Each replica lists the Secrets on its own; the Service picks one per
	// connection, so wait until answers agree. The token of the login goes
	// to the cluster it was checked with alone: the new one asks for its
	// own login.
	framework.Eventually(t, "three clusters, the new one asking for a login and the leaky one refused", func(context.Context) (bool, error) {
		byName, list, err := clusters(viewer)
		if err != nil {
			return false, err
		}
		again, leaky, home := byName["again"], byName["leaky"], byName["in-cluster"]
		return len(list) == 3 && list[0].Name == "in-cluster" && home.Up && home.HyperSDK && !again.Up &&
			strings.Contains(again.Error, "/login?cluster=again") && !leaky.Up &&
			strings.Contains(leaky.Error, "carries credentials"), fmt.Errorf("clusters %+v", list)
	})
	host := strings.TrimPrefix(d.base, "https://")
	var againCookie *http.Cookie
	framework.Eventually(t, "the viewer logged in to the new cluster", func(context.Context) (bool, error) {
		resp, body := d.do(t, http.MethodPost, "/login", "", strings.NewReader(url.Values{"cluster": {"again"}, "token": {viewer}}.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		for _, c := range resp.Cookies() {
			if c.Name == dashboard.UserCookieFor(host, "again") {
				againCookie = c
			}
		}
		// A replica that has not listed the Secret yet does not know it.
		return resp.StatusCode == http.StatusSeeOther && againCookie != nil, fmt.Errorf("login to again: %s %s", resp.Status, body)
	})
	both := http.Header{"Cookie": {againCookie.Name + "=" + againCookie.Value}}
	framework.Eventually(t, "the new cluster up with its login", func(context.Context) (bool, error) {
		resp, body := d.do(t, http.MethodGet, "/api/clusters", viewer, nil, both)
		var list []dashboard.ClusterHealth
		if err := json.Unmarshal([]byte(body), &list); err != nil || resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s %s: %v", resp.Status, body, err)
		}
		for _, c := range list {
			if c.Name == "again" {
				return c.Up && c.HyperSDK, fmt.Errorf("clusters %+v", list)
			}
		}
		return false, fmt.Errorf("clusters %+v", list)
	})

	// The VMs the viewer may list, per cluster and over all: the same
	// cluster twice counts its one VM twice.
	vm := runningVM("counted")
	vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the summary counts the VM in both clusters", func(context.Context) (bool, error) {
		resp, body := d.do(t, http.MethodGet, "/api/summary?cluster=*&namespace="+ns, viewer, nil, both)
		var sum dashboard.Summary
		if err := json.Unmarshal([]byte(body), &sum); err != nil || resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s %s: %v", resp.Status, body, err)
		}
		per := map[string]int{}
		for _, c := range sum.Clusters {
			per[c.Cluster] = c.Total
		}
		return sum.Total == 2 && per["in-cluster"] == 1 && per["again"] == 1, fmt.Errorf("summary %+v", sum)
	})

	// In Chromium: the login form, then the VM list live through the
	// proxy with the logged-in token (here a user who may list VMs in every
	// namespace, as the list does).
	reader := clusterViewerToken(t, ns)
	// The dashboard's certificate is self-signed.
	browser := framework.NewBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("opening the dashboard", chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(`textarea[name="token"]`))
	run("logging in", chromedp.SetValue(`textarea[name="token"]`, reader), chromedp.Submit(`form`))
	framework.Eventually(t, "the VM list live in the browser, with the VM", func(context.Context) (bool, error) {
		state, err := chromedp.Run(browser, chromedp.Evaluate[string](`(document.getElementById("watch-state") || {innerText: ""}).innerText`))
		if err != nil {
			return false, err
		}
		row, err := chromedp.Run(browser, chromedp.Evaluate[string](
			fmt.Sprintf(`(document.querySelector('#vms tr[data-vm="%s/counted"]') || {innerText: ""}).innerText`, ns)))
		return state == "(live)" && strings.Contains(row, "counted"), fmt.Errorf("watch %q, row %q (%v)", state, row, err)
	})

	// The serial console is a WebSocket, which cannot carry an
	// Authorization header but carries the cookie: the reader (view) is
	// refused it, the editor connects, each as that user.
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Create(ctx, runningVM("consoled"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the VM consoled running", func(ctx context.Context) (bool, error) {
		vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "consoled", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return vmi.Status.Phase == kvv1.Running, fmt.Errorf("phase %s", vmi.Status.Phase)
	})
	consolePage := d.base + "/console.html?" + url.Values{"cluster": {"in-cluster"}, "namespace": {ns}, "vm": {"consoled"}}.Encode()
	consoleState := func(who, want string) {
		t.Helper()
		run("opening the console as the "+who, chromedp.Navigate(consolePage))
		framework.Eventually(t, "the "+who+"'s console "+want, func(context.Context) (bool, error) {
			got, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById("state").innerText`))
			return got == want, fmt.Errorf("console %q (%v)", got, err)
		})
	}
	consoleState("reader", "closed: refused or ended")
	run("opening the login page", chromedp.Navigate(d.base+"/login"), chromedp.WaitVisible(`textarea[name="token"]`))
	run("logging in as the editor", chromedp.SetValue(`textarea[name="token"]`, editor), chromedp.Submit(`form`))
	framework.Eventually(t, "logged in as the editor", func(context.Context) (bool, error) {
		got, err := chromedp.Run(browser, chromedp.Evaluate[string](`location.pathname + " " + document.title`))
		return got == "/ HyperSDK dashboard", fmt.Errorf("page %q (%v)", got, err)
	})
	consoleState("editor", "connected")

	// Made primary, then removed, by changing its Secret; the dashboard
	// itself may not change the clusters.
	if _, err := secrets.Patch(ctx, "again", "application/merge-patch+json",
		[]byte(`{"metadata":{"annotations":{"`+dashboard.PrimaryAnnotation+`":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the annotated cluster primary", func(context.Context) (bool, error) {
		_, list, err := clusters(viewer)
		return err == nil && len(list) > 0 && list[0].Name == "again" && list[0].Primary, fmt.Errorf("clusters %+v %v", list, err)
	})
	if resp, body := d.do(t, http.MethodPut, "/api/primary", editor, bytes.NewReader([]byte(`{"context":"in-cluster"}`)), nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("changing the primary cluster from the in-cluster dashboard: %s %s, want 405", resp.Status, body)
	}
	if err := secrets.Delete(ctx, "again", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the removed cluster gone, this one primary again", func(context.Context) (bool, error) {
		byName, list, err := clusters(viewer)
		_, still := byName["again"]
		return err == nil && !still && len(list) == 2 && list[0].Name == "in-cluster" && list[0].Primary, fmt.Errorf("clusters %+v %v", list, err)
	})
}
