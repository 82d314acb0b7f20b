package bench

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/backup"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
)

var backupVMs = flag.Int("backup-vms", 2000, "VMs a BenchmarkBackupSchedule run snapshots")

const (
	backupInFlight = 100 // the schedule's maxConcurrent, and the baseline's
	idleFor        = 60 * time.Second
)

// BenchmarkBackupSchedule: a BackupSchedule over -backup-vms stopped VMs.
// Baseline, in the same run: a client that creates the same Snapshot
// VMOperations itself, at most 100 in flight like the schedule's
// maxConcurrent, and deletes the snapshots itself. Measured: the time from
// the slot to the last operation created and to the last snapshot done,
// the time to prune every snapshot (the retention changed to a maxAge all
// have passed), and hypersdk-controller's CPU between runs with the
// schedule in place against the same span with no schedule.
func BenchmarkBackupSchedule(b *testing.B) {
	ctx := context.Background()
	n := *backupVMs
	sb, _ := startSandbox(b, sandbox.Config{Nodes: 10})
	defer sb.Stop()
	cfg := rest.CopyConfig(sb.Admin)
	cfg.QPS, cfg.Burst = 5000, 10000 // the client must not be the bottleneck
	kube := kubernetes.NewForConfigOrDie(cfg)
	kv, err := kubevirt.NewClientset(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hyper := hypersdkclient.NewForConfigOrDie(cfg)
	const ns = "bench-backup"
	mustNamespace(b, kube, ns)
	createAll(b, n, func(i int) error {
		vm := scaleVM(i)
		vm.Labels = map[string]string{"backup": "bench"}
		vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
		_, err := kv.KubevirtV1().VirtualMachines(ns).Create(ctx, vm, metav1.CreateOptions{})
		return err
	})
	waitFor(b, "the VM view to show every VM", func(ctx context.Context) (bool, error) {
		list, err := hyper.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		return err == nil && len(list.Items) == n, nil
	})
	ctrl := sb.PID("hypersdk-controller")

	// Baseline: the client snapshots every VM itself.
	cpu0, t0 := cpuSeconds(b, ctrl), time.Now()
	baseCreated := directSnapshots(b, hyper, ns, n)
	baseDone, baseCPU := time.Since(t0), cpuSeconds(b, ctrl)-cpu0
	t0 = time.Now()
	createAll(b, n, func(i int) error {
		return kv.SnapshotV1beta1().VirtualMachineSnapshots(ns).Delete(ctx, "direct-"+strconv.Itoa(i), metav1.DeleteOptions{})
	})
	waitFor(b, "the direct snapshots gone", func(ctx context.Context) (bool, error) {
		return countSnapshots(ctx, kv, ns, "direct-") == 0, nil
	})
	basePrune := time.Since(t0)

	// The schedule: a cron slot at the next minute at least 20s ahead, so
	// exactly one run happens before the next day.
	slot := time.Now().UTC().Add(20 * time.Second).Truncate(time.Minute).Add(time.Minute)
	bs := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: v1alpha1.BackupScheduleSpec{
			VMSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"backup": "bench"}},
			Schedule:      fmt.Sprintf("%d %d * * *", slot.Minute(), slot.Hour()),
			Retention:     v1alpha1.BackupRetention{KeepLast: ptr.To[int32](1)},
			MaxConcurrent: ptr.To[int32](backupInFlight),
		},
	}
	if _, err := hyper.HypersdkV1alpha1().BackupSchedules(ns).Create(ctx, bs, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Until(slot)) // the benchmark's clock starts at the slot
	cpu0 = cpuSeconds(b, ctrl)
	var lastCreated time.Time
	waitFor(b, "every snapshot of the run done", func(ctx context.Context) (bool, error) {
		got, err := hyper.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "bench", metav1.GetOptions{})
		if err != nil || len(got.Status.Pending) > 0 || len(got.Status.Snapshots) < n {
			return false, nil
		}
		for _, s := range got.Status.Snapshots {
			if s.Phase != v1alpha1.VMOperationSucceeded {
				return false, nil
			}
		}
		return true, nil
	})
	runDone, runCPU := time.Since(slot), cpuSeconds(b, ctrl)-cpu0
	ops, err := hyper.HypersdkV1alpha1().VMOperations(ns).List(ctx, metav1.ListOptions{LabelSelector: backup.LabelSchedule + "=bench"})
	if err != nil {
		b.Fatal(err)
	}
	for _, op := range ops.Items {
		if t := op.CreationTimestamp.Time; t.After(lastCreated) {
			lastCreated = t
		}
	}
	if len(ops.Items) != n {
		b.Fatalf("the run made %d operations for %d VMs", len(ops.Items), n)
	}

	// Idle between runs: the controller's CPU with the schedule in place,
	// then with none.
	cpu0 = cpuSeconds(b, ctrl)
	time.Sleep(idleFor)
	idleWith := cpuSeconds(b, ctrl) - cpu0

	// Prune: a maxAge every snapshot has passed.
	got, err := hyper.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "bench", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	got.Spec.Retention = v1alpha1.BackupRetention{MaxAge: &metav1.Duration{Duration: time.Second}}
	t0, cpu0 = time.Now(), cpuSeconds(b, ctrl)
	if _, err := hyper.HypersdkV1alpha1().BackupSchedules(ns).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitFor(b, "every snapshot of the schedule pruned", func(ctx context.Context) (bool, error) {
		got, err := hyper.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "bench", metav1.GetOptions{})
		return err == nil && len(got.Status.Snapshots) == 0 && countSnapshots(ctx, kv, ns, "bench-") == 0, nil
	})
	pruneDone, pruneCPU := time.Since(t0), cpuSeconds(b, ctrl)-cpu0

	if err := hyper.HypersdkV1alpha1().BackupSchedules(ns).Delete(ctx, "bench", metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	cpu0 = cpuSeconds(b, ctrl)
	time.Sleep(idleFor)
	idleWithout := cpuSeconds(b, ctrl) - cpu0

	var report strings.Builder
	fmt.Fprintf(&report, "# Backup schedule benchmark (%s): %d stopped VMs, at most %d snapshots in flight, 2 cores\n",
		time.Now().UTC().Format(time.RFC3339), n, backupInFlight)
	fmt.Fprintf(&report, "%-44s %10s %10s %14s\n", "step", "seconds", "per VM ms", "controller cpu s")
	row := func(name string, d time.Duration, cpu float64) {
		fmt.Fprintf(&report, "%-44s %10.1f %10.1f %14.2f\n", name, d.Seconds(), float64(d.Milliseconds())/float64(n), cpu)
	}
	row("baseline: client creates the operations", baseCreated, 0)
	row("baseline: client's snapshots all done", baseDone, baseCPU)
	row("schedule: slot to last operation created", lastCreated.Sub(slot), 0)
	row("schedule: slot to every snapshot done", runDone, runCPU)
	row("baseline: client deletes the snapshots", basePrune, 0)
	row("schedule: prune every snapshot", pruneDone, pruneCPU)
	fmt.Fprintf(&report, "ratio run schedule/baseline: %.2f; prune: %.2f\n", runDone.Seconds()/baseDone.Seconds(), pruneDone.Seconds()/basePrune.Seconds())
	fmt.Fprintf(&report, "controller CPU between runs over %s: %.2f s with the schedule, %.2f s with none (%.3f cores vs %.3f)\n",
		idleFor, idleWith, idleWithout, idleWith/idleFor.Seconds(), idleWithout/idleFor.Seconds())
	fmt.Print(report.String())
	writeFigures(b, "backup-schedule.txt", report.String())
	b.ReportMetric(runDone.Seconds(), "s-run")
	b.ReportMetric(pruneDone.Seconds(), "s-prune")
}

