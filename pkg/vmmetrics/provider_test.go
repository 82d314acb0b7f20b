package vmmetrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	kvv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// fakeSource is a sampler's answers, counted.
type fakeSource struct {
	batch   history.Batch
	err     error
	vms     map[string]*kvv1.VirtualMachine
	pods    []*corev1.Pod
	carbon  carbon.Provider
	samples int
}

func (f *fakeSource) HasSynced() bool { return true }
func (f *fakeSource) Sample(context.Context, time.Time) (history.Batch, error) {
	f.samples++
	return f.batch, f.err
}
func (f *fakeSource) VirtualMachine(ns, name string) (*kvv1.VirtualMachine, bool) {
	vm, ok := f.vms[ns+"/"+name]
	return vm, ok
}
func (f *fakeSource) LauncherPods(ns string, sel labels.Selector) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for _, p := range f.pods {
		if p.Namespace == ns && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out, nil
}
func (f *fakeSource) Carbon() carbon.Provider { return f.carbon }

func launcher(name, vm, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{kubevirt.VMNameLabel: vm, "app": "web"}},
		Spec:       corev1.PodSpec{NodeName: node},
	}
}

func poolVM(name string) *kvv1.VirtualMachine {
	return &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "VirtualMachinePool", Name: "web", Controller: ptrTrue()}}}}
}

func ptrTrue() *bool { t := true; return &t }

func newFake() *fakeSource {
	return &fakeSource{
		batch: history.Batch{VMs: []history.VMSample{
			{Namespace: "ns", Name: "web-0", Node: "n1", CPUUsageCores: 1, CPUAllocatedCores: 4, MemoryUsageBytes: 1 << 30, MemoryAllocatedBytes: 4 << 30, CostPerHour: 0.25,
				UsageRead: true, Priced: true},
			{Namespace: "ns", Name: "web-1", Node: "n2", CPUUsageCores: 3, CPUAllocatedCores: 4, MemoryUsageBytes: 3 << 30, MemoryAllocatedBytes: 4 << 30, CostPerHour: 0.5,
				UsageRead: true, Priced: true},
			{Namespace: "ns", Name: "stopped", CPUAllocatedCores: 2},
		}},
		vms: map[string]*kvv1.VirtualMachine{"ns/web-0": poolVM("web-0"), "ns/web-1": poolVM("web-1"),
			"ns/stopped": {ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "stopped"}}},
		// web-1 migrates: its second pod, on n3, is the target, not the VM.
		pods: []*corev1.Pod{launcher("virt-launcher-web-0-a", "web-0", "n1"), launcher("virt-launcher-web-1-a", "web-1", "n2"),
			launcher("virt-launcher-web-1-b", "web-1", "n3")},
	}
}

