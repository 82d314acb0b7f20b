package extender

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/gpu"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/placementrecord"
)

// AllowSpotLabel is placement.AllowSpotLabel: the extender reads it from
// the virt-launcher pod.
const AllowSpotLabel = placement.AllowSpotLabel

// Filter keeps the nodes the placement model finds feasible and gives the
// reason for each other one. The scheduler runs with nodeCacheCapable, so
// only names travel.
//
// With ChooseInFilter, when nothing but the extender's model would rank the
// nodes (the pod states no soft preference and no node carries a
// PreferNoSchedule taint it does not tolerate), the filter keeps only the
// model's best node. kube-scheduler then binds it without scoring and
// without calling prioritize: one HTTP round trip, a pod encoding and a
// score list per VM fewer. What is given up is the default plugins' own
// taste (least-allocated spreading, image locality) for such pods, which the
// model's pressure criterion replaces anyway at extender weight 20.
func (e *Extender) Filter(ctx context.Context, args *extenderv1.ExtenderArgs) *extenderv1.ExtenderFilterResult {
	if args.Pod == nil || args.NodeNames == nil {
		return &extenderv1.ExtenderFilterResult{Error: "filter needs a pod and node names (nodeCacheCapable: true)"}
	}
	if !isLauncher(args.Pod) {
		return &extenderv1.ExtenderFilterResult{NodeNames: args.NodeNames} // not a VM: not the extender's business
	}
	p := e.evaluate(ctx, args.Pod, *args.NodeNames)
	dropSpotFallbacks(&p.decision)
	failed := make(extenderv1.FailedNodesMap, len(p.decision.Filtered))
	var unresolvable extenderv1.FailedNodesMap
	for _, f := range p.decision.Filtered {
		if Unresolvable(f.Reason) {
			if unresolvable == nil {
				unresolvable = extenderv1.FailedNodesMap{}
			}
			unresolvable[f.Node] = f.Reason
			continue
		}
		failed[f.Node] = f.Reason
	}
	e.metrics.filtered.Add(float64(len(p.decision.Filtered)))
	var names []string
	chosen := e.cfg.ChooseInFilter && len(p.decision.Scores) > 1 && !weighsPreferences(args.Pod) &&
		!e.nodes.avoidedByTaint(*args.NodeNames, args.Pod.Spec.Tolerations)
	if chosen {
		// The bind records this evaluation as the decision.
		names = []string{p.decision.Scores[0].Node}
		e.remember(args.Pod.UID, p)
	} else {
		names = make([]string, 0, len(p.decision.Scores))
		for _, s := range p.decision.Scores {
			names = append(names, s.Node)
		}
		// Prioritize usually asks about exactly the nodes that passed: keep
		// the evaluation for it, and the reasons for the record.
		e.rememberFiltered(args.Pod.UID, p)
	}
	klog.FromContext(ctx).V(3).Info("Filtered", "pod", klog.KObj(args.Pod), "nodes", len(*args.NodeNames), "passed", len(p.decision.Scores),
		"chosen", chosen, "policy", p.policyName)
	return &extenderv1.ExtenderFilterResult{NodeNames: &names, FailedNodes: failed, FailedAndUnresolvableNodes: unresolvable}
}

// isLauncher reports whether pod is a VM's virt-launcher pod. Other pods
// may ask for devices.kubevirt.io/kvm too (Kata, Firecracker), and so be
// sent here; the placement model knows nothing of them.
func isLauncher(pod *corev1.Pod) bool {
	return pod.Labels[kubevirt.LauncherLabel] == kubevirt.LauncherLabelValue
}

