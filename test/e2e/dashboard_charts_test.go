package e2e

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/placementrecord"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/test/framework"
)

// chartsDrawnFromHistory are the charts of the page that are history
// series, and the history fields each draws (VM charts from the VM's
// history, the others from clusterhistories/cluster).
var chartsDrawnFromHistory = []struct {
	chart  string
	vm     bool
	fields []string
}{
	{"VMsByPhase", false, []string{"vms", "vmsRunning", "vmsStopped", "vmsOther"}},
	{"CPUUsedVsAllocated", false, []string{"cpuUsage", "cpuAllocated"}},
	{"MemoryUsedVsAllocated", false, []string{"memoryUsage", "memoryAllocated"}},
	{"CarbonIntensity", false, []string{"carbonIntensity"}},
	{"ClusterCarbon", false, []string{"carbonEmissions"}},
	{"Cost", false, []string{"costPerHour", "costMonthToDate"}},
	{"VMResources", true, []string{"cpuUsage", "memoryUsage", "carbonIntensity"}},
}

// TestDashboardChartsInBrowser: for a fixed window, every chart of the
// charts page holds exactly the numbers the API gives for it (history
// series point by point; operations counted by type and outcome, and
// migrations by the step they ended in, from the API's list), draws one
// line per series with a vertex per point (or a bar per count), and
// exports a PNG of its drawing.
func TestDashboardChartsInBrowser(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "dash-charts")
	// The window starts before the test's VM, so the cluster charts have
	// the sandbox's history to show as well.
	start := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Minute)
	createKubeVirtVM(t, ns, kubevirtVM("charted", 1, "1Gi", nil))
	from := runningVMI(t, ns, "charted", "").Status.NodeName
	code, op, err := post(t, env.HyperSDK, ns, "charted", "migrate", map[string]interface{}{"targetNode": otherNode(t, from)}, false)
	if code != http.StatusCreated {
		t.Fatalf("migrate: %d %v", code, err)
	}
	follow(t, op, v1alpha1.VMOperationSucceeded)
	// The window ends on its grid of 30 s steps after the migration ended,
	// so that both operation charts count it.
	const step = 30 * time.Second
	end := start.Add(time.Duration(math.Ceil(float64(time.Since(start))/float64(step))) * step)
	window := url.Values{"start": {start.Format(time.RFC3339)}, "end": {end.Format(time.RFC3339)}, "step": {step.String()}}
	framework.Eventually(t, "the window to end", func(context.Context) (bool, error) {
		return time.Now().After(end), nil
	})

	browser, base, admin := browseDashboard(t, ns)
	q := url.Values{"cluster": {admin}, "vm": {ns + "/charted"}}
	for k, v := range window {
		q[k] = v
	}
	page := base + "/charts.html?" + q.Encode()

	names := []string{"VMsByPhase", "CPUUsedVsAllocated", "MemoryUsedVsAllocated", "CarbonIntensity", "ClusterCarbon",
		"Cost", "Operations", "Migrations", "NodeUtilization", "TopVMs", "PlacementsByZone", "VMResources"}
	var lastErr string
	framework.Eventually(t, "every chart to show the API's numbers", func(ctx context.Context) (ok bool, err error) {
		defer func() {
			// Each way a round falls short, once, for the failure's story.
			if err != nil && err.Error() != lastErr {
				lastErr = err.Error()
				t.Logf("not yet: %v", err)
			}
		}()
		if err := chromedp.Do(browser, chromedp.Navigate(page)); err != nil {
			return false, err
		}
		if loaded, err := waitText(browser, `document.body.dataset.charts || ""`, "loaded"); !loaded {
			return false, fmt.Errorf("the page did not load its charts: %v", err)
		}
		drawn, err := text(browser, `[...document.querySelectorAll("figure")].map(f => f.dataset.chart + "=" + f.dataset.state + (f.querySelector(".error")?.innerText ?? "")).join(" ")`)
		if err != nil {
			return false, err
		}
		for _, name := range names {
			if !strings.Contains(" "+drawn+" ", " "+name+"=drawn ") {
				return false, fmt.Errorf("charts: %s; want %s drawn", drawn, name)
			}
		}
		for _, c := range chartsDrawnFromHistory {
			path := "/apis/hypersdk.io/v1alpha1/clusterhistories/cluster"
			if c.vm {
				path = "/apis/hypersdk.io/v1alpha1/namespaces/" + ns + "/virtualmachines/charted/history"
			}
			want, err := historyRows(t, path, window, c.fields)
			if err != nil {
				return false, err
			}
			// An empty series would match an empty chart; the window holds
			// the test's running VM, whose zone has an intensity.
			if len(want) < 2 || (c.chart == "ClusterCarbon" && !slices.ContainsFunc(want[1:], func(r []string) bool { return r[1] != "0" })) {
				t.Fatalf("%s: the API's series for the window are %v; want points, and emissions above zero", c.chart, want)
			}
			if err := chartMatches(browser, c.chart, want); err != nil {
				return false, err
			}
			if c.chart == "VMResources" {
				if err := ownScales(browser, c.chart, want); err != nil {
					return false, err
				}
			}
		}
		opsWant, migWant, err := operationRows(ctx, t, window)
		if err != nil {
			return false, err
		}
		if err := chartMatches(browser, "Operations", opsWant); err != nil {
			return false, err
		}
		if err := chartMatches(browser, "Migrations", migWant); err != nil {
			return false, err
		}
		nodesWant, topWant, zonesWant, err := nowRows(ctx, t, ns, window)
		if err != nil {
			return false, err
		}
		if err := chartMatches(browser, "PlacementsByZone", zonesWant); err != nil {
			return false, err
		}
		// Usage now moves with the sandbox's simulated clock between the
		// page's read and the test's (seen: 0.6 points of a node's CPU, 0.03
		// cores of a VM's): those columns match within a bound, the rest
		// exactly.
		if err := chartMatches(browser, "NodeUtilization", nodesWant, 2, 2); err != nil {
			return false, err
		}
		return true, chartMatches(browser, "TopVMs", topWant, 0, 0, 0.1)
	})

	// The month to date grows over the window by what the rate adds up to
	// (the API integrates minute by minute, so it may lag the window's 30 s
	// points by up to a minute of the rate). Across the first of a month it
	// starts again, so there the difference means nothing.
	if costs, err := historyRows(t, "/apis/hypersdk.io/v1alpha1/clusterhistories/cluster", window, []string{"costPerHour", "costMonthToDate"}); err != nil {
		t.Error(err)
	} else if len(costs) > 2 && start.Month() == end.Month() {
		var rate, highest float64
		for _, r := range costs[2:] {
			v, _ := strconv.ParseFloat(r[1], 64)
			rate, highest = rate+v*step.Hours(), max(highest, v)
		}
		first, _ := strconv.ParseFloat(costs[1][2], 64)
		last, _ := strconv.ParseFloat(costs[len(costs)-1][2], 64)
		if grew := last - first; rate <= 0 || math.Abs(grew-rate) > 0.05*rate+highest/60 {
			t.Errorf("costMonthToDate grew by %v over the window; its costPerHour adds up to %v", grew, rate)
		}
	}

	// This test's migration is in both operation charts, its VM in the
	// top VMs, its placements among the zones.
	for chart, want := range map[string]string{"Operations": "Migrate Succeeded,", "TopVMs": "\ncharted,",
		"PlacementsByZone": "-a,"} {
		if got, _ := text(browser, fmt.Sprintf("chartCSV(%q)", chart)); !strings.Contains(got, want) {
			t.Errorf("%s chart lacks this test's migration (%q):\n%s", chart, want, got)
		}
	}
	// A name with a comma or a quote (a kubeconfig context's may have
	// them) is one CSV cell.
	if got, err := text(browser, `csvOf({bars: [['ctx "a", b', 1]]})`); err != nil || got != "label,value\n\"ctx \"\"a\"\", b\",1\n" {
		t.Errorf("CSV of a name with a comma and quotes: %q %v", got, err)
	}
	// The migration counts are the cluster's: a parallel test's migration
	// may share this one's 30 s point (seen: 2).
	got, _ := text(browser, `chartCSV("Migrations")`)
	rows, _ := csv.NewReader(strings.NewReader(got)).ReadAll()
	if !slices.ContainsFunc(rows, func(r []string) bool {
		if len(r) < 2 {
			return false
		}
		n, err := strconv.Atoi(r[1])
		return err == nil && n >= 1
	}) {
		t.Errorf("the Migrations chart counts no succeeded migration, want this test's:\n%s", got)
	}
	pngCtx, cancel := context.WithTimeout(browser, 20*time.Second)
	defer cancel()
	shot, err := chromedp.Run(pngCtx, chromedp.Evaluate[string](`chartPNG("Cost")`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(shot, "data:image/png;base64,"))
	if err != nil {
		t.Fatalf("chartPNG: %v", err)
	}
	if img, err := png.Decode(strings.NewReader(string(raw))); err != nil || img.Bounds().Dx() != 560 || img.Bounds().Dy() != 220 {
		t.Errorf("the Cost chart's PNG export: %v (%v), want a 560x220 PNG", err, img)
	}
	screenshot(t, browser, "dashboard-charts.png")

	// A window that ends now: the carbon chart adds each grid zone's
	// intensity now and its mean forecasts over 1h, 6h and 24h, as
	// external.metrics.k8s.io gives them.
	zones := gridZones(t)
	if len(zones) < 2 {
		t.Fatalf("grid zones of the nodes: %v, want the sandbox's several", zones)
	}
	forecastPage := base + "/charts.html?" + url.Values{"cluster": {admin}, "chart": {"CarbonIntensity"}, "timeRange": {"24h"}}.Encode()
	horizons := []string{"", ",horizon=1h", ",horizon=6h", ",horizon=24h"}
	framework.Eventually(t, "each zone's intensity now and forecast in the carbon chart", func(ctx context.Context) (bool, error) {
		// The sandbox replays an hour of carbon data a second: the values
		// the API gives while the page loads are the ones it may show.
		// They are read over and over until the chart is read, so the
		// instant the page read them is among them on a slow machine too.
		type csvResult struct {
			out string
			err error
		}
		done := make(chan csvResult, 1)
		go func() {
			if err := chromedp.Do(browser, chromedp.Navigate(forecastPage)); err != nil {
				done <- csvResult{err: err}
				return
			}
			if loaded, err := waitText(browser, `document.body.dataset.charts || ""`, "loaded"); !loaded {
				done <- csvResult{err: fmt.Errorf("the page did not load its charts: %v", err)}
				return
			}
			out, err := text(browser, `chartCSV("CarbonIntensity")`)
			done <- csvResult{out, err}
		}()
		seen := map[string][]float64{} // zone and horizon -> values the API gave
		sample := func() error {
			for _, zone := range zones {
				for _, horizon := range horizons {
					v, err := externalCarbonIntensity(t, "zone="+zone+horizon)
					if err != nil {
						return err
					}
					if key := zone + horizon; !slices.Contains(seen[key], v) {
						seen[key] = append(seen[key], v)
					}
				}
			}
			return nil
		}
		var page csvResult
		for read := false; !read; {
			if err := sample(); err != nil {
				<-done
				return false, err
			}
			select {
			case page = <-done:
				read = true
			case <-time.After(50 * time.Millisecond): // leave the machine to the page
			}
		}
		if err := sample(); err != nil {
			return false, err
		}
		if page.err != nil {
			return false, page.err
		}
		rows, err := csv.NewReader(strings.NewReader(page.out)).ReadAll()
		if err != nil || len(rows) < 2 {
			return false, fmt.Errorf("carbon chart CSV %q: %v", page.out, err)
		}
		for _, zone := range zones {
			col := slices.Index(rows[0], zone+" forecast")
			if col < 0 {
				return false, fmt.Errorf("no column for zone %s in %v", zone, rows[0])
			}
			var got []float64
			for _, r := range rows[1:] {
				if r[col] != "" {
					v, err := strconv.ParseFloat(r[col], 64)
					if err != nil {
						return false, err
					}
					got = append(got, v)
				}
			}
			if len(got) != len(horizons) {
				return false, fmt.Errorf("zone %s: %v in the chart, want now and %d horizons", zone, got, len(horizons)-1)
			}
			for i, horizon := range horizons {
				if !slices.ContainsFunc(seen[zone+horizon], func(want float64) bool {
					return math.Abs(got[i]-want) <= 1e-9*math.Max(1, math.Abs(want))
				}) {
					return false, fmt.Errorf("zone %s%s: %v in the chart, the API gave %v meanwhile", zone, horizon, got[i], seen[zone+horizon])
				}
			}
		}
		return true, nil
	})

	// A node in a zone the carbon source does not know: its forecasts are
	// named as missing, and the other zones' are drawn all the same.
	typ := fleet.General[0]
	addNode(t, fleet.Node{Name: "dash-unknown-zone", Zone: "ZZ-E2E", Type: typ, Price: typ.Price}, func(n *corev1.Node) {
		// No VM of another test lands on it meanwhile.
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "hypersdk.io/e2e-dashboard", Effect: corev1.TaintEffectNoSchedule})
	})
	framework.Eventually(t, "the carbon chart drawn without the unknown zone's forecasts, which it names", func(ctx context.Context) (bool, error) {
		if err := chromedp.Do(browser, chromedp.Navigate(forecastPage)); err != nil {
			return false, err
		}
		if loaded, err := waitText(browser, `document.body.dataset.charts || ""`, "loaded"); !loaded {
			return false, fmt.Errorf("the page did not load its charts: %v", err)
		}
		state, err := text(browser, `document.querySelector('figure[data-chart="CarbonIntensity"]').dataset.state`)
		if err != nil {
			return false, err
		}
		notes, err := text(browser, `[...document.querySelectorAll('figure[data-chart="CarbonIntensity"] p.error')].map((p) => p.textContent).join("\n")`)
		if err != nil {
			return false, err
		}
		if state != "drawn" || !strings.Contains(notes, "ZZ-E2E now:") || !strings.Contains(notes, "ZZ-E2E 24h:") {
			return false, fmt.Errorf("carbon chart %s, notes %q: want it drawn, naming zone ZZ-E2E's missing forecasts", state, notes)
		}
		out, err := text(browser, `chartCSV("CarbonIntensity")`)
		if err != nil {
			return false, err
		}
		header, _, _ := strings.Cut(out, "\n")
		for _, zone := range zones {
			if !strings.Contains(header, zone+" forecast") {
				return false, fmt.Errorf("carbon chart columns %q, want zone %s's forecast still", header, zone)
			}
		}
		if strings.Contains(header, "ZZ-E2E") {
			return false, fmt.Errorf("carbon chart columns %q: a column for the zone with no forecast", header)
		}
		return true, nil
	})
}

