package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/test/framework"
)

// historyPath is the history of a VM through kube-apiserver.
func historyPath(ns, vm string, q url.Values) string {
	return "/apis/hypersdk.io/v1alpha1/namespaces/" + ns + "/virtualmachines/" + vm + "/history?" + q.Encode()
}

// getRaw GETs path through kube-apiserver with cfg's identity and returns
// status, headers and body.
func getRaw(t *testing.T, cfg *rest.Config, path string, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, cfg.Host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func vmHistory(t *testing.T, ns, vm string, q url.Values) *v1alpha1.VirtualMachineHistory {
	t.Helper()
	code, _, body := getRaw(t, env.Admin, historyPath(ns, vm, q), nil)
	if code != http.StatusOK {
		t.Fatalf("history %v: %d %s", q, code, body)
	}
	h := &v1alpha1.VirtualMachineHistory{}
	if err := json.Unmarshal(body, h); err != nil {
		t.Fatalf("decoding history: %v: %s", err, body)
	}
	return h
}

func series(t *testing.T, h *v1alpha1.VirtualMachineHistory, field string) v1alpha1.HistorySeries {
	t.Helper()
	for _, s := range h.Series {
		if s.Field == field {
			return s
		}
	}
	t.Fatalf("no %s series in %+v", field, h.Series)
	return v1alpha1.HistorySeries{}
}

// metricsSampler polls the metrics API for one VM's pod, as a user would,
// keeping the range of what it saw.
type metricsSampler struct {
	mu                     sync.Mutex
	minCPU, maxCPU, sumCPU float64
	minMem, maxMem         float64
	n                      int
	start, end             time.Time
}

func sampleMetrics(ctx context.Context, t *testing.T, ns, vm string, d time.Duration) *metricsSampler {
	t.Helper()
	s := &metricsSampler{minCPU: math.Inf(1), maxCPU: math.Inf(-1), minMem: math.Inf(1), maxMem: math.Inf(-1), start: time.Now()}
	metrics := env.Kube.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", ns, "pods").
		Param("labelSelector", "vm.kubevirt.io/name="+vm)
	for time.Since(s.start) < d {
		raw, err := metrics.DoRaw(ctx)
		if err != nil {
			t.Fatalf("reading pod metrics: %v", err)
		}
		var list struct {
			Items []struct {
				Containers []struct {
					Usage map[string]string `json:"usage"`
				} `json:"containers"`
			} `json:"items"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) == 1 {
			cpuQ, memQ := resourceQuantity(list.Items[0].Containers[0].Usage["cpu"]), resourceQuantity(list.Items[0].Containers[0].Usage["memory"])
			cpu, mem := cpuQ.AsApproximateFloat64(), memQ.AsApproximateFloat64()
			s.minCPU, s.maxCPU, s.sumCPU = min(s.minCPU, cpu), max(s.maxCPU, cpu), s.sumCPU+cpu
			s.minMem, s.maxMem = min(s.minMem, mem), max(s.maxMem, mem)
			s.n++
		}
		time.Sleep(100 * time.Millisecond) // sampling pace, not a wait for a condition
	}
	s.end = time.Now()
	return s
}

// checkTrend recomputes a series' trend from its points.
func checkTrend(t *testing.T, s v1alpha1.HistorySeries) {
	t.Helper()
	if len(s.Points) == 0 {
		t.Fatalf("%s has no points", s.Field)
	}
	vals := make([]float64, len(s.Points))
	var sum float64
	for i, p := range s.Points {
		vals[i] = p.Value
		sum += p.Value
	}
	sort.Float64s(vals)
	p95 := vals[int(math.Ceil(0.95*float64(len(vals))))-1] // nearest rank
	want := v1alpha1.HistoryTrend{Avg: sum / float64(len(vals)), Min: vals[0], Max: vals[len(vals)-1], P95: p95, Count: int32(len(vals))}
	got := s.Trend
	if got.Count != want.Count || math.Abs(got.Avg-want.Avg) > 1e-9*max(1, math.Abs(want.Avg)) || got.Min != want.Min || got.Max != want.Max || got.P95 != want.P95 {
		t.Fatalf("%s trend %+v, want %+v", s.Field, got, want)
	}
}

// TestHistory records a VM with a steady load and reads its history through
// kube-apiserver: points agree with what the metrics API said, trends agree
// with the points, CSV carries the same numbers, the view role may read it,
// bad input is a 400 naming the parameter, and the cluster history counts
// the VM. It then runs the same reads against a real Prometheus scraping the
// recorder and gets the same answers as from SQLite.
func TestHistory(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "history")
	vm := kubevirtVM("steady", 2, "2Gi", nil)
	vm.Spec.Template.ObjectMeta.Annotations = map[string]string{"hypersdk.io/load-profile": "steady:0.5,mem=0.5"}
	createKubeVirtVM(t, ns, vm)
	runningVMI(t, ns, "steady", "")

	prom, err := framework.StartPrometheus(context.Background(), t, filepath.Join(t.TempDir(), "prometheus"),
		[]string{strings.TrimSuffix(strings.TrimPrefix(env.ControllerMetricsURL(), "http://"), "/metrics")}, time.Second)
	if err != nil {
		t.Fatal(err)
	}

	// Prometheus starts scraping a few seconds after it is ready (target
	// discovery is throttled): the window starts once it has.
	framework.Eventually(t, "Prometheus scraping the recorder", func(ctx context.Context) (bool, error) {
		resp, err := http.Get(prom.URL() + "/api/v1/query?query=hypersdk_cluster_vms")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return err == nil && strings.Contains(string(body), `"hypersdk_cluster_vms"`), err
	})
	step := framework.RecordInterval
	sampled := sampleMetrics(context.Background(), t, ns, "steady", 6*step)
	// Points inside the sampling window: each is one recorder tick, read
	// from the metrics API while the test was reading it too.
	start := sampled.start.Truncate(step).Add(step)
	end := sampled.end.Truncate(step)
	window := url.Values{"start": {start.UTC().Format(time.RFC3339)}, "end": {end.UTC().Format(time.RFC3339)}, "step": {step.String()}}
	framework.Eventually(t, "history covering the sampled window", func(context.Context) (bool, error) {
		h := vmHistory(t, ns, "steady", window)
		return len(series(t, h, "cpuUsage").Points) >= int(end.Sub(start)/step), nil
	})
	sqlite := vmHistory(t, ns, "steady", window)
	checkVMHistory(t, sqlite, sampled)

	t.Run("csv", func(t *testing.T) {
		q := url.Values{"format": {"csv"}}
		for k, v := range window {
			q[k] = v
		}
		code, header, body := getRaw(t, env.Admin, historyPath(ns, "steady", q), nil)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		wantName := fmt.Sprintf(`filename="vm-steady-history-%s.csv"`, time.Now().UTC().Format(time.DateOnly))
		if cd := header.Get("Content-Disposition"); !strings.Contains(cd, wantName) {
			t.Fatalf("Content-Disposition %q, want %s", cd, wantName)
		}
		checkCSV(t, body, sqlite)
		// Accept: text/csv does the same without the parameter.
		code, header, body2 := getRaw(t, env.Admin, historyPath(ns, "steady", window), http.Header{"Accept": {"text/csv"}})
		if code != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "text/csv") || !bytes.Equal(body, body2) {
			t.Fatalf("Accept: text/csv gave %d %s:\n%s\nwant\n%s", code, header.Get("Content-Type"), body2, body)
		}
	})

	t.Run("rbac", func(t *testing.T) {
		viewer := rest.AnonymousClientConfig(env.Admin)
		viewer.BearerToken = env.ServiceAccountToken(t, ns, "viewer", "view")
		if code, _, body := getRaw(t, viewer, historyPath(ns, "steady", window), nil); code != http.StatusOK {
			t.Fatalf("view role reading history: %d %s", code, body)
		}
		stranger := rest.AnonymousClientConfig(env.Admin)
		stranger.BearerToken = env.ServiceAccountToken(t, ns, "stranger", "")
		if code, _, _ := getRaw(t, stranger, historyPath(ns, "steady", window), nil); code != http.StatusForbidden {
			t.Fatalf("unbound ServiceAccount reading history: %d, want 403", code)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		now := time.Now().UTC()
		for _, tc := range []struct {
			q     url.Values
			field string
		}{
			{url.Values{"timeRange": {"2h"}}, "timeRange"},
			{url.Values{"start": {now.Add(-40 * 24 * time.Hour).Format(time.RFC3339)}}, "start"},
			{url.Values{"start": {now.Add(-33 * 24 * time.Hour).Format(time.RFC3339)}, "step": {"1h"}}, "start"},
			{url.Values{"start": {now.Format(time.RFC3339)}, "end": {now.Add(-time.Hour).Format(time.RFC3339)}}, "end"},
			{url.Values{"timeRange": {"30d"}, "step": {"1s"}}, "step"},
			{url.Values{"timeRange": {"1h"}, "step": {"1500ms"}}, "step"},
			{url.Values{"start": {now.Format(time.RFC3339)}, "end": {"9999-12-31T00:00:00Z"}, "step": {"1000000h"}}, "end"},
			{url.Values{"fields": {"cpuUsage,bogus"}}, "fields"},
			{url.Values{"format": {"xml"}}, "format"},
		} {
			code, _, body := getRaw(t, env.Admin, historyPath(ns, "steady", tc.q), nil)
			var status metav1.Status
			_ = json.Unmarshal(body, &status)
			if code != http.StatusBadRequest || status.Kind != "Status" || !strings.Contains(status.Message, tc.field) {
				t.Errorf("%v: %d %s, want 400 naming %s", tc.q, code, body, tc.field)
			}
		}
	})

	t.Run("cluster", func(t *testing.T) {
		code, _, body := getRaw(t, env.Admin, "/apis/hypersdk.io/v1alpha1/clusterhistories/cluster?"+
			url.Values{"timeRange": {"1h"}, "step": {step.String()}, "fields": {"vms,vmsRunning,cpuAllocated"}}.Encode(), nil)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		var h v1alpha1.ClusterHistory
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatal(err)
		}
		if len(h.Series) != 3 || h.Series[0].Field != "vms" || len(h.Series[0].Points) == 0 {
			t.Fatalf("cluster history %s", body)
		}
		last := h.Series[1].Points[len(h.Series[1].Points)-1]
		if last.Value < 1 || h.Series[2].Points[len(h.Series[2].Points)-1].Value < 2 {
			t.Fatalf("cluster history does not count the running 2-CPU VM: %s", body)
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		if err := env.RestartAPIServer(context.Background(), "--history-store=prometheus", "--prometheus-url="+prom.URL()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := env.RestartAPIServer(context.Background()); err != nil {
				t.Errorf("restoring the SQLite-backed API server: %v", err)
			}
		})
		// Prometheus scraped from its start; the window began after it.
		var fromProm *v1alpha1.VirtualMachineHistory
		framework.Eventually(t, "the same history from Prometheus", func(context.Context) (bool, error) {
			fromProm = vmHistory(t, ns, "steady", window)
			got, want := series(t, fromProm, "cpuUsage").Points, series(t, sqlite, "cpuUsage").Points
			if len(got) != len(want) {
				return false, fmt.Errorf("Prometheus has %d cpuUsage points %v, SQLite %d %v", len(got), got, len(want), want)
			}
			return true, nil
		})
		for i, want := range sqlite.Series {
			got := fromProm.Series[i]
			if got.Field != want.Field || len(got.Points) != len(want.Points) {
				t.Fatalf("series %d: Prometheus %s with %d points, SQLite %s with %d", i, got.Field, len(got.Points), want.Field, len(want.Points))
			}
			for j := range want.Points {
				g, w := got.Points[j], want.Points[j]
				if !g.Time.Equal(&w.Time) || math.Abs(g.Value-w.Value) > 1e-9*max(1, math.Abs(w.Value)) {
					t.Fatalf("%s point %d: Prometheus %v=%v, SQLite %v=%v", want.Field, j, g.Time, g.Value, w.Time, w.Value)
				}
			}
		}
		checkVMHistory(t, fromProm, sampled)
		// The store keeps what Prometheus keeps (40 days here), not a
		// default: 35 days back is there to read, as it is not from SQLite.
		back := url.Values{"start": {time.Now().UTC().Add(-35 * 24 * time.Hour).Format(time.RFC3339)}, "step": {"1h"}}
		if code, _, body := getRaw(t, env.Admin, historyPath(ns, "steady", back), nil); code != http.StatusOK {
			t.Errorf("35 days back from a Prometheus keeping 40: %d %s", code, body)
		}
	})
}

// checkVMHistory compares a history with what the metrics API showed over
// the same time: the VM's load is steady, so every recorded sample lies
// within the range the test itself read.
func checkVMHistory(t *testing.T, h *v1alpha1.VirtualMachineHistory, m *metricsSampler) {
	t.Helper()
	if m.n < 10 {
		t.Fatalf("only %d metrics samples", m.n)
	}
	// The recorder reads the metrics API at its own ticks, which the test's
	// reads bracket but may miss (a CI run saw 0.942 against a least read of
	// 0.946): allow a tenth of the spread the test saw, as for memory below,
	// and a millicore for the API's rounding. A wrong series is off by far more.
	cpuMargin := 0.002 + 0.1*(m.maxCPU-m.minCPU)
	for _, p := range series(t, h, "cpuUsage").Points {
		if p.Value < m.minCPU-cpuMargin || p.Value > m.maxCPU+cpuMargin {
			t.Fatalf("cpuUsage %v at %v outside the metrics API's [%v, %v]", p.Value, p.Time, m.minCPU, m.maxCPU)
		}
	}
	memMargin := 0.1 * (m.maxMem - m.minMem)
	for _, p := range series(t, h, "memoryUsage").Points {
		if p.Value < m.minMem*0.999-memMargin || p.Value > m.maxMem*1.001+memMargin {
			t.Fatalf("memoryUsage %v at %v outside the metrics API's [%v, %v]", p.Value, p.Time, m.minMem, m.maxMem)
		}
	}
	alloc := series(t, h, "cpuAllocated")
	if alloc.Trend.Min != 2 || alloc.Trend.Max != 2 || alloc.Trend.Avg != 2 || alloc.Trend.P95 != 2 {
		t.Fatalf("cpuAllocated of a 2-CPU VM: trend %+v", alloc.Trend)
	}
	if mem := series(t, h, "memoryAllocated"); mem.Trend.Min != 2<<30 || mem.Trend.Max != 2<<30 {
		t.Fatalf("memoryAllocated of a 2Gi VM: trend %+v", mem.Trend)
	}
	for _, f := range []string{"carbonIntensity", "costPerHour"} {
		if s := series(t, h, f); len(s.Points) == 0 || s.Trend.Min <= 0 {
			t.Fatalf("%s not recorded: %+v", f, s)
		}
	}
	for _, s := range h.Series {
		checkTrend(t, s)
	}
}

// checkCSV parses CSV and compares every cell with the JSON answer.
func checkCSV(t *testing.T, body []byte, h *v1alpha1.VirtualMachineHistory) {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, body)
	}
	wantHeader := []string{"time"}
	for _, s := range h.Series {
		wantHeader = append(wantHeader, s.Field)
	}
	if !slices.Equal(rows[0], wantHeader) {
		t.Fatalf("CSV header %v, want %v", rows[0], wantHeader)
	}
	cpu := series(t, h, "cpuUsage")
	if len(rows)-1 != len(cpu.Points) {
		t.Fatalf("CSV has %d rows, JSON %d points", len(rows)-1, len(cpu.Points))
	}
	for i, row := range rows[1:] {
		if row[0] != cpu.Points[i].Time.UTC().Format(time.RFC3339) {
			t.Fatalf("row %d time %s, JSON %s", i, row[0], cpu.Points[i].Time)
		}
		for j, s := range h.Series {
			v, err := strconv.ParseFloat(row[j+1], 64)
			if err != nil || v != s.Points[i].Value {
				t.Fatalf("row %d %s = %q, JSON %v", i, s.Field, row[j+1], s.Points[i].Value)
			}
		}
	}
}

var storedLine = regexp.MustCompile(`"History batch stored" time="([^"]+)"`)

// acknowledged returns the tick times the recorder logged as stored.
func acknowledged(t *testing.T) []time.Time {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.ControlPlane.LogDir, "hypersdk-controller.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, m := range storedLine.FindAllStringSubmatch(string(data), -1) {
		ts, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ts)
	}
	return out
}

