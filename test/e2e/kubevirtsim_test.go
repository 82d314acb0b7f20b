package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/kubevirtsim"
	"github.com/hypersdk/hypersdk/test/framework"
)

// runningVMI waits until the VMI of a VM runs and returns it.
func runningVMI(t *testing.T, ns, name string, notUID types.UID) *kvv1.VirtualMachineInstance {
	t.Helper()
	var vmi *kvv1.VirtualMachineInstance
	framework.Eventually(t, "VMI "+name+" Running", func(ctx context.Context) (bool, error) {
		got, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		vmi = got
		if got.UID != notUID && got.Status.Phase == kvv1.Running {
			return true, nil
		}
		// Say where it is stuck, for the failure message.
		return false, fmt.Errorf("VMI phase %q (uid %s), conditions %s; launcher pods: %s",
			got.Status.Phase, got.UID, vmiConditions(got), podStates(ctx, ns, name))
	})
	// KubeVirt runs a VMI in one pod (and a migration's target beside it):
	// a second pod is a simulator bug that takes a node's room.
	pods, err := env.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: kubevirt.CreatedByLabel + "=" + string(vmi.UID)})
	if err != nil {
		t.Fatal(err)
	}
	var running []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Labels[kubevirtsim.MigrationJobLabel] == "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			running = append(running, p.Name)
		}
	}
	if len(running) > 1 {
		t.Errorf("VMI %s/%s has %d launcher pods %v, want one", ns, name, len(running), running)
	}
	return vmi
}

func vmiConditions(vmi *kvv1.VirtualMachineInstance) string {
	var out []string
	for _, c := range vmi.Status.Conditions {
		out = append(out, fmt.Sprintf("%s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// podStates describes the virt-launcher pods of a VM: phase, node and the
// conditions that are not true.
func podStates(ctx context.Context, ns, vm string) string {
	pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: "kubevirt.io=virt-launcher,vm.kubevirt.io/name=" + vm,
	})
	if err != nil {
		return "(listing: " + err.Error() + ")"
	}
	var out []string
	for _, p := range pods.Items {
		s := fmt.Sprintf("%s phase=%s node=%q deleting=%t", p.Name, p.Status.Phase, p.Spec.NodeName, p.DeletionTimestamp != nil)
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				s += fmt.Sprintf(" %s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message)
			}
		}
		out = append(out, s)
	}
	return "[" + strings.Join(out, "; ") + "]"
}

func launcherPods(t *testing.T, ns, vm string) []corev1.Pod {
	t.Helper()
	pods, err := env.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: "kubevirt.io=virt-launcher,vm.kubevirt.io/name=" + vm,
	})
	if err != nil {
		t.Fatal(err)
	}
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

// TestVMRunsOnScheduledNode: VM -> VMI -> virt-launcher pod, placed by the
// real kube-scheduler and run by kwok; the VMI reports node and address.
func TestVMRunsOnScheduledNode(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "run")
	vm := kubevirtVM("runner", 2, "4Gi", nil)
	vm.Spec.Template.Spec.Domain.Devices.GPUs = []kvv1.GPU{{Name: "gpu0", DeviceName: t4Resource}}
	createKubeVirtVM(t, ns, vm)
	vmi := runningVMI(t, ns, "runner", "")

	pods := launcherPods(t, ns, "runner")
	if len(pods) != 1 {
		t.Fatalf("%d virt-launcher pods, want 1", len(pods))
	}
	pod := pods[0]
	if pod.Spec.NodeName != vmi.Status.NodeName || pod.Status.PodIP != vmi.Status.Interfaces[0].IP {
		t.Errorf("pod on %s with IP %s, VMI says %s and %s", pod.Spec.NodeName, pod.Status.PodIP, vmi.Status.NodeName, vmi.Status.Interfaces[0].IP)
	}
	scheduled := false
	for _, c := range pod.Status.Conditions {
		scheduled = scheduled || (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue)
	}
	if !scheduled {
		t.Errorf("pod has no PodScheduled=True condition from kube-scheduler: %+v", pod.Status.Conditions)
	}
	req := pod.Spec.Containers[0].Resources.Requests
	if req.Cpu().Value() != 2 || req.Name("devices.kubevirt.io/kvm", resource.DecimalSI).Value() != 1 ||
		req.Name(corev1.ResourceName(t4Resource), resource.DecimalSI).Value() != 1 {
		t.Errorf("pod requests %v, want 2 CPUs, the kvm device and one T4", req)
	}
	node, err := env.Kube.CoreV1().Nodes().Get(context.Background(), pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Labels["node.kubernetes.io/instance-type"] != "gpu-t4x2" {
		t.Errorf("a T4 VM landed on %s (%s)", node.Name, node.Labels["node.kubernetes.io/instance-type"])
	}
	for _, c := range vmi.Status.Conditions {
		if c.Type == kvv1.VirtualMachineInstanceIsMigratable && c.Status != corev1.ConditionTrue {
			t.Errorf("a container-disk VMI is not LiveMigratable: %+v", c)
		}
	}
}

