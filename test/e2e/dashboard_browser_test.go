package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/test/framework"
)

// csvNames is namespace,name,phase,node of each row of a CSV export.
func csvNames(csv string) string {
	var out []string
	for i, line := range strings.Split(strings.TrimSpace(csv), "\n") {
		if f := strings.Split(line, ","); i > 0 && len(f) >= 4 {
			out = append(out, strings.Join(f[:4], ","))
		}
	}
	return strings.Join(out, "\n")
}

// browseDashboard runs kubectl hyper dashboard over the sandbox's contexts
// that dashboardKubeconfig writes for ns, with the named ones added as
// clusters, until the test ends, and opens it in a fresh browser, which
// trades the printed token for the cookie. It returns the browser, the
// dashboard's base URL and the admin context (the primary cluster).
func browseDashboard(t *testing.T, ns string, clusterNames ...string) (browser context.Context, base, admin string) {
	t.Helper()
	ctx := context.Background()
	kubeconfig, clusters, admin := dashboardKubeconfig(t, ns)
	for _, name := range clusterNames {
		hyperWith(t, ctx, kubeconfig, "clusters", "add", name, "--clusters-file", clusters)
	}
	start, base, _ := startDashboard(t, ctx, kubeconfig, clusters)
	browser = framework.NewBrowser(t)
	if err := chromedp.Do(browser, chromedp.Navigate(start)); err != nil {
		t.Fatal(err)
	}
	return browser, base, admin
}

