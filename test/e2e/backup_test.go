package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/backup"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/pkg/sandbox/kubevirtsim"
	"github.com/hypersdk/hypersdk/test/framework"
)

// scheduleSnapshots counts the VirtualMachineSnapshots of a schedule per VM
// (their names are <schedule>-<vm>-<slot>), and reports whether other exists.
func scheduleSnapshots(ctx context.Context, ns, schedule, other string) (map[string]int, bool, error) {
	list, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, false, err
	}
	count, found := map[string]int{}, false
	for _, s := range list.Items {
		if s.Name == other {
			found = true
		}
		if rest, ok := strings.CutPrefix(s.Name, schedule+"-"); ok && s.DeletionTimestamp == nil {
			count[rest[:strings.LastIndex(rest, "-")]]++
		}
	}
	return count, found, nil
}

// operationSlots are the slots (unix seconds) the schedule's operations were made for.
func operationSlots(t *testing.T, ns, schedule string) map[int64]int {
	t.Helper()
	ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: backup.LabelSchedule + "=" + schedule})
	if err != nil {
		t.Fatal(err)
	}
	slots := map[int64]int{}
	for _, op := range ops.Items {
		slot, err := strconv.ParseInt(op.Name[strings.LastIndex(op.Name, "-")+1:], 10, 64)
		if err != nil {
			t.Fatalf("operation %s: no slot in its name", op.Name)
		}
		slots[slot]++
	}
	return slots
}

// TestBackupSchedule: a schedule snapshots the VMs it selects on its slots,
// one at a time (maxConcurrent 1), keeps exactly keepLast of its own per VM,
// never prunes a snapshot it did not make, and after being down for
// several slots runs once, for the newest.
func TestBackupSchedule(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "backup")
	for _, name := range []string{"a", "b", "c"} {
		labels := map[string]string{"backup": "yes"}
		if name == "c" {
			labels = nil
		}
		createKubeVirtVM(t, ns, kubevirtVM(name, 1, "1Gi", labels))
	}
	runOperation(t, ns, "a", "snapshot", map[string]interface{}{"name": "manual"})
	t.Cleanup(func() {
		if b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(context.Background(), "often", metav1.GetOptions{}); t.Failed() && err == nil {
			t.Logf("schedule status at the failure: %+v", b.Status)
		}
	})

	bs := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "often"},
		Spec: v1alpha1.BackupScheduleSpec{
			VMSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"backup": "yes"}},
			Schedule:      "@every 4s",
			Retention:     v1alpha1.BackupRetention{KeepLast: ptr.To[int32](2)},
			MaxConcurrent: ptr.To[int32](1),
		},
	}
	bad := bs.DeepCopy()
	bad.Spec.Schedule, bad.Spec.Retention = "every night", v1alpha1.BackupRetention{KeepLast: ptr.To[int32](0)}
	_, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.schedule") || !strings.Contains(err.Error(), "spec.retention") {
		t.Errorf("a bad schedule: %v, want 422 naming spec.schedule and spec.retention", err)
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Create(ctx, bs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "four runs with snapshots of both VMs", func(ctx context.Context) (bool, error) {
		slots := operationSlots(t, ns, "often")
		count, _, err := scheduleSnapshots(ctx, ns, "often", "")
		return err == nil && len(slots) >= 4 && count["a"] >= 2 && count["b"] >= 2, err
	})
	example := filepath.Join(framework.RepoRoot(), "artifacts", "examples", "backup-schedule.yaml")
	if out, err := env.Kubectl(t, "apply", "-n", ns, "--dry-run=server", "-f", example); err != nil {
		t.Errorf("the shipped example is refused: %v\n%s", err, out)
	}
	setSuspend(t, ns, "often", true)
	var st v1alpha1.BackupScheduleStatus
	framework.Eventually(t, "the last run done and pruned", func(ctx context.Context) (bool, error) {
		b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "often", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st = b.Status
		if len(st.Pending) > 0 {
			return false, nil
		}
		for _, s := range st.Snapshots {
			if s.Phase != v1alpha1.VMOperationSucceeded {
				return false, nil
			}
		}
		count, _, err := scheduleSnapshots(ctx, ns, "often", "")
		return err == nil && count["a"] == 2 && count["b"] == 2, err
	})
	count, manual, err := scheduleSnapshots(ctx, ns, "often", "manual")
	if err != nil {
		t.Fatal(err)
	}
	if count["a"] != 2 || count["b"] != 2 || count["c"] != 0 || len(st.Snapshots) != 4 || !manual {
		t.Errorf("kept %v (status lists %d), manual snapshot kept: %v; want 2 of a and b each, none of c, and the manual one",
			count, len(st.Snapshots), manual)
	}
	if st.LastSuccessfulTime == nil || st.NextScheduleTime == nil || st.LastFailure != nil {
		t.Errorf("status: last success %v, next %v, last failure %+v", st.LastSuccessfulTime, st.NextScheduleTime, st.LastFailure)
	}

	// The scheduler down for three slots or more: once back, one run.
	down := time.Now()
	if err := env.RestartController(ctx, "--controllers=*,-backup"); err != nil {
		t.Fatal(err)
	}
	// A failure before the restart below must not leave the backup
	// controller off for the parallel backup tests that run after this one.
	backOn := false
	t.Cleanup(func() {
		if !backOn {
			if err := env.RestartController(context.Background()); err != nil {
				t.Errorf("restarting hypersdk-controller with every controller: %v", err)
			}
		}
	})
	setSuspend(t, ns, "often", false)
	framework.Eventually(t, "three slots to pass", func(context.Context) (bool, error) {
		return time.Since(down) > 13*time.Second, nil
	})
	if err := env.RestartController(ctx); err != nil {
		t.Fatal(err)
	}
	backOn = true
	up := time.Now()
	framework.Eventually(t, "a run after the scheduler is back", func(context.Context) (bool, error) {
		for slot := range operationSlots(t, ns, "often") {
			if slot > down.Unix() {
				return true, nil
			}
		}
		return false, nil
	})
	// The first run after the return is for the newest slot at the return
	// (within one 4s period of it, a second for rounding), not for the
	// oldest missed one, and the missed slots before it got no run.
	var after []int64
	for slot := range operationSlots(t, ns, "often") {
		if slot > down.Unix() {
			after = append(after, slot)
		}
	}
	slices.Sort(after)
	if first := after[0]; first < up.Unix()-5 || first < down.Unix()+8 {
		t.Errorf("the scheduler was down %s to %s (slots every 4s); its first run was for the slot at %s, want the newest one",
			down.Format(time.TimeOnly), up.Format(time.TimeOnly), time.Unix(first, 0).Format(time.TimeOnly))
	}
}

