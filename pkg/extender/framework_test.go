package extender

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"

	"github.com/hypersdk/hypersdk/pkg/gpu"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// TestReserveHoldsGPUDevices walks the plugin's calls as kube-scheduler
// makes them when it schedules VM pods faster than their binds reach the
// pod cache: each reservation holds its GPU devices, so the next pod gets
// others, or none when the node has none left; a released reservation
// frees them, a pending pod's events keep it, and the bind writes the
// devices reserved.
func TestReserveHoldsGPUDevices(t *testing.T) {
	ctx := context.Background()
	e, kube, _ := fleetExtender(t, 6, false)
	const node = "node-003" // gpu-a100x4: four NVLinked A100s
	var bound []*corev1.Binding
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "binding" {
			bound = append(bound, a.(k8stesting.CreateAction).GetObject().(*corev1.Binding))
		}
		return false, nil, nil
	})
	newPod := func(name string) *corev1.Pod {
		return vmPod(name, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"),
			"nvidia.com/GA100_A100_SXM4_40GB": resource.MustParse("2")})
	}
	// schedule is one scheduling cycle up to Reserve: the devices it holds.
	schedule := func(pod *corev1.Pod) ([]string, error) {
		c := e.NewCycle(ctx, pod)
		if reason := c.Filter(node); reason != "" {
			return nil, &filteredError{reason}
		}
		if _, ok := c.Score([]string{node})[node]; !ok {
			t.Fatalf("%s: feasible in filter but not scored", pod.Name)
		}
		if err := e.Reserve(ctx, pod, node); err != nil {
			return nil, err
		}
		e.nodes.mu.RLock()
		defer e.nodes.mu.RUnlock()
		return e.nodes.pods[pod.UID].devices, nil
	}

	a, b, c := newPod("a"), newPod("b"), newPod("c")
	devA, err := schedule(a)
	if err != nil || len(devA) != 2 {
		t.Fatalf("first pod: devices %v, %v; want two", devA, err)
	}
	devB, err := schedule(b)
	if err != nil || len(devB) != 2 {
		t.Fatalf("second pod: devices %v, %v; want two", devB, err)
	}
	if slices.ContainsFunc(devB, func(id string) bool { return slices.Contains(devA, id) }) {
		t.Fatalf("second pod got %v, overlapping the first's reserved %v", devB, devA)
	}
	// b's pod changes while its bind is under way (still unbound): the
	// reservation stands.
	e.nodes.setPod(b)
	if devC, err := schedule(c); err == nil {
		t.Fatalf("third pod got %v with all four GPUs reserved", devC)
	}

	e.Unreserve(a.UID)
	devC, err := schedule(c)
	if err != nil || !sameSet(devC, devA) {
		t.Fatalf("after the first pod's reservation was released the third got %v, %v; want its devices %v", devC, err, devA)
	}

	if _, err := kube.CoreV1().Pods("ns").Create(ctx, b.DeepCopy(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, &extenderv1.ExtenderBindingArgs{PodName: b.Name, PodNamespace: "ns", PodUID: b.UID, Node: node}); err != nil {
		t.Fatal(err)
	}
	if len(bound) != 1 || !sameSet(strings.Split(bound[0].Annotations[gpu.AssignedAnnotation], ","), devB) {
		t.Fatalf("bindings %+v, want one with the reserved devices %v", bound, devB)
	}
	// The pod cache sees b bound: the assumption gives way to the pod.
	b.Spec.NodeName = node
	b.Annotations = bound[0].Annotations
	e.nodes.setPod(b)
	e.Unreserve(b.UID) // too late: a bound pod stays counted
	if devD, err := schedule(newPod("d")); err == nil {
		t.Fatalf("a fourth pod got %v while b (bound) and c (reserved) hold every GPU", devD)
	}
}

type filteredError struct{ reason string }

func (f *filteredError) Error() string { return "filtered: " + f.reason }

func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool { return !slices.Contains(b, s) })
}

