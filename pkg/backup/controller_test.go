package backup

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"
	kvfake "kubevirt.io/client-go/kubevirt/fake"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// TestListFailureKeepsTheSlot: when the VMs cannot be listed as a slot
// comes due, the slot stays due and the next pass runs it, rather than the
// run being skipped with nothing pending.
func TestListFailureKeepsTheSlot(t *testing.T) {
	ctx := context.Background()
	created := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	clock := testingclock.NewFakeClock(time.Date(2026, 12, 6, 2, 31, 0, 0, time.UTC)) // the 02:30 slot is due
	sched := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", CreationTimestamp: metav1.NewTime(created)},
		Spec:       v1alpha1.BackupScheduleSpec{Schedule: "30 2 * * *", Requester: &v1alpha1.VMOperationRequester{Username: "alice"}},
	}
	hyper := hyperfake.NewSimpleClientset(sched)
	kv := kvfake.NewSimpleClientset(&kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}})
	failures := 1
	kv.PrependReactor("list", "virtualmachines", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures > 0 {
			failures--
			return true, nil, errors.New("etcdserver: request timed out")
		}
		return false, nil, nil
	})
	kube := reviewing(func(*authorizationv1.ResourceAttributes) bool { return true })
	s, err := New(Config{Kube: kube, HyperSDK: hyper, KubeVirt: kv, Clock: clock, Interval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pass := func() *v1alpha1.BackupSchedule {
		t.Helper()
		cur, err := hyper.HypersdkV1alpha1().BackupSchedules("ns").Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = s.sync(ctx, cur)
		cur, err = hyper.HypersdkV1alpha1().BackupSchedules("ns").Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cur
	}
	if got := pass(); got.Status.LastScheduleTime != nil || got.Status.Runs != 0 {
		t.Fatalf("after a failed list: last schedule %v, %d runs; want the slot still due", got.Status.LastScheduleTime, got.Status.Runs)
	}
	clock.Step(10 * time.Second)
	got := pass()
	if got.Status.LastScheduleTime == nil || got.Status.Runs != 1 {
		t.Fatalf("the next pass: last schedule %v, %d runs; want the 02:30 run", got.Status.LastScheduleTime, got.Status.Runs)
	}
	ops, err := hyper.HypersdkV1alpha1().VMOperations("ns").List(ctx, metav1.ListOptions{})
	if err != nil || len(ops.Items) != 1 || ops.Items[0].Spec.VMName != "db" {
		t.Fatalf("operations %v %v, want db's snapshot", ops, err)
	}
}

// TestWaitingRunSuspendedOrUnwindowed: a run waiting for a cleaner hour
// does not start while the schedule is suspended, even at its hour; and it
// starts at once when the carbon window is taken off, rather than being
// dropped with the plan.
func TestWaitingRunSuspendedOrUnwindowed(t *testing.T) {
	ctx := context.Background()
	created := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	clock := testingclock.NewFakeClock(time.Date(2026, 12, 6, 2, 31, 0, 0, time.UTC))
	slot := time.Date(2026, 12, 6, 2, 30, 0, 0, time.UTC)
	sched := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", CreationTimestamp: metav1.NewTime(created)},
		Spec: v1alpha1.BackupScheduleSpec{Schedule: "30 2 * * *", Requester: &v1alpha1.VMOperationRequester{Username: "alice"},
			Suspend: true, CarbonWindow: &v1alpha1.BackupCarbonWindow{Within: metav1.Duration{Duration: 6 * time.Hour}, Zone: "NO"}},
		Status: v1alpha1.BackupScheduleStatus{LastScheduleTime: &metav1.Time{Time: slot}, CarbonPlan: &v1alpha1.BackupCarbonPlan{
			Slot: metav1.NewTime(slot), Zone: "NO", WindowStart: metav1.NewTime(slot), RunAt: metav1.NewTime(slot.Add(time.Hour))}},
	}
	hyper := hyperfake.NewSimpleClientset(sched)
	kv := kvfake.NewSimpleClientset(&kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}})
	kube := reviewing(func(*authorizationv1.ResourceAttributes) bool { return true })
	// The provider's hour is past the plan's: the run is due.
	p := &hourProvider{now: slot.Add(2 * time.Hour), forecast: []float64{100}}
	s, err := New(Config{Kube: kube, HyperSDK: hyper, KubeVirt: kv, Clock: clock, Interval: 10 * time.Second, Carbon: p})
	if err != nil {
		t.Fatal(err)
	}
	schedules := hyper.HypersdkV1alpha1().BackupSchedules("ns")
	pass := func(change func(*v1alpha1.BackupSchedule)) *v1alpha1.BackupSchedule {
		t.Helper()
		cur, err := schedules.Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if change != nil {
			change(cur)
			if cur, err = schedules.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		_ = s.sync(ctx, cur)
		if cur, err = schedules.Get(ctx, "nightly", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		return cur
	}
	if got := pass(nil); got.Status.Runs != 0 || len(got.Status.Pending) != 0 || got.Status.CarbonPlan == nil {
		t.Fatalf("suspended at its hour: %d runs, pending %v, plan %v; want it still waiting", got.Status.Runs, got.Status.Pending, got.Status.CarbonPlan)
	}
	got := pass(func(b *v1alpha1.BackupSchedule) { b.Spec.Suspend, b.Spec.CarbonWindow = false, nil })
	if got.Status.Runs != 1 || got.Status.CarbonPlan != nil {
		t.Fatalf("carbon window taken off: %d runs, plan %v; want the waiting run started", got.Status.Runs, got.Status.CarbonPlan)
	}
	ops, err := hyper.HypersdkV1alpha1().VMOperations("ns").List(ctx, metav1.ListOptions{})
	if err != nil || len(ops.Items) != 1 || ops.Items[0].Spec.VMName != "db" {
		t.Fatalf("operations %v %v, want db's snapshot", ops, err)
	}
}

// TestReplicationGoesPastASnapshotDeletedHere: a snapshot deleted here by
// hand does not hold back the copies of the newer ones.
func TestReplicationGoesPastASnapshotDeletedHere(t *testing.T) {
	ctx := context.Background()
	local := kvfake.NewSimpleClientset(
		&snapshotv1.VirtualMachineSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "ns"},
			Status: &snapshotv1.VirtualMachineSnapshotStatus{ReadyToUse: ptr.To(true), VirtualMachineSnapshotContentName: ptr.To("content-new")}},
		&snapshotv1.VirtualMachineSnapshotContent{ObjectMeta: metav1.ObjectMeta{Name: "content-new", Namespace: "ns"}},
	)
	remote := kvfake.NewSimpleClientset()
	s := &Scheduler{cfg: Config{KubeVirt: local}}
	b := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "offsite", Namespace: "ns"}}
	st := &v1alpha1.BackupScheduleStatus{Snapshots: []v1alpha1.ScheduledSnapshot{
		{Name: "old", Phase: v1alpha1.VMOperationSucceeded}, {Name: "new", Phase: v1alpha1.VMOperationSucceeded}}}
	p := &peer{kv: remote, ns: "dr", host: "https://dr", reached: true}
	cond := s.replicate(ctx, b, st, nil, p)
	if !st.Snapshots[1].Replicated {
		t.Fatalf("the newer snapshot was not copied: condition %+v", cond)
	}
	if _, err := remote.SnapshotV1beta1().VirtualMachineSnapshots("dr").Get(ctx, "new", metav1.GetOptions{}); err != nil {
		t.Fatalf("the copy on the other cluster: %v", err)
	}
	if cond == nil || cond.Status != metav1.ConditionTrue || !strings.Contains(cond.Message, "old, deleted here") {
		t.Errorf("condition %+v, want True, naming old as deleted here", cond)
	}
}

