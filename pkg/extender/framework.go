package extender

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The calls below serve hypersdk-scheduler's scheduler-framework plugin
// (pkg/schedulerplugin), which runs the same model in kube-scheduler's
// process: Filter and Bind as for the HTTP verbs, Score in place of
// Prioritize (the model's 0..100 totals, unscaled), and Reserve/Unreserve,
// which the extender protocol has no verb for.

// Score evaluates names for pod and returns each feasible node's weighted
// total (0..100), keeping the evaluation for the bind. Nodes the model
// rules out are absent.
func (e *Extender) Score(ctx context.Context, pod *corev1.Pod, names []string) map[string]float64 {
	p, _ := e.score(ctx, pod, names)
	out := make(map[string]float64, len(p.decision.Scores))
	for _, s := range p.decision.Scores {
		out[s.Node] = s.Total
	}
	return out
}

// Reserve holds node's share of the pod's decision, above all its GPU
// devices, until the bind reaches the pod cache: the scheduler scores the
// next pods before this one's bind has happened, and without the hold they
// could be given the same devices. When the devices scored for node were
// taken meanwhile, node is evaluated again, and an error says why it no
// longer fits.
func (e *Extender) Reserve(ctx context.Context, pod *corev1.Pod, node string) error {
	e.mu.Lock()
	p, scored := e.decisions[pod.UID]
	e.mu.Unlock()
	chosen, ok := findScore(p.decision.Scores, node)
	if !scored || !ok || !devicesStillFree(e.nodes, chosen, pod.UID) {
		again, c, err := e.evaluateOne(ctx, pod, node)
		if err != nil {
			return fmt.Errorf("reserving %s for %s/%s: %w", node, pod.Namespace, pod.Name, err)
		}
		chosen = c
		again.decision.Filtered = append(p.decision.Filtered, again.decision.Filtered...)
		e.remember(pod.UID, again)
	}
	e.nodes.assume(pod, node, chosen.GPUDevices)
	return nil
}

// Unreserve drops what Reserve held for a pod whose bind will not happen.
func (e *Extender) Unreserve(uid types.UID) {
	e.nodes.forget(uid)
	e.mu.Lock()
	delete(e.decisions, uid)
	e.mu.Unlock()
}