// TestBackupSchedulesWhoseNamesMeet: schedule "a" of VM "b-c" and
// schedule "a-b" of VM "c", on the same minute, would name their snapshots
// alike ("a-b-c-<slot>"). Each schedule records a snapshot of its own VM,
// never the other's.
func TestBackupSchedulesWhoseNamesMeet(t *testing.T) {
	t.Parallel() // mostly waiting for the minute
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "backup-names")
	schedules := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns)
	for _, c := range []struct{ schedule, vm string }{{"a", "b-c"}, {"a-b", "c"}} {
		createKubeVirtVM(t, ns, kubevirtVM(c.vm, 1, "1Gi", map[string]string{"backup": c.schedule}))
		if _, err := schedules.Create(ctx, &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: c.schedule},
			Spec: v1alpha1.BackupScheduleSpec{VMSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"backup": c.schedule}},
				Schedule: "* * * * *", Retention: v1alpha1.BackupRetention{KeepLast: ptr.To[int32](5)}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		deleteScheduleOnCleanup(t, ns, c.schedule)
	}
	// The first slot is up to a minute away.
	want := map[string]string{"a": "b-c", "a-b": "c"}
	err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute+framework.Timeout, true, func(ctx context.Context) (bool, error) {
		for schedule, vm := range want {
			b, err := schedules.Get(ctx, schedule, metav1.GetOptions{})
			if err != nil || len(b.Status.Snapshots) == 0 || b.Status.Snapshots[0].Phase != v1alpha1.VMOperationSucceeded {
				return false, err
			}
			s := b.Status.Snapshots[0]
			snap, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, s.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if s.VMName != vm || snap.Spec.Source.Name != vm {
				return false, fmt.Errorf("schedule %s records snapshot %s as of VM %s; it is of VM %s, want %s", schedule, s.Name, s.VMName, snap.Spec.Source.Name, vm)
			}
		}
		return true, nil
	})
	if err != nil {
		for schedule := range want {
			b, _ := schedules.Get(ctx, schedule, metav1.GetOptions{})
			t.Logf("schedule %s: %+v", schedule, b.Status)
		}
		t.Fatalf("each schedule's snapshot of its own VM: %v", err)
	}
}