// TestAVMTheRequesterMayNotSnapshotIsLeftOut: the run backs up the VMs the
// schedule's requester may snapshot, and reports the one it may not,
// instead of stopping at it.
func TestAVMTheRequesterMayNotSnapshotIsLeftOut(t *testing.T) {
	ctx := context.Background()
	created := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	clock := testingclock.NewFakeClock(time.Date(2026, 12, 6, 2, 31, 0, 0, time.UTC))
	sched := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", CreationTimestamp: metav1.NewTime(created)},
		Spec:       v1alpha1.BackupScheduleSpec{Schedule: "30 2 * * *", Requester: &v1alpha1.VMOperationRequester{Username: "alice"}},
	}
	hyper := hyperfake.NewSimpleClientset(sched)
	kv := kvfake.NewSimpleClientset(
		&kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns"}},
		&kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns"}})
	kube := reviewing(func(r *authorizationv1.ResourceAttributes) bool { return r.Name == "b" }) // alice may snapshot b only
	s, err := New(Config{Kube: kube, HyperSDK: hyper, KubeVirt: kv, Clock: clock, Interval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.sync(ctx, sched)
	ops, err := hyper.HypersdkV1alpha1().VMOperations("ns").List(ctx, metav1.ListOptions{})
	if err != nil || len(ops.Items) != 1 || ops.Items[0].Spec.VMName != "b" {
		t.Fatalf("operations %v %v, want b's snapshot", ops, err)
	}
	got, err := hyper.HypersdkV1alpha1().BackupSchedules("ns").Get(ctx, "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != "Forbidden" || !strings.Contains(ready.Message, `"a"`) {
		t.Errorf("Ready %+v, want False, Forbidden, naming a", ready)
	}
	if len(got.Status.Pending) != 0 {
		t.Errorf("pending %v, want none", got.Status.Pending)
	}
}

// TestVerificationTurnedOffIsNotAFailedBackup: a verification the schedule
// stops asking for mid-way deletes its scratch VM and says nothing of the
// snapshot: no Failed annotation, result or Verified condition.
func TestVerificationTurnedOffIsNotAFailedBackup(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	kv := kvfake.NewSimpleClientset(
		&snapshotv1.VirtualMachineSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns"}},
		&kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "snap-verify", Namespace: "ns",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "hypersdk.io/v1alpha1", Kind: "BackupSchedule", Name: "nightly", UID: "nightly-uid"}}}})
	kube := reviewing(func(*authorizationv1.ResourceAttributes) bool { return true })
	s, err := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(), KubeVirt: kv, Clock: testingclock.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	b := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", UID: "nightly-uid"},
		Spec: v1alpha1.BackupScheduleSpec{Requester: &v1alpha1.VMOperationRequester{Username: "alice"}}}
	st := &v1alpha1.BackupScheduleStatus{
		Snapshots: []v1alpha1.ScheduledSnapshot{{Name: "snap", VMName: "db", Phase: v1alpha1.VMOperationSucceeded, Verify: true}},
		Verifying: &v1alpha1.BackupVerificationProgress{Snapshot: "snap", VMName: "db", ScratchVM: "snap-verify", Phase: phaseStarting},
	}
	if err := s.verify(ctx, b, st, &reviewer{s: s, b: b, all: map[string]bool{}}, now); err != nil {
		t.Fatal(err)
	}
	if st.Verifying != nil || st.LastVerification != nil || st.Snapshots[0].Verification != "" || meta.FindStatusCondition(st.Conditions, ConditionVerified) != nil {
		t.Errorf("after verification was turned off: %+v", st)
	}
	if _, err := kv.KubevirtV1().VirtualMachines("ns").Get(ctx, "snap-verify", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the scratch VM: %v, want it deleted", err)
	}
	snap, err := kv.SnapshotV1beta1().VirtualMachineSnapshots("ns").Get(ctx, "snap", metav1.GetOptions{})
	if err != nil || snap.Annotations[VerificationAnnotation] != "" {
		t.Errorf("the snapshot: %v %v, want no verification recorded", snap.Annotations, err)
	}
}