// gridZones are the carbon zones of the cluster's nodes, as pkg/carbon
// reads them.
func gridZones(t *testing.T) []string {
	t.Helper()
	nodes, err := env.Kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range nodes.Items {
		if z, ok := carbon.ZoneOf(n.Labels, n.Annotations); ok {
			seen[z] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// externalCarbonIntensity is external.metrics.k8s.io's carbon_intensity for
// a label selector.
func externalCarbonIntensity(t *testing.T, selector string) (float64, error) {
	code, _, body := getRaw(t, env.Admin, "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/carbon_intensity?labelSelector="+url.QueryEscape(selector), nil)
	if code != http.StatusOK {
		return 0, fmt.Errorf("carbon_intensity %s: %d %s", selector, code, body)
	}
	var list externalmetricsv1beta1.ExternalMetricValueList
	if err := json.Unmarshal(body, &list); err != nil || len(list.Items) != 1 {
		return 0, fmt.Errorf("carbon_intensity %s: %s (%v)", selector, body, err)
	}
	return list.Items[0].Value.AsApproximateFloat64(), nil
}

// waitText polls a JavaScript expression until it gives want (20 s).
func waitText(browser context.Context, expr, want string) (bool, error) {
	var err error
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		var got string
		if got, err = text(browser, expr); err == nil && got == want {
			return true, nil
		}
	}
	return false, err
}

// historyRows is the CSV a history chart should export: the API's points
// for the window, a column per field.
func historyRows(t *testing.T, path string, window url.Values, fields []string) ([][]string, error) {
	return historyRowsOf(t, env.Admin, path, window, fields)
}

// historyRowsOf is historyRows from the cluster cfg reaches.
func historyRowsOf(t *testing.T, cfg *rest.Config, path string, window url.Values, fields []string) ([][]string, error) {
	q := url.Values{"fields": {strings.Join(fields, ",")}}
	for k, v := range window {
		q[k] = v
	}
	code, _, body := getRaw(t, cfg, path+"?"+q.Encode(), nil)
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	var h v1alpha1.ClusterHistory // the VM's answer has the same shape
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, err
	}
	// A row per time any series has a point at, empty where one has none
	// (a recorded series leaves out times without samples; a derived one
	// does not).
	byTime := map[time.Time][]string{}
	for j, s := range h.Series {
		for _, p := range s.Points {
			row, ok := byTime[p.Time.Time]
			if !ok {
				row = make([]string, len(h.Series))
				byTime[p.Time.Time] = row
			}
			row[j] = strconv.FormatFloat(p.Value, 'g', -1, 64)
		}
	}
	rows := [][]string{append([]string{"time"}, fields...)}
	for _, at := range slices.SortedFunc(maps.Keys(byTime), func(a, b time.Time) int { return a.Compare(b) }) {
		rows = append(rows, append([]string{jsTime(at)}, byTime[at]...))
	}
	return rows, nil
}

// operationRows are the CSVs the operation charts should export, counted
// here from the API's list of every VMOperation: by type and outcome for
// those created in the window, and migrations by the step they ended in.
func operationRows(ctx context.Context, t *testing.T, window url.Values) (byOutcome, migrations [][]string, err error) {
	code, _, body := getRaw(t, env.Admin, "/apis/hypersdk.io/v1alpha1/clusterhistories/cluster?fields=vms&"+window.Encode(), nil)
	if code != http.StatusOK {
		return nil, nil, fmt.Errorf("clusterhistories: %d %s", code, body)
	}
	var h v1alpha1.ClusterHistory
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, nil, err
	}
	start, end, step := h.Window.Start.Time, h.Window.End.Time, h.Window.Step.Duration
	ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	counts := map[string]int{}
	n := int(end.Sub(start)/step) + 1
	ended := map[v1alpha1.VMOperationPhase][]int{}
	phases := []v1alpha1.VMOperationPhase{v1alpha1.VMOperationSucceeded, v1alpha1.VMOperationFailed, v1alpha1.VMOperationCancelled}
	for _, p := range phases {
		ended[p] = make([]int, n)
	}
	for _, op := range ops.Items {
		if c := op.CreationTimestamp.Time; !c.Before(start) && !c.After(end) {
			phase := string(op.Status.Phase)
			if phase == "" {
				phase = "Pending"
			}
			counts[string(op.Spec.Type)+" "+phase]++
		}
		if op.Spec.Type == v1alpha1.VMOperationMigrate && op.Status.CompletionTime != nil && ended[op.Status.Phase] != nil {
			i := int(math.Ceil(float64(op.Status.CompletionTime.Sub(start)) / float64(step)))
			if i >= 0 && i < n {
				ended[op.Status.Phase][i]++
			}
		}
	}
	byOutcome = [][]string{{"label", "value"}}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		byOutcome = append(byOutcome, []string{k, strconv.Itoa(counts[k])})
	}
	migrations = [][]string{{"time", "Succeeded", "Failed", "Cancelled"}}
	for i := range n {
		row := []string{jsTime(start.Add(time.Duration(i) * step))}
		for _, p := range phases {
			row = append(row, strconv.Itoa(ended[p][i]))
		}
		migrations = append(migrations, row)
	}
	return byOutcome, migrations, nil
}