func TestPodMetricsAreTheRunningPodsVM(t *testing.T) {
	p := NewProvider(newFake(), time.Minute, nil)
	list, err := p.GetMetricBySelector(context.Background(), "ns", labels.SelectorFromSet(labels.Set{"app": "web"}),
		provider.CustomMetricInfo{GroupResource: Pods, Namespaced: true, Metric: CPUUtilization}, labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range list.Items {
		got[v.DescribedObject.Name] = v.Value.String()
	}
	want := map[string]string{"virt-launcher-web-0-a": "250m", "virt-launcher-web-1-a": "750m"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pod metrics = %v, want %v (the migration target has none)", got, want)
	}
}

// TestMetricsAreNamespaced: the metrics are listed as namespaced; asked for
// without a namespace (/pods/*/vm_cpu_utilization, /pods/NAME/...) they
// are not found, rather than every namespace's pods or a pod of that name
// from any namespace.
func TestMetricsAreNamespaced(t *testing.T) {
	p := NewProvider(newFake(), time.Minute, nil)
	ctx := context.Background()
	for _, gr := range []schema.GroupResource{Pods, HyperSDKVMs, KubeVirtVMs} {
		info := provider.CustomMetricInfo{GroupResource: gr, Metric: CPUUtilization}
		if list, err := p.GetMetricBySelector(ctx, "", labels.Everything(), info, labels.Everything()); !apierrors.IsNotFound(err) {
			t.Errorf("%s across namespaces: %+v (%v), want not found", gr, list, err)
		}
	}
	info := provider.CustomMetricInfo{GroupResource: Pods, Metric: CPUUtilization}
	if v, err := p.GetMetricByName(ctx, types.NamespacedName{Name: "virt-launcher-web-0-a"}, info, labels.Everything()); !apierrors.IsNotFound(err) {
		t.Errorf("a pod by name without its namespace: %+v (%v), want not found", v, err)
	}
}

func TestVMAndPoolMetrics(t *testing.T) {
	p := NewProvider(newFake(), time.Minute, nil)
	ctx := context.Background()
	get := func(gr provider.CustomMetricInfo, name string) (string, error) {
		v, err := p.GetMetricByName(ctx, types.NamespacedName{Namespace: "ns", Name: name}, gr, labels.Everything())
		if err != nil {
			return "", err
		}
		return v.Value.String(), nil
	}
	for _, tc := range []struct {
		info provider.CustomMetricInfo
		name string
		want string
	}{
		{provider.CustomMetricInfo{GroupResource: HyperSDKVMs, Namespaced: true, Metric: MemoryUtilization}, "web-1", "750m"},
		{provider.CustomMetricInfo{GroupResource: KubeVirtVMs, Namespaced: true, Metric: MemoryWorkingSet}, "web-0", "1Gi"},
		{provider.CustomMetricInfo{GroupResource: Pools, Namespaced: true, Metric: CPUUtilization}, "web", "500m"},
		{provider.CustomMetricInfo{GroupResource: Pools, Namespaced: true, Metric: MemoryWorkingSet + SumSuffix}, "web", "4Gi"},
	} {
		if got, err := get(tc.info, tc.name); err != nil || got != tc.want {
			t.Errorf("%s %s = %q (%v), want %s", tc.info, tc.name, got, err, tc.want)
		}
	}
	if _, err := get(provider.CustomMetricInfo{GroupResource: HyperSDKVMs, Namespaced: true, Metric: CPUUtilization}, "stopped"); !apierrors.IsNotFound(err) {
		t.Errorf("a stopped VM's metric: %v, want NotFound", err)
	}
	if _, err := get(provider.CustomMetricInfo{GroupResource: Pools, Namespaced: true, Metric: CPUUtilization}, "other"); !apierrors.IsNotFound(err) {
		t.Errorf("a pool without VMs: %v, want NotFound", err)
	}
}

// TestMetricsNeedAReading: a VM that runs but whose launcher pod has no
// metrics.k8s.io reading yet has no value (an HPA counts a missing pod as
// such; a 0 would read as idle), by name, in lists and in its pool's average.
func TestMetricsNeedAReading(t *testing.T) {
	src := newFake()
	src.batch.VMs[1].UsageRead, src.batch.VMs[1].CPUUsageCores, src.batch.VMs[1].MemoryUsageBytes = false, 0, 0
	p := NewProvider(src, time.Minute, nil)
	ctx := context.Background()
	vm := provider.CustomMetricInfo{GroupResource: HyperSDKVMs, Namespaced: true, Metric: CPUUtilization}
	if v, err := p.GetMetricByName(ctx, types.NamespacedName{Namespace: "ns", Name: "web-1"}, vm, labels.Everything()); !apierrors.IsNotFound(err) {
		t.Errorf("a VM without a reading: %v (%v), want NotFound", v, err)
	}
	pods, err := p.GetMetricBySelector(ctx, "ns", labels.Everything(), provider.CustomMetricInfo{GroupResource: Pods, Namespaced: true, Metric: CPUUtilization}, labels.Everything())
	if err != nil || len(pods.Items) != 1 || pods.Items[0].DescribedObject.Name != "virt-launcher-web-0-a" {
		t.Errorf("pod metrics: %+v (%v), want web-0's pod only", pods, err)
	}
	pool, err := p.GetMetricByName(ctx, types.NamespacedName{Namespace: "ns", Name: "web"}, provider.CustomMetricInfo{GroupResource: Pools, Namespaced: true, Metric: CPUUtilization}, labels.Everything())
	if err != nil || pool.Value.String() != "250m" {
		t.Errorf("pool average: %v (%v), want web-0's 250m alone", pool, err)
	}
	sum, err := p.GetMetricByName(ctx, types.NamespacedName{Namespace: "ns", Name: "web"}, provider.CustomMetricInfo{GroupResource: Pools, Namespaced: true, Metric: MemoryWorkingSet + SumSuffix}, labels.Everything())
	if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "web-1") {
		t.Errorf("pool sum with web-1 unread: %v (%v), want 503 naming web-1: the sum of web-0 alone is too low", sum, err)
	}
}