// directSnapshots creates a Snapshot VMOperation for each of n VMs, at
// most backupInFlight unfinished at once, and waits for all; it returns when
// the last was created.
func directSnapshots(b *testing.B, hyper hypersdkclient.Interface, ns string, n int) time.Duration {
	start := time.Now()
	var created time.Duration
	next := 0
	waitFor(b, "the direct snapshots done", func(ctx context.Context) (bool, error) {
		ops, err := hyper.HypersdkV1alpha1().VMOperations(ns).List(ctx, metav1.ListOptions{LabelSelector: "bench=direct"})
		if err != nil {
			return false, nil
		}
		busy, done := 0, 0
		for _, op := range ops.Items {
			switch op.Status.Phase {
			case v1alpha1.VMOperationSucceeded:
				done++
			case v1alpha1.VMOperationFailed, v1alpha1.VMOperationCancelled:
				return false, fmt.Errorf("operation %s: %s", op.Name, op.Status.Message)
			default:
				busy++
			}
		}
		for ; next < n && busy < backupInFlight; next, busy = next+1, busy+1 {
			name := "direct-" + strconv.Itoa(next)
			op := &v1alpha1.VMOperation{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "direct"}},
				Spec: v1alpha1.VMOperationSpec{VMName: "vm-" + strconv.Itoa(next), Type: v1alpha1.VMOperationSnapshot,
					Snapshot: &v1alpha1.SnapshotSpec{Name: name}},
			}
			if _, err := hyper.HypersdkV1alpha1().VMOperations(ns).Create(ctx, op, metav1.CreateOptions{}); err != nil {
				return false, err
			}
			if next == n-1 {
				created = time.Since(start)
			}
		}
		return done == n, nil
	})
	return created
}

func countSnapshots(ctx context.Context, kv kubevirt.Clientset, ns, prefix string) int {
	list, err := kv.SnapshotV1beta1().VirtualMachineSnapshots(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return -1
	}
	c := 0
	for _, s := range list.Items {
		if strings.HasPrefix(s.Name, prefix) {
			c++
		}
	}
	return c
}

// waitFor polls cond every 500ms for up to 20 minutes.
func waitFor(b *testing.B, what string, cond wait.ConditionWithContextFunc) {
	if err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 20*time.Minute, true, cond); err != nil {
		b.Fatalf("waiting for %s: %v", what, err)
	}
}
