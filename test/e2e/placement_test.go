package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/gpu"
	"github.com/hypersdk/hypersdk/pkg/placementrecord"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/test/framework"
)

// policyLabel on a VM's template selects the PlacementPolicy of one test,
// so policies never reach the VMs of other tests.
const policyLabel = "e2e.hypersdk.io/policy"

// createPolicy makes a PlacementPolicy selecting VMs labelled with its name,
// deleted after the test.
func createPolicy(t *testing.T, name string, spec v1alpha1.PlacementPolicySpec) {
	t.Helper()
	spec.VMSelector = &metav1.LabelSelector{MatchLabels: map[string]string{policyLabel: name}}
	_, err := env.HyperSDK.HypersdkV1alpha1().PlacementPolicies().Create(context.Background(),
		&v1alpha1.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating PlacementPolicy %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = env.HyperSDK.HypersdkV1alpha1().PlacementPolicies().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	// Decisions use the extender's cache: wait until the policy is in it.
	framework.Eventually(t, "the extender seeing PlacementPolicy "+name, func(ctx context.Context) (bool, error) {
		list, err := env.HyperSDK.HypersdkV1alpha1().PlacementPolicies().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		cached, err := scrape(ctx, env.ExtenderHTTPClient(), env.ExtenderURL()+"/metrics", "hypersdk_extender_placement_policies")
		return err == nil && int(cached) == len(list.Items), err
	})
}

// placedVM is a KubeVirt VM under a policy, optionally kept to some zones.
func placedVM(name, policy string, zones []string, extraLabels map[string]string) *kvv1.VirtualMachine {
	vm := kubevirtVM(name, 1, "1Gi", nil)
	labels := map[string]string{policyLabel: policy}
	for k, v := range extraLabels {
		labels[k] = v
	}
	vm.Spec.Template.ObjectMeta.Labels = labels
	if len(zones) > 0 {
		vm.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: fleet.RegionLabel, Operator: corev1.NodeSelectorOpIn, Values: zones}},
			}}},
		}}
	}
	return vm
}

// placement reads virtualmachines/placement, waiting for a decision.
func placement(t *testing.T, ns, name string) *v1alpha1.VirtualMachinePlacement {
	t.Helper()
	var p *v1alpha1.VirtualMachinePlacement
	framework.Eventually(t, "placement decision of "+name, func(ctx context.Context) (bool, error) {
		got := &v1alpha1.VirtualMachinePlacement{}
		err := env.HyperSDK.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").
			Name(name).SubResource("placement").Do(ctx).Into(got)
		if err != nil {
			return false, err
		}
		p = got
		return got.Decision != nil || got.Degraded, nil
	})
	return p
}

