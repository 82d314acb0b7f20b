// Package vmmetrics serves VM metrics to autoscalers: custom.metrics.k8s.io
// for virt-launcher pods, VMs and VirtualMachinePools, and
// external.metrics.k8s.io for grid carbon intensity and VM cost, through
// sigs.k8s.io/custom-metrics-apiserver. The values are the history
// recorder's samples (metrics.k8s.io usage joined with KubeVirt's objects,
// the carbon provider, node prices), so an HPA sees what history records.
package vmmetrics

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	"k8s.io/utils/clock"
	kvv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// The custom metrics: each of a running VM, on its launcher pod, the VM
// (either API) and, averaged over its running VMs, a pool; a pool also has
// each as a sum (the name with SumSuffix).
const (
	// CPUUtilization is the guest's CPU use over its vCPUs (1 = all busy).
	CPUUtilization = "vm_cpu_utilization"
	// MemoryWorkingSet is the VM's memory in use, in bytes.
	MemoryWorkingSet = "vm_memory_working_set_bytes"
	// MemoryUtilization is the memory in use over the guest's memory.
	MemoryUtilization = "vm_memory_utilization"
	// SumSuffix names a pool's sum of a metric.
	SumSuffix = "_sum"
)

// The external metrics.
const (
	// CarbonIntensity is a zone's grid intensity in gCO2eq/kWh: label zone
	// (required), horizon (1h, 6h or 24h: the mean forecast over that
	// much time ahead instead of now).
	CarbonIntensity = "carbon_intensity"
	// CostPerHour is what the running VMs of the request's namespace cost
	// per hour, in the price model's currency; label pool narrows it to
	// one VirtualMachinePool's VMs.
	CostPerHour = "vm_cost_per_hour"
)

// The resources custom metrics describe.
var (
	Pods        = schema.GroupResource{Resource: "pods"}
	HyperSDKVMs = schema.GroupResource{Group: "hypersdk.io", Resource: "virtualmachines"}
	KubeVirtVMs = schema.GroupResource{Group: kvv1.GroupVersion.Group, Resource: "virtualmachines"}
	Pools       = schema.GroupResource{Group: "pool.kubevirt.io", Resource: "virtualmachinepools"}

	vmMetrics = []string{CPUUtilization, MemoryWorkingSet, MemoryUtilization}
	horizons  = map[string]time.Duration{"1h": time.Hour, "6h": 6 * time.Hour, "24h": 24 * time.Hour}
)

// Source is where the values come from: the history recorder's sampler.
type Source interface {
	// HasSynced reports whether its caches have filled: before, a sample
	// would leave VMs out.
	HasSynced() bool
	// Sample reads every VM now; an error when a source (metrics.k8s.io)
	// cannot be read.
	Sample(ctx context.Context, t time.Time) (history.Batch, error)
	// VirtualMachine is the KubeVirt VM, for its labels and owner.
	VirtualMachine(namespace, name string) (*kvv1.VirtualMachine, bool)
	// LauncherPods are the virt-launcher pods in namespace matching selector.
	LauncherPods(namespace string, selector labels.Selector) ([]*corev1.Pod, error)
	// Carbon is the carbon intensity provider, nil when none is configured.
	Carbon() carbon.Provider
}

// Provider answers custom.metrics.k8s.io and external.metrics.k8s.io.
type Provider struct {
	source Source
	clock  clock.Clock
	// ttl is how long one sample answers every query: the HPA controller
	// asks for each of its HPAs every sync period.
	ttl time.Duration

	mu      sync.Mutex
	sampled time.Time
	// byName is the last sample by VM; callers only read it.
	byName map[types.NamespacedName]vmSample
}

var (
	_ provider.CustomMetricsProvider   = &Provider{}
	_ provider.ExternalMetricsProvider = &Provider{}
)

// NewProvider returns a provider reading source, sampling at most once per ttl.
func NewProvider(source Source, ttl time.Duration, clk clock.Clock) *Provider {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Provider{source: source, clock: clk, ttl: ttl}
}

// vmSample is one VM's sample with its time.
type vmSample struct {
	history.VMSample
	at time.Time
}

// samples returns the latest samples by namespace/name (shared: read only),
// sampling again when
// they are older than the TTL. A failed sample is an error, never stale or
// empty data.
func (p *Provider) samples(ctx context.Context) (map[types.NamespacedName]vmSample, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.source.HasSynced() {
		return nil, apierrors.NewServiceUnavailable("the VM caches have not filled yet")
	}
	now := p.clock.Now()
	if p.sampled.IsZero() || now.Sub(p.sampled) >= p.ttl {
		b, err := p.source.Sample(ctx, now)
		if err != nil {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("reading VM usage: %v", err))
		}
		// Indexed once per sample, not per request: every query reads it.
		byName := make(map[types.NamespacedName]vmSample, len(b.VMs))
		for _, s := range b.VMs {
			byName[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = vmSample{s, now}
		}
		p.byName, p.sampled = byName, now
	}
	return p.byName, nil
}