// TestAVMNamedLikeTheScratchVMIsLeftAlone: a VM that has the scratch VM's
// name but that the verification did not make is neither deleted when the
// verification ends nor waited on: its restore, refused because the name is
// taken, fails the verification at once. The scratch VM the verification's
// restore made, not yet the schedule's, is deleted.
func TestAVMNamedLikeTheScratchVMIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	b := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", UID: "nightly-uid"},
		Spec: v1alpha1.BackupScheduleSpec{Requester: &v1alpha1.VMOperationRequester{Username: "alice"},
			Verification: &v1alpha1.BackupVerification{ExpectedOutput: "login:", Timeout: metav1.Duration{Duration: 10 * time.Minute}}}}
	progress := func(phase string) *v1alpha1.BackupVerificationProgress {
		return &v1alpha1.BackupVerificationProgress{Snapshot: "snap", VMName: "db", ScratchVM: "snap-verify", Phase: phase,
			Started: metav1.NewTime(now.Add(-time.Minute))}
	}
	for _, tc := range []struct {
		name     string
		p        *v1alpha1.BackupVerificationProgress
		vm       *kvv1.VirtualMachine
		step     *v1alpha1.VMOperation
		deleted  bool
		taken    bool
		failedAt string
	}{
		{name: "a user's VM, the restore refused", p: progress(phaseRestoring), taken: true,
			vm: &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "snap-verify", Namespace: "ns", UID: "user"}}},
		{name: "a user's VM, made while the verification checked", p: progress(phaseChecking),
			vm: &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "snap-verify", Namespace: "ns", UID: "user"}}},
		{name: "the restore's VM, not yet the schedule's", p: progress(phaseStarting), deleted: true,
			vm: &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "snap-verify", Namespace: "ns", UID: "scratch",
				Annotations: map[string]string{kubevirt.LastRestoreAnnotation: kubevirt.RestoreMark("restore-1", "r1")}}},
			step: &v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "snap-verify-restore", Namespace: "ns",
				Annotations: map[string]string{attemptAnnotation: now.Add(-time.Minute).UTC().Format(time.RFC3339)}},
				Status: v1alpha1.VMOperationStatus{Phase: v1alpha1.VMOperationSucceeded,
					Resources: []v1alpha1.ResourceReference{{Kind: "VirtualMachineRestore", Name: "restore-1", UID: "r1", Role: "temporary"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			if tc.step != nil {
				objs = append(objs, tc.step)
			}
			hyper := hyperfake.NewSimpleClientset(objs...)
			if tc.taken {
				hyper.PrependReactor("create", "vmoperations", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Group: "hypersdk.io", Resource: "virtualmachines"}, "ns/snap-verify")
				})
			}
			kv := kvfake.NewSimpleClientset(&snapshotv1.VirtualMachineSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns"}}, tc.vm)
			kube := reviewing(func(*authorizationv1.ResourceAttributes) bool { return true })
			s, err := New(Config{Kube: kube, HyperSDK: hyper, KubeVirt: kv, Clock: testingclock.NewFakeClock(now)})
			if err != nil {
				t.Fatal(err)
			}
			st := &v1alpha1.BackupScheduleStatus{
				Snapshots: []v1alpha1.ScheduledSnapshot{{Name: "snap", VMName: "db", Phase: v1alpha1.VMOperationSucceeded, Verify: true}},
				Verifying: tc.p,
			}
			if !tc.taken {
				fail(tc.p, "no login: on the console")
			}
			if err := s.verify(ctx, b, st, &reviewer{s: s, b: b, all: map[string]bool{}}, now); err != nil {
				t.Fatal(err)
			}
			if st.Verifying != nil || st.LastVerification == nil || st.LastVerification.Result != ResultFailed {
				t.Errorf("verifying %+v, last %+v; want a failed verification, ended", st.Verifying, st.LastVerification)
			}
			_, err = kv.KubevirtV1().VirtualMachines("ns").Get(ctx, "snap-verify", metav1.GetOptions{})
			if tc.deleted != apierrors.IsNotFound(err) {
				t.Errorf("the VM named snap-verify: %v; want it deleted: %v", err, tc.deleted)
			}
		})
	}
}