// deleteScheduleOnCleanup removes a schedule when the test ends, before its
// namespace goes, so no run of it overlaps the tests after.
func deleteScheduleOnCleanup(t *testing.T, ns, name string) {
	t.Cleanup(func() {
		_ = env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

func setSuspend(t *testing.T, ns, name string, suspend bool) {
	t.Helper()
	framework.Eventually(t, "the schedule updated", func(ctx context.Context) (bool, error) {
		b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		b.Spec.Suspend = suspend
		_, err = env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Update(ctx, b, metav1.UpdateOptions{})
		return err == nil, nil
	})
}

// TestBackupCarbonWindow: a schedule with a carbon-aware window defers its
// run to the hour of lowest forecast intensity in the zone of its VM's node
// within the window, and starts it at that hour. The replay's forecast is
// seasonal-naive (each hour gets the value of the same hour a day before),
// so the test recomputes it from the trace file and checks the choice.
func TestBackupCarbonWindow(t *testing.T) {
	// Mostly waiting (for the run its carbon plan starts): it runs beside the other
	// waiting tests once the sequential ones are done.
	t.Parallel()
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "backup-carbon")
	createKubeVirtVM(t, ns, kubevirtVM("db", 1, "1Gi", map[string]string{"backup": "yes"}))
	vmi := runningVMI(t, ns, "db", "")
	node, err := env.Kube.CoreV1().Nodes().Get(ctx, vmi.Status.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zone := node.Labels[fleet.RegionLabel]
	const within = 12 * time.Hour
	bs := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "green"},
		Spec: v1alpha1.BackupScheduleSpec{
			VMSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"backup": "yes"}},
			Schedule:      "@every 30s",
			Retention:     v1alpha1.BackupRetention{KeepLast: ptr.To[int32](3)},
			MaxConcurrent: ptr.To[int32](1),
			CarbonWindow:  &v1alpha1.BackupCarbonWindow{Within: metav1.Duration{Duration: within}},
		},
	}
	bad := bs.DeepCopy()
	bad.Spec.CarbonWindow.Within.Duration = 10 * 24 * time.Hour
	if _, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "spec.carbonWindow.within") {
		t.Errorf("a 10-day window: %v, want 422 naming spec.carbonWindow.within", err)
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Create(ctx, bs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteScheduleOnCleanup(t, ns, "green")
	var b *v1alpha1.BackupSchedule
	framework.Eventually(t, "the first run started on its carbon plan", func(ctx context.Context) (bool, error) {
		b, err = env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "green", metav1.GetOptions{})
		return err == nil && b.Status.CarbonPlan != nil && b.Status.CarbonPlan.StartedAt != nil, err
	})
	p := b.Status.CarbonPlan
	t.Logf("carbon plan: %+v", p)
	if c := meta.FindStatusCondition(b.Status.Conditions, backup.ConditionCarbonAware); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("CarbonAware condition: %+v, want True", c)
	}
	if p.Zone != zone {
		t.Errorf("planned in zone %q, want %q, the zone of node %s that runs the VM", p.Zone, zone, node.Name)
	}
	tr, err := carbon.LoadTraceFile(filepath.Join(framework.RepoRoot(), "..", "shared", "data", "carbon", zone+"_2022_hourly.csv"), carbon.Direct)
	if err != nil {
		t.Fatal(err)
	}
	at := func(h time.Time) float64 {
		v, ok := tr.At(h)
		if !ok {
			t.Fatalf("the %s trace has no value at %s", zone, h)
		}
		return v
	}
	// The forecast of hour i of the window is the trace a day before it.
	best, bestAt := math.Inf(1), time.Time{}
	for i := range int(within / time.Hour) {
		h := p.WindowStart.Add(time.Duration(i) * time.Hour)
		if v := at(h.Add(-24 * time.Hour)); v < best {
			best, bestAt = v, h
		}
	}
	if !p.RunAt.Time.Equal(bestAt) || p.ForecastGramsPerKWh != int32(math.Round(best)) {
		t.Errorf("planned %s at %d g/kWh; the cleanest forecast hour of the window from %s is %s at %.0f g/kWh",
			p.RunAt.UTC(), p.ForecastGramsPerKWh, p.WindowStart.UTC(), bestAt.UTC(), best)
	}
	if want := int32(math.Round(at(p.WindowStart.Time))); p.SlotGramsPerKWh != want {
		t.Errorf("intensity at the slot: %d g/kWh, the trace says %d", p.SlotGramsPerKWh, want)
	}
	// Not before its hour. How soon after is the pass's lag: a replayed hour
	// is a second here, so "within the window" would time the controller on
	// a loaded machine (it failed so in CI, 3 hours late); that a run starts
	// at its window's end whatever the forecast said is TestCarbonPlanAndStart's.
	if p.StartedAt.Before(&p.RunAt) {
		t.Errorf("started at %s, before the planned %s", p.StartedAt.UTC(), p.RunAt.UTC())
	}
	if want := int32(math.Round(at(p.StartedAt.Time))); p.StartedGramsPerKWh != want {
		t.Errorf("intensity at the start: %d g/kWh, the trace says %d", p.StartedGramsPerKWh, want)
	}
	framework.Eventually(t, "the run's snapshot of the VM", func(ctx context.Context) (bool, error) {
		return operationSlots(t, ns, "green")[p.Slot.Unix()] == 1, nil
	})
}