// TestScoreOfFewerNodesThanFiltered: when the scheduler scores only some of
// the nodes the filter passed, their scores are what evaluating those
// nodes alone gives (the filter's assessment ranked again among them).
func TestScoreOfFewerNodesThanFiltered(t *testing.T) {
	ctx := context.Background()
	e, _, names := fleetExtender(t, 60, false)
	pod := vmPod("vm", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")})
	res := e.Filter(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
	passed := *res.NodeNames
	if len(passed) < 10 {
		t.Fatalf("filter passed %d nodes", len(passed))
	}
	// The nodes outside the cleanest zone, as if kube-scheduler's own
	// filters had ruled those out.
	var some []string
	for _, n := range passed {
		if e.nodes.zone(n) != "NO" {
			some = append(some, n)
		}
	}
	p, reused := e.score(ctx, pod, some)
	if !reused {
		t.Fatal("the filter's evaluation was not reused")
	}
	got := map[string]float64{}
	for _, s := range p.decision.Scores {
		got[s.Node] = s.Total
	}
	want := e.evaluate(ctx, pod, some).decision.Scores
	if len(got) != len(want) {
		t.Fatalf("scored %d nodes, want %d", len(got), len(want))
	}
	differs := false
	among := e.evaluate(ctx, pod, passed).decision.Scores
	for _, s := range want {
		if g, ok := got[s.Node]; !ok || g != s.Total {
			t.Errorf("%s: score %v (%t), want %v as evaluated alone", s.Node, g, ok, s.Total)
		}
		a, _ := findScore(among, s.Node)
		differs = differs || a.Total != s.Total
	}
	if !differs {
		t.Error("every score equals its score among all the passed nodes: the subset does not test ranking again")
	}
}

// TestCycleDecidesAsTheVerbs: a Cycle, its Filter called from a goroutine
// per node as kube-scheduler calls the plugin's, then Score over some of
// the nodes that passed, leaves the bind the decision the extender's
// filter and prioritize leave: the same ranked scores and filter reasons,
// a node the cache has not seen among them.
func TestCycleDecidesAsTheVerbs(t *testing.T) {
	ctx := context.Background()
	e, _, names := fleetExtender(t, 60, false)
	names = append(names, "node-not-seen")
	pod := vmPod("big", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("24"), corev1.ResourceMemory: resource.MustParse("64Gi")})

	res := e.Filter(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
	passed := *res.NodeNames
	failed := allFailed(res)
	if len(res.FailedNodes) < 2 || len(passed) < 6 {
		t.Fatalf("the filter passed %d nodes and failed %d: the case tests too little", len(passed), len(res.FailedNodes))
	}
	kept := passed[:len(passed)*2/3] // as if kube-scheduler scored only these
	e.score(ctx, pod, kept)
	want, _ := e.recall(pod.UID)

	c := e.NewCycle(ctx, pod)
	reasons := make([]string, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { reasons[i] = c.Filter(n) })
	}
	wg.Wait()
	for i, n := range names {
		if reasons[i] != failed[n] {
			t.Errorf("%s: cycle's filter says %q, the extender's %q", n, reasons[i], failed[n])
		}
	}
	c.Score(kept)
	got, ok := e.recall(pod.UID)
	if !ok {
		t.Fatal("the cycle left no decision for the bind")
	}
	if !reflect.DeepEqual(got.decision.Scores, want.decision.Scores) {
		t.Errorf("cycle's scores %+v\nthe verbs' %+v", got.decision.Scores, want.decision.Scores)
	}
	sortByNode := func(f []placement.FilteredNode) []placement.FilteredNode {
		f = slices.Clone(f)
		slices.SortFunc(f, func(a, b placement.FilteredNode) int { return strings.Compare(a.Node, b.Node) })
		return f
	}
	if g, w := got.decision.Filtered, sortByNode(want.decision.Filtered); !reflect.DeepEqual(g, w) {
		t.Errorf("cycle's filtered %v\nthe verbs' %v", g, w)
	}
	if got.policyName != want.policyName || !reflect.DeepEqual(got.zones, want.zones) {
		t.Errorf("cycle's policy %q and zones %v, the verbs' %q and %v", got.policyName, got.zones, want.policyName, want.zones)
	}
}

// TestCycleSpotNodes: for a VM that forbids spot, Filter rules out a spot
// node without assessing it, with the model's own reason, and follows a
// node relabelled on-demand. For a VM without the label, Filter passes spot
// nodes (it cannot know whether another node fits) and Score puts them
// below every other node, where the filter verb, which sees every node,
// rules them out. A VM that allows spot uses spot nodes like any other.
func TestCycleSpotNodes(t *testing.T) {
	ctx := context.Background()
	e, _, names := fleetExtender(t, 40, false)
	pod := vmPod("vm", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")})
	pod.Labels[AllowSpotLabel] = "false"
	want := allFailed(e.Filter(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names}))
	c := e.NewCycle(ctx, pod)
	var spot []string
	for _, n := range names {
		got := c.Filter(n)
		if got != want[n] {
			t.Errorf("%s: cycle's reason %q, the filter verb's %q", n, got, want[n])
		}
		if got == placement.SpotNodeReason {
			spot = append(spot, n)
		}
	}
	if len(spot) < 2 || len(spot) == len(names) {
		t.Fatalf("%d of %d nodes spot: the fleet tests too little", len(spot), len(names))
	}

	delete(pod.Labels, AllowSpotLabel)
	want = allFailed(e.Filter(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names}))
	c = e.NewCycle(ctx, pod)
	var passed []string
	for _, n := range names {
		if reason := c.Filter(n); reason == "" {
			passed = append(passed, n)
		}
	}
	totals := c.Score(passed)
	for _, n := range spot {
		if want[n] != placement.SpotFallbackReason {
			t.Errorf("%s: the filter verb's reason %q for a VM without the label, want %q", n, want[n], placement.SpotFallbackReason)
		}
		if total, ok := totals[n]; !ok || total != 0 {
			t.Errorf("%s: cycle's score %v (scored %t) for a VM without the label, want 0", n, total, ok)
		}
	}
	if len(totals) != len(passed) || len(passed) == len(spot) {
		t.Fatalf("scored %d of %d passed nodes, %d of them spot", len(totals), len(passed), len(spot))
	}
	for n, total := range totals {
		if !slices.Contains(spot, n) && total < 1 {
			t.Errorf("%s: on-demand node scored %v, not above the spot nodes", n, total)
		}
	}

	pod.Labels[AllowSpotLabel] = "false"
	for _, fn := range fleet.Plan(40) {
		if fn.Name == spot[0] {
			node := fn.Object()
			node.Labels[fleet.CapacityTypeLabel] = "on-demand"
			e.nodes.setNode(node)
		}
	}
	if reason := e.NewCycle(ctx, pod).Filter(spot[0]); reason != "" {
		t.Errorf("%s relabelled on-demand: still ruled out: %s", spot[0], reason)
	}

	pod.Labels[AllowSpotLabel] = "true"
	want = e.Filter(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names}).FailedNodes
	c = e.NewCycle(ctx, pod)
	for _, n := range spot[1:] {
		if reason := c.Filter(n); reason != "" || want[n] != "" {
			t.Errorf("%s: ruled out for a VM that allows spot: cycle %q, filter verb %q", n, reason, want[n])
		}
	}
}

