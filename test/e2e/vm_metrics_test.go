package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"io"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	"k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	"k8s.io/utils/ptr"
	poolv1 "kubevirt.io/api/pool/v1beta1"
	"net/http"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/sandbox/usage"
	"github.com/hypersdk/hypersdk/test/framework"
)

// raw GETs path (with its query) through kube-apiserver as the admin, as
// kubectl get --raw does, and returns the body, or an error with the
// Status message the server answered.
func raw(ctx context.Context, path string) ([]byte, error) {
	hc, err := rest.HTTPClientFor(env.Admin)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.Admin.Host+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var status metav1.Status
		if json.Unmarshal(body, &status) == nil && status.Message != "" {
			return nil, fmt.Errorf("%d %s: %s", resp.StatusCode, status.Reason, status.Message)
		}
		return nil, fmt.Errorf("%d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// loadPool makes a pool of n VMs (2 vCPUs each) labelled app=<name> on
// their launcher pods, whose guests run at load.
func loadPool(t *testing.T, ns, name string, n int32, load string) {
	t.Helper()
	template := kubevirtVM("", 2, "2Gi", map[string]string{"app": name})
	template.Spec.Template.ObjectMeta.Labels = map[string]string{"app": name}
	template.Spec.Template.ObjectMeta.Annotations = map[string]string{usage.Annotation: load}
	if _, err := env.KubeVirt.PoolV1beta1().VirtualMachinePools(ns).Create(context.Background(), &poolv1.VirtualMachinePool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: poolv1.VirtualMachinePoolSpec{
			Replicas: ptr.To(n),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			VirtualMachineTemplate: &poolv1.VirtualMachineTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       template.Spec,
			},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestVMMetricsAPIs: custom.metrics.k8s.io answers for launcher pods, VMs
// through both APIs and a pool (average and sum); external.metrics.k8s.io
// for a zone's carbon intensity (now and forecast) and the namespace's VM
// cost; bad selectors are 400s naming the label; and with metrics.k8s.io
// gone the metrics are an error, not zero, so an HPA on them reports
// ScalingActive=False and leaves the pool as it is instead of scaling it to
// its minimum.
func TestVMMetricsAPIs(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "vm-metrics")
	loadPool(t, ns, "web", 2, "steady:0.5,mem=0.5")
	for _, name := range []string{"web-0", "web-1"} {
		runningVMI(t, ns, name, "")
	}

	var pods v1beta2.MetricValueList
	framework.Eventually(t, "pod metrics of the pool's launcher pods", func(ctx context.Context) (bool, error) {
		body, err := raw(ctx, "/apis/custom.metrics.k8s.io/v1beta2/namespaces/"+ns+"/pods/*/vm_cpu_utilization?labelSelector="+url.QueryEscape("app=web"))
		if err != nil {
			return false, nil
		}
		if err := json.Unmarshal(body, &pods); err != nil {
			return false, err
		}
		return len(pods.Items) == 2, nil
	})
	for _, v := range pods.Items {
		if v.DescribedObject.Kind != "Pod" || !strings.HasPrefix(v.DescribedObject.Name, "virt-launcher-web-") ||
			v.Value.MilliValue() < 300 || v.Value.MilliValue() > 700 {
			t.Errorf("pod metric %+v: want a launcher pod of the pool near 0.5 (steady load)", v)
		}
	}

	object := func(ctx context.Context, resource, name, metric string) (v1beta2.MetricValue, error) {
		var list v1beta2.MetricValueList
		body, err := raw(ctx, fmt.Sprintf("/apis/custom.metrics.k8s.io/v1beta2/namespaces/%s/%s/%s/%s", ns, resource, name, metric))
		if err != nil {
			return v1beta2.MetricValue{}, err
		}
		if err := json.Unmarshal(body, &list); err != nil || len(list.Items) != 1 {
			return v1beta2.MetricValue{}, fmt.Errorf("%s/%s %s: %d items (%v)", resource, name, metric, len(list.Items), err)
		}
		return list.Items[0], nil
	}
	ctx := context.Background()
	for _, tc := range []struct{ resource, name, metric, kind string }{
		{"virtualmachines.hypersdk.io", "web-0", "vm_cpu_utilization", "VirtualMachine"},
		{"virtualmachines.kubevirt.io", "web-1", "vm_memory_utilization", "VirtualMachine"},
		{"virtualmachines.kubevirt.io", "web-1", "vm_memory_working_set_bytes", "VirtualMachine"},
		{"virtualmachinepools.pool.kubevirt.io", "web", "vm_cpu_utilization", "VirtualMachinePool"},
	} {
		v, err := object(ctx, tc.resource, tc.name, tc.metric)
		if err != nil || v.DescribedObject.Kind != tc.kind || v.DescribedObject.Name != tc.name || v.Value.Sign() <= 0 {
			t.Errorf("%s %s %s: %+v (%v)", tc.resource, tc.name, tc.metric, v, err)
		}
	}
	// The sum of the pool's two VMs is twice their average, give or take
	// rounding, when both come from one sample (the server reuses one for a
	// while; a new one may come between the two reads, so read again).
	framework.Eventually(t, "the pool's memory sum to be twice its average", func(ctx context.Context) (bool, error) {
		avg, err := object(ctx, "virtualmachinepools.pool.kubevirt.io", "web", "vm_memory_working_set_bytes")
		if err != nil {
			return false, err
		}
		sum, err := object(ctx, "virtualmachinepools.pool.kubevirt.io", "web", "vm_memory_working_set_bytes_sum")
		if err != nil {
			return false, err
		}
		d := sum.Value.Value() - 2*avg.Value.Value()
		return avg.Value.Sign() > 0 && d >= -1 && d <= 1, nil
	})
	if _, err := object(ctx, "virtualmachinepools.pool.kubevirt.io", "nosuch", "vm_cpu_utilization"); err == nil {
		t.Errorf("a pool that does not exist has a metric")
	}

	zone := nodeZone(t)
	external := func(metric, selector string) (v1beta1.ExternalMetricValueList, error) {
		var list v1beta1.ExternalMetricValueList
		body, err := raw(ctx, "/apis/external.metrics.k8s.io/v1beta1/namespaces/"+ns+"/"+metric+"?labelSelector="+url.QueryEscape(selector))
		if err != nil {
			return list, err
		}
		return list, json.Unmarshal(body, &list)
	}
	for _, sel := range []string{"zone=" + zone, "zone=" + zone + ",horizon=6h"} {
		list, err := external("carbon_intensity", sel)
		if err != nil || len(list.Items) != 1 || list.Items[0].Value.Sign() <= 0 || list.Items[0].MetricLabels["zone"] != zone {
			t.Errorf("carbon_intensity %s: %+v (%v)", sel, list.Items, err)
		}
	}
	cost, err := external("vm_cost_per_hour", "pool=web")
	if err != nil || len(cost.Items) != 1 || cost.Items[0].Value.Sign() <= 0 {
		t.Errorf("vm_cost_per_hour of pool web: %+v (%v)", cost.Items, err)
	}
	for _, tc := range []struct{ metric, selector, mention string }{
		{"carbon_intensity", "region=x", "zone"},
		{"carbon_intensity", "zone=" + zone + ",horizon=2d", "horizon"},
		{"vm_cost_per_hour", "namespace=kube-system", "namespace"},
	} {
		_, err := external(tc.metric, tc.selector)
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s %s: %v, want a 400 naming %s", tc.metric, tc.selector, err, tc.mention)
		}
	}

	// An HPA on the pool that holds it at its maximum: the guests' average
	// is above the target, and the pool is at maxReplicas already.
	hpas := env.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns)
	if _, err := hpas.Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: poolv1.SchemeGroupVersion.String(), Kind: "VirtualMachinePool", Name: "web"},
			MinReplicas:    ptr.To[int32](1),
			MaxReplicas:    2,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "vm_cpu_utilization"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("200m"))},
			}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	scalingActive := func(want corev1.ConditionStatus) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			hpa, err := hpas.Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range hpa.Status.Conditions {
				if c.Type == autoscalingv2.ScalingActive {
					return c.Status == want, nil
				}
			}
			return false, nil
		}
	}
	framework.Eventually(t, "the HPA to read the pool's metrics (ScalingActive=True)", scalingActive(corev1.ConditionTrue))

	// metrics.k8s.io goes away: the metrics are an error until it is back,
	// and the HPA stops scaling on them (ScalingActive=False) instead of
	// reading zero and scaling the pool to its minimum. This test runs
	// before the parallel ones: the API is gone for every client meanwhile.
	withoutMetricsAPI(t, func() {
		framework.Eventually(t, "pod metrics to fail without metrics.k8s.io", func(ctx context.Context) (bool, error) {
			_, err := raw(ctx, "/apis/custom.metrics.k8s.io/v1beta2/namespaces/"+ns+"/pods/*/vm_cpu_utilization?labelSelector=app%3Dweb")
			return err != nil && strings.Contains(err.Error(), "reading VM usage"), nil
		})
		framework.Eventually(t, "the HPA to report ScalingActive=False", scalingActive(corev1.ConditionFalse))
		p, err := env.KubeVirt.PoolV1beta1().VirtualMachinePools(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := ptr.Deref(p.Spec.Replicas, 0); got != 2 {
			t.Errorf("pool replicas without metrics: %d, want 2 unchanged (not the HPA's minimum of 1)", got)
		}
	})
}