// TestBackupVerification: each snapshot of a schedule with verification is
// restored as a scratch VM, started, and checked on its serial console (a
// login, a command and its expected output), then the scratch VM is
// deleted; the result is on the snapshot, in the status, in the Verified
// condition, in an event and in hypersdk_backup_verifications_total. A VM
// whose disk is corrupt gives a snapshot that restores to a guest stuck at
// a kernel panic: its verification fails.
func TestBackupVerification(t *testing.T) {
	// Mostly waiting (for schedules and scratch VMs booting): it runs beside the other
	// waiting tests once the sequential ones are done.
	t.Parallel()
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "backup-verify")
	labels := map[string]string{"backup": "verified"}
	createKubeVirtVM(t, ns, kubevirtVM("db", 1, "1Gi", labels))
	broken := kubevirtVM("broken", 1, "1Gi", labels)
	broken.Spec.Template.ObjectMeta.Annotations = map[string]string{kubevirtsim.CorruptDiskAnnotation: "true"}
	createKubeVirtVM(t, ns, broken)
	runningVMI(t, ns, "db", "")
	runningVMI(t, ns, "broken", "")
	bs := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "checked"},
		Spec: v1alpha1.BackupScheduleSpec{
			VMSelector:    &metav1.LabelSelector{MatchLabels: labels},
			Schedule:      "@every 30s",
			Retention:     v1alpha1.BackupRetention{KeepLast: ptr.To[int32](1)},
			MaxConcurrent: ptr.To[int32](2),
			Verification: &v1alpha1.BackupVerification{Command: "uname -s", Username: "fedora", ExpectedOutput: "Linux",
				Timeout: metav1.Duration{Duration: time.Minute}},
		},
	}
	bad := bs.DeepCopy()
	bad.Spec.Verification.Username, bad.Spec.Verification.Every = "", 500
	if _, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "spec.verification.username") || !strings.Contains(err.Error(), "spec.verification.every") {
		t.Errorf("verification without a user, every 500: %v, want 422 naming both fields", err)
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Create(ctx, bs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteScheduleOnCleanup(t, ns, "checked")
	t.Cleanup(func() {
		if b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(context.Background(), "checked", metav1.GetOptions{}); t.Failed() && err == nil {
			t.Logf("schedule status at the failure: %+v", b.Status)
			ops, _ := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).List(context.Background(), metav1.ListOptions{})
			for _, op := range ops.Items {
				t.Logf("operation %s (%s of %s): %s %s", op.Name, op.Spec.Type, op.Spec.VMName, op.Status.Phase, op.Status.Message)
			}
		}
	})
	// One run is enough: suspend as soon as it has begun (it goes on
	// suspended), so that no second run prunes its snapshots (keepLast 1)
	// or verifies before them, however slow the machine.
	var first map[string]string // VM -> snapshot
	framework.Eventually(t, "the first run begun", func(ctx context.Context) (bool, error) {
		b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "checked", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		first = map[string]string{}
		for _, s := range b.Status.Snapshots {
			if s.Verify {
				first[s.VMName] = s.Name
			}
		}
		if len(first) != 2 {
			return false, fmt.Errorf("snapshots %+v", b.Status.Snapshots)
		}
		return true, nil
	})
	setSuspend(t, ns, "checked", true)
	framework.Eventually(t, "the first run's snapshots made", func(ctx context.Context) (bool, error) {
		b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "checked", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		made := 0
		for _, s := range b.Status.Snapshots {
			if s.Phase == v1alpha1.VMOperationSucceeded && s.Name == first[s.VMName] {
				made++
			}
		}
		if made != 2 {
			return false, fmt.Errorf("snapshots %+v, want %v made", b.Status.Snapshots, first)
		}
		return true, nil
	})
	verified := func(vm, want string) {
		t.Helper()
		framework.Eventually(t, "the verification of "+vm+"'s snapshot", func(ctx context.Context) (bool, error) {
			snap, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, first[vm], metav1.GetOptions{})
			return err == nil && snap.Annotations[backup.VerificationAnnotation] != "", err
		})
		snap, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, first[vm], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s: %s", vm, snap.Annotations[backup.VerificationAnnotation], snap.Annotations[backup.VerificationMessageAnnotation])
		if got := snap.Annotations[backup.VerificationAnnotation]; got != want {
			t.Errorf("verification of %s's snapshot: %s (%s), want %s", vm, got, snap.Annotations[backup.VerificationMessageAnnotation], want)
		}
	}
	verified("broken", backup.ResultFailed)
	verified("db", backup.ResultSucceeded)

	b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "checked", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range b.Status.Snapshots {
		if want := map[string]string{"db": backup.ResultSucceeded, "broken": backup.ResultFailed}[s.VMName]; s.Name == first[s.VMName] && s.Verification != want {
			t.Errorf("status of snapshot %s: verification %q, want %q", s.Name, s.Verification, want)
		}
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, backup.ConditionVerified); c == nil || c.Status != metav1.ConditionTrue ||
		b.Status.LastVerification == nil || b.Status.LastVerification.VMName != "db" || b.Status.Verifying != nil {
		t.Errorf("after db's verification: condition %+v, last %+v, in progress %+v", c, b.Status.LastVerification, b.Status.Verifying)
	}
	framework.Eventually(t, "the scratch VMs deleted and the failure announced", func(ctx context.Context) (bool, error) {
		vms, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, vm := range vms.Items {
			if strings.HasSuffix(vm.Name, "-verify") {
				return false, nil
			}
		}
		events, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		return err == nil && anyEvent(events.Items, "Kernel panic"), err
	})
	for result, want := range map[string]float64{"failed": 1, "succeeded": 1} {
		got, err := scrape(ctx, http.DefaultClient, env.ControllerMetricsURL(), "hypersdk_backup_verifications_total",
			"namespace", ns, "schedule", "checked", "result", result)
		if err != nil || got != want {
			t.Errorf("hypersdk_backup_verifications_total{result=%q} = %v (%v), want %v", result, got, err, want)
		}
	}
}

