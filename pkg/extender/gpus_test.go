package extender

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/gpu"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// TestGPUsOfPodsPlacedWithoutTheExtender: a VM pod bound without the
// extender (it was down, or another scheduler placed it) says not which
// GPUs it has; as many of the node's devices of its resource count as
// taken, so the next GPU VM does not see them free, and they are free
// again when the pod goes.
func TestGPUsOfPodsPlacedWithoutTheExtender(t *testing.T) {
	c := newNodeCache(cost.DefaultModel())
	var node *corev1.Node
	// The pod is seen before its node (the informers start together).
	for _, fn := range fleet.Plan(30) {
		if o := fn.Object(); node == nil && !o.Status.Allocatable.Name("nvidia.com/GA100_A100_SXM4_40GB", resource.DecimalSI).IsZero() {
			node = o
		}
	}
	if node == nil {
		t.Fatal("no A100 server in the fleet")
	}
	pod := vmPod("elsewhere", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"),
		"devices.kubevirt.io/kvm": resource.MustParse("1")})
	pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/GA100_A100_SXM4_40GB": resource.MustParse("2")}
	pod.Spec.NodeName = node.Name
	c.setPod(pod)
	c.setNode(node)
	s, _ := c.snapshotLocked(node.Name, nil)
	total := len(s.GPUs)
	if total < 4 {
		t.Fatalf("A100 server: %d GPUs, want at least 4", total)
	}
	if len(s.GPUsAssigned) != 2 {
		t.Errorf("with a pod of 2 unnamed GPUs: %d of %d taken, want 2", len(s.GPUsAssigned), total)
	}
	c.deletePod(pod.UID)
	s, _ = c.snapshotLocked(node.Name, nil)
	if len(s.GPUsAssigned) != 0 {
		t.Errorf("after the pod went: %d taken, want 0", len(s.GPUsAssigned))
	}
}

// a100Node is the first A100 server of the sandbox's fleet.
func a100Node(t *testing.T) *corev1.Node {
	t.Helper()
	for _, fn := range fleet.Plan(30) {
		if o := fn.Object(); !o.Status.Allocatable.Name("nvidia.com/GA100_A100_SXM4_40GB", resource.DecimalSI).IsZero() {
			return o
		}
	}
	t.Fatal("no A100 server in the fleet")
	return nil
}

// TestGPUsNamedButNotAskedForAreFree: a pod's annotation names its GPUs,
// and whoever may make or change a pod writes it: devices count as held
// only as far as the pod asks for their resource, so a pod naming every
// GPU of a node without asking for any holds none, and one asking for one
// holds one.
func TestGPUsNamedButNotAskedForAreFree(t *testing.T) {
	c := newNodeCache(cost.DefaultModel())
	node := a100Node(t)
	c.setNode(node)
	forged := vmPod("forged", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m")})
	forged.Spec.NodeName, forged.Annotations = node.Name, map[string]string{gpu.AssignedAnnotation: "gpu0,gpu1,gpu2,gpu3"}
	c.setPod(forged)
	if s, _ := c.snapshotLocked(node.Name, nil); len(s.GPUsAssigned) != 0 {
		t.Errorf("a pod naming 4 GPUs, asking for none, holds %v; want none", s.GPUsAssigned)
	}
	one := vmPod("one", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})
	one.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/GA100_A100_SXM4_40GB": resource.MustParse("1")}
	one.Spec.NodeName, one.Annotations = node.Name, map[string]string{gpu.AssignedAnnotation: "gpu2,gpu3"}
	c.setPod(one)
	if s, _ := c.snapshotLocked(node.Name, nil); len(s.GPUsAssigned) != 1 || !s.GPUsAssigned["gpu2"] {
		t.Errorf("a pod naming 2 GPUs, asking for 1, holds %v; want gpu2 alone", s.GPUsAssigned)
	}
	// Bound pods naming it: the extender's claim of gpu2 for another fails,
	// of gpu0 succeeds.
	other := vmPod("other", nil)
	if c.claim(other, node.Name, []string{"gpu2"}) {
		t.Error("claimed gpu2, held by a pod asking for it")
	}
	if !c.claim(other, node.Name, []string{"gpu0"}) {
		t.Error("could not claim gpu0, named only by a pod not asking for it")
	}
}