// nodeZone is the carbon zone of some node.
func nodeZone(t *testing.T) string {
	t.Helper()
	nodes, err := env.Kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if z, ok := carbon.ZoneOf(n.Labels, n.Annotations); ok {
			return z
		}
	}
	t.Fatal("no node has a zone")
	return ""
}

// withoutMetricsAPI deletes the metrics.k8s.io APIService while f runs and
// puts it back after, waiting until it is available again. Only for tests
// that do not call t.Parallel: the API is gone for the whole cluster, and a
// parallel test reading a VM's cost or history meanwhile would fail (as
// TestVMCost did in CI on 2026-12-05 beside the HPA test).
func withoutMetricsAPI(t *testing.T, f func()) {
	t.Helper()
	ctx := context.Background()
	agg, err := aggregator.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	services := agg.ApiregistrationV1().APIServices()
	saved, err := services.Get(ctx, "v1beta1.metrics.k8s.io", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restore := func() {
		back := &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: saved.Name, Labels: saved.Labels}, Spec: saved.Spec}
		if _, err := services.Create(context.Background(), back, metav1.CreateOptions{}); err != nil {
			t.Errorf("restoring %s: %v", saved.Name, err)
			return
		}
		if err := env.WaitAPIServiceAvailable(context.Background(), saved.Name); err != nil {
			t.Errorf("%s after restoring it: %v", saved.Name, err)
		}
	}
	if err := services.Delete(ctx, saved.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	defer restore()
	f()
}

