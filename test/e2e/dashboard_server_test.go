package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/dashboard"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestDashboardServer: kubectl hyper dashboard shows the clusters of its
// clusters file: the sandbox as the admin user, the sandbox again as a user
// bound to view, and a context whose server refuses connections, shown down
// with its error while the others work. Through the proxies it reads
// exactly what the API says and carries the admin's serial console, while
// the viewer's credentials get 403 for the console: the user's own rights,
// never the dashboard's. VM counts per cluster add up to the total, and
// kubectl hyper clusters remove and use change the running dashboard.
func TestDashboardServer(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "dash-server")
	createKubeVirtVM(t, ns, kubevirtVM("web", 1, "1Gi", nil))
	runningVMI(t, ns, "web", "")

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	kubeconfig, clusters, admin := dashboardKubeconfig(t, ns)
	run := func(args ...string) string {
		return hyperWith(t, ctx, kubeconfig, append(args, "--clusters-file", clusters)...)
	}
	run("clusters", "add", "down")
	run("clusters", "add", "viewer")
	if out := run("clusters", "list"); !strings.Contains(out, admin) || !strings.Contains(out, "viewer") ||
		!strings.Contains(strings.SplitN(out, "\n", 3)[1], "*") {
		t.Errorf("clusters list, want %s primary and first:\n%s", admin, out)
	}
	start, base, token := startDashboard(t, ctx, kubeconfig, clusters)

	if resp, err := http.Get(base + "/api/clusters"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %v %v", resp, err)
	}
	get := dashboardAPI(t, start, base)
	health := func(ctx context.Context) (map[string]dashboard.ClusterHealth, []string, error) {
		return clusterHealth(get)
	}
	framework.Eventually(t, "the sandbox up, down down", func(ctx context.Context) (bool, error) {
		h, order, err := health(ctx)
		if err != nil {
			return false, err
		}
		return len(order) == 3 && order[0] == admin && h[admin].Primary && h[admin].Up && h[admin].HyperSDK &&
			h["viewer"].Up && !h["down"].Up && h["down"].Error != "", nil
	})

	var vms v1alpha1.VirtualMachineList
	if _, err := get("/k8s/"+admin+"/apis/hypersdk.io/v1alpha1/namespaces/"+ns+"/virtualmachines", &vms); err != nil {
		t.Fatal(err)
	}
	direct, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := func(l *v1alpha1.VirtualMachineList) []string {
		var out []string
		for _, vm := range l.Items {
			out = append(out, vm.Name+"/"+string(vm.Status.Phase))
		}
		return out
	}
	if !slices.Equal(names(&vms), names(direct)) {
		t.Errorf("through the dashboard %v, from the API %v", names(&vms), names(direct))
	}

	dial := func(cluster string) (io.ReadWriteCloser, int) {
		u := strings.Replace(base, "http://", "ws://", 1) + "/k8s/" + cluster + "/apis/hypersdk.io/v1alpha1/namespaces/" + ns +
			"/virtualmachines/web/console?protocol=plain"
		header := http.Header{"Origin": {base}, "Cookie": {dashboard.TokenCookie(strings.TrimPrefix(base, "http://")) + "=" + token}}
		conn, resp, _ := (&websocket.Dialer{Subprotocols: []string{"binary"}}).Dial(u, header)
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		if conn == nil {
			return nil, code
		}
		return console.NewStream(conn), code
	}
	if conn, code := dial("viewer"); code != http.StatusForbidden {
		if conn != nil {
			conn.Close()
		}
		t.Errorf("the viewer's console through the dashboard: %d, want 403", code)
	}
	conn, code := dial(admin)
	if conn == nil {
		t.Fatalf("the admin's console through the dashboard: %d", code)
	}
	shell(t, bufio.NewReader(conn), conn)
	conn.Close()

	var summary dashboard.Summary
	if _, err := get("/api/summary?cluster=*&namespace="+ns, &summary); err != nil {
		t.Fatal(err)
	}
	counts := map[string]dashboard.ClusterVMs{}
	sum := 0
	for _, c := range summary.Clusters {
		counts[c.Cluster] = c
		sum += c.Total
	}
	if counts[admin].Total != 1 || counts[admin].ByPhase["Running"] != 1 || counts["viewer"].Total != 1 ||
		counts["down"].Up || counts["down"].Error == "" || summary.Total != sum || summary.Total != 2 || summary.ByPhase["Running"] != 2 {
		t.Errorf("summary %+v", summary)
	}

	run("clusters", "remove", "down")
	run("clusters", "use", "viewer")
	framework.Eventually(t, "down gone and viewer primary in the running dashboard", func(ctx context.Context) (bool, error) {
		h, order, err := health(ctx)
		if err != nil {
			return false, err
		}
		return len(order) == 2 && order[0] == "viewer" && h["viewer"].Primary && h[admin].Up, nil
	})
	if _, err := get("/api/summary", &summary); err != nil || len(summary.Clusters) != 1 || summary.Clusters[0].Cluster != "viewer" {
		t.Errorf("summary of the primary: %+v %v", summary, err)
	}
}

