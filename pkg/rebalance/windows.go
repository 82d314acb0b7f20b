package rebalance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
)

// windowState says whether a maintenance window is open at now
// (MaintenanceOpen), opens within its DrainBefore (MaintenanceDraining) or
// neither (""), with the reason its nodes are emptied.
func windowState(now time.Time, m *v1alpha1.MaintenanceTrigger) (state, reason string, err error) {
	s, err := validation.ParseStoredWindowSchedule(m.Schedule)
	if err != nil {
		return "", "", fmt.Errorf("maintenance window %s: %w", m.Name, err)
	}
	now = now.UTC()
	// Next is strictly after its argument: a window is open for
	// [start, start+duration).
	if open := s.Next(now.Add(-m.Duration.Duration)); !open.After(now) {
		return MaintenanceOpen, fmt.Sprintf("maintenance window %s is open until %s", m.Name,
			open.Add(m.Duration.Duration).Format(time.RFC3339)), nil
	}
	drain := time.Duration(0)
	if m.DrainBefore != nil {
		drain = m.DrainBefore.Duration
	}
	if next := s.Next(now); next.Sub(now) <= drain {
		return MaintenanceDraining, fmt.Sprintf("maintenance window %s opens at %s", m.Name, next.Format(time.RFC3339)), nil
	}
	return "", "", nil
}

// window is a node's maintenance state, and why it is emptied.
type window struct{ state, reason string }

// windowNodes are the nodes, among nodes (by name, with their labels), that
// spec's maintenance windows empty at now: open wins over draining, and a
// node is emptied for its first window's reason.
func windowNodes(spec *v1alpha1.RebalancePolicySpec, now time.Time, nodes map[string]labels.Set) (map[string]window, error) {
	out := map[string]window{}
	for i := range spec.Triggers {
		t := &spec.Triggers[i]
		if t.Type != v1alpha1.RebalanceMaintenance || t.Maintenance == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(t.Maintenance.NodeSelector)
		if err != nil {
			return nil, fmt.Errorf("triggers[%d] node selector: %w", i, err)
		}
		state, reason, err := windowState(now, t.Maintenance)
		if err != nil {
			return nil, fmt.Errorf("triggers[%d]: %w", i, err)
		}
		if state == "" {
			continue
		}
		for name, l := range nodes {
			if !sel.Matches(l) {
				continue
			}
			w, ok := out[name]
			if !ok {
				w.reason = reason
			}
			if w.state != MaintenanceOpen {
				w.state = state
			}
			out[name] = w
		}
	}
	return out, nil
}

// fence is the nodes the Automatic policies' maintenance windows empty at
// now, with their state (open over draining), among those each policy's
// requester may taint. It asks before any policy plans, so that every
// policy's moves keep off them from the first pass (after a start, or of
// a new window) also where the taint is not on the node yet, and asks
// again every pass, for the requester written now. A policy whose windows
// cannot be read is left out: its own pass says why.
func (c *Controller) fence(ctx context.Context, policies []v1alpha1.RebalancePolicy, nodes []corev1.Node, now time.Time) map[string]string {
	c.tainters = map[string]tainter{}
	out := map[string]string{}
	for i := range policies {
		p := &policies[i]
		if p.Spec.Mode != v1alpha1.RebalanceAutomatic || p.Spec.Requester == nil || p.Spec.Requester.Username == "" {
			continue
		}
		sel, err := selectorOrEverything(p.Spec.NodeSelector)
		if err != nil {
			continue
		}
		inScope := map[string]labels.Set{}
		for _, n := range nodes {
			if sel.Matches(labels.Set(n.Labels)) {
				inScope[n.Name] = n.Labels
			}
		}
		windows, err := windowNodes(&p.Spec, now, inScope)
		if err != nil || len(windows) == 0 {
			continue
		}
		t := c.taintRights(ctx, p, slices.Sorted(maps.Keys(windows)))
		if t.err != nil {
			continue // nothing known of its rights: it fences nothing this pass
		}
		for name, w := range windows {
			if t.may[name] && out[name] != MaintenanceOpen {
				out[name] = w.state
			}
		}
	}
	return out
}