// chartMatches compares a chart's CSV export with want (numbers as
// numbers) and checks its drawing: a line per series with a vertex per
// row, or a bar per row.
//
// slack, when given, is the absolute difference allowed in each value
// column (0: exact).
func chartMatches(browser context.Context, chart string, want [][]string, slack ...float64) error {
	out, err := text(browser, fmt.Sprintf("chartCSV(%q)", chart))
	if err != nil {
		return err
	}
	got, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: CSV export: %w", chart, err)
	}
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d CSV rows, the API gives %d:\n%s", chart, len(got), len(want), out)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			return fmt.Errorf("%s row %d: %v, want %v", chart, i, got[i], want[i])
		}
		for j := range want[i] {
			g, errG := strconv.ParseFloat(got[i][j], 64)
			w, errW := strconv.ParseFloat(want[i][j], 64)
			// Shares and sums are computed in the page: equal to a part in 10^9.
			bound := 1e-9 * math.Max(1, math.Abs(w))
			if j > 0 && j <= len(slack) {
				bound = max(bound, slack[j-1])
			}
			if (errG == nil && errW == nil && math.Abs(g-w) > bound) ||
				((errG != nil || errW != nil) && got[i][j] != want[i][j]) {
				return fmt.Errorf("%s row %d: %v, the API gives %v", chart, i, got[i], want[i])
			}
		}
	}
	shape, err := text(browser, fmt.Sprintf(`(() => { const f = document.querySelector('figure[data-chart="%s"]');
		const lines = [...f.querySelectorAll("path[data-series]")].map(p => p.dataset.series + ":" + p.dataset.points);
		if (lines.length) return lines.join(" ");
		const cells = f.querySelectorAll("rect[data-cell]").length;
		return cells ? "cells:" + cells : "bars:" + f.querySelectorAll("rect[data-bar]").length; })()`, chart))
	if err != nil {
		return err
	}
	var wantShape []string
	if want[0][0] == "time" {
		// A line per series through the rows it has a value in.
		for j, s := range want[0][1:] {
			n := 0
			for _, row := range want[1:] {
				if row[j+1] != "" {
					n++
				}
			}
			wantShape = append(wantShape, fmt.Sprintf("%s:%d", s, n))
		}
	} else if want[0][0] == "label" {
		wantShape = []string{fmt.Sprintf("bars:%d", len(want)-1)}
	} else {
		wantShape = []string{fmt.Sprintf("cells:%d", (len(want)-1)*(len(want[0])-1))}
	}
	if shape != strings.Join(wantShape, " ") {
		return fmt.Errorf("%s drawn as %q, want %q", chart, shape, strings.Join(wantShape, " "))
	}
	return nil
}