// TestHPAScalesPoolOnVMMetrics: the documented example (a pool and an HPA
// on vm_cpu_utilization of its launcher pods and vm_memory_utilization of
// the pool) applied as it is: the real kube-controller-manager scales the
// pool up to its maximum when the guests get busy and back down when they
// go idle. (What an HPA does while metrics.k8s.io is gone is in
// TestVMMetricsAPIs, which runs alone: taking the API away here would take
// it from every parallel test.)
func TestHPAScalesPoolOnVMMetrics(t *testing.T) {
	// Mostly waiting (for kube-controller-manager's HPA passes): it runs beside the other
	// waiting tests once the sequential ones are done.
	t.Parallel()
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "vm-hpa")
	example := filepath.Join(framework.RepoRoot(), "artifacts", "examples", "vmpool-hpa.yaml")
	if out, err := env.Kubectl(t, "apply", "-n", ns, "-f", example); err != nil {
		t.Fatalf("kubectl apply -f %s: %v\n%s", example, err, out)
	}
	pools := env.KubeVirt.PoolV1beta1().VirtualMachinePools(ns)
	hpaActive := func(ctx context.Context) (*autoscalingv2.HorizontalPodAutoscaler, bool) {
		hpa, err := env.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return nil, false
		}
		for _, c := range hpa.Status.Conditions {
			if c.Type == autoscalingv2.ScalingActive && c.Status == "True" {
				return hpa, true
			}
		}
		return hpa, false
	}
	// The simulated guests run the load profile their VMI names: the pool's
	// template for new VMs, each VMI for a running one.
	setLoad := func(load string) {
		t.Helper()
		patch := fmt.Sprintf(`{"spec":{"virtualMachineTemplate":{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}}}`, usage.Annotation, load)
		if _, err := pools.Patch(ctx, "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		vmis, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, vmi := range vmis.Items {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, usage.Annotation, load)
			if _, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Patch(ctx, vmi.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	replicas := func(want int32) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			p, err := pools.Get(ctx, "web", metav1.GetOptions{})
			if err != nil || p.Spec.Replicas == nil || *p.Spec.Replicas != want || p.Status.ReadyReplicas != want {
				return false, err
			}
			_, active := hpaActive(ctx)
			return active, nil
		}
	}
	setLoad("steady:0.1,mem=0.3")
	framework.Eventually(t, "the HPA to read the idle pool at 2 replicas", replicas(2))
	setLoad("steady:0.95,mem=0.3")
	framework.Eventually(t, "the HPA to scale the pool to 5", replicas(5))

	setLoad("steady:0.1,mem=0.3")
	framework.Eventually(t, "the HPA to scale the pool back to 2", replicas(2))
}