// text evaluates a JavaScript expression giving a string in the page.
func text(browser context.Context, expr string) (string, error) {
	ctx, cancel := context.WithTimeout(browser, 20*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
}

// TestDashboardInBrowser: in real Chromium, the dashboard lists the VMs of
// the primary cluster and keeps the list live by watch (a VM created and
// deleted through the API appears and goes without a reload), shows a
// cluster that refuses connections as down with its error, and its filters
// (labels by the API server, phase, CPUs and memory in the page) and CSV
// and JSON exports give exactly the VMs the API gives for the same
// filters. The screenshot (PNG) lands in _output/screenshots.
func TestDashboardInBrowser(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "dash-browser")
	mine := map[string]string{"hypersdk.io/e2e-dashboard": ns}
	createKubeVirtVM(t, ns, kubevirtVM("web", 1, "1Gi", mine))
	big := kubevirtVM("big", 2, "3Gi", mine)
	big.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	createKubeVirtVM(t, ns, big)
	runningVMI(t, ns, "web", "")
	ctx := context.Background()
	browser, base, admin := browseDashboard(t, ns, "down", "viewer")
	row := func(name string) string {
		return fmt.Sprintf(`(document.querySelector('#vms tr[data-vm="%s/%s"]') || {innerText: ""}).innerText`, ns, name)
	}
	framework.Eventually(t, "web listed Running, the list live", func(context.Context) (bool, error) {
		got, err := text(browser, row("web"))
		if err != nil {
			return false, err
		}
		live, err := text(browser, `document.getElementById("watch-state").innerText`)
		return strings.Contains(got, "Running") && live == "(live)", err
	})
	framework.Eventually(t, "the down cluster shown down", func(context.Context) (bool, error) {
		got, err := text(browser, `[...document.querySelectorAll("#clusters tbody tr")].map(r => r.innerText).join("\n")`)
		return strings.Contains(got, "down\thttps://127.0.0.1:1\t\tdown\t\t"), err
	})

	createKubeVirtVM(t, ns, kubevirtVM("late", 1, "1Gi", nil))
	framework.Eventually(t, "late appears Running without a reload", func(context.Context) (bool, error) {
		got, err := text(browser, row("late"))
		return strings.Contains(got, "Running"), err
	})
	if err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Delete(ctx, "late", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "late gone", func(context.Context) (bool, error) {
		got, err := text(browser, row("late"))
		return got == "", err
	})

	// Filters: the label selector goes to the API server; phase, CPUs and
	// memory are applied in the page. Exports are what the table shows.
	selector := "hypersdk.io/e2e-dashboard=" + ns
	if _, err := text(browser, `(() => { const f = document.getElementById("f-labels"); f.value = "`+selector+`";
		f.dispatchEvent(new Event("change")); return ""; })()`); err != nil {
		t.Fatal(err)
	}
	api, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines("").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		phase, cpus, memory string
		keep                func(vm *v1alpha1.VirtualMachine) bool
	}{
		{"", "", "", func(*v1alpha1.VirtualMachine) bool { return true }},
		{"Running", "", "", func(vm *v1alpha1.VirtualMachine) bool { return vm.Status.Phase == v1alpha1.VirtualMachineRunning }},
		{"", "2", "2.5", func(vm *v1alpha1.VirtualMachine) bool {
			return vm.Spec.CPUs >= 2 && vm.Spec.Memory != nil && vm.Spec.Memory.Value() >= 5<<29
		}},
	} {
		var want []string
		for i := range api.Items {
			if vm := &api.Items[i]; tc.keep(vm) {
				want = append(want, fmt.Sprintf("%s,%s,%s,%s", vm.Namespace, vm.Name, vm.Status.Phase, vm.Status.NodeName))
			}
		}
		if len(want) == 0 {
			t.Fatalf("filters %+v select nothing in the API's list %v", tc, api.Items)
		}
		set := fmt.Sprintf(`(() => { for (const [id, v] of [["f-phase", %q], ["f-cpus", %q], ["f-memory", %q]]) {
			const f = document.getElementById(id); f.value = v; f.dispatchEvent(new Event("input")); } return ""; })()`,
			tc.phase, tc.cpus, tc.memory)
		var csv, jsonList string
		framework.Eventually(t, fmt.Sprintf("export with filters %+v", tc), func(context.Context) (bool, error) {
			if _, err := text(browser, set); err != nil {
				return false, err
			}
			if csv, err = text(browser, `exportText("csv")`); err != nil {
				return false, err
			}
			jsonList, err = text(browser, `exportText("json")`)
			return err == nil && csvNames(csv) == strings.Join(want, "\n"), err
		})
		var exported v1alpha1.VirtualMachineList
		if err := json.Unmarshal([]byte(jsonList), &exported); err != nil || len(exported.Items) != len(want) {
			t.Errorf("JSON export %v (%d VMs), want %d", err, len(exported.Items), len(want))
		}
		rows, err := text(browser, `String(document.querySelectorAll("#vms tbody tr").length)`)
		if err != nil || rows != fmt.Sprint(len(want)) {
			t.Errorf("table shows %s rows (%v), want %d", rows, err, len(want))
		}
	}

	screenshot(t, browser, "dashboard-clusters.png")

	// The serial console in a tab of its own: xterm.js over the VM's
	// console subresource, as the admin; the viewer is refused.
	consoleURL := func(cluster string) string {
		return base + "/console.html?cluster=" + url.QueryEscape(cluster) + "&namespace=" + ns + "&vm=web"
	}
	tab, closeTab := chromedp.NewContext(browser)
	defer closeTab()
	if err := chromedp.Do(tab, chromedp.Navigate(consoleURL(admin))); err != nil {
		t.Fatal(err)
	}
	screen := func(want string) {
		t.Helper()
		framework.Eventually(t, "the console shows "+strconv.Quote(want), func(context.Context) (bool, error) {
			// The DOM renderer draws blanks as no-break spaces and pads each
			// row to the terminal's width.
			got, err := text(tab, `(document.querySelector(".xterm-rows") || {innerText: ""}).innerText
				.replaceAll("\u00a0", " ").split("\n").map(l => l.trimEnd()).join("\n")`)
			return strings.Contains(got, want), err
		})
	}
	// chromedp's SendKeys adds a char event to each keyDown that carries
	// text, and xterm.js takes both: every key would reach the guest twice.
	// A keyDown with its text and a keyUp is what a keyboard gives.
	typeKeys := func(keys string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 20*time.Second)
		defer cancel()
		for _, r := range keys {
			down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Text: string(r), Key: string(r)}
			if r == '\r' {
				down.Key, down.Code, down.WindowsVirtualKeyCode = "Enter", "Enter", 13
			}
			up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: down.Key, Code: down.Code,
				WindowsVirtualKeyCode: down.WindowsVirtualKeyCode}
			for _, ev := range []input.DispatchKeyEventParams{down, up} {
				if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, ev); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	framework.Eventually(t, "the console connected", func(context.Context) (bool, error) {
		got, err := text(tab, `document.getElementById("state").innerText`)
		if err != nil || got == "connected" {
			return got == "connected", err
		}
		// What the page got so far says where a console that never
		// connects stopped: its script, the WebSocket's handshake, or a
		// refusal.
		loaded, err := text(tab, `performance.getEntriesByType("resource").map(e => e.name.replace(location.origin, "") + " " + Math.round(e.duration) + "ms").join(", ")`)
		return false, fmt.Errorf("console state %q, page loaded [%s] (%v)", got, loaded, err)
	})
	typeKeys("\r")
	screen("login:")
	typeKeys("fedora\r")
	screen("Password:")
	typeKeys("secret\r")
	screen("$")
	typeKeys("echo hello\r")
	screen("echo hello\nhello")
	// Copy and paste as a browser does them, through clipboard events on
	// the terminal: a paste reaches the guest as typed text, a copy takes
	// the terminal's selection.
	if _, err := text(tab, `(() => { const dt = new DataTransfer(); dt.setData("text/plain", "echo pasted\r");
		document.querySelector(".xterm-helper-textarea").dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true, cancelable: true}));
		return ""; })()`); err != nil {
		t.Fatal(err)
	}
	screen("echo pasted\npasted")
	copied, err := text(tab, `(() => { terminal.selectAll(); const dt = new DataTransfer();
		document.querySelector(".xterm-helper-textarea").dispatchEvent(new ClipboardEvent("copy", {clipboardData: dt, bubbles: true, cancelable: true}));
		return dt.getData("text/plain"); })()`)
	if err != nil || !strings.Contains(copied, "echo pasted\npasted") {
		t.Errorf("copying the terminal's selection gave %q (%v)", copied, err)
	}
	screenshot(t, tab, "dashboard-console.png")

	refused, closeRefused := chromedp.NewContext(browser)
	defer closeRefused()
	if err := chromedp.Do(refused, chromedp.Navigate(consoleURL("viewer"))); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the viewer's console refused", func(context.Context) (bool, error) {
		got, err := text(refused, `document.getElementById("state").innerText`)
		return got == "closed: refused or ended", err
	})
	if got, err := text(refused, `document.querySelector(".xterm-rows").innerText`); err != nil || strings.Contains(got, "login:") {
		t.Errorf("the viewer's console shows %q (%v)", got, err)
	}

	// The clusters changed from the page at run time: another one made
	// primary and back, one removed and added again, a context the
	// kubeconfig lacks refused with the dashboard's reason.
	clusterRows := `[...document.querySelectorAll("#clusters tbody tr")].map(r => r.cells[0].innerText + (r.cells[2].innerText === "yes" ? "*" : "")).join(",")`
	shows := func(want string) {
		t.Helper()
		framework.Eventually(t, "the clusters "+want, func(context.Context) (bool, error) {
			got, err := text(browser, clusterRows)
			return got == want, fmt.Errorf("clusters %q (%v)", got, err)
		})
	}
	press := func(cluster, label string) {
		t.Helper()
		framework.Eventually(t, label+" of "+cluster+" pressed", func(context.Context) (bool, error) {
			got, err := text(browser, fmt.Sprintf(`(() => { const r = [...document.querySelectorAll("#clusters tbody tr")].find(r => r.cells[0].innerText === %q);
				const b = r && [...r.querySelectorAll("button")].find(b => b.textContent === %q); if (b) b.click(); return b ? "pressed" : ""; })()`, cluster, label))
			return got == "pressed", err
		})
	}
	add := func(context string) {
		t.Helper()
		if _, err := text(browser, fmt.Sprintf(`(() => { document.getElementById("add-context").value = %q;
			document.getElementById("add-cluster").requestSubmit(); return ""; })()`, context)); err != nil {
			t.Fatal(err)
		}
	}
	press("viewer", "Make primary")
	shows("viewer*," + admin + ",down")
	press(admin, "Make primary")
	shows(admin + "*,down,viewer")
	press("down", "Remove")
	shows(admin + "*,viewer")
	add("down")
	shows(admin + "*,viewer,down")
	add("nope")
	framework.Eventually(t, "adding an unknown context refused", func(context.Context) (bool, error) {
		got, err := text(browser, `document.getElementById("clusters-error").innerText`)
		return strings.Contains(got, `no context "nope"`), fmt.Errorf("error shown: %q (%v)", got, err)
	})
}

