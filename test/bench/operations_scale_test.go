package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
)

const scaleOps = 1000

// opKinds are the operations of the mix; VM i gets opKinds[i%4].
var opKinds = []v1alpha1.VMOperationType{v1alpha1.VMOperationStart, v1alpha1.VMOperationStop,
	v1alpha1.VMOperationResize, v1alpha1.VMOperationSnapshot}

// BenchmarkOperationsAtScale submits 1,000 operations at once, a quarter
// each of start (stopped VMs), stop, resize (2 vCPUs, hotplugged) and
// snapshot, as VMOperations that hypersdk-controller's executor carries
// out, against the baseline of a client making the same changes directly
// on KubeVirt (runStrategy patches, a CPU patch, VirtualMachineSnapshots)
// on as many other VMs, in the same run. Done is observed the same way for
// both (a list every 500 ms): the operation Succeeded, or KubeVirt shows
// the result. It checks that no operation is lost or run twice and reports
// the executor's CPU per operation. HYPERSDK_BENCH_WORKERS restarts
// hypersdk-controller with that many --workers first.
func BenchmarkOperationsAtScale(b *testing.B) {
	ctx := context.Background()
	sb, _ := startSandbox(b, sandbox.Config{Nodes: 100, Speed: 60, StartTimeout: 10 * time.Minute})
	defer sb.Stop()
	kube, kv, hyper := loadClients(b, sb)
	running := scaleOps * 3 / 4
	for _, ns := range []string{"direct", "ops"} {
		mustNamespace(b, kube, ns)
		createAll(b, scaleOps, func(i int) error {
			_, err := kv.KubevirtV1().VirtualMachines(ns).Create(ctx, opsVM(i), metav1.CreateOptions{})
			return err
		})
		if err := sandbox.WaitVMIsRunning(ctx, kv, ns, running, 20*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "the view to show the VMs to operate on", func(ctx context.Context) (bool, error) {
		l, err := hyper.HypersdkV1alpha1().VirtualMachines("ops").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		n := 0
		for _, vm := range l.Items {
			if vm.Status.Phase == v1alpha1.VirtualMachineRunning {
				n++
			}
		}
		return n == running, nil
	})
	resizedUIDs := vmiUIDs(b, kv, "ops")
	workers := "16 (the default)"
	if v := os.Getenv("HYPERSDK_BENCH_WORKERS"); v != "" {
		// What more workers would buy: the controller again with --workers.
		if err := sb.RestartController(ctx, "--workers="+v); err != nil {
			b.Fatal(err)
		}
		workers = v
		waitFor(b, "hypersdk-controller's metrics", func(ctx context.Context) (bool, error) {
			res, err := http.Get(sb.ControllerMetricsURL())
			if err != nil {
				return false, nil
			}
			return res.StatusCode == http.StatusOK, res.Body.Close()
		})
	}

	var report strings.Builder
	fmt.Fprintf(&report, "# %d operations at once (%s): a quarter each of start, stop, resize (hotplug 1 -> 2 vCPUs) and snapshot; executor workers %s\n",
		scaleOps, time.Now().UTC().Format(time.RFC3339), workers)
	report.WriteString("done observed by a list every 500 ms; latency from the start of submission; CPU per operation over the whole run\n")
	procs := []string{"hypersdk-controller", "hypersdk-apiserver", "kube-apiserver", "hypersdk-kubevirt-simulator"}
	for _, run := range []struct {
		name   string
		submit func(i int) error
		done   func(ctx context.Context) (map[int]bool, error)
	}{
		{"direct KubeVirt calls", func(i int) error { return directChange(ctx, kv, i) }, func(ctx context.Context) (map[int]bool, error) {
			return kubevirtDone(ctx, kv, "direct")
		}},
		{"VMOperations (executor)", func(i int) error {
			_, err := hyper.HypersdkV1alpha1().VMOperations("ops").Create(ctx, operation(i), metav1.CreateOptions{})
			return err
		}, func(ctx context.Context) (map[int]bool, error) { return operationsDone(ctx, hyper) }},
	} {
		before := map[string]float64{}
		for _, p := range procs {
			_, before[p] = processStats(b, p)
		}
		throttledBefore := histogramSum(b, http.DefaultClient, sb.ControllerMetricsURL(), "rest_client_rate_limiter_duration_seconds")
		start := time.Now()
		createAll(b, scaleOps, run.submit)
		submitted := time.Since(start)
		lat := observeDone(b, start, run.done)
		fmt.Fprintf(&report, "%-24s submitted in %5.1f s, all done in %6.1f s; latency p50 %6.1f s p99 %6.1f s; CPU ms per operation:",
			run.name, submitted.Seconds(), lat[len(lat)-1].Seconds(), pct(lat, 0.5).Seconds(), pct(lat, 0.99).Seconds())
		for _, p := range procs {
			_, after := processStats(b, p)
			fmt.Fprintf(&report, " %s %.1f", p, 1000*(after-before[p])/scaleOps)
		}
		fmt.Fprintf(&report, "; hypersdk-controller requests waited %.1f s in all on its client-side rate limit\n",
			histogramSum(b, http.DefaultClient, sb.ControllerMetricsURL(), "rest_client_rate_limiter_duration_seconds")-throttledBefore)
		b.ReportMetric(lat[len(lat)-1].Seconds(), "s-all-done-"+strings.Fields(run.name)[0])
	}

	// Nothing lost, nothing done twice.
	ops, err := hyper.HypersdkV1alpha1().VMOperations("ops").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	snaps, err := kv.SnapshotV1beta1().VirtualMachineSnapshots("ops").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	restarted := 0
	after := vmiUIDs(b, kv, "ops")
	for i := range scaleOps {
		name := "vm-" + strconv.Itoa(i)
		if opKinds[i%4] == v1alpha1.VMOperationResize && after[name] != resizedUIDs[name] {
			restarted++
		}
	}
	fmt.Fprintf(&report, "VMOperations: %d of %d stored, all Succeeded; VirtualMachineSnapshots %d for %d snapshot operations; VMs restarted by a hotplug resize %d\n",
		len(ops.Items), scaleOps, len(snaps.Items), scaleOps/4, restarted)
	fmt.Print(report.String())
	writeFigures(b, "operations-at-scale.txt", report.String())
	if len(ops.Items) != scaleOps || len(snaps.Items) != scaleOps/4 || restarted != 0 {
		b.Errorf("operations lost or repeated: %d operations, %d snapshots, %d restarts", len(ops.Items), len(snaps.Items), restarted)
	}
}

// opsVM is a small VM whose CPUs can be hotplugged up to 4; every fourth is
// stopped, to be started.
func opsVM(i int) *kvv1.VirtualMachine {
	vm := viewVM(i)
	vm.Spec.Template.Spec.Domain.CPU.MaxSockets = 4
	if opKinds[i%4] == v1alpha1.VMOperationStart {
		vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	}
	return vm
}

func operation(i int) *v1alpha1.VMOperation {
	op := &v1alpha1.VMOperation{
		ObjectMeta: metav1.ObjectMeta{Name: "op-" + strconv.Itoa(i)},
		Spec:       v1alpha1.VMOperationSpec{VMName: "vm-" + strconv.Itoa(i), Type: opKinds[i%4]},
	}
	switch op.Spec.Type {
	case v1alpha1.VMOperationStart:
		op.Spec.Start = &v1alpha1.StartSpec{}
	case v1alpha1.VMOperationStop:
		op.Spec.Stop = &v1alpha1.StopSpec{}
	case v1alpha1.VMOperationResize:
		op.Spec.Resize = &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](2)}
	case v1alpha1.VMOperationSnapshot:
		op.Spec.Snapshot = &v1alpha1.SnapshotSpec{Name: "snap-" + strconv.Itoa(i)}
	}
	return op
}