// TestVerificationStepsAreItsOwn: a verification does not take the ended
// step of an earlier verification of the same snapshot for its own (it
// deletes it and makes its own), and one that times out while a step is
// under way cancels it, so a restore that ends later leaves no scratch VM.
func TestVerificationStepsAreItsOwn(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	earlier := &v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "snap-verify-restore", Namespace: "ns", UID: "old",
		Annotations: map[string]string{attemptAnnotation: now.Add(-time.Hour).Format(time.RFC3339)}},
		Status: v1alpha1.VMOperationStatus{Phase: v1alpha1.VMOperationSucceeded}}
	hyper := hyperfake.NewSimpleClientset(earlier)
	kv := kvfake.NewSimpleClientset(&snapshotv1.VirtualMachineSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns"}})
	kube := reviewing(func(*authorizationv1.ResourceAttributes) bool { return true })
	clock := testingclock.NewFakeClock(now)
	s, err := New(Config{Kube: kube, HyperSDK: hyper, KubeVirt: kv, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	b := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns"},
		Spec: v1alpha1.BackupScheduleSpec{Requester: &v1alpha1.VMOperationRequester{Username: "alice"},
			Verification: &v1alpha1.BackupVerification{ExpectedOutput: "login:", Timeout: metav1.Duration{Duration: 10 * time.Minute}}}}
	st := &v1alpha1.BackupScheduleStatus{
		Snapshots: []v1alpha1.ScheduledSnapshot{{Name: "snap", VMName: "db", Phase: v1alpha1.VMOperationSucceeded, Verify: true}},
	}
	rev := &reviewer{s: s, b: b, all: map[string]bool{}}
	ops := hyper.HypersdkV1alpha1().VMOperations("ns")
	for i := 0; i < 2; i++ {
		if err := s.verify(ctx, b, st, rev, now); err != nil {
			t.Fatal(err)
		}
	}
	if st.Verifying == nil || st.Verifying.Phase != phaseRestoring {
		t.Fatalf("verification %+v, want it restoring: the earlier restore is not its own", st.Verifying)
	}
	op, err := ops.Get(ctx, "snap-verify-restore", metav1.GetOptions{})
	if err != nil || op.UID == "old" || op.Annotations[attemptAnnotation] != now.Format(time.RFC3339) {
		t.Fatalf("the restore step: %v %+v, want one made for this verification", err, op)
	}
	// Past the timeout, the restore still running: it is cancelled.
	op.Status.Phase = v1alpha1.VMOperationRunning
	if _, err := ops.UpdateStatus(ctx, op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.verify(ctx, b, st, rev, now.Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if op, err := ops.Get(ctx, "snap-verify-restore", metav1.GetOptions{}); err != nil || !op.Spec.Cancel {
		t.Errorf("the restore step after the verification timed out: %v, cancel %v; want it cancelled", err, op.Spec.Cancel)
	}
	if st.Verifying != nil || st.Snapshots[0].Verification != ResultFailed {
		t.Errorf("after the timeout: verifying %+v, snapshot %+v; want it done, Failed", st.Verifying, st.Snapshots[0])
	}
}

// TestVerificationIsOwnedByItsSchedule: what a verification makes, its
// step operations and the scratch VM once restored, is owned by the
// schedule, so deleting the schedule mid-way leaves nothing running; the
// scratch VM's pods carry the verification's label, not the source's (which
// a Service selects), and its interfaces no fixed MAC; and all that only as
// far as the author may delete and patch the scratch VM: else it does not
// start.
func TestVerificationIsOwnedByItsSchedule(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	for _, denied := range []string{"", "delete", "patch"} {
		hyper := hyperfake.NewSimpleClientset()
		scratch := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "snap-verify", Namespace: "ns"},
			Spec: kvv1.VirtualMachineSpec{Template: &kvv1.VirtualMachineInstanceTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db", "kubevirt.io/domain": "db"}},
				Spec: kvv1.VirtualMachineInstanceSpec{Domain: kvv1.DomainSpec{Devices: kvv1.Devices{Interfaces: []kvv1.Interface{
					{Name: "default", MacAddress: "02:00:00:00:00:01"}}}}}}}}
		kv := kvfake.NewSimpleClientset(&snapshotv1.VirtualMachineSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns"}}, scratch)
		kube := reviewing(func(a *authorizationv1.ResourceAttributes) bool { return a.Verb != denied })
		s, err := New(Config{Kube: kube, HyperSDK: hyper, KubeVirt: kv, Clock: testingclock.NewFakeClock(now)})
		if err != nil {
			t.Fatal(err)
		}
		b := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", UID: "schedule-uid"},
			Spec: v1alpha1.BackupScheduleSpec{Requester: &v1alpha1.VMOperationRequester{Username: "alice"},
				Verification: &v1alpha1.BackupVerification{ExpectedOutput: "login:", Timeout: metav1.Duration{Duration: 10 * time.Minute}}}}
		st := &v1alpha1.BackupScheduleStatus{
			Snapshots: []v1alpha1.ScheduledSnapshot{{Name: "snap", VMName: "db", Phase: v1alpha1.VMOperationSucceeded, Verify: true}},
			Verifying: &v1alpha1.BackupVerificationProgress{Snapshot: "snap", VMName: "db", ScratchVM: "snap-verify", Phase: phaseStarting,
				Started: metav1.NewTime(now)},
		}
		err = s.verify(ctx, b, st, &reviewer{s: s, b: b, all: map[string]bool{}}, now)
		owned := func(refs []metav1.OwnerReference) bool {
			return len(refs) == 1 && refs[0].UID == b.UID && refs[0].Kind == "BackupSchedule"
		}
		vm, gerr := kv.KubevirtV1().VirtualMachines("ns").Get(ctx, "snap-verify", metav1.GetOptions{})
		if gerr != nil {
			t.Fatal(gerr)
		}
		labels, mac := vm.Spec.Template.ObjectMeta.Labels, vm.Spec.Template.Spec.Domain.Devices.Interfaces[0].MacAddress
		start, serr := hyper.HypersdkV1alpha1().VMOperations("ns").Get(ctx, "snap-verify-start", metav1.GetOptions{})
		if denied != "" {
			if err == nil || len(vm.OwnerReferences) != 0 || labels["app"] != "db" || !apierrors.IsNotFound(serr) {
				t.Errorf("author who may not %s the scratch VM: %v, owners %+v, pod labels %v, start step %v; want refused, unchanged, no start",
					denied, err, vm.OwnerReferences, labels, serr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !owned(vm.OwnerReferences) {
			t.Errorf("scratch VM owners %+v, want the schedule", vm.OwnerReferences)
		}
		if want := map[string]string{LabelVerification: "nightly"}; !maps.Equal(labels, want) || mac != "" {
			t.Errorf("scratch VM's pod labels %v, MAC %q; want %v alone and no fixed MAC", labels, mac, want)
		}
		if serr != nil || !owned(start.OwnerReferences) {
			t.Errorf("start step %v owners %+v, want the schedule", serr, start.OwnerReferences)
		}
	}
}

// TestScratchVMsAreNeverBackedUp: the scratch VM another schedule's
// verification restored (with its source's labels) is not selected.
func TestScratchVMsAreNeverBackedUp(t *testing.T) {
	labelled := func(name string) *kvv1.VirtualMachine {
		return &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "db"}}}
	}
	step := &v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "hourly-db-1796092800-verify-restore", Namespace: "ns",
		Labels: map[string]string{LabelVerification: "hourly"}},
		Spec: v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationRestore, VMName: "db",
			Restore: &v1alpha1.RestoreSpec{SnapshotName: "hourly-db-1796092800", TargetName: "hourly-db-1796092800-verify"}}}
	// A user's VM may be named like a scratch VM; a scratch VM whose step
	// operation is gone is still its schedule's.
	owned := labelled("weekly-db-1796000000-verify")
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "hypersdk.io/v1alpha1", Kind: "BackupSchedule", Name: "weekly", UID: "w"}}
	kv := kvfake.NewSimpleClientset(labelled("db"), labelled("hourly-db-1796092800-verify"), labelled("daily-api-verify"), owned,
		labelled("daily-db-1795000000-verify"))
	s, err := New(Config{Kube: kubefake.NewClientset(), HyperSDK: hyperfake.NewSimpleClientset(step), KubeVirt: kv})
	if err != nil {
		t.Fatal(err)
	}
	// Its own verification's scratch VM, its steps gone and not owned yet.
	daily := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "daily", Namespace: "ns"},
		Spec: v1alpha1.BackupScheduleSpec{VMSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		Status: v1alpha1.BackupScheduleStatus{Verifying: &v1alpha1.BackupVerificationProgress{Snapshot: "daily-db-1795000000",
			VMName: "db", ScratchVM: "daily-db-1795000000-verify", Phase: phaseCleaning}}}
	if got, err := s.selected(context.Background(), daily); err != nil || !slices.Equal(got, []string{"daily-api-verify", "db"}) {
		t.Errorf("selected %v %v, want daily-api-verify and db", got, err)
	}
}

// reviewing is a clientset whose SubjectAccessReviews allow what allowed says.
func reviewing(allowed func(*authorizationv1.ResourceAttributes) bool) *kubefake.Clientset {
	kube := kubefake.NewClientset()
	kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		sar.Status.Allowed = allowed(sar.Spec.ResourceAttributes)
		return true, sar, nil
	})
	return kube
}