// screenshot saves the tab as a PNG in _output/screenshots.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "_output", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardVMPageInBrowser: a VM's page shows its status live and the
// operations on it with progress bars. A migration started with the page's
// button walks its bar to 100% and the page shows the VM on the node it
// was sent to, as the API does; a snapshot, a resize and a clone from their
// buttons each reach 100% and are done as the API sees them. A user bound
// to view sees the VM and its operations but no operation buttons and no console links (the page asks the API server with
// SelfSubjectAccessReviews, as that user).
func TestDashboardVMPageInBrowser(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "dash-vm")
	createKubeVirtVM(t, ns, kubevirtVM("mover", 1, "1Gi", nil))
	from := runningVMI(t, ns, "mover", "").Status.NodeName
	target := otherNode(t, from)
	ctx := context.Background()
	browser, base, admin := browseDashboard(t, ns, "viewer")
	page := func(cluster string) string {
		return base + "/vm.html?" + url.Values{"cluster": {cluster}, "namespace": {ns}, "vm": {"mover"}}.Encode()
	}
	fact := func(tab context.Context, name string) (string, error) {
		return text(tab, fmt.Sprintf(`(document.querySelector('#facts tr[data-fact="%s"] td:nth-child(2)') || {innerText: ""}).innerText`, name))
	}
	rightsChecked := func(tab context.Context) {
		t.Helper()
		framework.Eventually(t, "the page checked the user's rights", func(context.Context) (bool, error) {
			got, err := text(tab, `document.body.dataset.rights || ""`)
			return got == "checked", err
		})
	}

	if err := chromedp.Do(browser, chromedp.Navigate(page(admin))); err != nil {
		t.Fatal(err)
	}
	rightsChecked(browser)
	framework.Eventually(t, "the page shows mover Running on "+from, func(context.Context) (bool, error) {
		phase, err := fact(browser, "Phase")
		if err != nil {
			return false, err
		}
		node, err := fact(browser, "Node")
		return phase == "Running" && node == from, err
	})
	buttons, err := text(browser, `[...document.querySelectorAll("#actions button")].map(b => b.id).join(",")`)
	if want := "op-start,op-stop,op-restart,op-migrate,op-resize,op-snapshot,op-clone"; err != nil || buttons != want {
		t.Errorf("the admin's buttons: %q (%v), want %s", buttons, err, want)
	}
	if got, err := text(browser, `[...document.querySelectorAll("#console a")].map(a => a.id).join(",")`); err != nil || got != "console-link,vnc-link" {
		t.Errorf("the admin's console links: %q (%v), want the serial and the VNC console", got, err)
	}

	// The placement breakdown and the recommendation, as the API gives them.
	vmPath := "/apis/hypersdk.io/v1alpha1/namespaces/" + ns + "/virtualmachines/mover/"
	code, _, body := getRaw(t, env.Admin, vmPath+"placement", nil)
	var placement v1alpha1.VirtualMachinePlacement
	if err := json.Unmarshal(body, &placement); code != http.StatusOK || err != nil {
		t.Fatalf("placement of mover: %d %s (%v)", code, body, err)
	}
	wantRows, wantNote := []string{}, placement.Message
	if d := placement.Decision; d != nil {
		for _, c := range d.Candidates {
			wantRows = append(wantRows, c.Node)
		}
		wantNote = d.Node + " chosen at "
	}
	framework.Eventually(t, "the placement breakdown the API gives, best first", func(context.Context) (bool, error) {
		rows, err := text(browser, `[...document.querySelectorAll("#placement tbody tr")].map(r => r.dataset.node).join(",")`)
		if err != nil {
			return false, err
		}
		note, err := text(browser, `document.getElementById("placement-note").innerText`)
		return rows == strings.Join(wantRows, ",") && strings.HasPrefix(note, wantNote) && len(wantRows) > 0,
			fmt.Errorf("rows %q, note %q; the API gives %v, %q (%v)", rows, note, wantRows, wantNote, err)
	})
	code, _, body = getRaw(t, env.Admin, vmPath+"recommendation", nil)
	wantFact := [2]string{"Autoscaler", ""}
	if code != http.StatusOK {
		var status metav1.Status
		if err := json.Unmarshal(body, &status); err != nil {
			t.Fatal(err)
		}
		wantFact = [2]string{"None", status.Message}
	}
	framework.Eventually(t, "the recommendation the API gives, or why there is none", func(context.Context) (bool, error) {
		got, err := text(browser, fmt.Sprintf(`(document.querySelector('#recommendation tr[data-fact="%s"] td:nth-child(2)') || {innerText: "-"}).innerText`, wantFact[0]))
		return got != "-" && (wantFact[1] == "" || got == wantFact[1]), fmt.Errorf("%s: %q, want %q (%v)", wantFact[0], got, wantFact[1], err)
	})

	// Every value the progress bar takes, as the page draws it.
	if _, err := text(browser, `(() => { window.seen = [];
		new MutationObserver(() => { const b = document.querySelector("#ops tbody tr progress");
			if (b && window.seen[window.seen.length - 1] !== b.value) window.seen.push(b.value); })
		.observe(document.querySelector("#ops tbody"), {childList: true, subtree: true}); return ""; })()`); err != nil {
		t.Fatal(err)
	}
	// runOp fills in an operation's inputs, presses its button and waits
	// for its row (the one of its type) to show it Succeeded at 100%.
	runOp := func(subresource string, inputs map[string]string, typ v1alpha1.VMOperationType) string {
		t.Helper()
		fill := ""
		for k, v := range inputs {
			fill += fmt.Sprintf("document.getElementById(%q).value = %q; ", "op-"+subresource+"-"+k, v)
		}
		if _, err := text(browser, fmt.Sprintf(`(() => { %s document.getElementById("op-%s").click(); return ""; })()`, fill, subresource)); err != nil {
			t.Fatal(err)
		}
		var name string
		framework.Eventually(t, fmt.Sprintf("the %s bar at 100%%, Succeeded", typ), func(context.Context) (bool, error) {
			row, err := text(browser, fmt.Sprintf(`(() => { const r = [...document.querySelectorAll("#ops tbody tr")].find(r => r.cells[1].innerText === %q);
				return r ? [r.dataset.op, r.dataset.phase, r.querySelector("progress").value].join(" ") : ""; })()`, typ))
			if err != nil {
				return false, err
			}
			if e, _ := text(browser, `document.getElementById("op-error").innerText`); e != "" {
				return false, fmt.Errorf("the page says %q", e)
			}
			f := strings.Fields(row)
			if len(f) == 3 {
				name = f[0]
			}
			return len(f) == 3 && f[1] == string(v1alpha1.VMOperationSucceeded) && f[2] == "100", nil
		})
		return name
	}
	opName := runOp("migrate", map[string]string{"targetNode": target}, v1alpha1.VMOperationMigrate)
	seen, _ := text(browser, `window.seen.join(" ")`)
	t.Logf("the progress bar of %s took the values %s", opName, seen)
	op, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, opName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if op.Spec.Type != v1alpha1.VMOperationMigrate || op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Progress != 100 ||
		op.Spec.Migrate == nil || op.Spec.Migrate.TargetNode != target {
		t.Errorf("the API's operation %s: %s %s %d%% %+v, want a Succeeded migration to %s at 100%%",
			opName, op.Spec.Type, op.Status.Phase, op.Status.Progress, op.Spec.Migrate, target)
	}
	framework.Eventually(t, "the page shows mover on "+target+", as the API does", func(ctx context.Context) (bool, error) {
		vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "mover", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node, err := fact(browser, "Node")
		return node == target && vmi.Status.NodeName == target, err
	})

	// The other operations that take inputs, from their buttons: each is
	// done as the API sees it.
	runOp("snapshot", map[string]string{"name": "mover-snap"}, v1alpha1.VMOperationSnapshot)
	if _, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, "mover-snap", metav1.GetOptions{}); err != nil {
		t.Errorf("the snapshot taken from the page: %v", err)
	}
	runOp("resize", map[string]string{"cpus": "2", "memory": "2Gi"}, v1alpha1.VMOperationResize)
	framework.Eventually(t, "the page shows mover with 2 CPUs and 2Gi, as the API does", func(ctx context.Context) (bool, error) {
		vm, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, "mover", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		cpus, err := fact(browser, "CPUs")
		if err != nil {
			return false, err
		}
		memory, err := fact(browser, "Memory")
		return vm.Spec.CPUs == 2 && vm.Spec.Memory != nil && vm.Spec.Memory.String() == "2Gi" && cpus == "2" && memory == "2Gi", err
	})
	runOp("clone", map[string]string{"targetName": "mover-copy"}, v1alpha1.VMOperationClone)
	if _, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, "mover-copy", metav1.GetOptions{}); err != nil {
		t.Errorf("the clone made from the page: %v", err)
	}
	screenshot(t, browser, "dashboard-vm.png")

	// The viewer reads the same VM and its operations, and is offered
	// nothing to change and no console.
	viewer, closeViewer := chromedp.NewContext(browser)
	defer closeViewer()
	if err := chromedp.Do(viewer, chromedp.Navigate(page("viewer"))); err != nil {
		t.Fatal(err)
	}
	rightsChecked(viewer)
	// (A resize that needs a restart may have moved the VM again.)
	framework.Eventually(t, "the viewer sees mover where the API has it, and its four operations", func(ctx context.Context) (bool, error) {
		vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "mover", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node, err := fact(viewer, "Node")
		if err != nil {
			return false, err
		}
		ops, err := text(viewer, `[...document.querySelectorAll("#ops tbody tr")].map(r => r.cells[1].innerText).sort().join(",")`)
		if err != nil {
			return false, err
		}
		return node == vmi.Status.NodeName && ops == "Clone,Migrate,Resize,Snapshot",
			fmt.Errorf("the viewer sees node %q and operations %q; the API has node %q", node, ops, vmi.Status.NodeName)
	})
	for what, expr := range map[string]string{
		"operation buttons": `String(document.querySelectorAll("#actions button").length)`,
		"console links":     `String(document.querySelectorAll("#console a").length)`,
	} {
		if got, err := text(viewer, expr); err != nil || got != "0" {
			t.Errorf("the viewer's %s: %s (%v), want none", what, got, err)
		}
	}
	if got, err := text(viewer, `document.getElementById("rights").innerText`); err != nil || got != "You may not change this VM." {
		t.Errorf("the viewer's page says %q (%v)", got, err)
	}
}