// TestMetricSelector: the custom metrics have no labels, so a metric
// selector that asks for one matches nothing, and one that asks for their
// absence matches all.
func TestMetricSelector(t *testing.T) {
	p := NewProvider(newFake(), time.Minute, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		selector string
		want     int
	}{{"", 2}, {"!team", 2}, {"team=a", 0}, {"team", 0}} {
		sel, err := labels.Parse(tc.selector)
		if err != nil {
			t.Fatal(err)
		}
		list, err := p.GetMetricBySelector(ctx, "ns", labels.Everything(), provider.CustomMetricInfo{GroupResource: KubeVirtVMs, Namespaced: true, Metric: CPUUtilization}, sel)
		if err != nil || len(list.Items) != tc.want {
			t.Errorf("metric selector %q: %d values (%v), want %d", tc.selector, len(list.Items), err, tc.want)
		}
		for _, info := range []provider.CustomMetricInfo{{GroupResource: KubeVirtVMs, Namespaced: true, Metric: CPUUtilization}, {GroupResource: Pools, Namespaced: true, Metric: CPUUtilization}} {
			name := map[bool]string{true: "web", false: "web-0"}[info.GroupResource == Pools]
			_, err := p.GetMetricByName(ctx, types.NamespacedName{Namespace: "ns", Name: name}, info, sel)
			if found := err == nil; found != (tc.want > 0) || (!found && !apierrors.IsNotFound(err)) {
				t.Errorf("%s %s with metric selector %q: %v, want found=%v", info.GroupResource, name, tc.selector, err, tc.want > 0)
			}
		}
	}
}

func TestOneSamplePerTTLAndErrorsAreNotZero(t *testing.T) {
	src := newFake()
	clk := clocktesting.NewFakeClock(time.Now())
	p := NewProvider(src, 10*time.Second, clk)
	info := provider.CustomMetricInfo{GroupResource: HyperSDKVMs, Namespaced: true, Metric: CPUUtilization}
	name := types.NamespacedName{Namespace: "ns", Name: "web-0"}
	for i := 0; i < 3; i++ {
		if _, err := p.GetMetricByName(context.Background(), name, info, labels.Everything()); err != nil {
			t.Fatal(err)
		}
	}
	if src.samples != 1 {
		t.Errorf("%d samples for three reads within the TTL, want 1", src.samples)
	}
	clk.Step(11 * time.Second)
	src.err = errors.New("metrics.k8s.io is down")
	_, err := p.GetMetricByName(context.Background(), name, info, labels.Everything())
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("with the source down: %v, want 503", err)
	}
	if _, err := p.GetExternalMetric(context.Background(), "ns", labels.Everything(), provider.ExternalMetricInfo{Metric: CostPerHour}); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("cost with the source down: %v, want 503", err)
	}
}

