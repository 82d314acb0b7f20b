package framework

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// AddNode creates a sandbox node for the test, waits until it is Ready and
// carries no taint but kwok's and the ones mutate gave it, and deletes it
// when the test ends.
func (e *Env) AddNode(t *testing.T, n fleet.Node, mutate ...func(*corev1.Node)) {
	t.Helper()
	ctx := context.Background()
	obj := n.Object()
	for _, m := range mutate {
		m(obj)
	}
	if _, err := e.Kube.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating node %s: %v", n.Name, err)
	}
	t.Cleanup(func() {
		if err := e.Kube.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting node %s: %v", n.Name, err)
		}
	})
	Eventually(t, "node "+n.Name+" schedulable", func(ctx context.Context) (bool, error) {
		node, err := e.Kube.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, taint := range node.Spec.Taints {
			if taint.Key != fleet.FakeNodeTaintKey && !slices.ContainsFunc(obj.Spec.Taints, func(own corev1.Taint) bool { return own.MatchTaint(&taint) }) {
				return false, fmt.Errorf("still tainted %s", taint.Key)
			}
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, errors.New("not Ready")
	})
}