// TestScoreRanksFiltersAssessment: Score ranks the nodes Filter passed with
// the assessment Filter made, as kube-scheduler scores from the snapshot
// its filters saw, even when a node's pods change in between; a node
// Filter was never asked about is assessed when it is scored, and a node
// Filter was asked about twice is ranked once.
func TestScoreRanksFiltersAssessment(t *testing.T) {
	ctx := context.Background()
	e, _, names := fleetExtender(t, 30, false)
	pod := vmPod("vm", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")})
	pod.Labels[AllowSpotLabel] = "true"
	visited, late := names[:len(names)-1], names[len(names)-1]

	c := e.NewCycle(ctx, pod)
	for _, n := range visited {
		if reason := c.Filter(n); reason != "" {
			t.Fatalf("%s ruled out: %s", n, reason)
		}
	}
	c.Filter(visited[0])
	before := e.evaluate(ctx, pod, names).decision.Scores

	// A pod bound meanwhile changes a passed node's pressure.
	changed := visited[1]
	filler := vmPod("filler", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("12"), corev1.ResourceMemory: resource.MustParse("24Gi")})
	filler.Spec.NodeName = changed
	e.nodes.setPod(filler)
	after := e.evaluate(ctx, pod, names).decision.Scores
	a, _ := findScore(after, changed)
	b, _ := findScore(before, changed)
	if a.Pressure == b.Pressure {
		t.Fatalf("%s: the bound pod left its pressure at %v: the case tests nothing", changed, a.Pressure)
	}

	totals := c.Score(names)
	got, _ := e.recall(pod.UID)
	if len(got.decision.Scores) != len(names) {
		t.Fatalf("ranked %d scores, want one per node, %d", len(got.decision.Scores), len(names))
	}
	for _, w := range before {
		if w.Node == late {
			continue // assessed now, after the change
		}
		g, ok := findScore(got.decision.Scores, w.Node)
		if !ok || g.Pressure != w.Pressure {
			t.Errorf("%s: pressure %v (%t), want %v as Filter assessed it", w.Node, g.Pressure, ok, w.Pressure)
		}
	}
	if _, ok := totals[late]; !ok {
		t.Errorf("%s, never filtered, was not scored", late)
	}
}

