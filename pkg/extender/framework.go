package extender

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hypersdk/hypersdk/pkg/placement"
)

// The calls below serve hypersdk-scheduler's scheduler-framework plugin
// (pkg/schedulerplugin), which runs the same model in kube-scheduler's
// process: a Cycle per pod in place of filter and prioritize, Bind as for
// the HTTP verb, and Reserve/Unreserve, which the extender protocol has no
// verb for.

// Cycle is one pod's evaluation as a scheduling framework cycle asks for
// it: Filter assesses the nodes kube-scheduler visits, one at a time and
// from several goroutines (it stops visiting once it has found enough
// feasible nodes: 230 of 500, 500 of 5,000 by default), and Score ranks
// those that passed every filter. No node kube-scheduler skips is assessed
// and nothing is ranked that will not be scored, where the extender's
// verbs evaluate and rank every node they are sent.
//
// Filter keeps the scores of the nodes it passes, appended to a slice (a
// map grown under the concurrent Filter calls costs more than it saves),
// and the reasons of those it rules out. Score ranks the kept scores of the
// nodes it is given, as kube-scheduler scores from the snapshot its filters
// saw, rather than looking each node up and assessing it again.
type Cycle struct {
	e          *Extender
	pod        *corev1.Pod
	vm         placement.VMRequest
	policy     placement.Policy
	policyName string
	assessor   *placement.Assessor
	usage      map[string]nodeUsage

	mu     sync.Mutex
	zones  map[string]zoneValue
	lookup func(zone string) zoneValue // a zone's intensity, not memoised
	failed map[string]string           // the model's reason, by node
	passed []placement.NodeScore       // by Filter, in the order of its calls
	scored bool
}

// NewCycle starts pod's cycle with the policy that selects it and the
// node usage known now.
func (e *Extender) NewCycle(ctx context.Context, pod *corev1.Pod) *Cycle {
	vm := e.vmRequest(pod)
	pol, polName := selectPolicy(e.policies, pod.Labels)
	c := &Cycle{e: e, pod: pod, vm: vm, policy: pol, policyName: polName, assessor: placement.NewAssessor(vm, pol),
		usage: e.usage.current(), zones: map[string]zoneValue{}, failed: map[string]string{},
		passed: make([]placement.NodeScore, 0, e.passedLast.Load()*9/8)}
	deadline := time.Now().Add(carbonWait)
	c.lookup = func(zone string) zoneValue { return e.zoneIntensity(ctx, pol.CarbonHorizon, deadline, zone) }
	return c
}

// Filter returns why node does not fit the pod, empty when it does. A spot
// node for a VM that forbids spot is ruled out before its snapshot is
// taken: hypersdk-scheduler's profile runs this filter first, so such
// nodes (a quarter of a fleet may be spot) cost kube-scheduler no other
// filter either. A spot node for a VM that neither allows nor forbids spot
// passes, as a fallback: Filter sees one node at a time and cannot know
// whether another fits, so Score ranks it below every other node.
func (c *Cycle) Filter(node string) string {
	s, reason := c.assess(node)
	c.mu.Lock()
	if reason != "" {
		c.failed[node] = reason
	} else {
		c.passed = append(c.passed, s)
	}
	c.mu.Unlock()
	if reason != "" {
		c.e.metrics.filtered.Inc()
	}
	return reason
}

// PodChanges are pods kube-scheduler assesses one node without or with,
// and no pod event has shown: the lower-priority pods a preemption would
// evict, and the nominated pods it counts as there. They are the net
// change: kube-scheduler removes every candidate victim, then adds each
// back to see whether it may be spared, and removes it again if not.
type PodChanges struct {
	removed []types.UID
	added   []*corev1.Pod
}

// Remove counts pod as gone from the node: a pod added before is taken
// out again, one removed already stays removed once.
func (ch *PodChanges) Remove(pod *corev1.Pod) {
	if i := slices.IndexFunc(ch.added, func(p *corev1.Pod) bool { return p.UID == pod.UID }); i >= 0 {
		ch.added = slices.Delete(ch.added, i, i+1)
		return
	}
	if !slices.Contains(ch.removed, pod.UID) {
		ch.removed = append(ch.removed, pod.UID)
	}
}

// Add counts pod as on the node: a pod removed before is back where the
// cache has it, one added already is added once.
func (ch *PodChanges) Add(pod *corev1.Pod) {
	if i := slices.Index(ch.removed, pod.UID); i >= 0 {
		ch.removed = slices.Delete(ch.removed, i, i+1)
		return
	}
	if !slices.ContainsFunc(ch.added, func(p *corev1.Pod) bool { return p.UID == pod.UID }) {
		ch.added = append(ch.added, pod)
	}
}

// Clone copies ch: kube-scheduler changes each copy of a cycle's state
// apart.
func (ch *PodChanges) Clone() *PodChanges {
	return &PodChanges{removed: slices.Clone(ch.removed), added: slices.Clone(ch.added)}
}

// FilterWith is Filter of node as changes leave it. It is a what-if (will
// evicting these pods make room?), so neither its score nor its reason is
// kept for Score or the decision record.
func (c *Cycle) FilterWith(node string, changes *PodChanges) string {
	_, reason := c.assessWith(node, changes)
	return reason
}

