package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// fakePrometheus answers the two endpoints the store uses in Prometheus'
// JSON format: buildinfo with version (404 when empty), and query_range with
// the matrix in results for the query, an empty matrix for other queries.
type fakePrometheus struct {
	version string
	results map[string][][2]float64 // query -> [unix seconds, value] pairs
	fail    string                  // an error for every query_range, if set
	// unscraped: no series of the recorder, as when Prometheus does not
	// scrape it; else its presence query has a point at every step.
	unscraped bool

	mu       sync.Mutex
	queries  []string
	rangeArg []string // start, end, step of the last query_range
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v1/status/buildinfo":
		if f.version == "" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"status":"success","data":{"version":%q,"revision":"x","branch":"x","buildUser":"x","buildDate":"x","goVersion":"go1"}}`, f.version)
	case "/api/v1/query_range":
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q := r.Form.Get("query")
		f.mu.Lock()
		f.queries = append(f.queries, q)
		f.rangeArg = []string{r.Form.Get("start"), r.Form.Get("end"), r.Form.Get("step")}
		f.mu.Unlock()
		if f.fail != "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":%q}`, f.fail)
			return
		}
		result := []any{}
		if presenceCheck(q) && !f.unscraped {
			start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
			result = append(result, map[string]any{"metric": map[string]string{}, "values": []any{[]any{start, "1"}}})
		}
		if pairs, ok := f.results[q]; ok {
			values := []any{}
			for _, p := range pairs {
				values = append(values, []any{p[0], fmt.Sprint(p[1])})
			}
			result = append(result, map[string]any{"metric": map[string]string{}, "values": values})
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": result}})
	default:
		http.NotFound(w, r)
	}
}

// presenceCheck reports whether q is a check that the source is scraped.
func presenceCheck(q string) bool {
	return strings.HasPrefix(q, "count(count_over_time("+recorderMetric) || strings.HasPrefix(q, "count(count_over_time("+kubeVirtMetric)
}

// seen is the field queries made, without the presence checks.
func (f *fakePrometheus) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var qs []string
	for _, q := range f.queries {
		if !presenceCheck(q) {
			qs = append(qs, q)
		}
	}
	return slices.Sorted(slices.Values(qs))
}