// ownScales checks that every series of chart above zero reaches the top
// of the plot (charts.js's T, 10): a chart of several units scales each
// series to itself, so none is flattened onto zero by another's larger
// numbers (a VM's memory in bytes against its CPU in cores).
func ownScales(browser context.Context, chart string, want [][]string) error {
	tops, err := text(browser, fmt.Sprintf(`(() => { const f = document.querySelector('figure[data-chart="%s"]');
		return [...f.querySelectorAll("path[data-series]")].map(p => p.dataset.series + ":" +
			Math.min(...[...p.getAttribute("d").matchAll(/[ML][-\d.]+,([-\d.]+)/g)].map(m => +m[1]))).join(" "); })()`, chart))
	if err != nil {
		return err
	}
	var wantTops []string
	for j, field := range want[0][1:] {
		highest := 0.0
		for _, row := range want[1:] {
			if v, err := strconv.ParseFloat(row[j+1], 64); err == nil {
				highest = max(highest, v)
			}
		}
		if highest > 0 {
			wantTops = append(wantTops, field+":10")
		}
	}
	for _, w := range wantTops {
		if !strings.Contains(" "+tops+" ", " "+w+" ") {
			return fmt.Errorf("%s: highest vertex of each series %q, want %s at the top of the plot", chart, tops, w)
		}
	}
	return nil
}