// TestDashboardVNCInBrowser: noVNC in the dashboard draws the guest's
// framebuffer: the canvas's pixels (a PNG the canvas gives) equal, pixel
// for pixel, a frame the test reads over the vnc subresource itself. A
// user bound to view is refused.
func TestDashboardVNCInBrowser(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "dash-vnc")
	createKubeVirtVM(t, ns, kubevirtVM("screen", 1, "1Gi", nil))
	runningVMI(t, ns, "screen", "")
	browser, base, admin := browseDashboard(t, ns, "viewer")
	vncPage := func(cluster string) string {
		return base + "/vnc.html?" + url.Values{"cluster": {cluster}, "namespace": {ns}, "vm": {"screen"}}.Encode()
	}
	if err := chromedp.Do(browser, chromedp.Navigate(vncPage(admin))); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "noVNC connected", func(context.Context) (bool, error) {
		got, err := text(browser, `document.getElementById("state").innerText`)
		return got == "connected", err
	})

	conn := dialPlain(t, env.Admin, env.Admin.Host+"/apis/hypersdk.io/v1alpha1/namespaces/"+ns+"/virtualmachines/screen/vnc",
		http.StatusSwitchingProtocols)
	defer conn.Close()
	w, h, frame := rfbHandshake(t, conn)
	colours := map[[3]byte]bool{}
	for i := 0; i+3 < len(frame); i += 4 {
		colours[[3]byte{frame[i], frame[i+1], frame[i+2]}] = true
	}
	if len(colours) < 2 {
		t.Fatalf("the guest's %dx%d frame has %d colours: nothing drawn to compare", w, h, len(colours))
	}
	framework.Eventually(t, "the canvas to show the guest's frame", func(context.Context) (bool, error) {
		dataURL, err := text(browser, `(() => { const c = document.querySelector("#screen canvas");
			return c ? c.toDataURL("image/png") : ""; })()`)
		if err != nil || dataURL == "" {
			return false, err
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(dataURL, "data:image/png;base64,"))
		if err != nil {
			return false, err
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			return false, err
		}
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			return false, fmt.Errorf("canvas %dx%d, guest screen %dx%d", b.Dx(), b.Dy(), w, h)
		}
		differ := 0
		for y := range h {
			for x := range w {
				r, g, b, _ := img.At(x, y).RGBA()
				p := frame[(y*w+x)*4:]
				if byte(r>>8) != p[2] || byte(g>>8) != p[1] || byte(b>>8) != p[0] {
					differ++
				}
			}
		}
		if differ > 0 {
			// The guest may have drawn since: compare with its latest frame.
			frame = rfbFrame(t, conn, w, h)
			return false, fmt.Errorf("%d of %d pixels differ", differ, w*h)
		}
		return true, nil
	})
	screenshot(t, browser, "dashboard-vnc.png")

	viewer, closeViewer := chromedp.NewContext(browser)
	defer closeViewer()
	if err := chromedp.Do(viewer, chromedp.Navigate(vncPage("viewer"))); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the viewer's VNC refused", func(context.Context) (bool, error) {
		got, err := text(viewer, `document.getElementById("state").innerText`)
		return got == "closed: refused or ended", err
	})
}

