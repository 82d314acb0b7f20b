package e2e

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestRBAC: the hypersdk roles aggregate into view and edit; kube-apiserver
// and HyperSDK authorize real ServiceAccount identities accordingly.
func TestRBAC(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "rbac")
	viewer := client(t, env.ServiceAccountToken(t, ns, "viewer", "view"))
	editor := client(t, env.ServiceAccountToken(t, ns, "editor", "edit"))
	nobody := client(t, env.ServiceAccountToken(t, ns, "nobody", ""))
	anonymous := client(t, "")
	stopped := kubevirtVM("vm1", 1, "1Gi", nil)
	stopped.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	createKubeVirtVM(t, ns, stopped)

	op := func(name string) *v1alpha1.VMOperation {
		return &v1alpha1.VMOperation{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1alpha1.VMOperationSpec{VMName: "vm1", Type: v1alpha1.VMOperationStart},
		}
	}

	// The aggregation controller folds hypersdk:view into view in its own time.
	framework.Eventually(t, "view to list VMs", func(ctx context.Context) (bool, error) {
		_, err := viewer.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	if _, err := viewer.HypersdkV1alpha1().VMOperations(ns).List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Errorf("view listing operations: %v", err)
	}
	_, err := viewer.HypersdkV1alpha1().VMOperations(ns).Create(context.Background(), op("by-viewer"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("view creating an operation: err = %v, want 403 Forbidden", err)
	}

	var created *v1alpha1.VMOperation
	framework.Eventually(t, "edit to create an operation", func(ctx context.Context) (bool, error) {
		created, err = editor.HypersdkV1alpha1().VMOperations(ns).Create(ctx, op("by-editor"), metav1.CreateOptions{})
		return err == nil, err
	})
	// The server records who asked, whatever the client wrote.
	if r := created.Spec.Requester; r == nil || r.Username != "system:serviceaccount:"+ns+":editor" {
		t.Errorf("requester of the editor's operation = %+v, want the editor's ServiceAccount", r)
	}
	forged := op("forged")
	forged.Spec.Type = v1alpha1.VMOperationSnapshot // vm1 may be running by now
	forged.Spec.Requester = &v1alpha1.VMOperationRequester{Username: "system:admin", Groups: []string{"system:masters"}}
	if got, err := editor.HypersdkV1alpha1().VMOperations(ns).Create(context.Background(), forged, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("editor's operation naming another requester: %v", err)
	} else if got.Spec.Requester == nil || got.Spec.Requester.Username != "system:serviceaccount:"+ns+":editor" {
		t.Errorf("a requester sent by the client was kept: %+v", got.Spec.Requester)
	}

	_, err = nobody.HypersdkV1alpha1().VirtualMachines(ns).List(context.Background(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("a ServiceAccount with no role listing VMs: err = %v, want 403", err)
	}
	_, err = anonymous.HypersdkV1alpha1().VirtualMachines(ns).List(context.Background(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
		t.Errorf("anonymous listing VMs: err = %v, want 401 or 403", err)
	}
}

func client(t *testing.T, token string) hypersdkclient.Interface {
	t.Helper()
	c, err := hypersdkclient.NewForConfig(env.ConfigFor(token))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
