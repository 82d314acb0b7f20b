package e2e

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/test/framework"
)

// preemptLabel confines a preemption test's VMs to its own node, which
// carries the label and a NoSchedule taint only those VMs tolerate.
const preemptLabel = "hypersdk.io/e2e-preempt"

// priorityClass makes a cluster-wide PriorityClass for the test.
func priorityClass(t *testing.T, name string, value int32) {
	t.Helper()
	ctx := context.Background()
	classes := env.Kube.SchedulingV1().PriorityClasses()
	if _, err := classes.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := classes.Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting priority class %s: %v", name, err)
		}
	})
}

// TestVMPreemptsALowerPriorityVM: a VM that only one node may take, and
// that node full with a VM of lower priority, preempts that VM as
// kube-scheduler preempts pods: the VM's priority class reaches its
// launcher pod, the extender rules the node out while the victim is there
// and takes it once the victim is gone; the victim's VM waits for room.
func TestVMPreemptsALowerPriorityVM(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "preempt")
	typ := fleet.General[1] // standard-16: 16 CPUs, 64 GiB
	addNode(t, fleet.Node{Name: ns, Zone: "ES", Type: typ, Price: typ.Price}, func(n *corev1.Node) {
		n.Labels[preemptLabel] = ns
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: preemptLabel, Value: ns, Effect: corev1.TaintEffectNoSchedule})
	})
	priorityClass(t, ns+"-low", 1000)
	priorityClass(t, ns+"-high", 2000)
	vm := func(name string, cpus uint32, class string) *kvv1.VirtualMachine {
		vm := kubevirtVM(name, cpus, "8Gi", nil)
		spec := &vm.Spec.Template.Spec
		spec.NodeSelector = map[string]string{preemptLabel: ns}
		spec.Tolerations = []corev1.Toleration{{Key: preemptLabel, Operator: corev1.TolerationOpEqual, Value: ns,
			Effect: corev1.TaintEffectNoSchedule}}
		spec.PriorityClassName = class
		return vm
	}

	createKubeVirtVM(t, ns, vm("low", 12, ns+"-low"))
	low := runningVMI(t, ns, "low", "")
	if low.Status.NodeName != ns {
		t.Fatalf("low runs on %s, want %s", low.Status.NodeName, ns)
	}
	pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubevirt.CreatedByLabel + "=" + string(low.UID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Spec.Priority == nil || *pods.Items[0].Spec.Priority != 1000 {
		t.Fatalf("low's launcher pods %v: want one, of priority 1000 (its VM's class)", podNames(pods.Items))
	}
	victim := pods.Items[0].Name

	// 12 + 8 vCPUs do not fit in 16: only evicting low makes room.
	createKubeVirtVM(t, ns, vm("high", 8, ns+"-high"))
	high := runningVMI(t, ns, "high", "")
	if high.Status.NodeName != ns {
		t.Fatalf("high runs on %s, want %s", high.Status.NodeName, ns)
	}
	framework.Eventually(t, "low's launcher pod preempted and low's VM waiting for room", func(ctx context.Context) (bool, error) {
		list, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubevirt.VMNameLabel + "=low"})
		if err != nil {
			return false, err
		}
		var pending []corev1.Pod
		for _, p := range list.Items {
			if p.Name == victim && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				return false, fmt.Errorf("the victim %s still runs on %s", p.Name, p.Spec.NodeName)
			}
			if p.Name != victim && p.Spec.NodeName == "" {
				pending = append(pending, p)
			}
			if p.Name != victim && p.Spec.NodeName != "" {
				return false, fmt.Errorf("low's new pod %s was bound to %s, where high leaves no room", p.Name, p.Spec.NodeName)
			}
		}
		if len(pending) == 0 {
			return false, fmt.Errorf("no pending pod of low yet; pods %v", podNames(list.Items))
		}
		for _, c := range pending[0].Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true, nil
			}
		}
		return false, fmt.Errorf("low's new pod %s not found unschedulable yet", pending[0].Name)
	})
	got, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubevirt.CreatedByLabel + "=" + string(high.UID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 1 || got.Items[0].Spec.Priority == nil || *got.Items[0].Spec.Priority != 2000 {
		t.Errorf("high's launcher pods %v: want one, of priority 2000", podNames(got.Items))
	}
}

func podNames(pods []corev1.Pod) []string {
	names := make([]string, 0, len(pods))
	for _, p := range pods {
		names = append(names, fmt.Sprintf("%s (node %q, phase %s)", p.Name, p.Spec.NodeName, p.Status.Phase))
	}
	return names
}