// TestStopStartRestart: run strategies and restart act like KubeVirt's.
func TestStopStartRestart(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "power")
	createKubeVirtVM(t, ns, kubevirtVM("cycle", 1, "1Gi", nil))
	first := runningVMI(t, ns, "cycle", "")
	vms := env.KubeVirt.KubevirtV1().VirtualMachines(ns)

	setRunStrategy(t, ns, "cycle", kvv1.RunStrategyHalted)
	framework.Eventually(t, "the VMI and its pod to go", func(ctx context.Context) (bool, error) {
		_, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "cycle", metav1.GetOptions{})
		return apierrors.IsNotFound(err) && len(launcherPods(t, ns, "cycle")) == 0, nil
	})
	framework.Eventually(t, "printableStatus Stopped", func(ctx context.Context) (bool, error) {
		vm, err := vms.Get(ctx, "cycle", metav1.GetOptions{})
		return err == nil && vm.Status.PrintableStatus == kvv1.VirtualMachineStatusStopped, err
	})

	setRunStrategy(t, ns, "cycle", kvv1.RunStrategyAlways)
	second := runningVMI(t, ns, "cycle", first.UID)

	// Restart is a new instance, as KubeVirt's restart does.
	if err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Delete(ctx, "cycle", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	third := runningVMI(t, ns, "cycle", second.UID)
	if third.UID == first.UID {
		t.Error("restart reused the first instance")
	}
	framework.Eventually(t, "VM ready again", func(ctx context.Context) (bool, error) {
		vm, err := vms.Get(ctx, "cycle", metav1.GetOptions{})
		return err == nil && vm.Status.Ready && vm.Status.PrintableStatus == kvv1.VirtualMachineStatusRunning, err
	})

	// Deleting the VM cleans up its VMI and pod.
	if err := vms.Delete(ctx, "cycle", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "VMI and pod gone with the VM", func(ctx context.Context) (bool, error) {
		_, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "cycle", metav1.GetOptions{})
		return apierrors.IsNotFound(err) && len(launcherPods(t, ns, "cycle")) == 0, nil
	})
}

