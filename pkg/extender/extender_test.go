package extender

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	listers "github.com/hypersdk/hypersdk/generated/listers/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/gpu"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

func TestScaleScore(t *testing.T) {
	for _, tc := range []struct {
		total float64
		want  int64
	}{{0, 0}, {4.9, 0}, {5, 1}, {54.9, 5}, {95, 10}, {100, 10}, {-3, 0}, {130, 10}} {
		if got := scaleScore(tc.total); got != tc.want {
			t.Errorf("scaleScore(%v) = %d, want %d", tc.total, got, tc.want)
		}
	}
}

func policyLister(t *testing.T, policies ...*v1alpha1.PlacementPolicy) listers.PlacementPolicyLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, p := range policies {
		if err := idx.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return listers.NewPlacementPolicyLister(idx)
}

func TestSelectPolicy(t *testing.T) {
	green := &v1alpha1.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "green"}, Spec: v1alpha1.PlacementPolicySpec{
		VMSelector:   &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "batch"}},
		CarbonWeight: ptr.To[int32](90), MaxCarbonIntensity: ptr.To[int32](200), GPUPolicy: v1alpha1.GPUPolicySpread,
		CarbonPricePerTonne: ptr.To[int32](250),
	}}
	urgent := &v1alpha1.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "urgent"}, Spec: v1alpha1.PlacementPolicySpec{
		VMSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "batch", "urgent": "yes"}},
		Priority:   10, CarbonWeight: ptr.To[int32](0), PressureWeight: ptr.To[int32](100),
	}}
	all := &v1alpha1.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: v1alpha1.PlacementPolicySpec{CostWeight: ptr.To[int32](5)}}
	lister := policyLister(t, green, urgent, all)

	for _, tc := range []struct {
		labels   map[string]string
		name     string
		carbon   float64
		pressure float64
		cost     float64
	}{
		{map[string]string{"tier": "web"}, "all", 1, 1, 5},
		{map[string]string{"tier": "batch"}, "all", 1, 1, 5}, // same priority: first by name
		{map[string]string{"tier": "batch", "urgent": "yes"}, "urgent", 0, 100, 1},
	} {
		p, name := selectPolicy(lister, tc.labels)
		if name != tc.name || p.CarbonWeight != tc.carbon || p.PressureWeight != tc.pressure || p.CostWeight != tc.cost {
			t.Errorf("labels %v: got %s %+v, want %s carbon %v pressure %v cost %v", tc.labels, name, p, tc.name, tc.carbon, tc.pressure, tc.cost)
		}
		if p.CostBudgetPercent != nil {
			// A policy that sets a carbon or cost weight trades them by weight.
			t.Errorf("labels %v: policy %s has a cost budget of %v%%, want none", tc.labels, name, *p.CostBudgetPercent)
		}
	}

	p, name := selectPolicy(policyLister(t, green), map[string]string{"tier": "batch"})
	if name != "green" || p.CarbonWeight != 90 || p.CostWeight != 1 || p.MaxCarbonIntensity != 200 || p.GPUPolicy != placement.GPUSpread ||
		p.CarbonPricePerTonne != 250 {
		t.Errorf("green: got %s %+v", name, p)
	}
	budget := &v1alpha1.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "budget"}, Spec: v1alpha1.PlacementPolicySpec{
		CostBudgetPercent: ptr.To[int32](7)}}
	if p, _ := selectPolicy(policyLister(t, budget), nil); p.CostBudgetPercent == nil || *p.CostBudgetPercent != 7 || p.CarbonPricePerTonne != 0 {
		t.Errorf("budget: got %+v, want a 7%% cost budget", p)
	}
	packing := &v1alpha1.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "packing"}, Spec: v1alpha1.PlacementPolicySpec{
		PressureWeight: ptr.To[int32](3)}}
	if p, _ := selectPolicy(policyLister(t, packing), nil); p.CostBudgetPercent == nil ||
		*p.CostBudgetPercent != placement.DefaultCostBudgetPercent || p.PressureWeight != 3 {
		t.Errorf("packing: got %+v, want pressure weight 3 and the default cost budget", p)
	}
	if p, name := selectPolicy(policyLister(t), nil); name != "" || !reflect.DeepEqual(p, placement.DefaultPolicy()) {
		t.Errorf("no policies: got %s %+v, want the default", name, p)
	}
}