// value is metric of a running VM's sample; false when the VM does not run,
// has no usage reading yet (an autoscaler treats a missing value as such;
// a 0 would read as an idle VM) or has no allocation to divide by.
func value(metric string, s history.VMSample) (float64, bool) {
	if s.Node == "" || !s.UsageRead {
		return 0, false
	}
	switch metric {
	case CPUUtilization:
		return s.CPUUsageCores / s.CPUAllocatedCores, s.CPUAllocatedCores > 0
	case MemoryWorkingSet:
		return s.MemoryUsageBytes, true
	case MemoryUtilization:
		return s.MemoryUsageBytes / s.MemoryAllocatedBytes, s.MemoryAllocatedBytes > 0
	}
	return 0, false
}

// quantity keeps three decimals, enough for a utilization or a price.
func quantity(v float64) resource.Quantity {
	return *resource.NewMilliQuantity(int64(math.Round(v*1000)), resource.DecimalSI)
}

func known(metric string, metrics []string) bool {
	for _, m := range metrics {
		if m == metric {
			return true
		}
	}
	return false
}

// GetMetricByName answers one object's metric.
func (p *Provider) GetMetricByName(ctx context.Context, name types.NamespacedName, info provider.CustomMetricInfo, metricSelector labels.Selector) (*custom_metrics.MetricValue, error) {
	// Every metric here is namespaced, as ListAllMetrics says: asked for
	// without a namespace, it is not there (rather than a pod of that name
	// from any namespace).
	if !info.Namespaced {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	if info.GroupResource == Pools {
		if !unlabelled(metricSelector) {
			return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, name.Name)
		}
		return p.poolMetric(ctx, name, info)
	}
	if !known(info.Metric, vmMetrics) || !vmResource(info.GroupResource) {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	if !unlabelled(metricSelector) {
		return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, name.Name)
	}
	samples, err := p.samples(ctx)
	if err != nil {
		return nil, err
	}
	if info.GroupResource == Pods {
		pods, err := p.source.LauncherPods(name.Namespace, labels.Everything())
		if err != nil {
			return nil, err
		}
		for _, pod := range pods {
			if pod.Name == name.Name {
				if v, ok := podValue(info.Metric, pod, samples); ok {
					return v, nil
				}
			}
		}
		return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, name.Name)
	}
	s, ok := samples[name]
	if !ok {
		return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, name.Name)
	}
	v, ok := value(info.Metric, s.VMSample)
	if !ok {
		return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, name.Name)
	}
	return metricValue(info, name, s.at, v), nil
}

// GetMetricBySelector answers the metric of every object selector matches
// that has it: launcher pods by their labels, VMs by their KubeVirt VM's.
func (p *Provider) GetMetricBySelector(ctx context.Context, namespace string, selector labels.Selector, info provider.CustomMetricInfo, metricSelector labels.Selector) (*custom_metrics.MetricValueList, error) {
	if !info.Namespaced {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric) // namespaced only, as above
	}
	if info.GroupResource == Pools {
		return nil, apierrors.NewBadRequest("pool metrics are read by pool name")
	}
	if !known(info.Metric, vmMetrics) || !vmResource(info.GroupResource) {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	list := &custom_metrics.MetricValueList{}
	if !unlabelled(metricSelector) {
		return list, nil
	}
	samples, err := p.samples(ctx)
	if err != nil {
		return nil, err
	}
	if info.GroupResource == Pods {
		pods, err := p.source.LauncherPods(namespace, selector)
		if err != nil {
			return nil, err
		}
		for _, pod := range pods {
			if v, ok := podValue(info.Metric, pod, samples); ok {
				list.Items = append(list.Items, *v)
			}
		}
		return list, nil
	}
	for key, s := range samples {
		if key.Namespace != namespace {
			continue
		}
		vm, ok := p.source.VirtualMachine(key.Namespace, key.Name)
		if !ok || !selector.Matches(labels.Set(vm.Labels)) {
			continue
		}
		if v, ok := value(info.Metric, s.VMSample); ok {
			list.Items = append(list.Items, *metricValue(info, key, s.at, v))
		}
	}
	return list, nil
}

// unlabelled says whether the series of a custom metric, which has no
// labels of its own, match metricSelector (an HPA metric's selector).
func unlabelled(metricSelector labels.Selector) bool {
	return metricSelector == nil || metricSelector.Matches(labels.Set{})
}

func vmResource(gr schema.GroupResource) bool {
	return gr == Pods || gr == HyperSDKVMs || gr == KubeVirtVMs
}