// TestDashboardEditorInBrowser: a custom dashboard is built in the page by
// adding widgets and dragging them (a title bar moves a widget, its corner
// resizes it; real mouse events), saved, found as a Dashboard object with
// those cells, and shown the same after a reload. A move onto another
// widget is refused in the page.
func TestDashboardEditorInBrowser(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "dash-editor")
	browser, base, _ := browseDashboard(t, ns)
	page := base + "/dashboard.html?" + url.Values{"namespace": {ns}, "name": {"mine"}}.Encode()
	open := func() {
		t.Helper()
		if err := chromedp.Do(browser, chromedp.Navigate(page)); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, "the editor loaded", func(context.Context) (bool, error) {
			got, err := text(browser, `document.body.dataset.loaded || ""`)
			if got == "error" {
				msg, _ := text(browser, `document.getElementById("error").innerText`)
				return false, fmt.Errorf("the editor failed: %s", msg)
			}
			return got == "true", err
		})
	}
	cells := func() string {
		t.Helper()
		got, err := text(browser, `[...document.querySelectorAll("#grid [data-widget]")].map(w => w.dataset.widget + "@" + w.dataset.cell).join(" ")`)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	open()
	for _, add := range []string{"Chart:CPUUsedVsAllocated", "VMList"} {
		if _, err := text(browser, fmt.Sprintf(`(() => { document.getElementById("add-type").value = %q;
			document.getElementById("add").click(); return ""; })()`, add)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := cells(), "cpuusedvsallocated-1@0,0,6,4 vmlist-1@6,0,6,4"; got != want {
		t.Fatalf("after adding two widgets: %s, want %s", got, want)
	}

	// dragTo presses the mouse on the element sel, moves it to the middle
	// of grid cell (col, row) and releases it there.
	dragTo := func(sel string, col, row int) {
		t.Helper()
		var at []float64
		js := fmt.Sprintf(`(() => { const e = document.querySelector(%q).getBoundingClientRect();
			const g = document.getElementById("grid").getBoundingClientRect(); const cols = 12;
			return [e.left + e.width / 2, e.top + e.height / 2, g.left + (%d + 0.5) * g.width / cols, g.top + (%d + 0.5) * 64]; })()`, sel, col, row)
		ctx, cancel := context.WithTimeout(browser, 20*time.Second)
		defer cancel()
		at, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](js))
		if err != nil {
			t.Fatal(err)
		}
		x0, y0, x1, y1 := at[0], at[1], at[2], at[3]
		move := func(typ input.DispatchMouseEventType, x, y float64, buttons int64) input.DispatchMouseEventParams {
			return input.DispatchMouseEventParams{Type: typ, X: x, Y: y, Button: input.MouseButtonLeft, Buttons: buttons, ClickCount: 1}
		}
		events := []input.DispatchMouseEventParams{move(input.DispatchMouseEventTypeMousePressed, x0, y0, 1)}
		for i := 1; i <= 5; i++ {
			f := float64(i) / 5
			events = append(events, move(input.DispatchMouseEventTypeMouseMoved, x0+(x1-x0)*f, y0+(y1-y0)*f, 1))
		}
		events = append(events, move(input.DispatchMouseEventTypeMouseReleased, x1, y1, 0))
		for _, ev := range events {
			if _, err := chromedp.Call(ctx, input.DispatchMouseEvent, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	dragTo(`[data-widget="cpuusedvsallocated-1"] .widget-head`, 2, 5)
	dragTo(`[data-widget="vmlist-1"] .resize`, 9, 1)
	want := "cpuusedvsallocated-1@2,5,6,4 vmlist-1@6,0,4,2"
	if got := cells(); got != want {
		t.Fatalf("after dragging: %s, want %s", got, want)
	}
	// Onto the list: refused, nothing moves.
	dragTo(`[data-widget="cpuusedvsallocated-1"] .widget-head`, 7, 0)
	if got := cells(); got != want {
		t.Errorf("a move onto another widget: %s, want it refused (%s)", got, want)
	}
	if msg, _ := text(browser, `document.getElementById("error").innerText`); !strings.Contains(msg, "taken") {
		t.Errorf("the refused move says %q", msg)
	}

	if _, err := text(browser, `(() => { document.getElementById("save").click(); return ""; })()`); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the dashboard saved", func(context.Context) (bool, error) {
		got, err := text(browser, `document.getElementById("save-state").innerText`)
		if strings.HasPrefix(got, "not saved") {
			return false, fmt.Errorf("%s", got)
		}
		return got == "saved", err
	})
	d, err := env.HyperSDK.HypersdkV1alpha1().Dashboards(ns).Get(ctx, "mine", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the saved dashboard: %v", err)
	}
	var stored []string
	for _, w := range d.Spec.Widgets {
		stored = append(stored, fmt.Sprintf("%s@%d,%d,%d,%d", w.Name, w.Column, w.Row, w.Width, w.Height))
	}
	if got := strings.Join(stored, " "); got != want {
		t.Errorf("the Dashboard object's widgets: %s, want %s", got, want)
	}
	if w := d.Spec.Widgets[0]; w.Type != v1alpha1.DashboardChart || w.Chart != "CPUUsedVsAllocated" {
		t.Errorf("the first widget: %s %s, want the CPU chart", w.Type, w.Chart)
	}
	screenshot(t, browser, "dashboard-editor.png")

	open()
	if got := cells(); got != want {
		t.Errorf("after a reload: %s, want %s", got, want)
	}
	// A second save updates the object (its resourceVersion moves on).
	dragTo(`[data-widget="vmlist-1"] .widget-head`, 0, 0)
	if _, err := text(browser, `(() => { document.getElementById("save").click(); return ""; })()`); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the move saved as an update", func(ctx context.Context) (bool, error) {
		again, err := env.HyperSDK.HypersdkV1alpha1().Dashboards(ns).Get(ctx, "mine", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, w := range again.Spec.Widgets {
			if w.Name == "vmlist-1" {
				return w.Column == 0 && w.Row == 0 && again.ResourceVersion != d.ResourceVersion, nil
			}
		}
		return false, fmt.Errorf("vmlist-1 gone from %+v", again.Spec.Widgets)
	})
}

