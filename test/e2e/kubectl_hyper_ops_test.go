package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/pkg/sandbox/kubevirtsim"
	"github.com/hypersdk/hypersdk/pkg/sandbox/usage"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestKubectlHyperMigrate: migrate --node lands on that node; a migration
// KubeVirt fails (its target pod stays unschedulable past the timeout)
// exits non-zero with KubeVirt's message and leaves the VM where it was; op
// cancel stops one that waits; the VM still migrates after both.
func TestKubectlHyperMigrate(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "hyper-migrate")
	createKubeVirtVM(t, ns, kubevirtVM("mover", 1, "1Gi", nil))
	start := runningVMI(t, ns, "mover", "")

	target := otherNode(t, start.Status.NodeName)
	out := hyperOK(t, "vm", "migrate", "mover", "-n", ns, "--node", target, "--wait", "--show-progress")
	if last := lastLine(out); !strings.Contains(last, "Succeeded") || !strings.Contains(last, target) {
		t.Errorf("migrate --node %s ended with %q", target, last)
	}
	vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "mover", metav1.GetOptions{})
	if err != nil || vmi.Status.NodeName != target {
		t.Fatalf("after migrate --node %s the VM is on %s (%v)", target, vmi.Status.NodeName, err)
	}

	// No node has the label: the target pod cannot be scheduled, and
	// KubeVirt gives up after the migration's unschedulable timeout.
	runCtx, cancel := context.WithTimeout(ctx, framework.Timeout)
	defer cancel()
	cmd := hyperCommand(runCtx, "vm", "migrate", "mover", "-n", ns, "--node-selector", "hypersdk.io/no-such-label=x", "--wait")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the migration's target pod to be unschedulable", func(ctx context.Context) (bool, error) {
		migs, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, m := range migs.Items {
			if m.Status.Phase != kvv1.MigrationScheduling || !hasMigrationCondition(&m, "TargetPodUnschedulable") {
				continue
			}
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"1"}}}`, kvv1.MigrationUnschedulablePodTimeoutSecondsAnnotation)
			_, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).Patch(ctx, m.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			return err == nil, err
		}
		return false, nil
	})
	err = cmd.Wait()
	if err == nil || !strings.Contains(stderr.String(), "Failed") || !strings.Contains(stderr.String(), "unschedulable for 1 seconds") ||
		strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
		t.Errorf("failing migration: %v, stderr %q; want a non-zero exit with KubeVirt's message on one line", err, stderr.String())
	}
	framework.Eventually(t, "the failed migration's target pod to go", func(ctx context.Context) (bool, error) {
		pods := launcherPods(t, ns, "mover")
		if len(pods) == 1 {
			return true, nil
		}
		migs, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		var states []string
		for _, m := range migs.Items {
			states = append(states, fmt.Sprintf("%s %s uid %s", m.Name, m.Status.Phase, m.UID))
		}
		return false, fmt.Errorf("%d live launcher pods: %s; migrations: %s", len(pods), describePods(pods), strings.Join(states, ", "))
	})
	vmi, err = env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "mover", metav1.GetOptions{})
	if err != nil || vmi.Status.NodeName != target || vmi.Status.Phase != kvv1.Running ||
		vmi.Status.MigrationState == nil || !vmi.Status.MigrationState.Failed {
		t.Errorf("after the failed migration the VM is %s on %s with %+v (%v), want Running on %s with the failure recorded",
			vmi.Status.Phase, vmi.Status.NodeName, vmi.Status.MigrationState, err, target)
	}

	// Cancel one that waits for a target.
	out = hyperOK(t, "vm", "migrate", "mover", "-n", ns, "--node-selector", "hypersdk.io/no-such-label=x")
	op := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "vmoperation.hypersdk.io/"), " created")
	framework.Eventually(t, "the migration to wait for a target", func(ctx context.Context) (bool, error) {
		msg, _, code := hyper(t, "op", "get", op, "-n", ns, "-o", "jsonpath={.status.message}")
		return code == 0 && strings.Contains(msg, "Scheduling"), nil
	})
	if got := hyperOK(t, "op", "cancel", op, "-n", ns); strings.TrimSpace(got) != "vmoperation.hypersdk.io/"+op+" cancel requested" {
		t.Errorf("op cancel: %q", got)
	}
	if _, errOut, code := hyper(t, "op", "wait", op, "-n", ns); code == 0 || !strings.Contains(errOut, "Cancelled") {
		t.Errorf("op wait on a cancelled operation: exit %d, %q; want non-zero naming Cancelled", code, errOut)
	}
	if _, errOut, code := hyper(t, "op", "cancel", op, "-n", ns); code == 0 || !strings.Contains(errOut, "already Cancelled") {
		t.Errorf("op cancel of an operation that ended: exit %d, %q; want non-zero saying it already ended", code, errOut)
	}

	hyperOK(t, "vm", "migrate", "mover", "-n", ns, "--wait")
	vmi, err = env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "mover", metav1.GetOptions{})
	if err != nil || vmi.Status.NodeName == target {
		t.Errorf("a migration after the failed and the cancelled one left the VM on %s (%v)", vmi.Status.NodeName, err)
	}
}

func hasMigrationCondition(m *kvv1.VirtualMachineInstanceMigration, typ kvv1.VirtualMachineInstanceMigrationConditionType) bool {
	for _, c := range m.Status.Conditions {
		if c.Type == typ {
			return true
		}
	}
	return false
}

// describePods names each pod with what says why it is still there.
func describePods(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		fmt.Fprintf(&b, "%s (node %q, phase %s, migration %q, created %s); ", p.Name, p.Spec.NodeName, p.Status.Phase,
			p.Labels[kubevirtsim.MigrationJobLabel], p.CreationTimestamp.Format("15:04:05"))
	}
	return b.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestKubectlHyperResizeSnapshotClone: resize, snapshot create/list/delete,
// quiesce refused without a guest agent, clone from a snapshot into another
// namespace powered on, and a linked clone.
func TestKubectlHyperResizeSnapshotClone(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "hyper-snap")
	other := env.Namespace(t, "hyper-snap-target")
	elastic := kubevirtVM("elastic", 0, "2Gi", nil)
	elastic.Spec.Template.Spec.Domain.CPU = &kvv1.CPU{Sockets: 2, Cores: 1, Threads: 1, MaxSockets: 8}
	elastic.Spec.Template.Spec.Domain.Memory.MaxGuest = ptr.To(resource.MustParse("8Gi"))
	createKubeVirtVM(t, ns, elastic)
	before := runningVMI(t, ns, "elastic", "")

	// s1 is taken before the resize, so a clone of it has the old size.
	hyperOK(t, "snapshot", "create", "elastic", "-n", ns, "--name", "s1", "--description", "before upgrade", "--wait")
	hyperOK(t, "vm", "resize", "elastic", "-n", ns, "--cpus", "4", "--memory", "4Gi", "--wait")
	vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "elastic", metav1.GetOptions{})
	if err != nil || vmi.UID != before.UID || vmi.Status.CurrentCPUTopology.Sockets != 4 || vmi.Status.Memory.GuestCurrent.String() != "4Gi" {
		t.Errorf("resize --cpus 4 --memory 4Gi: %v, uid %s->%s, %+v %+v", err, before.UID, vmi.UID, vmi.Status.CurrentCPUTopology, vmi.Status.Memory)
	}
	if _, errOut, code := hyper(t, "vm", "resize", "elastic", "-n", ns, "--memory", "lots"); code == 0 || !strings.Contains(errOut, "--memory") {
		t.Errorf("resize --memory lots: exit %d, %q", code, errOut)
	}

	hyperOK(t, "vm", "snapshot", "elastic", "-n", ns, "--name", "s2", "--quiesce", "--wait")
	var list snapshotv1.VirtualMachineSnapshotList
	if err := json.Unmarshal([]byte(hyperOK(t, "snapshot", "list", "-n", ns, "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Items[0].Name != "s1" || list.Items[0].Annotations["hypersdk.io/description"] != "before upgrade" ||
		list.Items[0].Status == nil || !ptr.Deref(list.Items[0].Status.ReadyToUse, false) {
		t.Errorf("snapshot list -o json: %+v", list.Items)
	}
	wide := hyperOK(t, "snapshot", "list", "s2", "-n", ns, "-o", "wide", "--no-headers")
	if f := strings.Fields(wide); len(f) < 6 || f[0] != "s2" || f[1] != "elastic" || f[3] != "true" || !strings.Contains(f[5], string(snapshotv1.VMSnapshotGuestAgentIndication)) {
		t.Errorf("snapshot list s2 -o wide: %q, want it ready with the guest agent's indication", wide)
	}
	if got := hyperOK(t, "snapshot", "list", "-n", ns, "--vm", "nobody", "-o", "name"); got != "" {
		t.Errorf("snapshot list --vm nobody: %q", got)
	}

	noAgent := kubevirtVM("plain", 1, "1Gi", nil)
	noAgent.Spec.Template.ObjectMeta.Annotations = map[string]string{kubevirtsim.NoGuestAgentAnnotation: "true"}
	createKubeVirtVM(t, ns, noAgent)
	runningVMI(t, ns, "plain", "")
	if _, errOut, code := hyper(t, "vm", "snapshot", "plain", "-n", ns, "--quiesce"); code == 0 || !strings.Contains(errOut, "quiesce") ||
		strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("snapshot --quiesce without a guest agent: exit %d, %q; want one line naming quiesce", code, errOut)
	}

	hyperOK(t, "vm", "clone", "elastic", "-n", ns, "--from-snapshot", "s1", "--target", "restored",
		"--target-namespace", other, "--power-on", "--new-macs", "--wait")
	copyVMI := runningVMI(t, other, "restored", "")
	if copyVMI.Spec.Domain.CPU == nil || copyVMI.Spec.Domain.CPU.Sockets != 2 {
		t.Errorf("the clone of s1, taken with 2 sockets, has CPU %+v", copyVMI.Spec.Domain.CPU)
	}

	hyperOK(t, "snapshot", "delete", "s1", "-n", ns)
	framework.Eventually(t, "snapshot s1 to go", func(ctx context.Context) (bool, error) {
		_, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, "s1", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if _, errOut, code := hyper(t, "snapshot", "list", "s1", "-n", ns); code == 0 || !strings.Contains(errOut, `"s1" not found`) {
		t.Errorf("snapshot list of a deleted snapshot: exit %d, %q", code, errOut)
	}

	// A linked clone: a stopped VM on a class that clones copy-on-write.
	class := ns + "-csi"
	storageClassWithProfile(t, class, kubevirtsim.StorageDriver)
	halted := withClaimDiskOf(t, ns, kubevirtVM("base", 1, "1Gi", nil), class)
	halted.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	createKubeVirtVM(t, ns, halted)
	source := boundVolume(t, ns, "base-root")
	hyperOK(t, "vm", "clone", "base", "-n", ns, "--target", "base-linked", "--linked", "--wait")
	if linked := boundVolume(t, ns, "base-linked-rootdisk"); linked.Annotations[kubevirtsim.ClonedFromAnnotation] != source.Name {
		t.Errorf("clone --linked: the copy's volume is cloned from %q, want %s", linked.Annotations[kubevirtsim.ClonedFromAnnotation], source.Name)
	}
}

// TestKubectlHyperTop: vm top shows what metrics.k8s.io reports for each
// running VM's launcher pod, its share of the VM's CPUs and memory, and
// nothing for a stopped VM.
func TestKubectlHyperTop(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-top")
	busy := kubevirtVM("busy", 2, "2Gi", map[string]string{"tier": "web"})
	// A steady load, so that top and the hand check see the same sample.
	busy.Spec.Template.ObjectMeta.Annotations = map[string]string{usage.Annotation: "steady:0.5,mem=0.5"}
	createKubeVirtVM(t, ns, busy)
	stopped := kubevirtVM("idle", 1, "1Gi", map[string]string{"tier": "web"})
	stopped.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	createKubeVirtVM(t, ns, stopped)
	runningVMI(t, ns, "busy", "")
	metrics, err := metricsclient.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	// The pod's usage as metrics.k8s.io reports it.
	sample := func(ctx context.Context) (milliCPU, memMi float64, err error) {
		pods := launcherPods(t, ns, "busy")
		if len(pods) != 1 {
			return 0, 0, fmt.Errorf("launcher pods %s", podStates(ctx, ns, "busy"))
		}
		pm, err := metrics.MetricsV1beta1().PodMetricses(ns).Get(ctx, pods[0].Name, metav1.GetOptions{})
		if err != nil {
			return 0, 0, fmt.Errorf("metrics.k8s.io of pod %s (%s): %w", pods[0].Name, podStates(ctx, ns, "busy"), err)
		}
		for _, ct := range pm.Containers {
			milliCPU += float64(ct.Usage.Cpu().MilliValue())
			memMi += float64(ct.Usage.Memory().Value() >> 20)
		}
		return milliCPU, memMi, nil
	}
	// The simulated load is steady with noise, so top is checked against
	// samples taken just before and after it, within the noise.
	var row []string
	var cpuBefore, cpuAfter, memBefore, memAfter float64
	framework.Eventually(t, "vm top and metrics.k8s.io to report the VM", func(ctx context.Context) (bool, error) {
		var err0, err1 error
		cpuBefore, memBefore, err0 = sample(ctx)
		out, stderr, code := hyper(t, "vm", "top", "-n", ns, "-l", "tier=web", "-o", "csv")
		cpuAfter, memAfter, err1 = sample(ctx)
		if code != 0 {
			return false, fmt.Errorf("vm top: exit %d: %s", code, stderr)
		}
		if err := errors.Join(err0, err1); err != nil {
			return false, err
		}
		records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			return false, err
		}
		if len(records) != 2 || strings.Join(records[0], ",") != "name,node,cpu(cores),cpu%,memory(bytes),memory%" {
			return false, fmt.Errorf("vm top -o csv: %q, want a header and the running VM only", out)
		}
		row = records[1]
		if row[2] == "<unknown>" {
			return false, fmt.Errorf("vm top: %q; VM %s", out, vmState(ctx, ns, "busy"))
		}
		return true, nil
	})
	milli, err1 := strconv.Atoi(strings.TrimSuffix(row[2], "m"))
	mi, err2 := strconv.Atoi(strings.TrimSuffix(row[4], "Mi"))
	near := func(v, a, b float64) bool { return v >= 0.8*min(a, b) && v <= 1.2*max(a, b) }
	if err1 != nil || err2 != nil || row[0] != "busy" || !near(float64(milli), cpuBefore, cpuAfter) || !near(float64(mi), memBefore, memAfter) {
		t.Errorf("vm top row %q; metrics.k8s.io said %.0fm/%.0fMi before and %.0fm/%.0fMi after", row, cpuBefore, memBefore, cpuAfter, memAfter)
	}
	share := func(cell string, want float64) bool {
		got, err := strconv.ParseFloat(strings.TrimSuffix(cell, "%"), 64)
		return err == nil && strings.HasSuffix(cell, "%") && got >= want-1 && got <= want+1 // rounded to a whole percent
	}
	if !share(row[3], float64(milli)/20) || !share(row[5], float64(mi)*100/2048) {
		t.Errorf("vm top row %q: CPU%% and MEMORY%% are not the shares of 2 vCPUs and 2Gi", row)
	}
	if out := hyperOK(t, "vm", "top", "-A", "--sort-by", "cpu"); !strings.Contains(strings.SplitN(out, "\n", 2)[0], "NAMESPACE") ||
		!strings.Contains(out, ns) {
		t.Errorf("vm top -A:\n%s", out)
	}
	if _, errOut, code := hyper(t, "vm", "top", "nosuch", "-n", ns); code == 0 || !strings.Contains(errOut, `"nosuch" not found`) {
		t.Errorf("vm top nosuch: exit %d, %q", code, errOut)
	}
	// Named, as kubectl get names: the rows found, then one line for each
	// name without usage, and a failed command.
	out, errOut, code := hyper(t, "vm", "top", "busy", "idle", "nosuch", "-n", ns)
	if lines := strings.Split(strings.TrimSpace(errOut), "\n"); code == 0 || !strings.Contains(out, "busy") || len(lines) != 2 ||
		!strings.Contains(lines[0], `"nosuch" not found`) || !strings.Contains(lines[1], `VM "idle" is Stopped`) {
		t.Errorf("vm top busy idle nosuch: exit %d, stdout %q, stderr %q; want busy's row and a line each for idle and nosuch", code, out, errOut)
	}
	empty := env.Namespace(t, "hyper-top-empty")
	if out, errOut, code := hyper(t, "vm", "top", "-n", empty); code != 0 || out != "" || errOut != "No resources found in "+empty+" namespace.\n" {
		t.Errorf("vm top in a namespace without VMs: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := hyper(t, "vm", "top", "-n", ns, "-o", "yaml"); code == 0 || !strings.Contains(errOut, "unknown output format") {
		t.Errorf("vm top -o yaml: exit %d, %q", code, errOut)
	}
}

// TestKubectlHyperConnectionFlags: --context picks the kubeconfig context
// (and its namespace), --request-timeout ends a watch as it ends kubectl's,
// and a malformed one is one line and a non-zero exit.
func TestKubectlHyperConnectionFlags(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-flags")
	createKubeVirtVM(t, ns, kubevirtVM("here", 1, "1Gi", nil))
	runningVMI(t, ns, "here", "")

	cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	current := cfg.Contexts[cfg.CurrentContext]
	other := *current
	other.Namespace = ns
	cfg.Contexts["hyper-e2e"] = &other
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	if got := hyperOK(t, "--kubeconfig", path, "--context", "hyper-e2e", "vm", "list", "-o", "name"); strings.TrimSpace(got) != "virtualmachine.hypersdk.io/here" {
		t.Errorf("--context hyper-e2e vm list: %q, want the VM of the context's namespace", got)
	}
	if _, errOut, code := hyper(t, "--kubeconfig", path, "--context", "nosuch", "vm", "list"); code == 0 || !strings.Contains(errOut, "nosuch") {
		t.Errorf("--context nosuch: exit %d, %q", code, errOut)
	}

	// Long enough for the list before the watch on a loaded machine (3s
	// ran out in the list once, with every e2e test beside it).
	out := hyperOK(t, "vm", "list", "-n", ns, "--watch", "--request-timeout", "15s", "--no-headers")
	if f := strings.Fields(out); len(f) < 3 || f[0] != "ADDED" || f[2] != "here" {
		t.Errorf("vm list --watch --request-timeout 15s: %q, want the VM as ADDED and a clean end", out)
	}
	if _, errOut, code := hyper(t, "vm", "list", "-n", ns, "--request-timeout", "soon"); code == 0 || !strings.Contains(errOut, "Invalid timeout value") ||
		strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("--request-timeout soon: exit %d, %q", code, errOut)
	}
}

// TestKubectlHyperRestore: snapshot restore brings a running VM back to its
// snapshot (stopped, restored, started again); vm restore --as-new makes a
// second, stopped VM and leaves the first alone; a cancelled restore leaves
// the VM running and no restore behind; bad requests are one line.
func TestKubectlHyperRestore(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "hyper-restore")
	vm := kubevirtVM("orig", 0, "2Gi", nil)
	vm.Spec.Template.Spec.Domain.CPU = &kvv1.CPU{Sockets: 2, Cores: 1, Threads: 1, MaxSockets: 8}
	vm.Spec.Template.Spec.Domain.Memory.MaxGuest = ptr.To(resource.MustParse("8Gi"))
	createKubeVirtVM(t, ns, vm)
	createKubeVirtVM(t, ns, kubevirtVM("other", 1, "1Gi", nil))
	runningVMI(t, ns, "orig", "")
	hyperOK(t, "snapshot", "create", "orig", "-n", ns, "--name", "s1", "--wait")
	hyperOK(t, "vm", "resize", "orig", "-n", ns, "--cpus", "4", "--wait")
	resized := runningVMI(t, ns, "orig", "")
	sockets := func(name string) uint32 {
		got, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Spec.Template.Spec.Domain.CPU.Sockets
	}
	if got := sockets("orig"); got != 4 {
		t.Fatalf("after resize the VM has %d sockets, want 4", got)
	}

	out := hyperOK(t, "snapshot", "restore", "s1", "-n", ns, "--wait", "--show-progress")
	if last := lastLine(out); !strings.Contains(last, "Succeeded") || !strings.Contains(last, "restored snapshot s1") {
		t.Errorf("snapshot restore s1 ended with %q", last)
	}
	restored := runningVMI(t, ns, "orig", resized.UID)
	if got := sockets("orig"); got != 2 || restored.Spec.Domain.CPU.Sockets != 2 {
		t.Errorf("after restoring s1 the VM has %d sockets and its instance %d, want the snapshot's 2", got, restored.Spec.Domain.CPU.Sockets)
	}

	hyperOK(t, "vm", "restore", "orig", "-n", ns, "--snapshot", "s1", "--as-new", "twin", "--wait")
	twin, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "twin", metav1.GetOptions{})
	if err != nil || twin.Spec.Template.Spec.Domain.CPU.Sockets != 2 || twin.Spec.RunStrategy == nil || *twin.Spec.RunStrategy != kvv1.RunStrategyHalted {
		t.Errorf("restore --as-new twin: %v %+v", err, twin.Spec.RunStrategy)
	}
	if now := runningVMI(t, ns, "orig", ""); now.UID != restored.UID {
		t.Errorf("restore --as-new restarted the VM it came from")
	}

	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{[]string{"vm", "restore", "orig", "--snapshot", "s1", "--as-new", "twin"}, "already exists"},
		{[]string{"vm", "restore", "other", "--snapshot", "s1"}, "is a snapshot of VirtualMachine orig"},
		{[]string{"vm", "restore", "orig"}, "--snapshot is required"},
		{[]string{"snapshot", "restore", "nosuch"}, `"nosuch" not found`},
	} {
		_, errOut, code := hyper(t, append(tc.args, "-n", ns)...)
		if code == 0 || !strings.Contains(errOut, tc.mention) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want one line naming %q", tc.args, code, errOut, tc.mention)
		}
	}

	// Cancelled at once: whatever it had done, the VM runs again and no
	// VirtualMachineRestore is left.
	out = hyperOK(t, "vm", "restore", "orig", "-n", ns, "--snapshot", "s1")
	op := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "vmoperation.hypersdk.io/"), " created")
	// The restore may have ended before the cancel reaches it: op cancel
	// then says so and fails, and what follows holds all the same.
	if _, errOut, code := hyper(t, "op", "cancel", op, "-n", ns); code != 0 && !strings.Contains(errOut, "already Succeeded") {
		t.Fatalf("op cancel of the restore: exit %d, %q", code, errOut)
	}
	framework.Eventually(t, "the cancelled restore to end with the VM running and nothing left", func(ctx context.Context) (bool, error) {
		got, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, op, metav1.GetOptions{})
		if err != nil || got.Status.CompletionTime == nil {
			return false, err
		}
		restores, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineRestores(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(restores.Items) != 0 {
			return false, err
		}
		vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "orig", metav1.GetOptions{})
		return err == nil && vmi.Status.Phase == kvv1.Running, nil
	})
}

// TestKubectlHyperPowerFlags: start --paused gives a paused guest, restart
// --grace-period replaces the instance, stop --grace-period stops it; op
// list filters by phase and VM, across namespaces with -A.
func TestKubectlHyperPowerFlags(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "hyper-power")
	vm := kubevirtVM("box", 1, "1Gi", nil)
	vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	createKubeVirtVM(t, ns, vm)

	hyperOK(t, "vm", "start", "box", "-n", ns, "--paused", "--wait")
	paused := runningVMI(t, ns, "box", "")
	if !hasVMICondition(paused, kvv1.VirtualMachineInstancePaused) {
		t.Errorf("start --paused: the instance has no Paused condition: %+v", paused.Status.Conditions)
	}
	hyperOK(t, "vm", "restart", "box", "-n", ns, "--grace-period", "0", "--wait")
	restarted := runningVMI(t, ns, "box", paused.UID)
	hyperOK(t, "vm", "stop", "box", "-n", ns, "--grace-period", "5", "--wait")
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "box", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after stop --wait the instance %s is still there (%v)", restarted.UID, err)
	}

	out := hyperOK(t, "op", "list", "-A", "--vm", "box", "--phase", "Succeeded", "-o", "csv", "--no-headers")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, r := range rows {
		if r[0] == ns {
			types[r[3]] = true
		}
	}
	if len(rows) < 3 || !types["Start"] || !types["Restart"] || !types["Stop"] {
		t.Errorf("op list -A --vm box --phase Succeeded:\n%s", out)
	}
	if out := hyperOK(t, "op", "list", "-n", ns, "--phase", "Failed", "-o", "name"); out != "" {
		t.Errorf("op list --phase Failed: %q, want nothing", out)
	}
}

func hasVMICondition(vmi *kvv1.VirtualMachineInstance, typ kvv1.VirtualMachineInstanceConditionType) bool {
	for _, c := range vmi.Status.Conditions {
		if c.Type == typ && c.Status == "True" {
			return true
		}
	}
	return false
}

// vmState is a hypersdk.io VM's phase and node, for failure messages.
func vmState(ctx context.Context, ns, name string) string {
	vm, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return fmt.Sprintf("phase %q on node %q", vm.Status.Phase, vm.Status.NodeName)
}