// TestPreemptionGivesBackGPUsOfPodsPlacedWithoutTheExtender: a victim
// that names no devices (placed by another scheduler) gives its GPUs back
// when preemption removes it, as one that names them does.
func TestPreemptionGivesBackGPUsOfPodsPlacedWithoutTheExtender(t *testing.T) {
	c := newNodeCache(cost.DefaultModel())
	node := a100Node(t)
	c.setNode(node)
	victim := vmPod("victim", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")})
	victim.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/GA100_A100_SXM4_40GB": resource.MustParse("4")}
	victim.Spec.NodeName = node.Name
	c.setPod(victim)
	snap, _ := c.snapshotLocked(node.Name, nil)
	if len(snap.GPUsAssigned) != 4 {
		t.Fatalf("with the victim: %v held, want 4", snap.GPUsAssigned)
	}
	var changes PodChanges
	changes.Remove(victim)
	c.apply(&snap, node.Name, &changes)
	if len(snap.GPUsAssigned) != 0 || snap.RequestedCPU != 0 {
		t.Errorf("with the victim removed: %v held, %v CPUs; want none", snap.GPUsAssigned, snap.RequestedCPU)
	}
}

// TestRecordShowsTheChosenNodeAsBound: when the devices first picked on the
// chosen node were taken and it was scored again at bind, its candidate
// entry shows the devices bound, as the record's own list does.
func TestRecordShowsTheChosenNodeAsBound(t *testing.T) {
	e, _, _ := fleetExtender(t, 3, false)
	first := placement.NodeScore{Node: "n1", GPUDevices: []string{"gpu0", "gpu1"}}
	other := placement.NodeScore{Node: "n2"}
	again := placement.NodeScore{Node: "n1", GPUDevices: []string{"gpu2", "gpu3"}}
	var p pending
	p.decision.Scores = []placement.NodeScore{first, other}
	d := e.record("pod", "n1", p, again)
	if got := d.Candidates[0].GPUDevices; len(d.Candidates) != 2 || !slices.Equal(got, again.GPUDevices) || !slices.Equal(d.GPUDevices, again.GPUDevices) {
		t.Errorf("record: devices %v, chosen candidate's %v; want both %v", d.GPUDevices, got, again.GPUDevices)
	}
}

// TestReserveAgainKeepsTheCandidates: when the devices scored for the
// chosen node were taken before Reserve and the node is evaluated again,
// the decision keeps the other candidates (the record shows them) and has
// the node as reserved.
func TestReserveAgainKeepsTheCandidates(t *testing.T) {
	ctx := context.Background()
	e, _, _ := fleetExtender(t, 12, false)
	const chosen, other = "node-003", "node-009" // both gpu-a100x4
	newPod := func(name string) *corev1.Pod {
		return vmPod(name, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"),
			"nvidia.com/GA100_A100_SXM4_40GB": resource.MustParse("2")})
	}
	pod := newPod("p")
	c := e.NewCycle(ctx, pod)
	for _, n := range []string{chosen, other} {
		if reason := c.Filter(n); reason != "" {
			t.Fatalf("%s: %s", n, reason)
		}
	}
	c.Score([]string{chosen, other})
	e.mu.Lock()
	scored, _ := findScore(e.decisions[pod.UID].decision.Scores, chosen)
	e.mu.Unlock()
	if len(scored.GPUDevices) != 2 || !e.nodes.claim(newPod("q"), chosen, scored.GPUDevices) {
		t.Fatalf("scored devices %v could not be taken by another pod", scored.GPUDevices)
	}
	if err := e.Reserve(ctx, pod, chosen); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	scores := e.decisions[pod.UID].decision.Scores
	e.mu.Unlock()
	reserved, ok := findScore(scores, chosen)
	if _, kept := findScore(scores, other); !kept || !ok || slices.Equal(reserved.GPUDevices, scored.GPUDevices) {
		t.Errorf("decision after Reserve evaluated %s again: %+v; want %s kept and %s with other devices than %v", chosen, scores, other, chosen, scored.GPUDevices)
	}
}

// TestADeviceNamedTwiceIsHeldOnce: two pods naming the same device (two
// extender replicas each claimed it before seeing the other's bind) hold
// two devices between them, not one: the node's free count stays right.
func TestADeviceNamedTwiceIsHeldOnce(t *testing.T) {
	const r = "nvidia.com/A100"
	gpus := []gpu.Device{{ID: "gpu0", ResourceName: r}, {ID: "gpu1", ResourceName: r}, {ID: "gpu2", ResourceName: r}}
	named := map[types.UID]gpuClaim{
		"a": {devices: []string{"gpu0"}, requests: map[string]int64{r: 1}},
		"b": {devices: []string{"gpu0"}, requests: map[string]int64{r: 1}},
	}
	held := gpusHeld(gpus, named, nil, nil)
	if len(held) != 2 || !held["gpu0"] {
		t.Errorf("held %v, want gpu0 and one more", held)
	}
}