// TestDashboardVMListWidgetInBrowser: a saved dashboard's VMList widget
// lists only the VMs of its namespace that its vmSelector selects, not
// every VM the user may list.
func TestDashboardVMListWidgetInBrowser(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns, other := env.Namespace(t, "dash-vmlist"), env.Namespace(t, "dash-vmlist-other")
	for _, vm := range []struct {
		ns, name string
		labels   map[string]string
	}{{ns, "db", map[string]string{"tier": "db"}}, {ns, "web", nil}, {other, "db", map[string]string{"tier": "db"}}} {
		halted := kubevirtVM(vm.name, 1, "1Gi", vm.labels)
		halted.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
		createKubeVirtVM(t, vm.ns, halted)
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().Dashboards(ns).Create(ctx, &v1alpha1.Dashboard{
		ObjectMeta: metav1.ObjectMeta{Name: "dbs"},
		Spec: v1alpha1.DashboardSpec{Widgets: []v1alpha1.DashboardWidget{{Name: "dbs", Type: v1alpha1.DashboardVMList,
			Namespace: ns, VMSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"db", "cache"}}}},
			Width: 12, Height: 6}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	browser, base, _ := browseDashboard(t, ns)
	if err := chromedp.Do(browser, chromedp.Navigate(base+"/dashboard.html?"+url.Values{"namespace": {ns}, "name": {"dbs"}}.Encode())); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the widget lists only "+ns+"/db", func(context.Context) (bool, error) {
		got, err := text(browser, `(() => { const d = document.querySelector('[data-widget="dbs"] iframe')?.contentDocument;
			if (!d || d.getElementById("watch-state")?.innerText !== "(live)") return "(loading)";
			return [...d.querySelectorAll("#vms tr[data-vm]")].map(r => r.dataset.vm).join(" "); })()`)
		if err != nil || got == "(loading)" {
			return false, err
		}
		if got != ns+"/db" {
			return false, fmt.Errorf("the widget lists %q", got)
		}
		return true, nil
	})
}