func launcher(uid, node string, cpu string, devices string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: uid, Namespace: "ns", UID: k8stypes.UID("uid-" + uid)},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "compute",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("1Gi")}}}}},
	}
	if devices != "" {
		p.Annotations = map[string]string{gpu.AssignedAnnotation: devices}
		n := int64(len(strings.Split(devices, ",")))
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": *resource.NewQuantity(n, resource.DecimalSI)}
	}
	return p
}

// gpuNodeAllocatable is what a node of 16 CPUs, 64Gi and 4 GPUs has.
func gpuNodeAllocatable() corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"),
		"nvidia.com/gpu": resource.MustParse("4")}
}

func TestNodeCacheSums(t *testing.T) {
	c := newNodeCache(cost.DefaultModel())
	c.setNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"topology.kubernetes.io/region": "NO"}},
		Status: corev1.NodeStatus{Allocatable: gpuNodeAllocatable()}})
	a := launcher("a", "n1", "2", "gpu0,gpu1")
	c.setPod(a)
	c.setPod(launcher("b", "n1", "500m", ""))
	c.setPod(launcher("pending", "", "8", "")) // not bound: not counted
	intensity := func(string) (float64, bool) { return 42, true }

	snaps, unknown := c.snapshots([]string{"n1", "nope"}, map[string]nodeUsage{"n1": {cpu: 3, mem: 1 << 30}}, intensity)
	if len(unknown) != 1 || unknown[0] != "nope" || len(snaps) != 1 {
		t.Fatalf("snapshots %+v unknown %v", snaps, unknown)
	}
	s := snaps[0]
	if s.RequestedCPU != 2.5 || s.RequestedMemory != 2<<30 || !s.GPUsAssigned["gpu0"] || !s.GPUsAssigned["gpu1"] ||
		s.Zone != "NO" || s.CarbonIntensity != 42 || !s.UsageKnown || s.UsageCPU != 3 || s.AllocatableCPU != 16 {
		t.Fatalf("snapshot %+v", s)
	}

	// The pod finishes: its requests and devices are released once.
	done := a.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	c.setPod(done)
	c.deletePod(a.UID)
	snaps, _ = c.snapshots([]string{"n1"}, nil, intensity)
	if s := snaps[0]; s.RequestedCPU != 0.5 || len(s.GPUsAssigned) != 0 || s.UsageKnown {
		t.Fatalf("after the pod finished: %+v", s)
	}
}

// TestNodeCacheKeepsPodsOfARecreatedNode: a Node object deleted and made
// again while its VM pods run still has their requests and GPU devices
// counted, and their delete events later leave the sums at zero, not below.
func TestNodeCacheKeepsPodsOfARecreatedNode(t *testing.T) {
	c := newNodeCache(cost.DefaultModel())
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Allocatable: gpuNodeAllocatable()}}
	c.setNode(node)
	gpuPod := launcher("a", "n1", "2", "gpu0")
	c.setPod(gpuPod)
	c.deleteNode("n1")
	if _, reason := c.filterSnapshot("n1", nil, false); reason != unknownNodeReason {
		t.Errorf("a deleted node: reason %q, want it unknown", reason)
	}
	c.setNode(node)
	s, reason := c.filterSnapshot("n1", nil, false)
	if reason != "" || s.RequestedCPU != 2 || !s.GPUsAssigned["gpu0"] {
		t.Errorf("made again: %q, requested %v CPUs, devices %v; want the running pod's 2 CPUs and gpu0", reason, s.RequestedCPU, s.GPUsAssigned)
	}
	c.deletePod(gpuPod.UID)
	if s, _ := c.filterSnapshot("n1", nil, false); s.RequestedCPU != 0 || len(s.GPUsAssigned) != 0 {
		t.Errorf("after the pod went: requested %v CPUs, devices %v; want none", s.RequestedCPU, s.GPUsAssigned)
	}
	// A node gone with its last pod leaves nothing behind.
	c.setPod(gpuPod)
	c.deleteNode("n1")
	c.deletePod(gpuPod.UID)
	if len(c.nodes) != 0 {
		t.Errorf("nodes kept: %v", c.nodes)
	}
}