// allFailed joins the nodes a filter result rules out, resolvable by
// preemption or not.
func allFailed(res *extenderv1.ExtenderFilterResult) extenderv1.FailedNodesMap {
	all := extenderv1.FailedNodesMap{}
	maps.Copy(all, res.FailedNodes)
	maps.Copy(all, res.FailedAndUnresolvableNodes)
	return all
}

// TestFilterTellsWhatPreemptionCannotMend: nodes ruled out as spot for a VM
// that forbids it, or unknown to the extender, go to
// FailedAndUnresolvableNodes, so kube-scheduler evicts nothing there; a
// node short of room stays in FailedNodes, which preemption may mend.
func TestFilterTellsWhatPreemptionCannotMend(t *testing.T) {
	ctx := context.Background()
	e, _, names := fleetExtender(t, 60, false)
	names = append(names, "node-not-seen")
	pod := vmPod("big", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("24"), corev1.ResourceMemory: resource.MustParse("64Gi")})
	pod.Labels[AllowSpotLabel] = "false"
	res := e.Filter(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
	if got := res.FailedAndUnresolvableNodes["node-not-seen"]; got != unknownNodeReason {
		t.Errorf("unknown node: unresolvable reason %q, want %q", got, unknownNodeReason)
	}
	spot, short := 0, 0
	for n, reason := range res.FailedAndUnresolvableNodes {
		if reason == placement.SpotNodeReason {
			spot++
		} else if n != "node-not-seen" {
			t.Errorf("%s unresolvable for %q", n, reason)
		}
	}
	for n, reason := range res.FailedNodes {
		if !strings.HasPrefix(reason, "insufficient ") {
			t.Errorf("%s resolvable for %q", n, reason)
		}
		short++
	}
	if spot == 0 || short == 0 {
		t.Fatalf("%d spot and %d short nodes: the case tests too little", spot, short)
	}
}

// TestBindsDoNotShareGPUs: through the HTTP verbs, two GPU pods scored
// before either is bound are picked the same devices; their binds, which
// kube-scheduler runs concurrently, give them different ones, and a bind
// that fails frees what it took.
func TestBindsDoNotShareGPUs(t *testing.T) {
	ctx := context.Background()
	e, kube, _ := fleetExtender(t, 6, false)
	const node = "node-003" // gpu-a100x4: four NVLinked A100s
	fail := map[string]bool{}
	var bound []*corev1.Binding
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		if fail[b.Name] {
			return true, nil, errors.New("etcd is down")
		}
		bound = append(bound, b)
		return false, nil, nil
	})
	pods := map[string]*corev1.Pod{}
	for _, name := range []string{"a", "b", "c"} {
		pod := vmPod(name, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"),
			"nvidia.com/GA100_A100_SXM4_40GB": resource.MustParse("2")})
		pods[name] = pod
		if _, err := kube.CoreV1().Pods("ns").Create(ctx, pod.DeepCopy(), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Prioritize(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &[]string{node}}); err != nil {
			t.Fatal(err)
		}
	}
	bind := func(name string) error {
		return e.Bind(ctx, &extenderv1.ExtenderBindingArgs{PodName: name, PodNamespace: "ns", PodUID: pods[name].UID, Node: node})
	}
	fail["a"] = true
	if err := bind("a"); err == nil {
		t.Fatal("a bind the API refused succeeded")
	}
	for _, name := range []string{"b", "c"} {
		if err := bind(name); err != nil {
			t.Fatalf("bind %s: %v", name, err)
		}
	}
	if len(bound) != 2 {
		t.Fatalf("%d bindings, want b's and c's", len(bound))
	}
	devB := strings.Split(bound[0].Annotations[gpu.AssignedAnnotation], ",")
	devC := strings.Split(bound[1].Annotations[gpu.AssignedAnnotation], ",")
	if len(devB) != 2 || len(devC) != 2 || slices.ContainsFunc(devC, func(id string) bool { return slices.Contains(devB, id) }) {
		t.Fatalf("b bound with %v and c with %v: want two devices each, none shared", devB, devC)
	}
}

