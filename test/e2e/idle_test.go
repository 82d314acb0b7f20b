package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/idle"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestIdleVMPolicy: a VM under the CPU threshold for the whole window is
// reported (status, event, metric) and stopped after the grace period by a
// Stop VMOperation; an opted-out idle VM is reported and left running; a
// busy one is not reported. Bad policies are refused with field paths.
func TestIdleVMPolicy(t *testing.T) {
	// Mostly waiting (for the policy's idle window to pass): it runs beside the other
	// waiting tests once the sequential ones are done.
	t.Parallel()
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "idle")
	policies := env.HyperSDK.HypersdkV1alpha1().IdleVMPolicies(ns)

	_, err := policies.Create(ctx, &v1alpha1.IdleVMPolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: v1alpha1.IdleVMPolicySpec{CPUThresholdPercent: 150, Window: &metav1.Duration{Duration: time.Second}, Action: "Delete"}},
		metav1.CreateOptions{})
	for _, want := range []string{"spec.cpuThresholdPercent", "spec.window", "spec.action"} {
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("a bad policy: %v, want 422 naming %s", err, want)
		}
	}

	example := filepath.Join(framework.RepoRoot(), "artifacts", "examples", "idle-vm-policy.yaml")
	if out, err := env.Kubectl(t, "apply", "-n", ns, "--dry-run=server", "-f", example); err != nil {
		t.Errorf("the shipped example is refused: %v\n%s", err, out)
	}

	selected := map[string]string{"idle-check": "yes"}
	for name, load := range map[string]string{"sleepy": "steady:0.01", "keep": "steady:0.01", "busy": "steady:0.6"} {
		vm := kubevirtVM(name, 2, "1Gi", selected)
		vm.Spec.Template.ObjectMeta.Annotations = map[string]string{"hypersdk.io/load-profile": load}
		if name == "keep" {
			vm.Annotations = map[string]string{v1alpha1.IdleVMOptOutAnnotation: "true"}
		}
		createKubeVirtVM(t, ns, vm)
	}
	for _, name := range []string{"sleepy", "keep", "busy"} {
		runningVMI(t, ns, name, "")
	}
	if _, err := policies.Create(ctx, &v1alpha1.IdleVMPolicy{ObjectMeta: metav1.ObjectMeta{Name: "nights"},
		Spec: v1alpha1.IdleVMPolicySpec{VMSelector: &metav1.LabelSelector{MatchLabels: selected}, CPUThresholdPercent: 10,
			Window: &metav1.Duration{Duration: 20 * time.Second}, Action: v1alpha1.IdleActionStop,
			GracePeriod: &metav1.Duration{Duration: 10 * time.Second}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var st v1alpha1.IdleVMPolicyStatus
	framework.Eventually(t, "sleepy and keep reported idle, with the event and metric", func(ctx context.Context) (bool, error) {
		p, err := policies.Get(ctx, "nights", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st = p.Status
		if idleEntry(st, "sleepy") == nil || idleEntry(st, "keep") == nil {
			return false, nil
		}
		events, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + idle.ReasonIdle})
		if err != nil || !anyEvent(events.Items, "VM sleepy used at most") {
			return false, err
		}
		v, err := scrape(ctx, http.DefaultClient, env.ControllerMetricsURL(), "hypersdk_idle_vms", "namespace", ns, "policy", "nights")
		return err == nil && v >= 2, err
	})
	if e := idleEntry(st, "keep"); !e.OptedOut || e.StopAt != nil {
		t.Errorf("opted-out VM: %+v, want optedOut and no stopAt", e)
	}
	if e := idleEntry(st, "sleepy"); e.OptedOut || e.StopAt == nil || e.PeakCPUPercent >= 10 ||
		!e.StopAt.Time.Equal(e.Since.Add(10*time.Second)) {
		t.Errorf("idle VM: %+v, want a stopAt 10s after since and a peak under 10%%", e)
	}

	framework.Eventually(t, "sleepy stopped by the policy's operation", func(ctx context.Context) (bool, error) {
		ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).List(ctx, metav1.ListOptions{LabelSelector: idle.LabelPolicy + "=nights"})
		if err != nil || len(ops.Items) != 1 {
			return false, err
		}
		op := ops.Items[0]
		if op.Spec.VMName != "sleepy" || op.Spec.Type != v1alpha1.VMOperationStop {
			t.Fatalf("the policy's operation %s: %s on %s, want Stop on sleepy", op.Name, op.Spec.Type, op.Spec.VMName)
		}
		vm, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "sleepy", metav1.GetOptions{})
		return err == nil && op.Status.Phase == v1alpha1.VMOperationSucceeded && !vm.Status.Ready && !vm.Status.Created, err
	})
	p, err := policies.Get(ctx, "nights", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if idleEntry(p.Status, "busy") != nil {
		t.Errorf("the busy VM is reported idle: %+v", p.Status.IdleVMs)
	}
	for _, name := range []string{"keep", "busy"} {
		vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || vmi.Status.Phase != "Running" {
			t.Errorf("%s: %v %v, want still running", name, err, vmi.Status.Phase)
		}
	}
}

func idleEntry(st v1alpha1.IdleVMPolicyStatus, name string) *v1alpha1.IdleVM {
	for i := range st.IdleVMs {
		if st.IdleVMs[i].Name == name {
			return &st.IdleVMs[i]
		}
	}
	return nil
}
