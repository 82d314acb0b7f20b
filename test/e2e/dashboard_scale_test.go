package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/test/framework"
)

// listScale is how many VMs the list is measured with.
const listScale = 2000

// TestDashboardListOf2000InBrowser: the VM list shows 2,000 VMs and stays
// live. It measures, in the browser, how long the first list took to show
// (from navigation start) and how long after a VM's creation through the API
// its row appeared (the browser's clock against the test's, one machine),
// and writes the figures to _output/bench/dashboard-list.txt; it asserts
// only that every VM is shown and every new one appears.
func TestDashboardListOf2000InBrowser(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "dash-scale")
	// Stopped VMs: the list's cost is in objects, not in running guests.
	cfg := rest.CopyConfig(env.Admin)
	cfg.QPS, cfg.Burst = 200, 400
	kv, err := kubevirt.NewClientset(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vm := func(i int) *kvv1.VirtualMachine {
		v := kubevirtVM(fmt.Sprintf("vm-%04d", i), 1, "1Gi", map[string]string{"hypersdk.io/e2e-scale": ns})
		v.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
		return v
	}
	created := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, listScale)
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if _, err := kv.KubevirtV1().VirtualMachines(ns).Create(ctx, vm(i), metav1.CreateOptions{}); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range listScale {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("creating %d VMs: %v", listScale, err)
	}
	t.Logf("created %d KubeVirt VMs in %v", listScale, time.Since(created).Round(time.Millisecond))
	// Leave the sandbox as it was for the tests after this one.
	defer func() {
		if err := kv.KubevirtV1().VirtualMachines(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Errorf("deleting the VMs: %v", err)
			return
		}
		framework.Eventually(t, "the VMs gone", func(ctx context.Context) (bool, error) {
			l, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
			return err == nil && len(l.Items) == 0, err
		})
	}()
	framework.Eventually(t, "hypersdk.io lists them all", func(ctx context.Context) (bool, error) {
		l, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == listScale, err
	})

	browser, _, _ := browseDashboard(t, ns)
	shown := fmt.Sprintf(`String(document.querySelectorAll('#vms tr[data-vm^="%s/"]').length)`, ns)
	framework.Eventually(t, fmt.Sprintf("the list showing all %d VMs, live", listScale), func(context.Context) (bool, error) {
		got, err := text(browser, shown)
		if err != nil {
			return false, err
		}
		live, err := text(browser, `document.getElementById("watch-state").innerText`)
		return got == fmt.Sprint(listScale) && live == "(live)", err
	})
	firstShown, err := text(browser, `String(Math.round(window.firstListShownMs))`)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := text(browser, `String(document.querySelectorAll("#vms tbody tr").length)`)

	// Each new row's arrival, on the browser's clock (epoch ms).
	if _, err := text(browser, `(() => { window.arrived = {};
		new MutationObserver(() => { for (const r of document.querySelectorAll('#vms tr[data-vm*="/late-"]'))
			window.arrived[r.dataset.vm] ??= performance.timeOrigin + performance.now(); })
		.observe(document.querySelector("#vms tbody"), {childList: true}); return ""; })()`); err != nil {
		t.Fatal(err)
	}
	var latencies []time.Duration
	for i := range 5 {
		late := vm(i)
		late.Name = fmt.Sprintf("late-%d", i)
		t0 := time.Now()
		if _, err := kv.KubevirtV1().VirtualMachines(ns).Create(ctx, late, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var at float64
		framework.Eventually(t, late.Name+" shown", func(context.Context) (bool, error) {
			ms, err := chromedp.Run(browser, chromedp.Evaluate[float64](fmt.Sprintf(`window.arrived[%q] ?? 0`, ns+"/"+late.Name)))
			at = ms
			return ms > 0, err
		})
		latencies = append(latencies, time.UnixMilli(int64(at)).Sub(t0))
	}
	slices.Sort(latencies)
	report := fmt.Sprintf("dashboard VM list, %d VMs of this test among %s rows, Chromium headless\n"+
		"first list shown %s ms after navigation start\n"+
		"a VM created through the API shown after (5 VMs, sorted): %v\n", listScale, rows, firstShown, latencies)
	t.Log(report)
	dir := filepath.Join("..", "..", "_output", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dashboard-list.txt"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
}
