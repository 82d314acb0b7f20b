package idle

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
	"github.com/hypersdk/hypersdk/pkg/autoscaler"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

// quiet is a history of 1% CPU use every minute, whatever the VM.
type quiet struct{}

func (quiet) Samples(_ context.Context, _, _ string, start, end time.Time) ([]autoscaler.Sample, error) {
	var out []autoscaler.Sample
	for at := start.Truncate(time.Minute).Add(time.Minute); !at.After(end); at = at.Add(time.Minute) {
		out = append(out, autoscaler.Sample{Sample: rightsizing.Sample{Time: at, CPUCores: 0.02}, Allocation: rightsizing.Resources{CPUs: 2}})
	}
	return out, nil
}

// stopPolicy stops VMs idle for a day at once, as alice asked.
func stopPolicy(idle ...v1alpha1.IdleVM) *v1alpha1.IdleVMPolicy {
	return &v1alpha1.IdleVMPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 1},
		Spec: v1alpha1.IdleVMPolicySpec{Window: &metav1.Duration{Duration: 24 * time.Hour}, CPUThresholdPercent: 5,
			Action: v1alpha1.IdleActionStop, GracePeriod: &metav1.Duration{},
			Requester: &v1alpha1.VMOperationRequester{Username: "alice"}},
		Status: v1alpha1.IdleVMPolicyStatus{IdleVMs: idle}}
}

func runningVM(name string, created time.Time) *v1alpha1.VirtualMachine {
	return &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(created)},
		Status: v1alpha1.VirtualMachineStatus{Phase: v1alpha1.VirtualMachineRunning, Conditions: []metav1.Condition{{
			Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.NewTime(created)}}}}
}

// reviewing answers access reviews: allowed for every VM but those named.
func reviewing(denied ...string) *fake.Clientset {
	kube := fake.NewClientset()
	kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		sar.Status.Allowed = true
		for _, d := range denied {
			if sar.Spec.ResourceAttributes.Name == d {
				sar.Status.Allowed = false
			}
		}
		return true, sar, nil
	})
	return kube
}

