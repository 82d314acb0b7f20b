package rebalance

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// TaintKey marks the nodes maintenance windows empty: value draining with
// effect PreferNoSchedule before the window (new VMs go elsewhere if they
// can, as the rebalancer moves the present ones off), value open with
// effect NoSchedule while it is open (nothing new lands there).
const TaintKey = "hypersdk.io/maintenance"

// taintFor is the taint a node in a maintenance state carries.
func taintFor(state string) corev1.Taint {
	effect := corev1.TaintEffectPreferNoSchedule
	if state == MaintenanceOpen {
		effect = corev1.TaintEffectNoSchedule
	}
	return corev1.Taint{Key: TaintKey, Value: state, Effect: effect}
}

// taint gives the nodes in want their maintenance taint and takes it off
// every other node, unless keep says some policy could not tell which
// nodes it wants. It notes whether no node is left with a taint, so passes
// without policies can skip the nodes.
func (c *Controller) taint(ctx context.Context, want map[string]string, keep bool) error {
	// Until every write below succeeds, a node may hold a taint nobody
	// wants any more (a window's first node written, the second refused).
	c.untainted = false
	nodes, err := c.cfg.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	// A node that fails holds back no other: an open window's taint left
	// on a node behind it would keep VMs off it long after the window.
	var errs []error
	for i := range nodes.Items {
		node := &nodes.Items[i]
		state, wanted := want[node.Name]
		current, ok := maintenanceTaint(node)
		if ok == wanted && (!ok || current == taintFor(state)) || ok && !wanted && keep {
			continue
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := c.cfg.Kube.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			taints := make([]corev1.Taint, 0, len(n.Spec.Taints)+1)
			for _, t := range n.Spec.Taints {
				if t.Key != TaintKey {
					taints = append(taints, t)
				}
			}
			if wanted {
				taints = append(taints, taintFor(state))
			}
			n.Spec.Taints = taints
			_, err = c.cfg.Kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) { // a node gone needs no taint
			errs = append(errs, fmt.Errorf("setting the maintenance taint of node %s: %w", node.Name, err))
		}
	}
	c.untainted = len(errs) == 0 && !keep && len(want) == 0
	return errors.Join(errs...)
}

func maintenanceTaint(node *corev1.Node) (corev1.Taint, bool) {
	for _, t := range node.Spec.Taints {
		if t.Key == TaintKey {
			return corev1.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect}, true
		}
	}
	return corev1.Taint{}, false
}