// dropSpotFallbacks moves the spot fallbacks of d from its scores, ranked
// best first, to its filtered nodes when another node is scored:
// kube-scheduler's own filters have already run, so that node is feasible,
// and a fallback must not be left for kube-scheduler's scoring to pick.
func dropSpotFallbacks(d *placement.Decision) {
	if len(d.Scores) == 0 || d.Scores[0].SpotFallback {
		return
	}
	kept := d.Scores[:0]
	for _, s := range d.Scores {
		if s.SpotFallback {
			d.Filtered = append(d.Filtered, placement.FilteredNode{Node: s.Node, Reason: placement.SpotFallbackReason})
			continue
		}
		kept = append(kept, s)
	}
	d.Scores = kept
}

// weighsPreferences reports whether the pod states a preference that
// kube-scheduler's own scoring weighs: preferred node affinity, preferred
// pod affinity or anti-affinity, or a topology spread it may break
// (ScheduleAnyway). Preferred terms of other pods towards this one are not
// looked at; KubeVirt puts anti-affinity on every VM of a set alike.
func weighsPreferences(pod *corev1.Pod) bool {
	if a := pod.Spec.Affinity; a != nil {
		if a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
			return true
		}
		if a.PodAffinity != nil && len(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
			return true
		}
		if a.PodAntiAffinity != nil && len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
			return true
		}
	}
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable == corev1.ScheduleAnyway {
			return true
		}
	}
	return false
}

// Prioritize scores the nodes 0..MaxExtenderPriority from the model's
// weighted total (0..100), and keeps the result for the bind.
func (e *Extender) Prioritize(ctx context.Context, args *extenderv1.ExtenderArgs) (*extenderv1.HostPriorityList, error) {
	if args.Pod == nil || args.NodeNames == nil {
		return nil, fmt.Errorf("%w: prioritize needs a pod and node names (nodeCacheCapable: true)", errBadArguments)
	}
	if !isLauncher(args.Pod) {
		out := make(extenderv1.HostPriorityList, len(*args.NodeNames))
		for i, n := range *args.NodeNames {
			out[i] = extenderv1.HostPriority{Host: n} // the same for every node: no say
		}
		return &out, nil
	}
	p, ok := e.score(ctx, args.Pod, *args.NodeNames)
	out := make(extenderv1.HostPriorityList, 0, len(*args.NodeNames))
	for _, s := range p.decision.Scores {
		out = append(out, extenderv1.HostPriority{Host: s.Node, Score: scaleScore(s.Total)})
	}
	// Nodes the model rules out (the filter may not have run, or the world
	// changed since) score zero rather than going missing.
	for _, f := range p.decision.Filtered {
		out = append(out, extenderv1.HostPriority{Host: f.Node, Score: 0})
	}
	klog.FromContext(ctx).V(3).Info("Prioritized", "pod", klog.KObj(args.Pod), "nodes", len(*args.NodeNames),
		"filtered", len(p.decision.Filtered), "reused", ok)
	return &out, nil
}

// score evaluates names for pod, reusing the filter's evaluation when it
// scored every one of them, and keeps the result for the bind. The
// scheduler often asks about fewer nodes than the filter passed (its own
// filters, or enough feasible nodes found on a large cluster): those are
// ranked again among themselves (placement.Rescore), since min-max
// normalisation depends on the set, without assessing them again.
func (e *Extender) score(ctx context.Context, pod *corev1.Pod, names []string) (p pending, reused bool) {
	p, reused = e.filteredFor(pod.UID)
	var subset []placement.NodeScore
	if reused {
		subset, reused = scoresOf(p.decision.Scores, names)
	}
	if reused {
		if len(subset) < len(p.decision.Scores) {
			placement.Rescore(e.vmRequest(pod), subset, p.policy)
			p.decision.Scores = subset
		}
	} else {
		// Not filtered by us, or asked about nodes the filter did not
		// pass: score them afresh.
		filtered := p.decision.Filtered
		p = e.evaluate(ctx, pod, names)
		p.decision.Filtered = append(filtered, p.decision.Filtered...)
	}
	e.remember(pod.UID, p)
	return p, reused
}