func operationsOf(t *testing.T, hyper *hyperfake.Clientset) map[string]bool {
	t.Helper()
	ops, err := hyper.HypersdkV1alpha1().VMOperations("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stopped := map[string]bool{}
	for _, op := range ops.Items {
		stopped[op.Spec.VMName] = true
	}
	return stopped
}

// TestAVMMadeAgainIsNotJudgedOnTheOldOnesHistory: history is kept by name,
// so a VM made ten minutes ago under the name of an idle VM deleted since
// would read as idle for the whole window, and be stopped at once.
func TestAVMMadeAgainIsNotJudgedOnTheOldOnesHistory(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	policy := stopPolicy(v1alpha1.IdleVM{Name: "web", Since: metav1.NewTime(now.Add(-48 * time.Hour))})
	hyper := hyperfake.NewSimpleClientset(policy.DeepCopy(), runningVM("web", now.Add(-10*time.Minute)))
	f, err := New(Config{Kube: reviewing(), HyperSDK: hyper, Samples: quiet{}, SampleStep: time.Minute, Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	f.recorder = record.NewFakeRecorder(10)
	if err := f.sync(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	if stopped := operationsOf(t, hyper); stopped["web"] {
		t.Error("a VM made ten minutes ago was stopped as idle for a day")
	}
	got, err := hyper.HypersdkV1alpha1().IdleVMPolicies("ns").Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.IdleVMs) != 0 {
		t.Errorf("idle VMs %+v, want none: the only VM is younger than the window", got.Status.IdleVMs)
	}
}

// TestOneVMNotStoppedHoldsBackNoOther: the author may not stop one idle
// VM; the others are stopped all the same, and the policy says why the
// one was not.
func TestOneVMNotStoppedHoldsBackNoOther(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	policy := stopPolicy()
	old := now.Add(-72 * time.Hour)
	hyper := hyperfake.NewSimpleClientset(policy.DeepCopy(), runningVM("a", old), runningVM("b", old))
	f, err := New(Config{Kube: reviewing("a"), HyperSDK: hyper, Samples: quiet{}, SampleStep: time.Minute, Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	f.recorder = record.NewFakeRecorder(10)
	if err := f.sync(context.Background(), policy); err == nil {
		t.Error("sync: no error, want the refusal to stop a")
	}
	if stopped := operationsOf(t, hyper); stopped["a"] || !stopped["b"] {
		t.Errorf("stopped %v, want b only", stopped)
	}
}

// TestAWindowShorterThanTheHistoryStep: a window that holds fewer than two
// history samples judges no VM and says why, rather than reporting every
// running VM as unrecorded.
func TestAWindowShorterThanTheHistoryStep(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	policy := stopPolicy()
	policy.Spec.Window = &metav1.Duration{Duration: time.Minute}
	hyper := hyperfake.NewSimpleClientset(policy.DeepCopy(), runningVM("web", now.Add(-72*time.Hour)))
	f, err := New(Config{Kube: reviewing(), HyperSDK: hyper, Samples: quiet{}, SampleStep: 5 * time.Minute, Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	f.recorder = record.NewFakeRecorder(10)
	_ = f.sync(context.Background(), policy)
	got, err := hyper.HypersdkV1alpha1().IdleVMPolicies("ns").Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, ConditionReady); c == nil || c.Reason != "WindowTooShort" || !strings.Contains(c.Message, "10m0s") {
		t.Errorf("Ready %+v, want WindowTooShort asking for 10m0s", c)
	}
	if stopped := operationsOf(t, hyper); len(stopped) != 0 {
		t.Errorf("stopped %v on a window the history cannot fill", stopped)
	}
}

// TestAnotherPolicysOperationOfTheSameNameIsNotTaken: policy "p" with VM
// "b-c" and policy "p-b" with VM "c" name their stops alike; the second
// does not take the first's for its own (its VM would run on, recorded as
// stopped), but stops its VM under a name only it makes, once.
func TestAnotherPolicysOperationOfTheSameNameIsNotTaken(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	since := now.Add(-48 * time.Hour)
	policy := stopPolicy(v1alpha1.IdleVM{Name: "c", Since: metav1.NewTime(since), StopAt: &metav1.Time{Time: since}})
	policy.Name = "p-b"
	taken := "idle-p-b-c-" + strconv.FormatInt(since.Unix(), 10)
	theirs := &v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: taken, Namespace: "ns",
		Labels: map[string]string{LabelPolicy: "p"}}, Spec: v1alpha1.VMOperationSpec{VMName: "b-c", Type: v1alpha1.VMOperationStop}}
	hyper := hyperfake.NewSimpleClientset(policy.DeepCopy(), theirs)
	f, err := New(Config{Kube: reviewing(), HyperSDK: hyper, Samples: quiet{}, SampleStep: time.Minute, Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	f.recorder = record.NewFakeRecorder(10)
	for pass := 1; pass <= 2; pass++ {
		// The second pass is one whose status write was lost: it finds
		// its own stop again and makes none.
		idle := policy.DeepCopy().Status.IdleVMs
		if err := f.stop(ctx, policy, idle, now); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if idle[0].Operation == taken || !strings.HasPrefix(idle[0].Operation, taken+"-") {
			t.Errorf("pass %d: VM c recorded as stopped by %q, want a name of its own past %s", pass, idle[0].Operation, taken)
		}
	}
	ops, err := hyper.HypersdkV1alpha1().VMOperations("ns").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var stops []string
	for _, op := range ops.Items {
		if op.Spec.VMName == "c" {
			stops = append(stops, op.Name)
		}
	}
	if len(stops) != 1 {
		t.Errorf("stops of VM c: %v, want one", stops)
	}
}

// TestAMovingVMStaysIdleSinceWhenItWasFound: a pass that sees an idle VM
// migrating keeps when it was found idle (a VM moved often would else never
// reach its grace period), and stops it only once it runs again.
func TestAMovingVMStaysIdleSinceWhenItWasFound(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	since := metav1.NewTime(now.Add(-20 * time.Hour))
	policy := stopPolicy(v1alpha1.IdleVM{Name: "web", Since: since})
	policy.Spec.GracePeriod = &metav1.Duration{Duration: 21 * time.Hour}
	vm := runningVM("web", now.Add(-72*time.Hour))
	vm.Status.Phase = v1alpha1.VirtualMachineMigrating
	hyper := hyperfake.NewSimpleClientset(policy.DeepCopy(), vm)
	clk := clocktesting.NewFakeClock(now.Add(2 * time.Hour)) // past the grace period
	f, err := New(Config{Kube: reviewing(), HyperSDK: hyper, Samples: quiet{}, SampleStep: time.Minute, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	f.recorder = record.NewFakeRecorder(10)
	if err := f.sync(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	got, err := hyper.HypersdkV1alpha1().IdleVMPolicies("ns").Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.IdleVMs) != 1 || !got.Status.IdleVMs[0].Since.Equal(&since) {
		t.Fatalf("idle VMs while web migrates: %+v, want web idle since %v", got.Status.IdleVMs, since)
	}
	if operationsOf(t, hyper)["web"] {
		t.Error("web was stopped mid-move")
	}
	vm.Status.Phase = v1alpha1.VirtualMachineRunning
	if _, err := hyper.HypersdkV1alpha1().VirtualMachines("ns").Update(context.Background(), vm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.sync(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	if !operationsOf(t, hyper)["web"] {
		t.Error("web, idle past its grace period and running again, was not stopped")
	}
}
