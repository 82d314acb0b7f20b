package e2e

import (
	"context"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/test/framework"
)

// TestNamespaceDeletion: the namespace controller (which asks for protobuf
// first) can delete a namespace holding VMOperations and VMs, so the
// namespace goes away instead of hanging in Terminating.
func TestNamespaceDeletion(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "nsdelete")
	createKubeVirtVM(t, ns, kubevirtVM("doomed", 1, "1Gi", nil))
	runningVMI(t, ns, "doomed", "")
	runOperation(t, ns, "doomed", "stop", map[string]any{})

	if err := env.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "namespace "+ns+" gone", func(ctx context.Context) (bool, error) {
		n, err := env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Status == "True" && c.Type != "NamespaceContentRemaining" && c.Type != "NamespaceFinalizersRemaining" {
				return false, fmt.Errorf("%s: %s", c.Type, c.Message)
			}
		}
		return false, nil
	})
}