// podValue is the metric of the VM a launcher pod runs, when the pod is the
// one running it (not a migration's target).
func podValue(metric string, pod *corev1.Pod, samples map[types.NamespacedName]vmSample) (*custom_metrics.MetricValue, bool) {
	s, ok := samples[types.NamespacedName{Namespace: pod.Namespace, Name: pod.Labels[kubevirt.VMNameLabel]}]
	if !ok || s.Node == "" || s.Node != pod.Spec.NodeName {
		return nil, false
	}
	v, ok := value(metric, s.VMSample)
	if !ok {
		return nil, false
	}
	return metricValue(provider.CustomMetricInfo{GroupResource: Pods, Namespaced: true, Metric: metric},
		types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}, s.at, v), true
}

func metricValue(info provider.CustomMetricInfo, name types.NamespacedName, at time.Time, v float64) *custom_metrics.MetricValue {
	ref := custom_metrics.ObjectReference{Namespace: name.Namespace, Name: name.Name}
	switch info.GroupResource {
	case Pods:
		ref.Kind, ref.APIVersion = "Pod", "v1"
	case HyperSDKVMs:
		ref.Kind, ref.APIVersion = "VirtualMachine", "hypersdk.io/v1alpha1"
	case KubeVirtVMs:
		ref.Kind, ref.APIVersion = "VirtualMachine", kvv1.GroupVersion.String()
	case Pools:
		ref.Kind, ref.APIVersion = "VirtualMachinePool", "pool.kubevirt.io/v1beta1"
	}
	q := quantity(v)
	if info.Metric == MemoryWorkingSet || info.Metric == MemoryWorkingSet+SumSuffix {
		q = *resource.NewQuantity(int64(math.Round(v)), resource.BinarySI)
	}
	return &custom_metrics.MetricValue{
		DescribedObject: ref,
		Metric:          custom_metrics.MetricIdentifier{Name: info.Metric},
		Timestamp:       metav1.NewTime(at),
		Value:           q,
	}
}

// poolMetric is the average (or, for a _sum metric, the sum) of a metric
// over the running VMs a VirtualMachinePool owns.
func (p *Provider) poolMetric(ctx context.Context, name types.NamespacedName, info provider.CustomMetricInfo) (*custom_metrics.MetricValue, error) {
	metric, sum := info.Metric, false
	if base, ok := strings.CutSuffix(metric, SumSuffix); ok {
		metric, sum = base, true
	}
	if !known(metric, vmMetrics) {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	samples, err := p.samples(ctx)
	if err != nil {
		return nil, err
	}
	var total float64
	var n int
	var at time.Time
	var unread []string
	for key, s := range samples {
		if key.Namespace != name.Namespace {
			continue
		}
		vm, ok := p.source.VirtualMachine(key.Namespace, key.Name)
		if !ok || !ownedByPool(vm, name.Name) {
			continue
		}
		if v, ok := value(metric, s.VMSample); ok {
			total += v
			n++
			at = s.at
		} else if s.Node != "" {
			unread = append(unread, key.Name)
		}
	}
	// The average of the VMs read stands for the pool; their sum without
	// a running VM is too low, so there is none until it is read.
	if sum && len(unread) > 0 {
		slices.Sort(unread)
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("%s: no reading yet for running VM %s of pool %s",
			info.Metric, strings.Join(unread, ", "), name.Name))
	}
	if n == 0 {
		return nil, apierrors.NewNotFound(Pools, name.Name+" (no running VMs)")
	}
	if !sum {
		total /= float64(n)
	}
	return metricValue(info, name, at, total), nil
}

// ownedByPool reports whether pool controls vm.
func ownedByPool(vm *kvv1.VirtualMachine, pool string) bool {
	ref := metav1.GetControllerOf(vm)
	return ref != nil && ref.Kind == "VirtualMachinePool" && ref.Name == pool
}

// ListAllMetrics lists every custom metric: the set is fixed.
func (p *Provider) ListAllMetrics() []provider.CustomMetricInfo {
	var out []provider.CustomMetricInfo
	for _, gr := range []schema.GroupResource{Pods, HyperSDKVMs, KubeVirtVMs, Pools} {
		for _, m := range vmMetrics {
			out = append(out, provider.CustomMetricInfo{GroupResource: gr, Namespaced: true, Metric: m})
			if gr == Pools {
				out = append(out, provider.CustomMetricInfo{GroupResource: gr, Namespaced: true, Metric: m + SumSuffix})
			}
		}
	}
	return out
}

// VMSample is the latest sample of one VM and when it was taken, sampled
// again when older than the TTL; NotFound when the sample has no such VM,
// ServiceUnavailable when usage cannot be read.
func (p *Provider) VMSample(ctx context.Context, namespace, name string) (history.VMSample, time.Time, error) {
	samples, err := p.samples(ctx)
	if err != nil {
		return history.VMSample{}, time.Time{}, err
	}
	s, ok := samples[types.NamespacedName{Namespace: namespace, Name: name}]
	if !ok {
		return history.VMSample{}, time.Time{}, apierrors.NewNotFound(schema.GroupResource{Group: "hypersdk.io", Resource: "virtualmachines"}, name)
	}
	return s.VMSample, s.at, nil
}