// scoresOf returns copies of the scores of names, and whether every name
// has one.
func scoresOf(scores []placement.NodeScore, names []string) ([]placement.NodeScore, bool) {
	if len(names) > len(scores) {
		return nil, false
	}
	index := make(map[string]int, len(scores))
	for i, s := range scores {
		index[s.Node] = i
	}
	out := make([]placement.NodeScore, 0, len(names))
	for _, n := range names {
		i, ok := index[n]
		if !ok {
			return nil, false
		}
		out = append(out, scores[i])
	}
	return out, true
}

// scaleScore maps a 0..100 total onto the extender range, rounding so the
// best node of a spread-out field gets the full score.
func scaleScore(total float64) int64 {
	s := int64(math.Round(total * float64(extenderv1.MaxExtenderPriority) / 100))
	return min(max(s, 0), extenderv1.MaxExtenderPriority)
}

// Bind binds the pod to the chosen node with the GPU devices the model picks
// there, and records the decision on the pod in the same write.
func (e *Extender) Bind(ctx context.Context, args *extenderv1.ExtenderBindingArgs) error {
	pod, err := e.pod(ctx, args)
	if err != nil {
		return err
	}
	if !isLauncher(pod) {
		// Not a VM: bound as kube-scheduler's own binder would.
		err := e.cfg.Kube.CoreV1().Pods(args.PodNamespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Namespace: args.PodNamespace, Name: args.PodName, UID: args.PodUID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: args.Node},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("binding %s/%s to %s: %w", args.PodNamespace, args.PodName, args.Node, err)
		}
		return nil
	}
	p, scored := e.recall(args.PodUID)
	chosen, ok := findScore(p.decision.Scores, args.Node)
	if !scored || !ok || !e.nodes.claim(pod, args.Node, chosen.GPUDevices) {
		// Not scored (e.g. a single feasible node skips prioritize), or the
		// devices picked were taken since: score the chosen node now.
		var again pending
		if again, chosen, err = e.evaluateOne(ctx, pod, args.Node); err != nil {
			return fmt.Errorf("binding %s/%s to %s: %w", args.PodNamespace, args.PodName, args.Node, err)
		}
		if !e.nodes.claim(pod, args.Node, chosen.GPUDevices) {
			return fmt.Errorf("binding %s/%s to %s: the GPUs picked there were taken meanwhile", args.PodNamespace, args.PodName, args.Node)
		}
		if !scored {
			// What the filter ruled out is still part of this decision.
			filtered, _ := e.filteredFor(args.PodUID)
			p = again
			p.decision.Filtered = append(filtered.decision.Filtered, again.decision.Filtered...)
		}
	}
	record := e.record(args.PodName, args.Node, p, chosen)
	value, err := placementrecord.Encode(record)
	if err != nil {
		return err
	}
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: args.PodNamespace, Name: args.PodName, UID: args.PodUID,
			Annotations: map[string]string{placementrecord.Annotation: value}},
		Target: corev1.ObjectReference{Kind: "Node", Name: args.Node},
	}
	if len(chosen.GPUDevices) > 0 {
		binding.Annotations[gpu.AssignedAnnotation] = strings.Join(chosen.GPUDevices, ",")
	}
	if err := e.cfg.Kube.CoreV1().Pods(args.PodNamespace).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		e.nodes.forget(args.PodUID)
		return fmt.Errorf("binding %s/%s to %s: %w", args.PodNamespace, args.PodName, args.Node, err)
	}
	return nil
}

// pod returns the pod being bound from the cache, or from the API when the
// cache has not seen it yet (it may be seconds old).
func (e *Extender) pod(ctx context.Context, args *extenderv1.ExtenderBindingArgs) (*corev1.Pod, error) {
	pod, err := e.pods.Pods(args.PodNamespace).Get(args.PodName)
	if err != nil || pod.UID != args.PodUID {
		if pod, err = e.cfg.Kube.CoreV1().Pods(args.PodNamespace).Get(ctx, args.PodName, metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("reading pod %s/%s: %w", args.PodNamespace, args.PodName, err)
		}
	}
	if pod.UID != args.PodUID {
		return nil, fmt.Errorf("pod %s/%s has UID %s, not %s", args.PodNamespace, args.PodName, pod.UID, args.PodUID)
	}
	return pod, nil
}