func setRunStrategy(t *testing.T, ns, name string, s kvv1.VirtualMachineRunStrategy) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"runStrategy":%q}}`, s)
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func migrate(t *testing.T, ns, name, vmi string, addedNodeSelector map[string]string) *kvv1.VirtualMachineInstanceMigration {
	t.Helper()
	mig, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).Create(context.Background(), &kvv1.VirtualMachineInstanceMigration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       kvv1.VirtualMachineInstanceMigrationSpec{VMIName: vmi, AddedNodeSelector: addedNodeSelector},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	framework.Eventually(t, "migration "+name+" to end", func(ctx context.Context) (bool, error) {
		got, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		mig = got
		if p := string(got.Status.Phase); p != "" && (len(seen) == 0 || seen[len(seen)-1] != p) {
			seen = append(seen, p)
		}
		return got.IsFinal(), nil
	})
	t.Logf("migration %s phases seen: %v", name, seen)
	return mig
}

// TestMigration: a migratable VMI moves to another node through the
// migration phases, honouring addedNodeSelector; one with a ReadWriteOnce
// volume is refused with KubeVirt's reason.
func TestMigration(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "migrate")
	createKubeVirtVM(t, ns, kubevirtVM("mover", 1, "1Gi", nil))
	before := runningVMI(t, ns, "mover", "")
	source := before.Status.NodeName
	sourcePod := launcherPods(t, ns, "mover")[0].Name

	mig := migrate(t, ns, "move-1", "mover", nil)
	if mig.Status.Phase != kvv1.MigrationSucceeded {
		t.Fatalf("migration ended %s: %+v", mig.Status.Phase, mig.Status.Conditions)
	}
	var phases []string
	for _, p := range mig.Status.PhaseTransitionTimestamps {
		phases = append(phases, string(p.Phase))
	}
	if got := strings.Join(phases, ","); got != "Scheduling,Scheduled,PreparingTarget,TargetReady,Running,Succeeded" {
		t.Errorf("phases = %s", got)
	}
	after, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "mover", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms := after.Status.MigrationState
	if after.Status.NodeName == source || ms == nil || !ms.Completed || ms.SourceNode != source || ms.TargetNode != after.Status.NodeName {
		t.Errorf("after migration: node %s (was %s), state %+v", after.Status.NodeName, source, ms)
	}
	framework.Eventually(t, "the source pod to go", func(ctx context.Context) (bool, error) {
		pods := launcherPods(t, ns, "mover")
		if len(pods) == 1 && pods[0].Name != sourcePod && pods[0].Spec.NodeName == after.Status.NodeName {
			return true, nil
		}
		// Which pods were left is what a timeout here needs to say.
		var seen []string
		for _, p := range pods {
			seen = append(seen, p.Name+" on "+p.Spec.NodeName)
		}
		return false, fmt.Errorf("live launcher pods %v; want one other than %s on %s", seen, sourcePod, after.Status.NodeName)
	})

	// addedNodeSelector pins the target.
	var target string
	nodes, err := env.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if n.Name != after.Status.NodeName && n.Labels["node.kubernetes.io/instance-type"] != "gpu-a100x4" {
			target = n.Name
			break
		}
	}
	mig = migrate(t, ns, "move-2", "mover", map[string]string{"kubernetes.io/hostname": target})
	final, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "mover", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mig.Status.Phase != kvv1.MigrationSucceeded || final.Status.NodeName != target {
		t.Errorf("pinned migration ended %s on %s, want Succeeded on %s", mig.Status.Phase, final.Status.NodeName, target)
	}

	// A ReadWriteOnce disk cannot move live.
	if _, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "rootdisk-rwo"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pinned := kubevirtVM("pinned", 1, "1Gi", nil)
	pinned.Spec.Template.Spec.Volumes = []kvv1.Volume{{Name: "rootdisk", VolumeSource: kvv1.VolumeSource{
		PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
			PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "rootdisk-rwo"},
		},
	}}}
	createKubeVirtVM(t, ns, pinned)
	vmi := runningVMI(t, ns, "pinned", "")
	for _, c := range vmi.Status.Conditions {
		if c.Type == kvv1.VirtualMachineInstanceIsMigratable && (c.Status != corev1.ConditionFalse || c.Reason != "DisksNotLiveMigratable") {
			t.Errorf("LiveMigratable = %s/%s, want False/DisksNotLiveMigratable", c.Status, c.Reason)
		}
	}
	refused := migrate(t, ns, "move-rwo", "pinned", nil)
	if refused.Status.Phase != kvv1.MigrationFailed || len(refused.Status.Conditions) == 0 ||
		refused.Status.Conditions[0].Reason != "DisksNotLiveMigratable" {
		t.Errorf("RWO migration = %s %+v, want Failed with DisksNotLiveMigratable", refused.Status.Phase, refused.Status.Conditions)
	}
	if still, _ := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "pinned", metav1.GetOptions{}); still.Status.NodeName != vmi.Status.NodeName {
		t.Errorf("refused migration moved the VMI from %s to %s", vmi.Status.NodeName, still.Status.NodeName)
	}
}

// TestHotplug: with maxSockets/maxGuest and LiveUpdate a change applies live
// (HotVCPUChange / HotMemoryChange, then done); without, RestartRequired.
func TestHotplug(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "hotplug")
	vms := env.KubeVirt.KubevirtV1().VirtualMachines(ns)

	live := kubevirtVM("live", 0, "2Gi", nil)
	live.Spec.Template.Spec.Domain.CPU = &kvv1.CPU{Sockets: 2, Cores: 1, Threads: 1, MaxSockets: 8}
	live.Spec.Template.Spec.Domain.Memory.MaxGuest = ptr.To(resource.MustParse("8Gi"))
	createKubeVirtVM(t, ns, live)
	before := runningVMI(t, ns, "live", "")
	// A watch sees every state the VMI passes through, the short-lived
	// hotplug conditions included.
	w, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=live", ResourceVersion: before.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	patch := `{"spec":{"template":{"spec":{"domain":{"cpu":{"sockets":4},"memory":{"guest":"4Gi"}}}}}}`
	if _, err := vms.Patch(ctx, "live", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	seen := map[kvv1.VirtualMachineInstanceConditionType]bool{}
	deadline := time.After(framework.Timeout)
	for done := false; !done; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("VMI watch closed")
			}
			vmi, isVMI := ev.Object.(*kvv1.VirtualMachineInstance)
			if !isVMI {
				continue
			}
			hot := false
			for _, c := range vmi.Status.Conditions {
				if c.Type == kvv1.VirtualMachineInstanceVCPUChange || c.Type == kvv1.VirtualMachineInstanceMemoryChange {
					seen[c.Type], hot = true, true
				}
			}
			topo, mem := vmi.Status.CurrentCPUTopology, vmi.Status.Memory
			done = !hot && topo != nil && topo.Sockets == 4 && mem != nil && mem.GuestCurrent.String() == "4Gi"
		case <-deadline:
			t.Fatal("hotplug did not finish")
		}
	}
	if !seen[kvv1.VirtualMachineInstanceVCPUChange] || !seen[kvv1.VirtualMachineInstanceMemoryChange] {
		t.Errorf("hotplug conditions seen: %v, want HotVCPUChange and HotMemoryChange", seen)
	}
	vm, err := vms.Get(ctx, "live", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range vm.Status.Conditions {
		if c.Type == kvv1.VirtualMachineRestartRequired {
			t.Errorf("a live hotplug set RestartRequired: %+v", c)
		}
	}

	fixed := kubevirtVM("fixed", 2, "2Gi", nil) // no maxSockets: not hotpluggable
	createKubeVirtVM(t, ns, fixed)
	first := runningVMI(t, ns, "fixed", "")
	if _, err := vms.Patch(ctx, "fixed", types.MergePatchType, []byte(`{"spec":{"template":{"spec":{"domain":{"cpu":{"cores":4}}}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "RestartRequired", func(ctx context.Context) (bool, error) {
		vm, err := vms.Get(ctx, "fixed", metav1.GetOptions{})
		return err == nil && hasVMCondition(vm, kvv1.VirtualMachineRestartRequired), err
	})
	if err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Delete(ctx, "fixed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	restarted := runningVMI(t, ns, "fixed", first.UID)
	if restarted.Spec.Domain.CPU.Cores != 4 {
		t.Errorf("restarted VMI has %d cores, want 4", restarted.Spec.Domain.CPU.Cores)
	}
	framework.Eventually(t, "RestartRequired cleared", func(ctx context.Context) (bool, error) {
		vm, err := vms.Get(ctx, "fixed", metav1.GetOptions{})
		return err == nil && !hasVMCondition(vm, kvv1.VirtualMachineRestartRequired), err
	})
}

func hasVMCondition(vm *kvv1.VirtualMachine, typ kvv1.VirtualMachineConditionType) bool {
	for _, c := range vm.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