func startFake(t *testing.T, f *fakePrometheus, source Source) *PrometheusStore {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s, err := NewPrometheusStore(PrometheusOptions{URL: srv.URL, Source: source})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrometheusVMQuery(t *testing.T) {
	// A name needing escapes shows the selector is quoted, not pasted.
	sel := `{namespace="ns",name="we\"ird\\vm"}`
	cpu := `sum(sum_over_time(hypersdk_vm_cpu_usage_cores` + sel + `[299999ms])) / sum(count_over_time(hypersdk_vm_cpu_usage_cores` + sel + `[299999ms]))`
	mem := `sum(sum_over_time(hypersdk_vm_memory_usage_bytes` + sel + `[299999ms])) / sum(count_over_time(hypersdk_vm_memory_usage_bytes` + sel + `[299999ms]))`
	start := t0.Unix()
	f := &fakePrometheus{version: "2.42.0+ds", results: map[string][][2]float64{
		cpu: {{float64(start + 300), 1.5}, {float64(start + 900), 2.25}},
	}}
	s := startFake(t, f, SourceHyperSDK)
	got, err := s.QueryVM(context.Background(), Query{Namespace: "ns", Name: `we"ird\vm`,
		Start: t0, End: t0.Add(time.Hour), Step: 5 * time.Minute, Fields: []string{FieldCPUUsage, FieldMemoryUsage}})
	if err != nil {
		t.Fatal(err)
	}
	if q := f.seen(); !slices.Equal(q, []string{cpu, mem}) {
		t.Fatalf("queries:\n%s\nwant:\n%s\n%s", strings.Join(q, "\n"), cpu, mem)
	}
	if want := []string{fmt.Sprint(start), fmt.Sprint(start + 3600), "300"}; !slices.Equal(f.rangeArg, want) {
		t.Fatalf("start, end, step = %v, want %v", f.rangeArg, want)
	}
	expectSeries(t, got, map[string][]pt{
		FieldCPUUsage:    {{5 * time.Minute, 1.5}, {15 * time.Minute, 2.25}},
		FieldMemoryUsage: {},
	})
	if got[0].Field != FieldCPUUsage {
		t.Fatalf("series not in the requested order: %s first", got[0].Field)
	}
}

func TestPrometheusRangeFollowsServerVersion(t *testing.T) {
	for _, tc := range []struct {
		version, rng string
	}{
		{"2.42.0+ds", "[59999ms]"}, // closed ranges: one millisecond less
		{"v2.53.1", "[59999ms]"},
		{"3.5.0", "[60000ms]"}, // left-open ranges
		{"", "[60000ms]"},      // unknown: assume the current semantics
	} {
		t.Run(tc.version, func(t *testing.T) {
			f := &fakePrometheus{version: tc.version}
			s := startFake(t, f, SourceHyperSDK)
			_, err := s.QueryCluster(context.Background(), Query{Start: t0, End: t0.Add(time.Hour), Step: time.Minute, Fields: []string{FieldVMs}})
			if err != nil {
				t.Fatal(err)
			}
			want := "sum(sum_over_time(hypersdk_cluster_vms" + tc.rng + ")) / sum(count_over_time(hypersdk_cluster_vms" + tc.rng + "))"
			if q := f.seen(); !slices.Equal(q, []string{want}) {
				t.Fatalf("queries %q, want %q", q, want)
			}
		})
	}
}

func TestPrometheusKubeVirtSource(t *testing.T) {
	f := &fakePrometheus{version: "3.0.0"}
	s := startFake(t, f, SourceKubeVirt)
	ctx := context.Background()
	fields := Recorded(s, VMFields)
	got, err := s.QueryVM(ctx, Query{Namespace: "ns", Name: "vm", Start: t0, End: t0.Add(time.Hour), Step: 5 * time.Minute, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	sel, rng := `{namespace="ns",name="vm"}`, "[300000ms]"
	avg := func(m string) string {
		return "sum(sum_over_time(" + m + sel + rng + ")) / sum(count_over_time(" + m + sel + rng + "))"
	}
	want := []string{
		"sum(rate(kubevirt_vmi_cpu_usage_seconds_total" + sel + rng + "))",
		"count(count by (id) (count_over_time(kubevirt_vmi_vcpu_seconds_total" + sel + rng + ")))",
		"(" + avg("kubevirt_vmi_memory_available_bytes") + ") - (" + avg("kubevirt_vmi_memory_usable_bytes") + ")",
		avg("kubevirt_vmi_memory_domain_bytes"),
	}
	slices.Sort(want)
	if q := f.seen(); !slices.Equal(q, want) {
		t.Fatalf("queries:\n%s\nwant:\n%s", strings.Join(q, "\n"), strings.Join(want, "\n"))
	}
	if len(got) != len(want) {
		t.Fatalf("got %d series, want %d", len(got), len(want))
	}
	// Carbon and cost have no KubeVirt series: asked for, they are refused
	// (400), not answered empty (a VM that cost nothing).
	for _, f := range []string{FieldCostPerHour, FieldCarbonIntensity} {
		if slices.Contains(fields, f) {
			t.Errorf("%s counted as recorded from KubeVirt's series", f)
		}
		_, err := s.QueryVM(ctx, Query{Namespace: "ns", Name: "vm", Start: t0, End: t0.Add(time.Hour), Step: 5 * time.Minute, Fields: []string{FieldCPUUsage, f}})
		if !apierrors.IsBadRequest(AsStatus(err)) || !strings.Contains(err.Error(), f) {
			t.Errorf("%s from KubeVirt's series: %v, want a 400 naming it", f, err)
		}
	}
	_, err = s.QueryCluster(ctx, Query{Start: t0, End: t0.Add(time.Hour), Step: time.Minute})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "KubeVirt") {
		t.Fatalf("cluster query on KubeVirt's series: got %v, want ErrUnsupported naming KubeVirt", err)
	}
}

func TestPrometheusErrors(t *testing.T) {
	f := &fakePrometheus{version: "3.0.0", fail: "parse error: boom"}
	s := startFake(t, f, SourceHyperSDK)
	ctx := context.Background()
	_, err := s.QueryVM(ctx, Query{Namespace: "ns", Name: "vm", Start: t0, End: t0.Add(time.Hour), Step: time.Minute, Fields: []string{FieldCPUUsage}})
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "ns/vm") {
		t.Fatalf("got %v, want the server's error with the VM named", err)
	}
	// The failed read's queries run together and the first error cancels
	// the rest, so count every query, the recorder's presence check too.
	f.mu.Lock()
	before := len(f.queries)
	f.mu.Unlock()
	_, err = s.QueryVM(ctx, Query{Namespace: "ns", Name: "vm", Start: t0, End: t0.Add(time.Hour), Fields: []string{FieldCPUUsage}})
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Field != "step" {
		t.Fatalf("zero step: got %v, want a QueryError on step", err)
	}
	f.mu.Lock()
	after := len(f.queries)
	f.mu.Unlock()
	if after != before {
		t.Fatalf("an invalid query reached the server (%d queries)", after-before)
	}
	// A Prometheus that is down is a store that cannot answer now: 503.
	down, err := NewPrometheusStore(PrometheusOptions{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = down.QueryVM(ctx, Query{Namespace: "ns", Name: "vm", Start: t0, End: t0.Add(time.Hour), Step: time.Minute, Fields: []string{FieldCPUUsage}})
	if !apierrors.IsServiceUnavailable(AsStatus(err)) {
		t.Errorf("Prometheus down: %v, want 503", err)
	}
	if apierrors.IsServiceUnavailable(AsStatus(errors.New("x"))) {
		t.Error("any error taken for unavailability")
	}
	// A Prometheus that does not scrape the recorder has no series: a 503
	// that says so, not empty history that reads as VMs costing nothing.
	unscraped := startFake(t, &fakePrometheus{version: "3.0.0", unscraped: true}, SourceHyperSDK)
	vmQuery := Query{Namespace: "ns", Name: "vm", Start: t0, End: t0.Add(time.Hour), Step: time.Minute, Fields: []string{FieldCPUUsage}}
	clusterQuery := Query{Start: t0, End: t0.Add(time.Hour), Step: time.Minute, Fields: []string{FieldCPUUsage}}
	for _, read := range []func() ([]Series, error){
		func() ([]Series, error) { return unscraped.QueryVM(ctx, vmQuery) },
		func() ([]Series, error) { return unscraped.QueryCluster(ctx, clusterQuery) },
	} {
		got, err := read()
		if !apierrors.IsServiceUnavailable(AsStatus(err)) || !strings.Contains(err.Error(), recorderMetric) || !errors.Is(err, ErrNotRecorded) {
			t.Errorf("Prometheus without the recorder's series: %v %v, want 503 naming them (ErrNotRecorded)", got, err)
		}
	}
	// Likewise reading KubeVirt's own series from a Prometheus that does not
	// scrape KubeVirt.
	got, err := startFake(t, &fakePrometheus{version: "3.0.0", unscraped: true}, SourceKubeVirt).QueryVM(ctx, vmQuery)
	if !apierrors.IsServiceUnavailable(AsStatus(err)) || !strings.Contains(err.Error(), kubeVirtMetric) || !errors.Is(err, ErrNotRecorded) {
		t.Errorf("Prometheus without KubeVirt's series: %v %v, want 503 naming them (ErrNotRecorded)", got, err)
	}
}

func TestExporter(t *testing.T) {
	s, err := NewPrometheusStore(PrometheusOptions{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Exporter())
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
		t.Fatalf("before the first batch: %d families, %v; want none", len(mfs), err)
	}
	at := t0.Add(90 * time.Second)
	vms := []VMSample{
		{Namespace: "a", Name: "one", Node: "n1", Zone: "z1", Phase: "Running", CPUUsageCores: 1.5, CPUAllocatedCores: 2,
			MemoryUsageBytes: 100, MemoryAllocatedBytes: 200, CarbonIntensity: 300, CostPerHour: 0.25, UsageRead: true, Priced: true, IntensityRead: true},
		{Namespace: "b", Name: "two", Zone: "z2", Phase: "Stopped"},
		// Running, with neither a usage reading nor a price yet: no usage
		// or cost gauge (a gap, as in SQLite), the others as usual.
		{Namespace: "c", Name: "three", Node: "n3", Zone: "z1", Phase: "Running", CPUAllocatedCores: 1},
	}
	if err := s.Append(context.Background(), Batch{Time: at, VMs: vms, Cluster: ClusterSample{VMs: 2, VMsRunning: 1, VMsStopped: 1, CostPerHour: 0.25}}); err != nil {
		t.Fatal(err)
	}
	vms[0].CPUUsageCores = 99 // Set copied the batch
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
		if mf.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s is a %s, want a gauge", mf.GetName(), mf.GetType())
		}
		for _, m := range mf.GetMetric() {
			if m.GetTimestampMs() != at.UnixMilli() {
				t.Errorf("%s stamped %d, want the batch time %d", mf.GetName(), m.GetTimestampMs(), at.UnixMilli())
			}
		}
	}
	wantNames := []string{}
	for _, f := range vmFieldTable {
		wantNames = append(wantNames, f.metric)
	}
	for _, f := range clusterFieldTable {
		wantNames = append(wantNames, f.metric)
	}
	slices.Sort(wantNames)
	if got := slices.Sorted(maps.Keys(byName)); !slices.Equal(got, wantNames) {
		t.Fatalf("metric names %v, want %v", got, wantNames)
	}
	cpu := byName["hypersdk_vm_cpu_usage_cores"].GetMetric()
	if len(cpu) != 2 {
		t.Fatalf("%d VM cpu series, want 2", len(cpu))
	}
	// three's zone has no intensity read either, and two, stopped, runs in
	// no zone: gaps too.
	for metric, want := range map[string]int{"hypersdk_vm_memory_usage_bytes": 2, "hypersdk_vm_cost_per_hour": 2, "hypersdk_vm_cpu_allocated_cores": 3,
		"hypersdk_vm_carbon_intensity_grams_per_kwh": 1} {
		if n := len(byName[metric].GetMetric()); n != want {
			t.Errorf("%s: %d series, want %d", metric, n, want)
		}
	}
	labels := map[string]string{}
	for _, l := range cpu[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	wantLabels := map[string]string{"namespace": "a", "name": "one", "node": "n1", "zone": "z1", "phase": "Running"}
	if fmt.Sprint(labels) != fmt.Sprint(wantLabels) || cpu[0].GetGauge().GetValue() != 1.5 {
		t.Fatalf("first VM cpu: labels %v value %v, want %v value 1.5", labels, cpu[0].GetGauge().GetValue(), wantLabels)
	}
	if v := byName["hypersdk_vm_carbon_intensity_grams_per_kwh"].GetMetric()[0].GetGauge().GetValue(); v != 300 {
		t.Fatalf("carbon intensity %v, want 300", v)
	}
	if v := byName["hypersdk_cluster_vms_stopped"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Fatalf("stopped VMs %v, want 1", v)
	}
}

func TestRetentionOf(t *testing.T) {
	for flag, want := range map[string]time.Duration{
		"1d": 24 * time.Hour, "40d": 40 * 24 * time.Hour, "2w": 14 * 24 * time.Hour,
		"0s": defaultPrometheusRetention, "": defaultPrometheusRetention, "bogus": defaultPrometheusRetention,
	} {
		if got := retentionOf(promv1.FlagsResult{"storage.tsdb.retention.time": flag}); got != want {
			t.Errorf("retention.time %q: %s, want %s", flag, got, want)
		}
	}
}

// TestRetentionOfAServerThatCannotSay: a Prometheus whose flags cannot be
// read gives the default retention, and is not asked again at every read
// (each would wait for it) but after a while.
func TestRetentionOfAServerThatCannotSay(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/status/flags" {
			asked.Add(1)
		}
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer srv.Close()
	s, err := NewPrometheusStore(PrometheusOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got := s.Retention(); got != defaultPrometheusRetention {
			t.Errorf("retention of a server that cannot say: %s, want the default", got)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("flags asked %d times over 3 reads, want once", n)
	}
}

// TestPrometheusVersionLookupIsBounded: a Prometheus whose buildinfo
// endpoint hangs holds a query no longer than the store's timeout.
func TestPrometheusVersionLookupIsBounded(t *testing.T) {
	f := &fakePrometheus{version: "3.0.0"}
	release, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/status/buildinfo" {
			select {
			case <-release.Done():
			case <-r.Context().Done():
			}
			return
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(cancel)
	s, err := NewPrometheusStore(PrometheusOptions{URL: srv.URL, Source: SourceHyperSDK, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.QueryVM(context.Background(), Query{Namespace: "ns", Name: "vm", Start: time.Unix(3600, 0), End: time.Unix(7200, 0),
			Step: time.Minute, Fields: []string{FieldCPUUsage}})
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // the store's timeout is 200ms
		t.Fatal("a query waited on a Prometheus whose version lookup hangs")
	}
}
