package backup

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	clonev1 "kubevirt.io/api/clone/v1beta1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"
	kvfake "kubevirt.io/client-go/kubevirt/fake"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
)

// TestRetentionKeepsSnapshotsBeingRead: a snapshot past its retention
// that a restore or a clone still reads (asked for through HyperSDK or
// made in KubeVirt directly) is kept until that ends; unread, it goes.
func TestRetentionKeepsSnapshotsBeingRead(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		hyper []runtime.Object
		kv    []runtime.Object
		keeps bool
	}{
		{"nothing reads it", nil, nil, false},
		{"a restore operation running", []runtime.Object{&v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"},
			Spec:   v1alpha1.VMOperationSpec{VMName: "db", Type: v1alpha1.VMOperationRestore, Restore: &v1alpha1.RestoreSpec{SnapshotName: "old"}},
			Status: v1alpha1.VMOperationStatus{Phase: v1alpha1.VMOperationRunning}}}, nil, true},
		{"a restore operation that ended", []runtime.Object{&v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"},
			Spec:   v1alpha1.VMOperationSpec{VMName: "db", Type: v1alpha1.VMOperationRestore, Restore: &v1alpha1.RestoreSpec{SnapshotName: "old"}},
			Status: v1alpha1.VMOperationStatus{Phase: v1alpha1.VMOperationSucceeded}}}, nil, false},
		{"a clone operation pending", []runtime.Object{&v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"},
			Spec: v1alpha1.VMOperationSpec{VMName: "db", Type: v1alpha1.VMOperationClone,
				Clone: &v1alpha1.CloneSpec{TargetName: "copy", SnapshotRef: "old"}}}}, nil, true},
		{"KubeVirt's own restore, not complete", nil, []runtime.Object{&snapshotv1.VirtualMachineRestore{
			ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"},
			Spec:       snapshotv1.VirtualMachineRestoreSpec{VirtualMachineSnapshotName: "old"}}}, true},
		{"KubeVirt's own restore, failed", nil, []runtime.Object{&snapshotv1.VirtualMachineRestore{
			ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"},
			Spec:       snapshotv1.VirtualMachineRestoreSpec{VirtualMachineSnapshotName: "old"},
			Status: &snapshotv1.VirtualMachineRestoreStatus{Complete: ptr.To(false), Conditions: []snapshotv1.Condition{
				{Type: snapshotv1.ConditionFailure, Status: corev1.ConditionTrue}}}}}, false},
		{"KubeVirt's own clone, in progress", nil, []runtime.Object{&clonev1.VirtualMachineClone{
			ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"},
			Spec:       clonev1.VirtualMachineCloneSpec{Source: &corev1.TypedLocalObjectReference{Kind: "VirtualMachineSnapshot", Name: "old"}},
			Status:     clonev1.VirtualMachineCloneStatus{Phase: clonev1.RestoreInProgress}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			snap := func(name string) *snapshotv1.VirtualMachineSnapshot {
				return &snapshotv1.VirtualMachineSnapshot{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns",
					Annotations: map[string]string{operationAnnotation: name}}}
			}
			kv := kvfake.NewSimpleClientset(append([]runtime.Object{snap("old"), snap("new")}, tc.kv...)...)
			s := &Scheduler{cfg: Config{KubeVirt: kv, HyperSDK: hyperfake.NewSimpleClientset(tc.hyper...)}}
			b := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns"},
				Spec: v1alpha1.BackupScheduleSpec{Retention: v1alpha1.BackupRetention{KeepLast: ptr.To[int32](1)}}}
			st := &v1alpha1.BackupScheduleStatus{Snapshots: []v1alpha1.ScheduledSnapshot{
				{Name: "old", VMName: "db", Operation: "old", Phase: v1alpha1.VMOperationSucceeded, Slot: metav1.NewTime(now.Add(-48 * time.Hour))},
				{Name: "new", VMName: "db", Operation: "new", Phase: v1alpha1.VMOperationSucceeded, Slot: metav1.NewTime(now.Add(-24 * time.Hour))}}}
			rev := &reviewer{all: map[string]bool{"delete snapshot.kubevirt.io/virtualmachinesnapshots/": true}}
			if err := s.prune(ctx, b, st, now, rev, nil); err != nil {
				t.Fatal(err)
			}
			_, err := kv.SnapshotV1beta1().VirtualMachineSnapshots("ns").Get(ctx, "old", metav1.GetOptions{})
			if kept := err == nil; kept != tc.keeps {
				t.Errorf("old snapshot kept: %v, want %v", kept, tc.keeps)
			}
		})
	}
}