// TestPlacementRecordUnreadable: whoever may annotate a launcher pod can
// break its placement record; virtualmachines/placement then answers that
// the record cannot be read (Degraded), not 500.
func TestPlacementRecordUnreadable(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "placement-unreadable")
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	runningVMI(t, ns, "vm", "")
	pods := launcherPods(t, ns, "vm")
	if len(pods) != 1 {
		t.Fatalf("%d launcher pods, want 1", len(pods))
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"{not json"}}}`, placementrecord.Annotation)
	if _, err := env.Kube.CoreV1().Pods(ns).Patch(ctx, pods[0].Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	got := &v1alpha1.VirtualMachinePlacement{}
	if err := env.HyperSDK.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").
		Name("vm").SubResource("placement").Do(ctx).Into(got); err != nil {
		t.Fatalf("placement of a pod with a broken record: %v, want an answer saying so", err)
	}
	if !got.Degraded || got.Decision != nil || !strings.Contains(got.Message, "cannot be read") {
		t.Errorf("placement of a pod with a broken record: degraded %v, decision %v, message %q", got.Degraded, got.Decision, got.Message)
	}
}

// decision reads the VM's placement decision, failing if it was placed
// without the extender.
func decision(t *testing.T, ns, name string) *v1alpha1.PlacementDecision {
	t.Helper()
	p := placement(t, ns, name)
	if p.Decision == nil {
		t.Fatalf("no placement decision for %s: %s", name, p.Message)
	}
	return p.Decision
}

// intensityOf, costOf and gramsOf are figures of the record that every
// sandbox node has (each zone an intensity, each node a price): absent,
// the record says unknown where it should not.
func intensityOf(t *testing.T, s v1alpha1.NodeScore) float64 {
	t.Helper()
	return figure(t, s, s.CarbonIntensity, "carbon intensity")
}

func costOf(t *testing.T, s v1alpha1.NodeScore) float64 {
	t.Helper()
	return figure(t, s, s.CostPerHour, "cost per hour")
}

func gramsOf(t *testing.T, s v1alpha1.NodeScore) float64 {
	t.Helper()
	return figure(t, s, s.GramsCO2PerHour, "gCO2 per hour")
}

func figure(t *testing.T, s v1alpha1.NodeScore, v *float64, what string) float64 {
	t.Helper()
	if v == nil {
		t.Fatalf("the placement record has no %s for node %s (zone %q)", what, s.Node, s.Zone)
	}
	return *v
}

func chosen(t *testing.T, d *v1alpha1.PlacementDecision) v1alpha1.NodeScore {
	t.Helper()
	for _, c := range d.Candidates {
		if c.Node == d.Node {
			return c
		}
	}
	t.Fatalf("chosen node %s missing from the candidates %+v", d.Node, d.Candidates)
	return v1alpha1.NodeScore{}
}

// deleteVM deletes a KubeVirt VM and waits until its pods are gone, so the
// capacity it held is free again.
func deleteVM(t *testing.T, ns, name string) {
	t.Helper()
	if err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	framework.Eventually(t, "pods of "+name+" gone", func(ctx context.Context) (bool, error) {
		pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "vm.kubevirt.io/name=" + name})
		return err == nil && len(pods.Items) == 0, err
	})
}

// TestPlacementFollowsCarbon: with carbon dominant, each VM goes to the
// cleaner of Spain and California at the moment it is placed, and as the
// replayed traces cross, the choice moves from one zone to the other.
func TestPlacementFollowsCarbon(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "carbon")
	createPolicy(t, "carbon-first", v1alpha1.PlacementPolicySpec{CarbonWeight: ptr.To[int32](100), CostWeight: ptr.To[int32](0),
		PressureWeight: ptr.To[int32](0), GPUWeight: ptr.To[int32](0)})
	zones := []string{"ES", "US-CAL-CISO"}
	seen := map[string]bool{}
	deadline := time.Now().Add(3 * time.Minute)
	for i := 0; len(seen) < 2; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d VMs only zones %v were chosen; the traces cross several times a simulated day", i, seen)
		}
		name := fmt.Sprintf("follow-%d", i)
		createKubeVirtVM(t, ns, placedVM(name, "carbon-first", zones, nil))
		runningVMI(t, ns, name, "")
		p := placement(t, ns, name)
		if p.Decision == nil {
			t.Fatalf("no decision for %s: %s", name, p.Message)
		}
		d := p.Decision
		c := chosen(t, d)
		if !slices.Contains(zones, c.Zone) {
			t.Fatalf("%s placed in zone %q, outside its affinity %v", name, c.Zone, zones)
		}
		// The chosen zone is the cleanest among the candidates at decision time.
		for _, other := range d.Candidates {
			if intensityOf(t, other) < intensityOf(t, c) {
				t.Fatalf("%s went to %s (%s, %.1f g/kWh) although %s (%s) had %.1f g/kWh", name, c.Node, c.Zone,
					intensityOf(t, c), other.Node, other.Zone, intensityOf(t, other))
			}
		}
		if c.Carbon != 100 {
			t.Fatalf("chosen node %s has carbon score %v, want the best (100): %+v", c.Node, c.Carbon, d.Candidates)
		}
		if d.Policy != "carbon-first" {
			t.Fatalf("decision used policy %q, want carbon-first", d.Policy)
		}
		seen[c.Zone] = true
		deleteVM(t, ns, name)
	}
}

// TestPlacementSoftPreference: a VM with a soft preference is left to
// kube-scheduler's scoring, which calls prioritize; the extender's score
// still leads (weight 20), so the VM lands in the cleaner zone. VMs without
// one are chosen in filter and never reach prioritize (the other tests).
func TestPlacementSoftPreference(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "softpref")
	createPolicy(t, "soft-carbon", v1alpha1.PlacementPolicySpec{CarbonWeight: ptr.To[int32](100), CostWeight: ptr.To[int32](0),
		PressureWeight: ptr.To[int32](0), GPUWeight: ptr.To[int32](0)})
	prioritized := func(ctx context.Context) (float64, error) {
		v, err := scrape(ctx, env.ExtenderHTTPClient(), env.ExtenderURL()+"/metrics", "hypersdk_extender_requests_total", "verb", "prioritize", "result", "ok")
		if err != nil && strings.Contains(err.Error(), "not exported") {
			return 0, nil // no prioritize call yet
		}
		return v, err
	}
	before, err := prioritized(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	vm := placedVM("preferring", "soft-carbon", []string{"ES", "US-CAL-CISO"}, nil)
	// Anti-affinity to pods that do not exist: kube-scheduler weighs it, equally everywhere.
	vm.Spec.Template.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 50, PodAffinityTerm: corev1.PodAffinityTerm{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"e2e.hypersdk.io/nothing": "here"}},
			TopologyKey:   "kubernetes.io/hostname"}}}}
	createKubeVirtVM(t, ns, vm)
	runningVMI(t, ns, vm.Name, "")
	d := decision(t, ns, vm.Name)
	if c := chosen(t, d); c.Carbon != 100 {
		t.Fatalf("chosen node %s has carbon score %v, want the best (100): %+v", c.Node, c.Carbon, d.Candidates)
	}
	after, err := prioritized(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("prioritize calls %v before and %v after placing a VM with a soft preference, want more", before, after)
	}
}

// TestPlacementCarbonLimit: nodes in zones above maxCarbonIntensity are
// filtered with that reason, and the VM lands in a zone below it.
func TestPlacementCarbonLimit(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "carbonlimit")
	// Norway's grid stays far below 80 g/kWh all year; Spain and California
	// stay above it.
	createPolicy(t, "clean-only", v1alpha1.PlacementPolicySpec{MaxCarbonIntensity: ptr.To[int32](80)})
	createKubeVirtVM(t, ns, placedVM("clean", "clean-only", nil, nil))
	runningVMI(t, ns, "clean", "")
	d := decision(t, ns, "clean")
	if d == nil || d.Policy != "clean-only" {
		t.Fatalf("decision %+v, want one under policy clean-only", d)
	}
	if c := chosen(t, d); c.Zone != "NO" || intensityOf(t, c) > 80 {
		t.Fatalf("VM placed on %s in %s at %.1f g/kWh, want a Norwegian node below 80", c.Node, c.Zone, intensityOf(t, c))
	}
	// Every Spanish and Californian node is ruled out: by the carbon limit,
	// or first by another hard limit (a spot node, for this VM).
	dirty := append(nodesWithLabel(t, fleet.RegionLabel, "ES"), nodesWithLabel(t, fleet.RegionLabel, "US-CAL-CISO")...)
	byCarbon := 0
	for _, node := range dirty {
		i := slices.IndexFunc(d.Filtered, func(f v1alpha1.FilteredNode) bool { return f.Node == node })
		if i < 0 {
			t.Fatalf("%s, in a zone above 80 g/kWh, was not filtered: %+v", node, d.Filtered)
		}
		if strings.Contains(d.Filtered[i].Reason, "above policy maximum 80") {
			byCarbon++
		}
	}
	if byCarbon < len(dirty)-len(nodesWithLabel(t, fleet.CapacityTypeLabel, "spot")) {
		t.Fatalf("want every on-demand node of Spain and California filtered by the carbon limit, got %+v", d.Filtered)
	}
}

// TestPlacementFollowsCost: with cost dominant the cheapest feasible node
// wins; spot nodes are filtered for a VM without the allow-spot label while
// other nodes fit it, and chosen for one that allows spot. A VM without the
// label that only spot nodes can take (its own affinity) runs on one, as
// kube-scheduler would place it; one labelled allow-spot "false" does not.
func TestPlacementFollowsCost(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "cost")
	createPolicy(t, "cheapest", v1alpha1.PlacementPolicySpec{CarbonWeight: ptr.To[int32](0), CostWeight: ptr.To[int32](100),
		PressureWeight: ptr.To[int32](0)})
	spotNodes := nodesWithLabel(t, fleet.CapacityTypeLabel, "spot")
	if len(spotNodes) == 0 {
		t.Fatal("the test fleet has no spot node")
	}

	createKubeVirtVM(t, ns, placedVM("on-demand", "cheapest", nil, nil))
	runningVMI(t, ns, "on-demand", "")
	d := decision(t, ns, "on-demand")
	c := chosen(t, d)
	if slices.Contains(spotNodes, c.Node) {
		t.Fatalf("VM without spot permission placed on spot node %s", c.Node)
	}
	for _, other := range d.Candidates {
		if costOf(t, other) < costOf(t, c) {
			t.Fatalf("chose %s at $%.4f/h over cheaper %s at $%.4f/h", c.Node, costOf(t, c), other.Node, costOf(t, other))
		}
	}
	for _, spot := range spotNodes {
		if !slices.ContainsFunc(d.Filtered, func(f v1alpha1.FilteredNode) bool {
			return f.Node == spot && strings.Contains(f.Reason, "spot")
		}) {
			t.Fatalf("spot node %s not filtered for a VM without spot permission: %+v", spot, d.Filtered)
		}
	}

	createKubeVirtVM(t, ns, placedVM("spot-ok", "cheapest", nil, map[string]string{"hypersdk.io/allow-spot": "true"}))
	runningVMI(t, ns, "spot-ok", "")
	d = decision(t, ns, "spot-ok")
	if c := chosen(t, d); !slices.Contains(spotNodes, c.Node) {
		t.Fatalf("VM allowing spot placed on on-demand %s ($%.4f/h); candidates %+v", c.Node, costOf(t, c), d.Candidates)
	}

	onlySpot := func(name string, labels map[string]string) {
		vm := placedVM(name, "cheapest", nil, labels)
		vm.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: fleet.CapacityTypeLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{"spot"}}},
			}}},
		}}
		createKubeVirtVM(t, ns, vm)
	}
	onlySpot("fallback", nil)
	runningVMI(t, ns, "fallback", "")
	if c := chosen(t, decision(t, ns, "fallback")); !slices.Contains(spotNodes, c.Node) || !c.SpotFallback {
		t.Fatalf("VM without the label that only spot nodes can take placed on %s (marked a spot fallback: %t)", c.Node, c.SpotFallback)
	}
	onlySpot("never-spot", map[string]string{"hypersdk.io/allow-spot": "false"})
	framework.Eventually(t, "never-spot unschedulable for want of a node that is not spot", func(ctx context.Context) (bool, error) {
		for _, p := range launcherPods(t, ns, "never-spot") {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
					if p.Spec.NodeName != "" || !strings.Contains(c.Message, "does not allow spot") {
						return false, fmt.Errorf("pod on %q, unschedulable with %q, want no node and the spot reason", p.Spec.NodeName, c.Message)
					}
					return true, nil
				}
			}
		}
		return false, nil
	})
}

// TestPlacementCostBudget: with a cost budget of 0%, carbon only chooses
// among the nodes where the VM costs least; the record marks the dearer
// candidates over budget. A budget beside a carbon price is refused.
func TestPlacementCostBudget(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "budget")
	_, err := env.HyperSDK.HypersdkV1alpha1().PlacementPolicies().Create(context.Background(),
		&v1alpha1.PlacementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "budget-and-price"}, Spec: v1alpha1.PlacementPolicySpec{
			CostBudgetPercent: ptr.To[int32](5), CarbonPricePerTonne: ptr.To[int32](200)}}, metav1.CreateOptions{})
	assertInvalid(t, err, "spec.costBudgetPercent")

	createPolicy(t, "cheapest-then-cleanest", v1alpha1.PlacementPolicySpec{CostBudgetPercent: ptr.To[int32](0),
		CarbonWeight: ptr.To[int32](100), CostWeight: ptr.To[int32](0), PressureWeight: ptr.To[int32](0), GPUWeight: ptr.To[int32](0)})
	createKubeVirtVM(t, ns, placedVM("budgeted", "cheapest-then-cleanest", nil, nil))
	runningVMI(t, ns, "budgeted", "")
	d := decision(t, ns, "budgeted")
	c := chosen(t, d)
	if c.OverBudget {
		t.Fatalf("chosen node %s is over budget: %+v", c.Node, d.Candidates)
	}
	// Prices are recorded to $0.0001/h.
	const rounding = 1e-4
	over := 0
	for _, other := range d.Candidates {
		dearer := costOf(t, other) > costOf(t, c)+rounding
		switch {
		case costOf(t, other) < costOf(t, c)-rounding:
			t.Fatalf("chose %s at $%.4f/h over cheaper %s at $%.4f/h", c.Node, costOf(t, c), other.Node, costOf(t, other))
		case dearer != other.OverBudget || (dearer && other.Total != 0):
			t.Fatalf("candidate %s at $%.4f/h (chosen $%.4f/h): over budget %v, total %v", other.Node, costOf(t, other),
				costOf(t, c), other.OverBudget, other.Total)
		case !dearer && gramsOf(t, other) < gramsOf(t, c):
			t.Fatalf("chose %s at %.2f g/h over %s at the same price and %.2f g/h", c.Node, gramsOf(t, c), other.Node, gramsOf(t, other))
		}
		if dearer {
			over++
		}
	}
	// The fleet's instance types price a VM differently, and the GPU
	// servers take CPU VMs at a premium: some candidate costs more.
	if over == 0 {
		t.Fatalf("no candidate over budget: %+v", d.Candidates)
	}
}

func nodesWithLabel(t *testing.T, key, value string) []string {
	t.Helper()
	nodes, err := env.Kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: key + "=" + value})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
	}
	return names
}

// TestPlacementAvoidsLoadedNode: a node whose simulated load is above the
// policy's maxNodeUtilization takes no new VM, and the decision says why.
func TestPlacementAvoidsLoadedNode(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "pressure")
	norway := nodesWithLabel(t, fleet.RegionLabel, "NO")
	if len(norway) != 2 {
		t.Fatalf("want two Norwegian nodes, got %v", norway)
	}
	busy, calm := norway[0], norway[1]
	// Fill most of the free CPU of one node with a VM running flat out,
	// leaving room for one more VM so that only the load can keep it out.
	free := freeCPU(t, busy)
	if free < 6 {
		t.Fatalf("%s has only %d free CPUs", busy, free)
	}
	filler := kubevirtVM("filler", uint32(free-2), "4Gi", nil)
	filler.Spec.Template.ObjectMeta.Annotations = map[string]string{"hypersdk.io/load-profile": "steady:0.95"}
	filler.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": busy}
	createKubeVirtVM(t, ns, filler)
	runningVMI(t, ns, "filler", "")
	var busyUtil, calmUtil float64
	framework.Eventually(t, busy+" loaded in metrics.k8s.io", func(ctx context.Context) (bool, error) {
		var err error
		if busyUtil, err = utilization(ctx, busy); err != nil {
			return false, err
		}
		calmUtil, err = utilization(ctx, calm)
		return busyUtil > calmUtil+20, err
	})
	loadedAt := time.Now()
	framework.Eventually(t, "the extender reading node usage after the load", func(ctx context.Context) (bool, error) {
		v, err := scrape(ctx, env.ExtenderHTTPClient(), env.ExtenderURL()+"/metrics", "hypersdk_extender_usage_updated_timestamp_seconds")
		return err == nil && v > float64(loadedAt.Unix()+1), err
	})
	// A limit between the two: the calm node stays below it with the new
	// VM, the busy one is above it already.
	limit := int32((busyUtil + calmUtil) / 2)
	t.Logf("%s at %.0f%%, %s at %.0f%%: limit %d%%", busy, busyUtil, calm, calmUtil, limit)
	createPolicy(t, "not-busy", v1alpha1.PlacementPolicySpec{MaxNodeUtilization: ptr.To(limit)})
	createKubeVirtVM(t, ns, placedVM("newcomer", "not-busy", []string{"NO"}, nil))
	runningVMI(t, ns, "newcomer", "")
	d := decision(t, ns, "newcomer")
	if d.Policy != "not-busy" {
		t.Fatalf("decision under policy %q, want not-busy", d.Policy)
	}
	if d.Node != calm {
		t.Fatalf("VM placed on %s, want %s: %s is loaded above the policy's %d%%", d.Node, calm, busy, limit)
	}
	want := fmt.Sprintf("maximum %d%%", limit)
	if !slices.ContainsFunc(d.Filtered, func(f v1alpha1.FilteredNode) bool {
		return f.Node == busy && strings.Contains(f.Reason, "utilisation") && strings.Contains(f.Reason, want)
	}) {
		t.Fatalf("%s not filtered for its load (want a reason with %q): %+v", busy, want, d.Filtered)
	}
}

// freeCPU is a node's allocatable CPU minus its pods' requests, in whole CPUs.
func freeCPU(t *testing.T, node string) int {
	t.Helper()
	n, err := env.Kube.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := env.Kube.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	free := n.Status.Allocatable.Cpu().MilliValue()
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, c := range p.Spec.Containers {
			free -= c.Resources.Requests.Cpu().MilliValue()
		}
	}
	return int(free / 1000)
}

// utilization is a node's CPU usage from metrics.k8s.io, in percent of allocatable.
func utilization(ctx context.Context, node string) (float64, error) {
	n, err := env.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	raw, err := env.Kube.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/nodes", node).DoRaw(ctx)
	if err != nil {
		return 0, err
	}
	var nm struct {
		Usage corev1.ResourceList `json:"usage"`
	}
	if err := json.Unmarshal(raw, &nm); err != nil {
		return 0, err
	}
	return 100 * nm.Usage.Cpu().AsApproximateFloat64() / n.Status.Allocatable.Cpu().AsApproximateFloat64(), nil
}

// The sandbox's GPU servers publish the device resources NVIDIA's GPU
// Operator advertises for KubeVirt.
var (
	a100Resource = fleet.GPUA100.GPUs[0].ResourceName
	t4Resource   = fleet.GPUT4.GPUs[0].ResourceName
)

// addNode is env.AddNode.
func addNode(t *testing.T, n fleet.Node, mutate ...func(*corev1.Node)) {
	t.Helper()
	env.AddNode(t, n, mutate...)
}

// gpuOnlyPolicy lets GPU fit alone decide, so that carbon and cost cannot
// pick the server.
func gpuOnlyPolicy(p v1alpha1.GPUPolicy) v1alpha1.PlacementPolicySpec {
	return v1alpha1.PlacementPolicySpec{GPUPolicy: p, CarbonWeight: ptr.To[int32](0), CostWeight: ptr.To[int32](0),
		PressureWeight: ptr.To[int32](0), GPUWeight: ptr.To[int32](100)}
}

// gpuVM asks for count A100s under a policy.
func gpuVM(name, policy string, count int) *kvv1.VirtualMachine {
	vm := placedVM(name, policy, nil, nil)
	for i := range count {
		vm.Spec.Template.Spec.Domain.Devices.GPUs = append(vm.Spec.Template.Spec.Domain.Devices.GPUs,
			kvv1.GPU{Name: fmt.Sprintf("gpu%d", i), DeviceName: a100Resource})
	}
	return vm
}

// boundDevices returns the VM's node, the devices the extender recorded in
// the pod's annotation, and the node's devices as read from what the node
// publishes; it fails if the node carries HyperSDK's inventory annotation.
func boundDevices(t *testing.T, ns, name string) (string, []string, map[string]gpu.Device) {
	t.Helper()
	pods := launcherPods(t, ns, name)
	if len(pods) != 1 {
		t.Fatalf("want one virt-launcher pod for %s, got %d", name, len(pods))
	}
	pod := pods[0]
	ids := strings.Split(pod.Annotations[gpu.AssignedAnnotation], ",")
	node, err := env.Kube.CoreV1().Nodes().Get(context.Background(), pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := node.Annotations[gpu.InventoryAnnotation]; ok {
		t.Fatalf("node %s carries %s; the sandbox publishes real shapes only", node.Name, gpu.InventoryAnnotation)
	}
	inv, err := gpu.NodeDevices(node)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]gpu.Device{}
	for _, d := range inv {
		byID[d.ID] = d
	}
	return node.Name, ids, byID
}

// TestPlacementGPUTopology: on nodes that publish only a device plugin's
// resources and GPU feature discovery's labels, a 2-GPU VM gets two devices
// joined by NVLink, and the devices bound are the ones the decision names;
// then, with one GPU of a server taken, binpack fills that server and
// spread goes to an empty one.
func TestPlacementGPUTopology(t *testing.T) {
	env.DumpLogsOnFailure(t)
	// A second A100 server, so that spread has an empty one to go to. It is
	// created before the namespace, so it goes after the namespace's VMs.
	addNode(t, fleet.Node{Name: "node-a100-extra", Zone: fleet.Zones[0], Type: fleet.GPUA100, Price: fleet.GPUA100.Price})
	ns := env.Namespace(t, "gpu")
	createPolicy(t, "gpu-binpack", gpuOnlyPolicy(v1alpha1.GPUPolicyBinpack))
	createPolicy(t, "gpu-spread", gpuOnlyPolicy(v1alpha1.GPUPolicySpread))

	createKubeVirtVM(t, ns, gpuVM("pair", "gpu-binpack", 2))
	runningVMI(t, ns, "pair", "")
	d := decision(t, ns, "pair")
	node, ids, inv := boundDevices(t, ns, "pair")
	if node != d.Node || !slices.Equal(ids, d.GPUDevices) {
		t.Fatalf("bound %s %v, decision says %s %v", node, ids, d.Node, d.GPUDevices)
	}
	if len(ids) != 2 || !slices.Contains(inv[ids[0]].NVLinkPeers, ids[1]) {
		t.Fatalf("2-GPU VM got %v on %s, not an NVLink pair (inventory %+v)", ids, node, inv)
	}
	deleteVM(t, ns, "pair")

	createKubeVirtVM(t, ns, gpuVM("first", "gpu-binpack", 1))
	runningVMI(t, ns, "first", "")
	firstNode, first, _ := boundDevices(t, ns, "first")

	createKubeVirtVM(t, ns, gpuVM("spread", "gpu-spread", 1))
	runningVMI(t, ns, "spread", "")
	if spreadNode, spread, _ := boundDevices(t, ns, "spread"); spreadNode == firstNode {
		t.Fatalf("spread put its GPU %s on %s, beside %s, while another A100 server is empty", spread[0], spreadNode, first[0])
	}
	deleteVM(t, ns, "spread")

	createKubeVirtVM(t, ns, gpuVM("binpack", "gpu-binpack", 1))
	runningVMI(t, ns, "binpack", "")
	if packNode, packed, _ := boundDevices(t, ns, "binpack"); packNode != firstNode || slices.Contains(packed, first[0]) {
		t.Fatalf("binpack put its GPU on %s %v, want another device of %s beside %s", packNode, packed, firstNode, first[0])
	}
}

// TestPlacementGPUSharing: on a node whose two T4s are cut into two T4-8Q
// vGPUs each (published as nvidia.com/GRID_T4-8Q, as KubeVirt's mediated
// devices are), spread starts a second VM on the idle GPU, binpack then
// shares that GPU, and the next VM, which the profile's rules leave no room
// for there, goes to the other GPU; each VM is bound to the instance its
// placement decision names. (Lowest-index order alone would share at the
// spread step and not at the binpack one.) A VM asking for a profile no GPU
// has is refused with the field named.
func TestPlacementGPUSharing(t *testing.T) {
	env.DumpLogsOnFailure(t)
	addNode(t, fleet.Node{Name: "node-t4-vgpu", Zone: fleet.Zones[1], Type: fleet.GPUT4vGPU, Price: fleet.GPUT4vGPU.Price})
	ns := env.Namespace(t, "vgpu")
	createPolicy(t, "vgpu-binpack", gpuOnlyPolicy(v1alpha1.GPUPolicyBinpack))
	createPolicy(t, "vgpu-spread", gpuOnlyPolicy(v1alpha1.GPUPolicySpread))
	profile := fleet.GPUT4vGPU.GPUs[0].ResourceName

	// run starts a vGPU VM and returns the physical GPU its instance is on.
	run := func(name, policy string) string {
		t.Helper()
		vm := placedVM(name, policy, nil, nil)
		vm.Spec.Template.Spec.Domain.Devices.GPUs = []kvv1.GPU{{Name: "vgpu", DeviceName: profile}}
		createKubeVirtVM(t, ns, vm)
		vmi := runningVMI(t, ns, name, "")
		d := decision(t, ns, name)
		node, ids, inv := boundDevices(t, ns, name)
		if node != "node-t4-vgpu" || node != d.Node || !slices.Equal(ids, d.GPUDevices) || len(ids) != 1 {
			t.Fatalf("%s bound to %s %v, decision says %s %v", name, node, ids, d.Node, d.GPUDevices)
		}
		if got := vmi.Annotations[gpu.AssignedAnnotation]; got != ids[0] {
			t.Errorf("%s: the guest got %q, the pod was bound to %q", name, got, ids[0])
		}
		dev := inv[ids[0]]
		if dev.Profile != "T4-8Q" || dev.Parent == "" {
			t.Fatalf("%s got %+v, not a T4-8Q instance", name, dev)
		}
		return dev.Parent
	}
	first := run("spread-1", "vgpu-spread")
	second := run("spread-2", "vgpu-spread")
	if second == first {
		t.Fatalf("spread put a second T4-8Q VM on GPU %s beside the first, while the other T4 was idle", first)
	}
	deleteVM(t, ns, "spread-1")
	if packed := run("binpack-1", "vgpu-binpack"); packed != second {
		t.Fatalf("binpack put a T4-8Q VM on idle GPU %s, want it to share %s", packed, second)
	}
	if full := run("binpack-2", "vgpu-binpack"); full == second {
		t.Fatalf("a third T4-8Q VM went to %s, whose 16 GB hold only two", full)
	}

	_, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Create(context.Background(), &v1alpha1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-profile"},
		Spec: v1alpha1.VirtualMachineSpec{CPUs: 1, Memory: ptr.To(resourceQuantity("1Gi")), Image: "quay.io/containerdisks/fedora:41",
			GPUs: []v1alpha1.GPURequest{{DeviceName: "nvidia.com/GRID_T4-5Q", Count: 1}}},
	}, metav1.CreateOptions{})
	assertInvalid(t, err, "spec.gpus[0].deviceName")
}

// TestPlacementBreakdownMatchesNode: the placement subresource, read with
// kubectl, shows the chosen node with the per-criterion scores that make up
// its total under the policy's weights; the Table form lists it.
func TestPlacementBreakdownMatchesNode(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "breakdown")
	createPolicy(t, "mixed", v1alpha1.PlacementPolicySpec{CarbonWeight: ptr.To[int32](50), CostWeight: ptr.To[int32](30),
		PressureWeight: ptr.To[int32](20)})
	createKubeVirtVM(t, ns, placedVM("explained", "mixed", nil, nil))
	vmi := runningVMI(t, ns, "explained", "")
	placement(t, ns, "explained")

	out, err := env.Kubectl(t, "get", "--raw", "/apis/hypersdk.io/v1alpha1/namespaces/"+ns+"/virtualmachines/explained/placement")
	if err != nil {
		t.Fatal(err)
	}
	var p v1alpha1.VirtualMachinePlacement
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	d := p.Decision
	if d.Node != vmi.Status.NodeName {
		t.Fatalf("decision names %s, VMI runs on %s", d.Node, vmi.Status.NodeName)
	}
	c := chosen(t, d)
	w := d.Weights
	want := (w.Carbon*c.Carbon + w.Cost*c.Cost + w.Pressure*c.Pressure) / (w.Carbon + w.Cost + w.Pressure)
	if math.Abs(want-c.Total) > 0.05 {
		t.Fatalf("total %.2f of %s does not match weights %+v and scores carbon %.2f cost %.2f pressure %.2f (want %.2f)",
			c.Total, c.Node, w, c.Carbon, c.Cost, c.Pressure, want)
	}
	if w.Carbon != 50 || w.Cost != 30 || w.Pressure != 20 {
		t.Fatalf("weights %+v, want the policy's 50/30/20", w)
	}

	req := env.HyperSDK.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").
		Name("explained").SubResource("placement").SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	raw, err := req.DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != len(d.Candidates) || !slices.ContainsFunc(table.Rows, func(r metav1.TableRow) bool {
		return r.Cells[0] == "*"+d.Node
	}) {
		t.Fatalf("table %s does not mark %s among %d candidates", raw, d.Node, len(d.Candidates))
	}
}

// TestPlacementWithoutExtender: with the extender killed, kube-scheduler
// still places VMs (the extender is ignorable), the placement subresource
// says the placement was degraded, and so do an event and a metric.
func TestPlacementWithoutExtender(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "degraded")
	env.KillExtender()
	t.Cleanup(func() {
		if err := env.StartExtender(context.Background()); err != nil {
			t.Errorf("restarting the extender: %v", err)
		}
	})
	createKubeVirtVM(t, ns, kubevirtVM("unguided", 1, "1Gi", nil))
	vmi := runningVMI(t, ns, "unguided", "")
	p := placement(t, ns, "unguided")
	if !p.Degraded || p.Decision != nil || !strings.Contains(p.Message, vmi.Status.NodeName) {
		t.Fatalf("placement %+v, want degraded on %s", p, vmi.Status.NodeName)
	}
	framework.Eventually(t, "PlacementDegraded event on the VMI", func(ctx context.Context) (bool, error) {
		events, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
			FieldSelector: "reason=PlacementDegraded,involvedObject.name=unguided"})
		return err == nil && len(events.Items) > 0, err
	})
	for _, metric := range []string{"hypersdk_placement_degraded_total", "hypersdk_placement_degraded_pods"} {
		framework.Eventually(t, metric+" above 0", func(ctx context.Context) (bool, error) {
			v, err := scrape(ctx, http.DefaultClient, env.ControllerMetricsURL(), metric)
			return err == nil && v > 0, err
		})
	}
}

// scrape reads one unlabelled sample from a Prometheus text endpoint.
func scrape(ctx context.Context, client *http.Client, url, name string, labels ...string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, err
	}
	f, ok := families[name]
	if !ok || len(f.Metric) == 0 {
		return 0, fmt.Errorf("%s not exported at %s", name, url)
	}
	// The sum of the series with the given label pairs.
	var sum float64
	found := false
series:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] }) {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		default:
			return 0, fmt.Errorf("%s is neither counter nor gauge", name)
		}
		found = true
	}
	if !found {
		return 0, fmt.Errorf("%s%v not exported at %s", name, labels, url)
	}
	return sum, nil
}
