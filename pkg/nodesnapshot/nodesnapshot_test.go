package nodesnapshot

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/gpu"
)

// TestBadInventoryKeepsThePublishedGPUs: a node whose GPU inventory
// annotation does not parse keeps the GPUs it publishes in allocatable (no
// topology), rather than none, which would refuse every GPU VM there.
func TestBadInventoryKeepsThePublishedGPUs(t *testing.T) {
	for _, inventory := range []string{`[{"model":"A100"}]`, `[{"id":"gpu0","model":"A100","numaNode":0}]`} {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "gpu-node", Annotations: map[string]string{gpu.InventoryAnnotation: inventory}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"),
				corev1.ResourceMemory: resource.MustParse("128Gi"), "nvidia.com/gpu": resource.MustParse("4")}},
		}
		if _, err := gpu.NodeDevices(node); err == nil {
			t.Fatalf("inventory %s parses: the test needs one that does not", inventory)
		}
		if s := Static(node, cost.DefaultModel()); len(s.GPUs) != 4 {
			t.Errorf("GPUs of a node with inventory %s and 4 published: %+v, want 4", inventory, s.GPUs)
		}
	}
}

// TestCordonedNodeKeepsItsRoom: kube-scheduler passes a cordoned node to
// the extender only for a pod that tolerates node.kubernetes.io/unschedulable
// (NodeUnschedulable filters it for the others), so the snapshot must not
// take its room away and refuse that pod where kube-scheduler places it.
func TestCordonedNodeKeepsItsRoom(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "cordoned"},
		Spec:       corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"),
			corev1.ResourceMemory: resource.MustParse("64Gi")}},
	}
	s := Static(node, cost.DefaultModel())
	if s.AllocatableCPU != 16 || s.AllocatableMemory != 64*(1<<30) {
		t.Errorf("allocatable of a cordoned node: %v CPUs, %v bytes; want 16 and 64Gi", s.AllocatableCPU, s.AllocatableMemory)
	}
}

// TestSpotNodes: spot is read from HyperSDK's label in any case, from the
// clouds' own spot labels without it, and a value that cannot be read
// counts as spot, so a VM that must not run on spot is kept off it.
func TestSpotNodes(t *testing.T) {
	for _, tc := range []struct {
		labels map[string]string
		want   cost.CapacityType
	}{
		{nil, cost.OnDemand},
		{map[string]string{cost.CapacityTypeLabel: "spot"}, cost.Spot},
		{map[string]string{cost.CapacityTypeLabel: "Spot"}, cost.Spot},
		{map[string]string{cost.CapacityTypeLabel: "On-Demand"}, cost.OnDemand},
		{map[string]string{cost.CapacityTypeLabel: "preemptible"}, cost.Spot},
		{map[string]string{"karpenter.sh/capacity-type": "spot"}, cost.Spot},
		{map[string]string{"eks.amazonaws.com/capacityType": "SPOT"}, cost.Spot},
		{map[string]string{"cloud.google.com/gke-spot": "true"}, cost.Spot},
		{map[string]string{"kubernetes.azure.com/scalesetpriority": "spot"}, cost.Spot},
		{map[string]string{"karpenter.sh/capacity-type": "on-demand"}, cost.OnDemand},
		// HyperSDK's own label decides over a cloud's.
		{map[string]string{cost.CapacityTypeLabel: "on-demand", "cloud.google.com/gke-spot": "true"}, cost.OnDemand},
	} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: tc.labels},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi")}}}
		if got := Static(node, cost.DefaultModel()).CapacityType; got != tc.want {
			t.Errorf("labels %v: capacity type %q, want %q", tc.labels, got, tc.want)
		}
	}
}