// evaluateOne scores the pod on node alone, the node the scheduler chose,
// when the earlier evaluation is gone or stale; the error is the model's
// reason the node does not fit.
func (e *Extender) evaluateOne(ctx context.Context, pod *corev1.Pod, node string) (pending, placement.NodeScore, error) {
	p := e.evaluate(ctx, pod, []string{node})
	chosen, ok := findScore(p.decision.Scores, node)
	if !ok {
		reason := "node is not feasible"
		if len(p.decision.Filtered) > 0 {
			reason = p.decision.Filtered[0].Reason
		}
		return p, chosen, errors.New(reason)
	}
	return p, chosen, nil
}

func findScore(scores []placement.NodeScore, node string) (placement.NodeScore, bool) {
	for _, s := range scores {
		if s.Node == node {
			return s, true
		}
	}
	return placement.NodeScore{}, false
}

// record is the decision as the placement subresource serves it: the best
// candidates (with the chosen node always among them) and the first
// filtered nodes with their reasons.
func (e *Extender) record(pod, node string, p pending, chosen placement.NodeScore) *v1alpha1.PlacementDecision {
	d := &v1alpha1.PlacementDecision{
		Time: metav1.NewTime(e.cfg.Clock.Now()), Pod: pod, Node: node, Policy: p.policyName,
		Weights: v1alpha1.PlacementWeights{Carbon: p.policy.CarbonWeight, Cost: p.policy.CostWeight,
			Pressure: p.policy.PressureWeight, GPU: p.policy.GPUWeight},
		GPUDevices:    chosen.GPUDevices,
		FilteredCount: int32(len(p.decision.Filtered)),
	}
	included := false
	for i, s := range p.decision.Scores {
		if i >= e.cfg.Candidates {
			break
		}
		if s.Node == node {
			// The chosen node as bound: scored again at bind when the
			// devices first picked there were taken meanwhile.
			s, included = chosen, true
		}
		d.Candidates = append(d.Candidates, e.toAPIScore(s, p.zones))
	}
	if !included {
		d.Candidates = append(d.Candidates, e.toAPIScore(chosen, p.zones))
	}
	for i, f := range p.decision.Filtered {
		if i >= e.cfg.FilteredShown {
			break
		}
		d.Filtered = append(d.Filtered, v1alpha1.FilteredNode{Node: f.Node, Reason: f.Reason})
	}
	return d
}

// toAPIScore is a score as the record shows it: what is unknown (the
// zone's intensity, the node's price) is left out, not written as 0.
func (e *Extender) toAPIScore(s placement.NodeScore, zones map[string]zoneValue) v1alpha1.NodeScore {
	zone := e.nodes.zone(s.Node)
	out := v1alpha1.NodeScore{
		Node: s.Node, Zone: zone, Total: round2(s.Total), Carbon: round2(s.Carbon), Cost: round2(s.Cost),
		Pressure: round2(s.Pressure), GPU: round2(s.GPU),
		PredictedUtilization: round2(s.PredictedUtilization), OverBudget: s.OverBudget, SpotFallback: s.SpotFallback, GPUDevices: s.GPUDevices,
	}
	if z, ok := zones[zone]; ok && z.ok {
		out.CarbonIntensity = ptr.To(round2(z.v))
	}
	if s.CarbonKnown {
		out.GramsCO2PerHour = ptr.To(round2(s.GramsCO2PerHour))
	}
	if !s.PriceUnknown {
		out.CostPerHour = ptr.To(math.Round(s.CostPerHour*1e4) / 1e4)
	}
	return out
}

// round2 keeps two decimals: the record is for people and stays small.
func round2(v float64) float64 { return math.Round(v*100) / 100 }
