package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/dashboard"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestDashboardTwoControlPlanes: kubectl hyper dashboard over two sandbox
// control planes (the test's and a second one, started as make run starts
// it): both appear up, the VM counts of each equal what its API lists and
// the total is their sum; removing the second at run time leaves the first
// working; once the second control plane is stopped it shows down with its
// error while the first keeps answering.
func TestDashboardTwoControlPlanes(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "dash-multi")
	createKubeVirtVM(t, ns, kubevirtVM("here", 1, "1Gi", nil))
	runningVMI(t, ns, "here", "")
	secondCmd, secondKubeconfig := startSandboxCommand(t, t.TempDir())

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	kubeconfig, clusters, admin := dashboardKubeconfig(t, ns)
	addContext(t, kubeconfig, secondKubeconfig, "second")
	hyperWith(t, ctx, kubeconfig, "clusters", "add", "second", "--clusters-file", clusters)
	secondCfg, err := clientcmd.BuildConfigFromFlags("", secondKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	second, err := hypersdkclient.NewForConfig(secondCfg)
	if err != nil {
		t.Fatal(err)
	}
	start, base, _ := startDashboard(t, ctx, kubeconfig, clusters)
	get := dashboardAPI(t, start, base)
	summary := func() (dashboard.Summary, map[string]dashboard.ClusterVMs, error) {
		var s dashboard.Summary
		if _, err := get("/api/summary?cluster=*", &s); err != nil {
			return s, nil, err
		}
		by := map[string]dashboard.ClusterVMs{}
		for _, c := range s.Clusters {
			by[c.Cluster] = c
		}
		return s, by, nil
	}
	count := func(ctx context.Context, c hypersdkclient.Interface) (int, error) {
		l, err := c.HypersdkV1alpha1().VirtualMachines("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, err
		}
		return len(l.Items), nil
	}
	// counts are the VMs each API lists: the test's cluster's, the second's.
	counts := func(ctx context.Context) (here, there int, err error) {
		if here, err = count(ctx, env.HyperSDK); err != nil {
			return 0, 0, err
		}
		there, err = count(ctx, second)
		return here, there, err
	}

	framework.Eventually(t, "both control planes up, each count its API's, the total their sum", func(ctx context.Context) (bool, error) {
		h, order, err := clusterHealth(get)
		if err != nil {
			return false, err
		}
		if !slices.Equal(order, []string{admin, "second"}) || !h[admin].Up || !h["second"].Up || !h["second"].HyperSDK {
			return false, fmt.Errorf("clusters %v %+v", order, h)
		}
		s, by, err := summary()
		if err != nil {
			return false, err
		}
		here, there, err := counts(ctx)
		if err != nil {
			return false, err
		}
		phases := map[string]int{}
		for _, c := range s.Clusters {
			for p, n := range c.ByPhase {
				phases[p] += n
			}
		}
		if by[admin].Total != here || by["second"].Total != there || there != 8 || s.Total != here+there ||
			!maps.Equal(phases, s.ByPhase) {
			return false, fmt.Errorf("summary %+v; the APIs list %d and %d VMs (the second its 8 demo VMs)", s, here, there)
		}
		return true, nil
	})

	// In the browser, the VM list of all clusters at once: every VM of
	// each, named by its cluster, both followed live; then one cluster
	// chosen shows its VMs alone.
	browser := framework.NewBrowser(t)
	for _, page := range []string{start, base + "/?cluster=*"} {
		if err := chromedp.Do(browser, chromedp.Navigate(page)); err != nil {
			t.Fatal(err)
		}
	}
	rows := func(ctx context.Context, want map[string]int) (bool, error) {
		got := map[string]int{}
		for cluster := range want {
			n, err := text(browser, fmt.Sprintf(`String(document.querySelectorAll('#vms tbody tr[data-cluster="%s"]').length)`, cluster))
			if err != nil {
				return false, err
			}
			got[cluster], _ = strconv.Atoi(n)
		}
		live, err := text(browser, `document.getElementById("watch-state").innerText`)
		return maps.Equal(got, want) && live == "(live)", fmt.Errorf("rows by cluster %v, want %v; watch %q (%v)", got, want, live, err)
	}
	framework.Eventually(t, "the VMs of both clusters in one live list", func(ctx context.Context) (bool, error) {
		here, there, err := counts(ctx)
		if err != nil {
			return false, err
		}
		return rows(ctx, map[string]int{admin: here, "second": there})
	})
	if csv, err := text(browser, `exportText("csv")`); err != nil || !strings.Contains(csv, ",1Gi,"+admin+"\n") || !strings.Contains(csv, ",second\n") {
		t.Errorf("the export of all clusters names each row's cluster: %v\n%s", err, csv)
	}
	// The cluster history charts of all clusters: each cluster's series as
	// its API gives them, and their sum.
	secondKube, err := kubernetes.NewForConfig(secondCfg)
	if err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "VMs by phase of every cluster and their sum, every cluster's nodes", func(ctx context.Context) (bool, error) {
		// The last five minutes on a 30 s grid, anew each round: the second
		// control plane has only just begun its history.
		end := time.Now().UTC().Truncate(30 * time.Second)
		window := url.Values{"start": {end.Add(-5 * time.Minute).Format(time.RFC3339)}, "end": {end.Format(time.RFC3339)}, "step": {"30s"}}
		chartsPage := base + "/charts.html?" + url.Values{"cluster": {"*"}, "chart": {"VMsByPhase,NodeUtilization"}, "start": window["start"],
			"end": window["end"], "step": window["step"]}.Encode()
		if err := chromedp.Do(browser, chromedp.Navigate(chartsPage)); err != nil {
			return false, err
		}
		if loaded, err := waitText(browser, `document.body.dataset.charts || ""`, "loaded"); !loaded {
			return false, fmt.Errorf("the charts page did not load: %v", err)
		}
		out, err := text(browser, `chartCSV("VMsByPhase")`)
		if err != nil {
			return false, err
		}
		got, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			return false, err
		}
		path := "/apis/hypersdk.io/v1alpha1/clusterhistories/cluster"
		here, err := historyRowsOf(t, env.Admin, path, window, []string{"vms"})
		if err != nil {
			return false, err
		}
		there, err := historyRowsOf(t, secondCfg, path, window, []string{"vms"})
		if err != nil {
			return false, err
		}
		if len(there) < 2 {
			return false, fmt.Errorf("the second cluster's history has no points in the window: %v", there)
		}
		// Each time either API has a point at: each cluster's value, or none,
		// and their sum where both have one (where one has none, a sum of
		// the other alone would read as a drop of the whole).
		want := map[string][3]string{}
		for i, rows := range [][][]string{here, there} {
			for _, r := range rows[1:] {
				w := want[r[0]]
				w[i] = r[1]
				want[r[0]] = w
			}
		}
		col := func(name string) int { return slices.Index(got[0], name) }
		a, b, all := col(admin+" vms"), col("second vms"), col("all vms")
		if a < 0 || b < 0 || all < 0 || len(got)-1 != len(want) {
			return false, fmt.Errorf("chart CSV %q; the APIs give %v", out, want)
		}
		value := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v } // "" (no point) adds nothing
		for _, r := range got[1:] {
			w, ok := want[r[0]]
			both := w[0] != "" && w[1] != ""
			if !ok || (r[a] == "") != (w[0] == "") || (r[b] == "") != (w[1] == "") || value(r[a]) != value(w[0]) ||
				value(r[b]) != value(w[1]) || (r[all] != "") != both || both && value(r[all]) != value(w[0])+value(w[1]) {
				return false, fmt.Errorf("row %v; the APIs give %v", r, w)
			}
		}
		// Every node of each cluster, named by its cluster.
		heat, err := text(browser, `chartCSV("NodeUtilization")`)
		if err != nil {
			return false, err
		}
		var wantNodes []string
		for cluster, kube := range map[string]kubernetes.Interface{admin: env.Kube, "second": secondKube} {
			nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, n := range nodes.Items {
				wantNodes = append(wantNodes, cluster+"/"+n.Name)
			}
		}
		var gotNodes []string
		for _, line := range strings.Split(strings.TrimSpace(heat), "\n")[1:] {
			gotNodes = append(gotNodes, strings.Split(line, ",")[0])
		}
		slices.Sort(wantNodes)
		slices.Sort(gotNodes)
		if !slices.Equal(gotNodes, wantNodes) {
			return false, fmt.Errorf("node utilization rows %v, the APIs' nodes %v", gotNodes, wantNodes)
		}
		return true, nil
	})
	if err := chromedp.Do(browser, chromedp.Navigate(base+"/?cluster=*")); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the second cluster's VMs alone", func(ctx context.Context) (bool, error) {
		// Chosen in the selector once the page has listed the clusters.
		if _, err := text(browser, `(() => { const s = document.getElementById("f-cluster");
			if ([...s.options].some(o => o.value === "second") && s.value !== "second") { s.value = "second"; s.dispatchEvent(new Event("change")); }
			return ""; })()`); err != nil {
			return false, err
		}
		there, err := count(ctx, second)
		if err != nil {
			return false, err
		}
		return rows(ctx, map[string]int{admin: 0, "second": there})
	})

	hyperWith(t, ctx, kubeconfig, "clusters", "remove", "second", "--clusters-file", clusters)
	framework.Eventually(t, "the second cluster gone at run time, the first working", func(ctx context.Context) (bool, error) {
		h, order, err := clusterHealth(get)
		if err != nil {
			return false, err
		}
		s, by, err := summary()
		if err != nil {
			return false, err
		}
		return slices.Equal(order, []string{admin}) && h[admin].Up && len(s.Clusters) == 1 && by[admin].Up && s.Total == by[admin].Total, nil
	})

	hyperWith(t, ctx, kubeconfig, "clusters", "add", "second", "--clusters-file", clusters)
	framework.Eventually(t, "the second cluster back", func(context.Context) (bool, error) {
		h, _, err := clusterHealth(get)
		return err == nil && h["second"].Up, err
	})
	if err := stopSandboxCommand(t, secondCmd); err != nil {
		t.Logf("the second sandbox exited with %v", err)
	}
	framework.Eventually(t, "the stopped control plane down with its error, the first up", func(ctx context.Context) (bool, error) {
		h, _, err := clusterHealth(get)
		if err != nil {
			return false, err
		}
		s, by, err := summary()
		if err != nil {
			return false, err
		}
		here, err := count(ctx, env.HyperSDK)
		if err != nil {
			return false, err
		}
		return !h["second"].Up && h["second"].Error != "" && h[admin].Up && !by["second"].Up && by["second"].Error != "" &&
			by[admin].Total == here && s.Total == here, nil
	})
}

// addContext copies the current context of the kubeconfig from into the
// kubeconfig at path, named name (cluster, user and context alike).
func addContext(t *testing.T, path, from, name string) {
	t.Helper()
	dst, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src, err := clientcmd.LoadFromFile(from)
	if err != nil {
		t.Fatal(err)
	}
	c := src.Contexts[src.CurrentContext]
	if c == nil {
		t.Fatalf("%s has no current context", from)
	}
	dst.Clusters[name] = src.Clusters[c.Cluster]
	dst.AuthInfos[name] = src.AuthInfos[c.AuthInfo]
	ctx := c.DeepCopy()
	ctx.Cluster, ctx.AuthInfo = name, name
	dst.Contexts[name] = ctx
	if err := clientcmd.WriteToFile(*dst, path); err != nil {
		t.Fatal(err)
	}
}