func TestExternalMetrics(t *testing.T) {
	src := newFake()
	p := NewProvider(src, time.Minute, nil)
	ctx := context.Background()
	sel := func(s string) labels.Selector {
		l, err := labels.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	cost, err := p.GetExternalMetric(ctx, "ns", sel("pool=web"), provider.ExternalMetricInfo{Metric: CostPerHour})
	if err != nil || len(cost.Items) != 1 || cost.Items[0].Value.String() != "750m" {
		t.Errorf("cost of pool web: %+v (%v), want 750m", cost, err)
	}
	code := func(err error) int32 {
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			return status.Status().Code
		}
		return 0
	}
	for _, tc := range []struct {
		metric, selector string
		carbon           carbon.Provider
		want             int32
	}{
		{CarbonIntensity, "zone=DE", nil, http.StatusServiceUnavailable},
		{CarbonIntensity, "horizon=1h", fixed(t), http.StatusBadRequest},
		{CarbonIntensity, "zone=XX", fixed(t), http.StatusNotFound},
		{CarbonIntensity, "zone in (DE,FR)", fixed(t), http.StatusBadRequest},
		{CarbonIntensity, "zone=XX,zone=DE", fixed(t), http.StatusBadRequest},
		{CostPerHour, "namespace=other", nil, http.StatusBadRequest},
		{CostPerHour, "team=a", nil, http.StatusBadRequest},
		{CostPerHour, "pool=nosuch", nil, http.StatusNotFound},
	} {
		src.carbon = tc.carbon
		if _, err := p.GetExternalMetric(ctx, "ns", sel(tc.selector), provider.ExternalMetricInfo{Metric: tc.metric}); code(err) != tc.want {
			t.Errorf("%s %s: %v, want %d", tc.metric, tc.selector, err, tc.want)
		}
	}
	// A pool whose VMs are stopped costs nothing; a running VM without a
	// price leaves the sum unknown, not low.
	src.vms["ns/stopped"].OwnerReferences = poolVM("x").OwnerReferences
	src.vms["ns/stopped"].OwnerReferences[0].Name = "idle"
	if v, err := p.GetExternalMetric(ctx, "ns", sel("pool=idle"), provider.ExternalMetricInfo{Metric: CostPerHour}); err != nil || len(v.Items) != 1 || !v.Items[0].Value.IsZero() {
		t.Errorf("cost of a pool of stopped VMs: %+v (%v), want 0", v, err)
	}
	src.batch.VMs[0].Priced = false
	p = NewProvider(src, time.Minute, nil)
	if v, err := p.GetExternalMetric(ctx, "ns", sel(""), provider.ExternalMetricInfo{Metric: CostPerHour}); code(err) != http.StatusServiceUnavailable {
		t.Errorf("cost with an unpriced running VM: %+v (%v), want 503", v, err)
	}
	src.carbon = fixed(t)
	for _, s := range []string{"zone=DE", "zone=DE,horizon=6h"} {
		v, err := p.GetExternalMetric(ctx, "ns", sel(s), provider.ExternalMetricInfo{Metric: CarbonIntensity})
		if err != nil || len(v.Items) != 1 || v.Items[0].Value.String() != "380" {
			t.Errorf("carbon_intensity %s: %+v (%v), want 380", s, v, err)
		}
	}
}

func fixed(t *testing.T) carbon.Provider {
	t.Helper()
	p, err := carbon.NewProvider(carbon.ProviderSpec{Kind: carbon.KindFixed, Fixed: map[string]float64{"DE": 380}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readings is a carbon provider that answers one reading, as a cached
// provider does while its upstream fails; with err set, it fails.
type readings struct {
	in  carbon.Intensity
	err error
}

func (r readings) Current(context.Context, string) (carbon.Intensity, error) { return r.in, r.err }
func (r readings) Forecast(context.Context, string, time.Duration) ([]carbon.Intensity, error) {
	return []carbon.Intensity{r.in, r.in}, r.err
}

// TestCarbonIntensityIsAReading: the cached provider's neutral
// placeholder (a world average served when its source has never
// answered) is no reading, so carbon_intensity answers 503 rather than a
// number a scaler would act on; a stale reading is served with its own
// time, not as now's.
func TestCarbonIntensityIsAReading(t *testing.T) {
	src := newFake()
	p := NewProvider(src, time.Minute, nil)
	ctx := context.Background()
	sel, _ := labels.Parse("zone=DE")
	withHorizon, _ := labels.Parse("zone=DE,horizon=6h")
	cached, err := carbon.NewCachedProvider(readings{err: errors.New("connection refused")}, carbon.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src.carbon = cached
	for _, s := range []labels.Selector{sel, withHorizon} {
		v, err := p.GetExternalMetric(ctx, "ns", s, provider.ExternalMetricInfo{Metric: CarbonIntensity})
		if !apierrors.IsServiceUnavailable(err) {
			t.Errorf("carbon_intensity %s from a source never read: %+v (%v), want 503", s, v, err)
		}
	}
	hourAgo := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	src.carbon = readings{in: carbon.Intensity{Zone: "DE", At: hourAgo, GramsPerKWh: 300, Freshness: carbon.Stale}}
	v, err := p.GetExternalMetric(ctx, "ns", sel, provider.ExternalMetricInfo{Metric: CarbonIntensity})
	if err != nil || len(v.Items) != 1 || !v.Items[0].Timestamp.Time.Equal(hourAgo) || v.Items[0].Value.String() != "300" {
		t.Errorf("stale carbon_intensity: %+v (%v), want 300 at %s", v, err, hourAgo)
	}
}