// TestOtherPodsPassThrough: a pod that asks for /dev/kvm without being a
// VM's launcher (Kata, Firecracker) is sent to the extender too; it passes
// every node, scores alike everywhere and is bound plainly, without a
// placement record or GPU devices.
func TestOtherPodsPassThrough(t *testing.T) {
	ctx := context.Background()
	e, kube, names := fleetExtender(t, 40, false)
	pod := vmPod("kata", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("24"), corev1.ResourceMemory: resource.MustParse("64Gi"),
		"nvidia.com/GA100_A100_SXM4_40GB": resource.MustParse("2")})
	pod.Labels = map[string]string{"app": "kata", AllowSpotLabel: "false"}
	res := e.Filter(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
	if res.NodeNames == nil || len(*res.NodeNames) != len(names) || len(res.FailedNodes)+len(res.FailedAndUnresolvableNodes) != 0 {
		t.Fatalf("filter of a pod that is no VM: %d of %d nodes passed, %v failed", len(*res.NodeNames), len(names), allFailed(res))
	}
	scores, err := e.Prioritize(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
	if err != nil || len(*scores) != len(names) {
		t.Fatalf("prioritize: %v, %v", scores, err)
	}
	for _, s := range *scores {
		if s.Score != 0 {
			t.Errorf("%s scored %d for a pod that is no VM", s.Host, s.Score)
		}
	}
	var bound *corev1.Binding
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "binding" {
			bound = a.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		}
		return false, nil, nil
	})
	if _, err := kube.CoreV1().Pods("ns").Create(ctx, pod.DeepCopy(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, &extenderv1.ExtenderBindingArgs{PodName: pod.Name, PodNamespace: "ns", PodUID: pod.UID, Node: names[0]}); err != nil {
		t.Fatal(err)
	}
	if bound == nil || bound.Target.Name != names[0] || len(bound.Annotations) != 0 {
		t.Fatalf("binding %+v, want a plain one to %s", bound, names[0])
	}
}

// TestFilterWithPodsGone: on a node whose four GPUs two VM pods hold, a
// third GPU VM does not fit; assessed as a preemption asks, with one of
// them evicted, it does; the cycle's own view of the node is unchanged,
// and a nominated pod counted there takes the room back.
func TestFilterWithPodsGone(t *testing.T) {
	ctx := context.Background()
	e, _, _ := fleetExtender(t, 6, false)
	const node = "node-003" // gpu-a100x4: four NVLinked A100s
	gpuPod := func(name string) *corev1.Pod {
		return vmPod(name, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"),
			"nvidia.com/GA100_A100_SXM4_40GB": resource.MustParse("2")})
	}
	a, b := gpuPod("a"), gpuPod("b")
	for _, pod := range []*corev1.Pod{a, b} {
		c := e.NewCycle(ctx, pod)
		if reason := c.Filter(node); reason != "" {
			t.Fatalf("%s: %s", pod.Name, reason)
		}
		c.Score([]string{node})
		if err := e.Reserve(ctx, pod, node); err != nil {
			t.Fatal(err)
		}
	}
	c := e.NewCycle(ctx, gpuPod("c"))
	full := c.Filter(node)
	if full == "" {
		t.Fatal("a third pod fits a node whose four GPUs are held")
	}
	evicted := &PodChanges{}
	evicted.Remove(a)
	if reason := c.FilterWith(node, evicted); reason != "" {
		t.Errorf("with a evicted: %q, want room", reason)
	}
	if reason := c.Filter(node); reason != full {
		t.Errorf("after the what-if: %q, want %q as before", reason, full)
	}
	e.nodes.mu.RLock()
	devices := strings.Join(e.nodes.pods[a.UID].devices, ",")
	e.nodes.mu.RUnlock()
	d := gpuPod("d")
	d.Annotations = map[string]string{gpu.AssignedAnnotation: devices}
	nominated := evicted.Clone()
	nominated.Add(d)
	if reason := c.FilterWith(node, nominated); reason == "" {
		t.Error("with a evicted and d nominated onto its GPUs: room, want none")
	}
	// Preemption tries to spare each victim: removed, added back, removed
	// again when the node is then full.
	spared := evicted.Clone()
	spared.Add(a)
	if reason := c.FilterWith(node, spared); reason == "" {
		t.Error("with a evicted and added back: room, want the node full as it is")
	}
	spared.Remove(a)
	spared.Remove(a)
	if reason := c.FilterWith(node, spared); reason != "" {
		t.Errorf("with a evicted again (twice): %q, want room", reason)
	}
	spared.Remove(b)
	e.nodes.mu.RLock()
	snap, _ := e.nodes.snapshotLocked(node, nil)
	e.nodes.mu.RUnlock()
	e.nodes.apply(&snap, node, spared)
	if snap.RequestedCPU != 0 || len(snap.GPUsAssigned) != 0 {
		t.Errorf("with a and b evicted, a twice: %v CPUs, GPUs %v requested; want none (each counted once)", snap.RequestedCPU, snap.GPUsAssigned)
	}
}
