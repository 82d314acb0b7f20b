package e2e

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestRestartOfAPIServer: VMOperations live in etcd and survive a restart of
// hypersdk-apiserver; the VM view is rebuilt from KubeVirt with the same
// resourceVersions. A watch from a version the old process gave out resumes
// and shows what changed meanwhile when the restarted process's history
// reaches back to it (nothing changed between that version and its first
// list); otherwise it is 410 Gone and a relist shows the change. Either way
// nothing is missed.
func TestRestartOfAPIServer(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "restart")
	createKubeVirtVM(t, ns, kubevirtVM("steady", 1, "1Gi", nil))
	created, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Create(ctx, &v1alpha1.VMOperation{
		ObjectMeta: metav1.ObjectMeta{Name: "survivor"},
		Spec:       v1alpha1.VMOperationSpec{VMName: "steady", Type: v1alpha1.VMOperationSnapshot},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var before string
	framework.Eventually(t, "the VM view", func(ctx context.Context) (bool, error) {
		list, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 {
			return false, err
		}
		before = list.ResourceVersion
		return true, nil
	})

	if err := env.RestartAPIServer(ctx); err != nil {
		t.Fatalf("restarting hypersdk-apiserver: %v", err)
	}

	got, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, "survivor", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("operation after restart: %v", err)
	}
	if got.UID != created.UID || got.Spec.Type != v1alpha1.VMOperationSnapshot {
		t.Errorf("operation after restart = %s/%s, want %s/Snapshot", got.UID, got.Spec.Type, created.UID)
	}
	framework.Eventually(t, "the VM view after restart", func(ctx context.Context) (bool, error) {
		list, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(list.Items) == 1 && list.Items[0].Name == "steady", err
	})
	if err := setGeneration(ctx, ns, "steady", 1); err != nil {
		t.Fatal(err)
	}
	w, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: before})
	switch {
	case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
		// The view follows KubeVirt through an informer, so a relist right
		// after the write may predate it: the change must show, not at once.
		framework.Eventually(t, "a relist after 410 showing gen=1", func(ctx context.Context) (bool, error) {
			list, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
			return err == nil && len(list.Items) == 1 && list.Items[0].Labels["gen"] == "1", err
		})
	case err != nil:
		t.Fatalf("watch from a pre-restart version: %v, want events or 410 Gone", err)
	default:
		defer w.Stop()
		seen := map[string][]int{}
		collect(t, w, []string{"steady"}, 1, seen)
		if got := fmt.Sprint(seen["steady"]); got != "[1]" {
			t.Errorf("changes after the restart shown as %s, want [1]", got)
		}
	}
	// A version of another scheme (an earlier release) is 410 Gone: relist.
	_, err = env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: "1764300000000000"})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("watch from a version of another scheme: err = %v, want 410 Gone", err)
	}
}

// TestComponentsComeBack: kill -9 of hypersdk-controller and of
// hypersdk-apiserver, as a crash or the OOM killer would; the sandbox
// starts each again by itself, and operations work afterwards.
func TestComponentsComeBack(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "comeback")
	createKubeVirtVM(t, ns, kubevirtVM("phoenix", 1, "1Gi", nil))
	runningVMI(t, ns, "phoenix", "")
	for _, name := range []string{"hypersdk-controller", "hypersdk-apiserver"} {
		pid := env.PID(name)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %s (%d): %v", name, pid, err)
		}
		framework.Eventually(t, name+" to run again", func(context.Context) (bool, error) {
			return env.PID(name) != pid, nil
		})
		// hypersdk.io answers again (through the aggregator, from the new
		// process), and the new controller carries out an operation.
		var op *v1alpha1.VMOperation
		framework.Eventually(t, "a restart operation accepted after "+name+" came back", func(context.Context) (bool, error) {
			code, created, err := post(t, env.HyperSDK, ns, "phoenix", "restart", map[string]interface{}{}, false)
			op = created
			return code == http.StatusCreated, err
		})
		if end := followToEnd(t, op); end.Status.Phase != v1alpha1.VMOperationSucceeded {
			t.Fatalf("restart after %s came back ended %s: %s", name, end.Status.Phase, end.Status.Message)
		}
	}
}
