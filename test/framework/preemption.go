package framework

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// preemptLabel confines a preemption check's VMs to its own node, which
// carries the label and a NoSchedule taint only those VMs tolerate.
const preemptLabel = "hypersdk.io/test-preempt"

// CheckVMPreemption: a VM that only one node may take, and that node full
// with a VM of lower priority, preempts that VM as kube-scheduler preempts
// pods. The VMs' priority classes reach their launcher pods, the scheduler
// (schedulerName, "" for the default) rules the node out while the victim
// is there and takes it once the victim is gone, and the victim's VM waits
// for room. ns is the test's namespace; the node, the two PriorityClasses
// and the VMs go when the test ends.
func (e *Env) CheckVMPreemption(t *testing.T, ns, schedulerName string) {
	t.Helper()
	ctx := context.Background()
	typ := fleet.General[1] // standard-16: 16 CPUs, 64 GiB
	e.AddNode(t, fleet.Node{Name: ns, Zone: "ES", Type: typ, Price: typ.Price}, func(n *corev1.Node) {
		n.Labels[preemptLabel] = ns
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: preemptLabel, Value: ns, Effect: corev1.TaintEffectNoSchedule})
	})
	classes := e.Kube.SchedulingV1().PriorityClasses()
	for name, value := range map[string]int32{ns + "-low": 1000, ns + "-high": 2000} {
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
	create := func(name string, cpus uint32) {
		t.Helper()
		vm := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kvv1.VirtualMachineSpec{
			RunStrategy: ptr.To(kvv1.RunStrategyAlways),
			Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{
				Domain:            kvv1.DomainSpec{CPU: &kvv1.CPU{Cores: cpus}, Memory: &kvv1.Memory{Guest: ptr.To(resource.MustParse("8Gi"))}},
				SchedulerName:     schedulerName,
				PriorityClassName: ns + "-" + name,
				NodeSelector:      map[string]string{preemptLabel: ns},
				Tolerations: []corev1.Toleration{{Key: preemptLabel, Operator: corev1.TolerationOpEqual, Value: ns,
					Effect: corev1.TaintEffectNoSchedule}},
				Volumes: []kvv1.Volume{{Name: "rootdisk", VolumeSource: kvv1.VolumeSource{
					ContainerDisk: &kvv1.ContainerDiskSource{Image: "quay.io/containerdisks/fedora:41"}}}},
			}},
		}}
		if _, err := e.KubeVirt.KubevirtV1().VirtualMachines(ns).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating VM %s: %v", name, err)
		}
	}
	// running waits for name's pod to run on the test's node, and returns it.
	running := func(name string, priority int32) corev1.Pod {
		t.Helper()
		var pod corev1.Pod
		Eventually(t, fmt.Sprintf("VM %s's pod running on %s", name, ns), func(ctx context.Context) (bool, error) {
			list, err := e.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubevirt.VMNameLabel + "=" + name})
			if err != nil {
				return false, err
			}
			for _, p := range list.Items {
				if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
					if p.Spec.NodeName != ns {
						return false, fmt.Errorf("pod %s runs on %s", p.Name, p.Spec.NodeName)
					}
					pod = p
					return true, nil
				}
			}
			return false, fmt.Errorf("no running pod of %s: %s", name, podStates(list.Items))
		})
		if pod.Spec.Priority == nil || *pod.Spec.Priority != priority {
			t.Fatalf("VM %s's pod %s has priority %v, want %d (its VM's class)", name, pod.Name, pod.Spec.Priority, priority)
		}
		return pod
	}

	create("low", 12)
	victim := running("low", 1000)
	// 12 + 8 vCPUs do not fit in 16: only evicting low makes room.
	create("high", 8)
	running("high", 2000)
	Eventually(t, "low's pod preempted and low's VM waiting for room", func(ctx context.Context) (bool, error) {
		list, err := e.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubevirt.VMNameLabel + "=low"})
		if err != nil {
			return false, err
		}
		for _, p := range list.Items {
			switch {
			case p.Name == victim.Name && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning:
				return false, fmt.Errorf("the victim %s still runs", p.Name)
			case p.Name != victim.Name && p.Spec.NodeName != "":
				return false, fmt.Errorf("low's new pod %s was bound to %s, where high leaves no room", p.Name, p.Spec.NodeName)
			case p.Name != victim.Name:
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
						return true, nil
					}
				}
			}
		}
		return false, fmt.Errorf("no unschedulable pod of low yet: %s", podStates(list.Items))
	})
}

func podStates(pods []corev1.Pod) string {
	s := ""
	for _, p := range pods {
		s += fmt.Sprintf("%s (node %q, phase %s, deleting %t); ", p.Name, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp != nil)
	}
	return s
}