// assess assesses node as it is in the cache now.
func (c *Cycle) assess(node string) (placement.NodeScore, string) {
	return c.assessWith(node, nil)
}

// assessWith assesses node as changes, if any, leave it.
func (c *Cycle) assessWith(node string, changes *PodChanges) (placement.NodeScore, string) {
	snap, reason := c.e.nodes.filterSnapshot(node, c.usage, c.vm.NoSpot)
	if reason != "" {
		return placement.NodeScore{}, reason
	}
	if changes != nil {
		c.e.nodes.apply(&snap, node, changes)
	}
	if snap.Zone != "" {
		snap.CarbonIntensity, snap.CarbonKnown = c.zoneIntensity(snap.Zone)
	}
	return c.assessor.Assess(&snap)
}

// zoneIntensity is zone's intensity for the cycle: a few zones serve every
// node, so the first lookup of each is kept. The lookup itself runs
// without the cycle's lock, so parallel Filter calls do not queue behind
// a carbon source that is slow to answer; two may both look a zone up.
func (c *Cycle) zoneIntensity(zone string) (float64, bool) {
	c.mu.Lock()
	v, ok := c.zones[zone]
	c.mu.Unlock()
	if ok {
		return v.v, v.ok
	}
	v = c.lookup(zone)
	c.mu.Lock()
	c.zones[zone] = v
	c.mu.Unlock()
	return v.v, v.ok
}

// Score ranks names, the nodes that passed every filter, as evaluating them
// alone would, keeps the result for the bind as the pod's decision, and
// returns each one's weighted total (0..100), at least 1 but for a spot
// fallback while another node is scored, which gets 0: kube-scheduler
// rounds scores down to whole numbers, and a total under 1 would tie
// with it. A node Filter passed is
// ranked with the assessment Filter made; any other is assessed now, and
// is absent if the model rules it out.
func (c *Cycle) Score(names []string) map[string]float64 {
	wanted := make(map[string]bool, len(names))
	for _, n := range names {
		wanted[n] = true
	}
	c.mu.Lock()
	c.e.passedLast.Store(int64(len(c.passed)))
	// Keep, in place, the first score Filter made of each named node: the
	// ranking orders them by total and name, whatever their order here.
	scores := c.passed[:0]
	for _, s := range c.passed {
		if wanted[s.Node] {
			scores = append(scores, s)
			delete(wanted, s.Node)
		}
	}
	c.passed = nil // scores holds its array now; a later Filter starts another
	c.mu.Unlock()
	for _, n := range names {
		if !wanted[n] {
			continue
		}
		s, reason := c.assess(n)
		if reason != "" {
			c.mu.Lock()
			c.failed[n] = reason
			c.mu.Unlock()
			continue
		}
		scores = append(scores, s)
	}
	placement.Rescore(c.vm, scores, c.policy)

	c.mu.Lock()
	// By name: Filter ran concurrently, and the record lists the first few.
	filtered := make([]placement.FilteredNode, 0, len(c.failed))
	for n, reason := range c.failed {
		filtered = append(filtered, placement.FilteredNode{Node: n, Reason: reason})
	}
	zones := maps.Clone(c.zones)
	c.scored = true
	c.mu.Unlock()
	slices.SortFunc(filtered, func(a, b placement.FilteredNode) int { return strings.Compare(a.Node, b.Node) })

	c.e.remember(c.pod.UID, pending{at: c.e.cfg.Clock.Now(), decision: placement.Decision{Scores: scores, Filtered: filtered},
		policy: c.policy, policyName: c.policyName, zones: zones})
	out := make(map[string]float64, len(scores))
	fallbacksOnly := len(scores) > 0 && scores[0].SpotFallback
	for _, s := range scores {
		if s.SpotFallback && !fallbacksOnly {
			out[s.Node] = 0
		} else {
			out[s.Node] = max(s.Total, 1)
		}
	}
	return out
}

// Scored reports whether Score has run: kube-scheduler does not score
// when a single node is feasible.
func (c *Cycle) Scored() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scored
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
	if !scored || !ok || !e.nodes.claim(pod, node, chosen.GPUDevices) {
		again, c, err := e.evaluateOne(ctx, pod, node)
		if err != nil {
			return fmt.Errorf("reserving %s for %s/%s: %w", node, pod.Namespace, pod.Name, err)
		}
		if !e.nodes.claim(pod, node, c.GPUDevices) {
			return fmt.Errorf("reserving %s for %s/%s: the GPUs picked there were taken meanwhile", node, pod.Namespace, pod.Name)
		}
		if !scored {
			e.remember(pod.UID, again)
			return nil
		}
		// The other candidates stand, for the record; node's entry is
		// what it was reserved with.
		p.decision.Scores = slices.Clone(p.decision.Scores)
		if i := slices.IndexFunc(p.decision.Scores, func(s placement.NodeScore) bool { return s.Node == node }); i >= 0 {
			p.decision.Scores[i] = c
		} else {
			p.decision.Scores = append(p.decision.Scores, c)
		}
		e.remember(pod.UID, p)
	}
	return nil
}

// Unreserve drops what Reserve held for a pod whose bind will not happen.
func (e *Extender) Unreserve(uid types.UID) {
	e.nodes.forget(uid)
	e.mu.Lock()
	delete(e.decisions, uid)
	e.mu.Unlock()
}