// jsTime is a time as JavaScript's toISOString writes it.
func jsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// nowRows are the CSVs of the charts of the present: each node's usage as
// a share of its allocatable CPU and memory; the namespace's VMs by cost
// with their emissions and CPU; the placement decisions on the launcher
// pods that exist, made in the window, by zone.
func nowRows(ctx context.Context, t *testing.T, ns string, window url.Values) (nodeRows, topRows, zoneRows [][]string, err error) {
	nodes, err := env.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	mc, err := metricsclient.NewForConfig(env.Admin)
	if err != nil {
		return nil, nil, nil, err
	}
	usage, err := mc.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	used := map[string]corev1.ResourceList{}
	for _, m := range usage.Items {
		used[m.Name] = m.Usage
	}
	share := func(u, of float64) float64 { return math.Round(10000*u/of) / 100 }
	nodeRows = [][]string{{"node", "cpuPercent", "memoryPercent"}}
	slices.SortFunc(nodes.Items, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	zoneOf := map[string]string{}
	for _, n := range nodes.Items {
		zoneOf[n.Name] = n.Labels["topology.kubernetes.io/zone"]
		u, read := used[n.Name]
		if !read { // not read by metrics-server yet: unknown, an empty cell
			nodeRows = append(nodeRows, []string{n.Name, "", ""})
			continue
		}
		nodeRows = append(nodeRows, []string{n.Name,
			fmt.Sprint(share(u.Cpu().AsApproximateFloat64(), n.Status.Allocatable.Cpu().AsApproximateFloat64())),
			fmt.Sprint(share(u.Memory().AsApproximateFloat64(), n.Status.Allocatable.Memory().AsApproximateFloat64()))})
	}

	code, _, body := getRaw(t, env.Admin, "/apis/hypersdk.io/v1alpha1/namespaces/"+ns+"/costreports/current", nil)
	if code != http.StatusOK {
		return nil, nil, nil, fmt.Errorf("costreports: %d %s", code, body)
	}
	var report v1alpha1.CostReport
	if err := json.Unmarshal(body, &report); err != nil {
		return nil, nil, nil, err
	}
	podUsage, err := mc.MetricsV1beta1().PodMetricses(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubevirt.io=virt-launcher"})
	if err != nil {
		return nil, nil, nil, err
	}
	cpu := map[string]float64{}
	for _, pm := range podUsage.Items {
		for _, c := range pm.Containers {
			cpu[pm.Labels["vm.kubevirt.io/name"]] += c.Usage.Cpu().AsApproximateFloat64()
		}
	}
	entries := report.VirtualMachines
	slices.SortFunc(entries, func(a, b v1alpha1.VirtualMachineCostEntry) int {
		if c := -cmp.Compare(a.Amounts.CostPerHour, b.Amounts.CostPerHour); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	topRows = [][]string{{"vm", "costPerHour", "carbonGramsPerHour", "cpuCores"}}
	for _, e := range entries[:min(10, len(entries))] {
		cores, read := cpu[e.Name]
		cell := fmt.Sprint(cores) // a VM on no node uses none
		if !read && e.Node != "" {
			cell = "" // running, its launcher pod not read yet: unknown
		}
		topRows = append(topRows, []string{e.Name, fmt.Sprint(e.Amounts.CostPerHour), orEmpty(e.Amounts.CarbonGramsPerHour), cell})
	}

	start, err := time.Parse(time.RFC3339, window.Get("start"))
	if err != nil {
		return nil, nil, nil, err
	}
	end, err := time.Parse(time.RFC3339, window.Get("end"))
	if err != nil {
		return nil, nil, nil, err
	}
	pods, err := env.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "kubevirt.io=virt-launcher"})
	if err != nil {
		return nil, nil, nil, err
	}
	zones := map[string]int{}
	for _, pod := range pods.Items {
		d, ok, err := placementrecord.Decode(pod.Annotations)
		if err != nil || !ok || d.Time.Time.Before(start) || d.Time.Time.After(end) {
			continue
		}
		zone, known := zoneOf[d.Node]
		switch {
		case !known:
			zone = "(node gone)"
		case zone == "":
			zone = "(no zone)"
		}
		zones[zone]++
	}
	zoneRows = [][]string{{"label", "value"}}
	for _, z := range slices.Sorted(maps.Keys(zones)) {
		zoneRows = append(zoneRows, []string{z, strconv.Itoa(zones[z])})
	}
	return nodeRows, topRows, zoneRows, nil
}

// orEmpty prints an optional figure as the dashboard's CSV does: empty when
// the server does not know it.
func orEmpty(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(*v)
}