// TestDashboardConnectionFlags: kubectl's connection flags hold for the
// dashboard as for any kubectl command. Without a clusters file --context
// is the primary; --as acts as that user on every cluster, so the admin's
// context impersonating the viewer reads what the viewer may and no more.
func TestDashboardConnectionFlags(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "dash-flags")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	kubeconfig, _, admin := dashboardKubeconfig(t, ns)
	noFile := filepath.Join(t.TempDir(), "none.yaml")

	start, base, _ := startDashboard(t, ctx, kubeconfig, noFile, "--context", "viewer")
	get := dashboardAPI(t, start, base)
	framework.Eventually(t, "viewer, from --context, the primary and only cluster", func(ctx context.Context) (bool, error) {
		h, order, err := clusterHealth(get)
		return err == nil && len(order) == 1 && order[0] == "viewer" && h["viewer"].Primary && h["viewer"].Up, err
	})

	viewer := "system:serviceaccount:" + ns + ":viewer"
	start, base, _ = startDashboard(t, ctx, kubeconfig, noFile, "--as", viewer)
	get = dashboardAPI(t, start, base)
	framework.Eventually(t, admin+" up as the viewer", func(ctx context.Context) (bool, error) {
		h, order, err := clusterHealth(get)
		return err == nil && len(order) == 1 && order[0] == admin && h[admin].Up, err
	})
	var vms v1alpha1.VirtualMachineList
	if code, err := get("/k8s/"+admin+"/apis/hypersdk.io/v1alpha1/namespaces/"+ns+"/virtualmachines", &vms); err != nil || code != http.StatusOK {
		t.Errorf("the viewer's namespace through the dashboard as the viewer: %d %v, want 200", code, err)
	}
	var secrets corev1.SecretList
	if code, err := get("/k8s/"+admin+"/api/v1/namespaces/kube-system/secrets", &secrets); code != http.StatusForbidden {
		t.Errorf("kube-system's secrets through the dashboard --as %s: %d (%d items, %v), want 403", viewer, code, len(secrets.Items), err)
	}
}

// dashboardKubeconfig writes a kubeconfig with the sandbox's admin context
// (current), "viewer" (the sandbox as a ServiceAccount bound to view in ns)
// and "down" (a server that refuses connections), and names a clusters file
// beside it.
func dashboardKubeconfig(t *testing.T, ns string) (kubeconfig, clusters, admin string) {
	t.Helper()
	raw, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin = raw.CurrentContext
	raw.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", InsecureSkipTLSVerify: true}
	raw.Contexts["down"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: raw.Contexts[admin].AuthInfo}
	raw.AuthInfos["viewer"] = &clientcmdapi.AuthInfo{Token: env.ServiceAccountToken(t, ns, "viewer", "view")}
	raw.Contexts["viewer"] = &clientcmdapi.Context{Cluster: raw.Contexts[admin].Cluster, AuthInfo: "viewer"}
	dir := t.TempDir()
	kubeconfig, clusters = filepath.Join(dir, "kubeconfig"), filepath.Join(dir, "clusters.yaml")
	if err := clientcmd.WriteToFile(*raw, kubeconfig); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, clusters, admin
}

// hyperWith runs kubectl hyper with another kubeconfig and returns its output.
func hyperWith(t *testing.T, ctx context.Context, kubeconfig string, args ...string) string {
	t.Helper()
	cmd := hyperCommand(ctx, args...)
	cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl hyper %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startDashboard runs kubectl hyper dashboard until ctx ends and returns
// the URL it printed, its base and its token.
func startDashboard(t *testing.T, ctx context.Context, kubeconfig, clusters string, flags ...string) (start, base, token string) {
	t.Helper()
	ctx, stop := context.WithCancel(ctx)
	cmd := hyperCommand(ctx, append(flags, "dashboard", "--clusters-file", clusters)...)
	cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig)
	// What the dashboard logged (its proxy's errors) is shown when the test
	// fails; it is read only after the command has ended.
	stdout, stderr := startPiped(t, cmd)
	t.Cleanup(func() {
		stop()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kubectl hyper dashboard's log:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "Dashboard: http://127.0.0.1:") {
		t.Fatalf("first line %q, %v", line, err)
	}
	start = strings.TrimSpace(strings.TrimPrefix(line, "Dashboard: "))
	base = start[:strings.Index(start, "/?token=")]
	return start, base, start[len(base)+len("/?token="):]
}

// dashboardAPI opens the dashboard's start URL as a browser would (the token
// traded for the cookie) and returns a GET of its API that decodes JSON.
func dashboardAPI(t *testing.T, start, base string) func(path string, into any) (int, error) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	page, err := browser.Get(start)
	if err != nil || page.StatusCode != http.StatusOK {
		t.Fatalf("opening %s: %v %v", start, page, err)
	}
	page.Body.Close()
	return func(path string, into any) (int, error) {
		resp, err := browser.Get(base + path)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(into)
	}
}

// clusterHealth is /api/clusters by name, and the names in its order.
func clusterHealth(get func(string, any) (int, error)) (map[string]dashboard.ClusterHealth, []string, error) {
	var list []dashboard.ClusterHealth
	if _, err := get("/api/clusters", &list); err != nil {
		return nil, nil, err
	}
	byName, order := map[string]dashboard.ClusterHealth{}, []string{}
	for _, c := range list {
		byName[c.Name], order = c, append(order, c.Name)
	}
	return byName, order, nil
}