// TestDashboardSaysWhyItHasNoClusters: with a clusters file it cannot read,
// the dashboard's page says why (the file and the YAML error) instead of
// staying empty.
func TestDashboardSaysWhyItHasNoClusters(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, "dash-broken")
	kubeconfig, clusters, _ := dashboardKubeconfig(t, ns)
	if err := os.WriteFile(clusters, []byte("contexts: {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start, _, _ := startDashboard(t, ctx, kubeconfig, clusters)
	browser := framework.NewBrowser(t)
	if err := chromedp.Do(browser, chromedp.Navigate(start)); err != nil {
		t.Fatal(err)
	}
	var shown string
	framework.Eventually(t, "the page saying why it shows no cluster", func(context.Context) (bool, error) {
		var err error
		shown, err = text(browser, `document.getElementById("clusters-error").textContent`)
		return err == nil && strings.Contains(shown, "clusters file "+clusters), err
	})
	if !strings.Contains(shown, "yaml") {
		t.Errorf("the page says %q, want the YAML error too", shown)
	}
}

// TestDashboardChartsWithThePrimaryDown: on the charts of every cluster, a
// primary cluster that does not answer is left out and named, as any other
// is: the other clusters' history (and the window it gives) is still
// drawn, for the charts from clusterhistories and from operations alike.
func TestDashboardChartsWithThePrimaryDown(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, "dash-primary-down")
	kubeconfig, clusters, _ := dashboardKubeconfig(t, ns)
	hyperWith(t, ctx, kubeconfig, "clusters", "add", "down", "--clusters-file", clusters) // beside the current context
	hyperWith(t, ctx, kubeconfig, "clusters", "use", "down", "--clusters-file", clusters)
	start, base, _ := startDashboard(t, ctx, kubeconfig, clusters)
	browser := framework.NewBrowser(t)
	if err := chromedp.Do(browser, chromedp.Navigate(start)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(browser, chromedp.Navigate(base+"/charts.html?"+url.Values{"cluster": {"*"}, "timeRange": {"1h"}}.Encode())); err != nil {
		t.Fatal(err)
	}
	for _, chart := range []string{"CPUUsedVsAllocated", "Operations"} {
		framework.Eventually(t, chart+" drawn without the primary", func(context.Context) (bool, error) {
			got, err := text(browser, fmt.Sprintf(`(() => { const f = document.querySelector('figure[data-chart="%s"]');
				return f ? f.dataset.state + " " + [...f.querySelectorAll("p.error")].map(p => p.textContent).join(" | ") : ""; })()`, chart))
			if err != nil || strings.HasPrefix(got, "error") {
				return false, fmt.Errorf("%s: %q (%v)", chart, got, err)
			}
			return strings.HasPrefix(got, "drawn ") && strings.Contains(got, "down: "), nil
		})
	}
}