// directChange makes operation i's change on KubeVirt itself, as a client
// without HyperSDK would.
func directChange(ctx context.Context, kv kubevirt.Clientset, i int) error {
	vms := kv.KubevirtV1().VirtualMachines("direct")
	name := "vm-" + strconv.Itoa(i)
	patch := func(p string) error {
		_, err := vms.Patch(ctx, name, types.MergePatchType, []byte(p), metav1.PatchOptions{})
		return err
	}
	switch opKinds[i%4] {
	case v1alpha1.VMOperationStart:
		return patch(`{"spec":{"runStrategy":"Always"}}`)
	case v1alpha1.VMOperationStop:
		return patch(`{"spec":{"runStrategy":"Halted"}}`)
	case v1alpha1.VMOperationResize:
		return patch(`{"spec":{"template":{"spec":{"domain":{"cpu":{"sockets":2}}}}}}`)
	default:
		_, err := kv.SnapshotV1beta1().VirtualMachineSnapshots("direct").Create(ctx, &snapshotv1.VirtualMachineSnapshot{
			ObjectMeta: metav1.ObjectMeta{Name: "snap-" + strconv.Itoa(i)},
			Spec: snapshotv1.VirtualMachineSnapshotSpec{
				Source: corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: name},
			},
		}, metav1.CreateOptions{})
		return err
	}
}