// TestBackupReplication: a schedule with replication copies each snapshot,
// once ready, with its content, to a second cluster named by a kubeconfig
// Secret, and deletes the copy there when it prunes the snapshot here.
func TestBackupReplication(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "backup-replica")
	peer, err := env.StartPeerCluster(ctx, "dr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Stop)
	peerKube := kubernetes.NewForConfigOrDie(peer.Admin)
	peerKV, err := kubevirt.NewClientset(peer.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peerKube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dr-" + ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := os.ReadFile(peer.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dr-site"},
		Data: map[string][]byte{"kubeconfig": kubeconfig}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createKubeVirtVM(t, ns, kubevirtVM("db", 1, "1Gi", map[string]string{"backup": "replicated"}))
	bs := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "offsite"},
		Spec: v1alpha1.BackupScheduleSpec{
			VMSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"backup": "replicated"}},
			Schedule:      "@every 5s",
			Retention:     v1alpha1.BackupRetention{KeepLast: ptr.To[int32](1)},
			MaxConcurrent: ptr.To[int32](1),
			Replication:   &v1alpha1.BackupReplication{KubeconfigSecret: "dr-site", Namespace: "dr-" + ns},
		},
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Create(ctx, bs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteScheduleOnCleanup(t, ns, "offsite")
	var first string
	framework.Eventually(t, "a snapshot replicated", func(ctx context.Context) (bool, error) {
		b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "offsite", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range b.Status.Snapshots {
			if s.Replicated {
				first = s.Name
				return meta.IsStatusConditionTrue(b.Status.Conditions, backup.ConditionReplicated), nil
			}
		}
		return false, nil
	})
	copied, err := peerKV.SnapshotV1beta1().VirtualMachineSnapshots("dr-"+ns).Get(ctx, first, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the replicated snapshot %s on the second cluster: %v", first, err)
	}
	original, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, first, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if copied.Status == nil || !ptr.Deref(copied.Status.ReadyToUse, false) || copied.Spec.Source.Name != "db" ||
		copied.Annotations[backup.ReplicatedFromAnnotation] != ns+"/"+first {
		t.Errorf("the copy: %+v %+v, want ready, of db, annotated from %s/%s", copied.Annotations, copied.Status, ns, first)
	}
	content, err := peerKV.SnapshotV1beta1().VirtualMachineSnapshotContents("dr-"+ns).Get(ctx, *copied.Status.VirtualMachineSnapshotContentName, metav1.GetOptions{})
	if err != nil || content.Spec.Source.VirtualMachine == nil || content.Spec.Source.VirtualMachine.Name != "db" ||
		*original.Status.VirtualMachineSnapshotContentName != content.Name {
		t.Errorf("the copy's content: %+v, %v; want the original's %s, of db", content, err, *original.Status.VirtualMachineSnapshotContentName)
	}
	// keepLast 1: the next run prunes the first snapshot, here and there.
	// Not a copy whose annotation names another original, such as another
	// namespace's snapshot of the same name replicated to the same place:
	// the first's copy is made to look like one, and stays.
	copied.Annotations[backup.ReplicatedFromAnnotation] = "elsewhere/" + first
	if _, err := peerKV.SnapshotV1beta1().VirtualMachineSnapshots("dr-"+ns).Update(ctx, copied, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var second string
	framework.Eventually(t, "the first snapshot pruned here, and a second replicated and pruned on both clusters", func(ctx context.Context) (bool, error) {
		if _, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, first, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, err
		}
		if second == "" {
			b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "offsite", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, s := range b.Status.Snapshots {
				if s.Replicated && s.Name != first {
					second = s.Name
				}
			}
			return false, nil
		}
		_, here := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, second, metav1.GetOptions{})
		_, there := peerKV.SnapshotV1beta1().VirtualMachineSnapshots("dr-"+ns).Get(ctx, second, metav1.GetOptions{})
		return apierrors.IsNotFound(here) && apierrors.IsNotFound(there), nil
	})
	setSuspend(t, ns, "offsite", true)
	if _, err := peerKV.SnapshotV1beta1().VirtualMachineSnapshots("dr-"+ns).Get(ctx, first, metav1.GetOptions{}); err != nil {
		t.Errorf("the copy of %s naming another original was deleted with the original: %v", first, err)
	}

	// A schedule whose author may write schedules (hypersdk:edit) but not
	// read Secrets replicates nothing.
	token := env.ServiceAccountToken(t, ns, "backup-editor", "hypersdk:edit")
	editor, err := hypersdkclient.NewForConfig(env.ConfigFor(token))
	if err != nil {
		t.Fatal(err)
	}
	denied := bs.DeepCopy()
	denied.Name = "no-secret-access"
	denied.Spec.Schedule = "@every 3s"
	if _, err := editor.HypersdkV1alpha1().BackupSchedules(ns).Create(ctx, denied, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteScheduleOnCleanup(t, ns, "no-secret-access")
	framework.Eventually(t, "replication refused for want of rights on the Secret", func(ctx context.Context) (bool, error) {
		b, err := env.HyperSDK.HypersdkV1alpha1().BackupSchedules(ns).Get(ctx, "no-secret-access", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(b.Status.Conditions, backup.ConditionReplicated)
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "secrets"), nil
	})
}