// TestRetentionGoesOnPastAFailedDelete: a snapshot past its retention that
// cannot be deleted is kept and said, and the others past it still go.
func TestRetentionGoesOnPastAFailedDelete(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	snap := func(name string) *snapshotv1.VirtualMachineSnapshot {
		return &snapshotv1.VirtualMachineSnapshot{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns",
			Annotations: map[string]string{operationAnnotation: name}}}
	}
	kv := kvfake.NewSimpleClientset(snap("oldest"), snap("old"), snap("new"))
	kv.PrependReactor("delete", "virtualmachinesnapshots", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.DeleteAction).GetName() == "oldest" {
			return true, nil, errors.New("etcdserver: request timed out")
		}
		return false, nil, nil
	})
	s := &Scheduler{cfg: Config{KubeVirt: kv, HyperSDK: hyperfake.NewSimpleClientset()}}
	b := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns"},
		Spec: v1alpha1.BackupScheduleSpec{Retention: v1alpha1.BackupRetention{KeepLast: ptr.To[int32](1)}}}
	st := &v1alpha1.BackupScheduleStatus{}
	for i, name := range []string{"oldest", "old", "new"} {
		st.Snapshots = append(st.Snapshots, v1alpha1.ScheduledSnapshot{Name: name, VMName: "db", Operation: name,
			Phase: v1alpha1.VMOperationSucceeded, Slot: metav1.NewTime(now.Add(time.Duration(i-3) * 24 * time.Hour))})
	}
	rev := &reviewer{all: map[string]bool{"delete snapshot.kubevirt.io/virtualmachinesnapshots/": true}}
	if err := s.prune(ctx, b, st, now, rev, nil); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("prune: %v, want the failed delete said", err)
	}
	var names []string
	for _, snap := range st.Snapshots {
		names = append(names, snap.Name)
	}
	if !slices.Equal(names, []string{"oldest", "new"}) {
		t.Errorf("status keeps %v, want oldest (its delete failed) and new", names)
	}
	if _, err := kv.SnapshotV1beta1().VirtualMachineSnapshots("ns").Get(ctx, "old", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("snapshot old: %v, want it deleted past the failed one", err)
	}
}

// TestAFailedPruneHoldsBackNoVerification: a snapshot past its retention
// that cannot be deleted does not keep the schedule from verifying the
// others; Ready says why it stays, and a verification step its author may
// not take still reads Forbidden.
func TestAFailedPruneHoldsBackNoVerification(t *testing.T) {
	for _, tc := range []struct {
		name     string
		restores bool // the author may restore
		reason   string
	}{{"allowed", true, "Failed"}, {"the restore refused", false, "Forbidden"}} {
		t.Run(tc.name, func(t *testing.T) {
			failedPruneThenVerify(t, tc.restores, tc.reason)
		})
	}
}

func failedPruneThenVerify(t *testing.T, restores bool, reason string) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	snap := func(name string) *snapshotv1.VirtualMachineSnapshot {
		return &snapshotv1.VirtualMachineSnapshot{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns",
			Annotations: map[string]string{operationAnnotation: name}}}
	}
	kv := kvfake.NewSimpleClientset(snap("old"), snap("new"))
	kv.PrependReactor("delete", "virtualmachinesnapshots", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("etcdserver: request timed out"))
	})
	b := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", CreationTimestamp: metav1.NewTime(now.Add(-time.Minute))},
		Spec: v1alpha1.BackupScheduleSpec{Schedule: "30 2 * * *", Requester: &v1alpha1.VMOperationRequester{Username: "alice"},
			Retention:    v1alpha1.BackupRetention{KeepLast: ptr.To[int32](1)},
			Verification: &v1alpha1.BackupVerification{ExpectedOutput: "login:", Timeout: metav1.Duration{Duration: 10 * time.Minute}}},
		Status: v1alpha1.BackupScheduleStatus{Snapshots: []v1alpha1.ScheduledSnapshot{
			{Name: "old", VMName: "db", Operation: "old", Phase: v1alpha1.VMOperationSucceeded, Slot: metav1.NewTime(now.Add(-48 * time.Hour))},
			{Name: "new", VMName: "db", Operation: "new", Phase: v1alpha1.VMOperationSucceeded, Slot: metav1.NewTime(now.Add(-24 * time.Hour)), Verify: true}}},
	}
	hyper := hyperfake.NewSimpleClientset(b)
	kube := reviewing(func(a *authorizationv1.ResourceAttributes) bool { return restores || a.Subresource != "restore" })
	s, err := New(Config{Kube: kube, HyperSDK: hyper, KubeVirt: kv, Clock: testingclock.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.sync(ctx, b.DeepCopy())
	got, err := hyper.HypersdkV1alpha1().BackupSchedules("ns").Get(ctx, "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Status.Verifying; v == nil || v.Snapshot != "new" {
		t.Errorf("verifying %+v, want snapshot new's verification begun", v)
	}
	if ready := meta.FindStatusCondition(got.Status.Conditions, ConditionReady); ready == nil || ready.Status != metav1.ConditionFalse ||
		ready.Reason != reason || !strings.Contains(ready.Message, "timed out") {
		t.Errorf("Ready %+v, want False (%s) saying why old stays", ready, reason)
	}
}