// kubevirtDone reads which direct changes KubeVirt shows as done: started
// VMs running, stopped ones without an instance, resized ones running 2
// vCPUs, snapshots ready.
func kubevirtDone(ctx context.Context, kv kubevirt.Clientset, ns string) (map[int]bool, error) {
	vmis, err := kv.KubevirtV1().VirtualMachineInstances(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	snaps, err := kv.SnapshotV1beta1().VirtualMachineSnapshots(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	byName := map[string]*kvv1.VirtualMachineInstance{}
	for i := range vmis.Items {
		byName[vmis.Items[i].Name] = &vmis.Items[i]
	}
	ready := map[string]bool{}
	for _, s := range snaps.Items {
		ready[s.Name] = s.Status != nil && s.Status.ReadyToUse != nil && *s.Status.ReadyToUse
	}
	done := map[int]bool{}
	for i := range scaleOps {
		vmi := byName["vm-"+strconv.Itoa(i)]
		switch opKinds[i%4] {
		case v1alpha1.VMOperationStart:
			done[i] = vmi != nil && vmi.Status.Phase == kvv1.Running
		case v1alpha1.VMOperationStop:
			done[i] = vmi == nil
		case v1alpha1.VMOperationResize:
			done[i] = vmi != nil && runningCPUs(vmi) == 2
		default:
			done[i] = ready["snap-"+strconv.Itoa(i)]
		}
	}
	return done, nil
}

// runningCPUs is the guest's current CPU count: the hotplugged topology
// when KubeVirt reports one, else the instance's spec.
func runningCPUs(vmi *kvv1.VirtualMachineInstance) int32 {
	if t := vmi.Status.CurrentCPUTopology; t != nil {
		return int32(max(t.Sockets, 1) * max(t.Cores, 1) * max(t.Threads, 1))
	}
	return kubevirt.CPUCount(vmi.Spec.Domain.CPU)
}

func operationsDone(ctx context.Context, hyper hypersdkclient.Interface) (map[int]bool, error) {
	ops, err := hyper.HypersdkV1alpha1().VMOperations("ops").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	done := map[int]bool{}
	for _, op := range ops.Items {
		i, err := strconv.Atoi(strings.TrimPrefix(op.Name, "op-"))
		if err != nil {
			continue
		}
		switch op.Status.Phase {
		case v1alpha1.VMOperationSucceeded:
			done[i] = true
		case v1alpha1.VMOperationFailed, v1alpha1.VMOperationCancelled:
			return nil, fmt.Errorf("operation %s %s: %s", op.Name, op.Status.Phase, op.Status.Message)
		}
	}
	return done, nil
}

// observeDone polls done every 500 ms until all scaleOps are done (at most
// 20 minutes) and returns, sorted, when each was first seen done, from start.
func observeDone(b *testing.B, start time.Time, done func(ctx context.Context) (map[int]bool, error)) []time.Duration {
	seen := map[int]time.Duration{}
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 20*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := done(ctx)
		if err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) {
				return false, nil
			}
			return false, err
		}
		at := time.Since(start)
		for i, ok := range d {
			if _, already := seen[i]; ok && !already {
				seen[i] = at
			}
		}
		return len(seen) == scaleOps, nil
	})
	if err != nil {
		b.Fatalf("%d of %d done: %v", len(seen), scaleOps, err)
	}
	lat := make([]time.Duration, 0, len(seen))
	for _, d := range seen {
		lat = append(lat, d)
	}
	slices.Sort(lat)
	return lat
}

func vmiUIDs(b *testing.B, kv kubevirt.Clientset, ns string) map[string]types.UID {
	vmis, err := kv.KubevirtV1().VirtualMachineInstances(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]types.UID{}
	for _, vmi := range vmis.Items {
		out[vmi.Name] = vmi.UID
	}
	return out
}