var killedLine = regexp.MustCompile(`fault point: killed inside the write of the batch at (\S+)`)

// killedInWrite returns the batch times the recorder was killed in the
// middle of writing.
func killedInWrite(t *testing.T) []time.Time {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.ControlPlane.LogDir, "hypersdk-controller.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, m := range killedLine.FindAllStringSubmatch(string(data), -1) {
		ts, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ts)
	}
	return out
}

// TestHistorySurvivesRecorderKill kills hypersdk-controller with SIGKILL
// inside the transaction of a history write (a fault point: the rows are
// written, the commit is not), twice; the sandbox starts it again each time.
// Every tick the recorder acknowledged is in the store exactly once, and
// nothing of the ticks it was killed writing.
func TestHistorySurvivesRecorderKill(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "historykill")
	for i := range 3 {
		createKubeVirtVM(t, ns, kubevirtVM(fmt.Sprintf("kept-%d", i), 1, "1Gi", nil))
	}
	runningVMI(t, ns, "kept-2", "")
	step := framework.RecordInterval
	for range 2 {
		before := len(acknowledged(t))
		framework.Eventually(t, "a batch stored", func(context.Context) (bool, error) { return len(acknowledged(t)) > before, nil })
		pid := env.PID("hypersdk-controller")
		if err := os.WriteFile(env.RecorderFaultFile(), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, "the recorder killed inside a write and started again", func(context.Context) (bool, error) {
			_, err := os.Stat(env.RecorderFaultFile())
			return os.IsNotExist(err) && env.PID("hypersdk-controller") != pid, nil
		})
	}
	killed := killedInWrite(t)
	if len(killed) != 2 {
		t.Fatalf("the log shows %d kills inside a write, want 2", len(killed))
	}
	after := len(acknowledged(t))
	framework.Eventually(t, "the restarted recorder storing again", func(context.Context) (bool, error) {
		return len(acknowledged(t)) > after+1, nil
	})

	acked := acknowledged(t)
	store, err := history.OpenSQLite(context.Background(), env.HistoryDB(), history.SQLiteOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	q := history.Query{Start: acked[0], End: acked[len(acked)-1], Step: step, Fields: []string{history.FieldVMs}}
	got, err := store.QueryCluster(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[time.Time]float64{}
	var vmSamples float64
	for _, p := range got[0].Points {
		stored[p.Time.UTC()] = p.Value
		vmSamples += p.Value
	}
	for _, ts := range killed {
		if _, ok := stored[ts.UTC()]; ok {
			t.Errorf("tick %v, killed before its commit, is in the store", ts)
		}
		if slices.ContainsFunc(acked, ts.Equal) {
			t.Errorf("tick %v, killed before its commit, was acknowledged", ts)
		}
	}
	seen := map[time.Time]bool{}
	for _, ts := range acked {
		if seen[ts] {
			t.Fatalf("tick %v acknowledged twice", ts)
		}
		seen[ts] = true
		if _, ok := stored[ts.UTC()]; !ok {
			t.Fatalf("acknowledged tick %v missing from the store (%d ticks stored)", ts, len(stored))
		}
	}
	// No duplicates: the store holds exactly one sample per VM per tick.
	count, err := store.SampleCount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if float64(count) < vmSamples {
		t.Fatalf("store holds %d VM samples, fewer than the %v the ticks count", count, vmSamples)
	}
	t.Logf("%d acknowledged ticks, all stored once; %d VM samples", len(acked), count)
}
