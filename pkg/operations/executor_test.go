package operations

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	clonev1 "kubevirt.io/api/clone/v1beta1"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"
	cdifake "kubevirt.io/client-go/containerizeddataimporter/fake"
	kvfake "kubevirt.io/client-go/kubevirt/fake"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
	listers "github.com/hypersdk/hypersdk/generated/listers/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// harness drives an Executor one pass at a time against fake clientsets.
// The executor's lister is an indexer the harness refreshes from the fake
// after every pass, so each pass sees what the last one wrote, as the
// informer would a moment later.
type harness struct {
	t     *testing.T
	e     *Executor
	hyper *hyperfake.Clientset
	kv    *kvfake.Clientset
	kube  *kubefake.Clientset
	cdi   *cdifake.Clientset
	idx   cache.Indexer
	clock *testingclock.FakeClock
	ctx   context.Context
}

func newHarness(t *testing.T, cfg ExecutorConfig, kubevirtObjects ...runtime.Object) *harness {
	t.Helper()
	h := &harness{
		t: t, hyper: hyperfake.NewSimpleClientset(), kv: kvfake.NewSimpleClientset(kubevirtObjects...),
		kube: kubefake.NewClientset(), cdi: cdifake.NewSimpleClientset(),
		idx:   cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		clock: testingclock.NewFakeClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)),
		ctx:   context.Background(),
	}
	// Every requester may do what it asked, unless a test says otherwise.
	h.kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		sar.Status.Allowed = sar.Spec.User != "mallory"
		return true, sar, nil
	})
	cfg.Kube, cfg.KubeVirt, cfg.CDI, cfg.HyperSDK, cfg.Clock = h.kube, h.kv, h.cdi, h.hyper, h.clock
	h.e = NewExecutor(cfg)
	h.e.opLister = listers.NewVMOperationLister(h.idx)
	t.Cleanup(h.e.queue.ShutDown)
	return h
}

// create stores a Pending operation as hypersdk-apiserver would.
func (h *harness) create(name, vm string, spec v1alpha1.VMOperationSpec) cache.ObjectName {
	h.t.Helper()
	spec.VMName = vm
	if spec.Requester == nil {
		spec.Requester = &v1alpha1.VMOperationRequester{Username: "alice"}
	}
	op := &v1alpha1.VMOperation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(h.clock.Now())},
		Spec:   spec,
		Status: v1alpha1.VMOperationStatus{Phase: v1alpha1.VMOperationPending},
	}
	if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").Create(h.ctx, op, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.refresh()
	return cache.ObjectName{Namespace: "ns", Name: name}
}

// refresh copies every operation from the fake into the lister's indexer.
func (h *harness) refresh() {
	h.t.Helper()
	list, err := h.hyper.HypersdkV1alpha1().VMOperations("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, obj := range h.idx.List() {
		_ = h.idx.Delete(obj)
	}
	for i := range list.Items {
		if err := h.idx.Add(&list.Items[i]); err != nil {
			h.t.Fatal(err)
		}
	}
}

// pass runs one sync, as a worker would (a failed pass counts towards the
// retry bound), and returns the operation afterwards.
func (h *harness) pass(key cache.ObjectName) (*v1alpha1.VMOperation, error) {
	h.t.Helper()
	err := h.e.sync(h.ctx, key)
	if err != nil {
		h.e.queue.AddRateLimited(key)
	} else {
		h.e.queue.Forget(key)
	}
	h.refresh()
	return h.get(key), err
}

func (h *harness) get(key cache.ObjectName) *v1alpha1.VMOperation {
	h.t.Helper()
	op, err := h.hyper.HypersdkV1alpha1().VMOperations(key.Namespace).Get(h.ctx, key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return op
}

// until passes until done says so, failing the test after n passes; it
// checks that progress never goes back.
func (h *harness) until(key cache.ObjectName, n int, done func(*v1alpha1.VMOperation) bool) *v1alpha1.VMOperation {
	h.t.Helper()
	last := int32(0)
	for i := 0; i < n; i++ {
		op, err := h.pass(key)
		if err != nil {
			h.t.Fatalf("pass %d: %v", i, err)
		}
		if op.Status.Progress < last {
			h.t.Fatalf("progress went back from %d to %d", last, op.Status.Progress)
		}
		last = op.Status.Progress
		if done(op) {
			return op
		}
	}
	op := h.get(key)
	h.t.Fatalf("after %d passes: %s %d%% %q", n, op.Status.Phase, op.Status.Progress, op.Status.Message)
	return nil
}

func phaseIs(p v1alpha1.VMOperationPhase) func(*v1alpha1.VMOperation) bool {
	return func(op *v1alpha1.VMOperation) bool { return op.Status.Phase == p }
}

func ended(op *v1alpha1.VMOperation) bool { return op.Status.Phase.Final() }

func testVM(name string, runStrategy kvv1.VirtualMachineRunStrategy) *kvv1.VirtualMachine {
	return &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("vm-" + name)},
		Spec: kvv1.VirtualMachineSpec{RunStrategy: ptr.To(runStrategy), Template: &kvv1.VirtualMachineInstanceTemplateSpec{
			Spec: kvv1.VirtualMachineInstanceSpec{Domain: kvv1.DomainSpec{CPU: &kvv1.CPU{Sockets: 1}}},
		}},
	}
}

func testVMI(name, node string, uid types.UID) *kvv1.VirtualMachineInstance {
	return &kvv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: uid},
		Status:     kvv1.VirtualMachineInstanceStatus{Phase: kvv1.Running, NodeName: node},
	}
}

func (h *harness) setVMI(vmi *kvv1.VirtualMachineInstance) {
	h.t.Helper()
	vmis := h.kv.KubevirtV1().VirtualMachineInstances(vmi.Namespace)
	if _, err := vmis.Get(h.ctx, vmi.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		_, err = vmis.Create(h.ctx, vmi, metav1.CreateOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
		return
	}
	if _, err := vmis.Update(h.ctx, vmi, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) runStrategy(vm string) kvv1.VirtualMachineRunStrategy {
	h.t.Helper()
	got, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, vm, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return ptr.Deref(got.Spec.RunStrategy, "")
}

func TestExecutorStart(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("start", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart, Start: &v1alpha1.StartSpec{}})
	op := h.until(key, 1, phaseIs(v1alpha1.VMOperationRunning))
	if op.Status.StartTime == nil || op.Status.Progress != 1 {
		t.Fatalf("started operation: %+v", op.Status)
	}
	op = h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "waiting for the instance" })
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyAlways {
		t.Fatalf("run strategy %s, want Always", got)
	}
	// Passes while nothing happens change nothing and do not finish.
	h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true })
	if op = h.get(key); op.Status.Phase != v1alpha1.VMOperationRunning {
		t.Fatalf("finished without an instance: %+v", op.Status)
	}
	h.setVMI(testVMI("vm", "node-a", "vmi-1"))
	op = h.until(key, 2, ended)
	if op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Progress != 100 || op.Status.Message != "running on node-a" {
		t.Fatalf("start ended %+v", op.Status)
	}
}

// TestExecutorStartThatDoesNotRun: a start whose instance is not
// scheduled fails after runTimeout, saying where it stopped, and leaves
// the VM started; the next operation on the VM no longer waits behind it.
func TestExecutorStartThatDoesNotRun(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("start", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart, Start: &v1alpha1.StartSpec{}})
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "waiting for the instance" })
	h.setVMI(pendingVMI("vmi-1", ""))
	stop := h.create("stop", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStop, Stop: &v1alpha1.StopSpec{}})
	if op, err := h.pass(stop); err != nil || op.Status.Phase != v1alpha1.VMOperationPending {
		t.Fatalf("stop while the start runs: %v %s %q, want Pending behind it", err, op.Status.Phase, op.Status.Message)
	}
	if op, err := h.pass(key); err != nil || op.Status.Phase != v1alpha1.VMOperationRunning {
		t.Fatalf("start of an instance still scheduling: %v %s %q, want Running", err, op.Status.Phase, op.Status.Message)
	}
	h.clock.Step(runTimeout + time.Second)
	op := h.until(key, 1, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "did not run within") ||
		!strings.Contains(op.Status.Message, "scheduling the instance") {
		t.Fatalf("start past its timeout: %s %q, want Failed saying where it stopped", op.Status.Phase, op.Status.Message)
	}
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyAlways {
		t.Errorf("run strategy after the start timed out %s, want Always (left started)", got)
	}
	h.until(stop, 3, func(op *v1alpha1.VMOperation) bool {
		return op.Status.Phase == v1alpha1.VMOperationRunning || op.Status.Phase.Final()
	})
}

func TestExecutorStop(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("stop", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStop, Stop: &v1alpha1.StopSpec{GracePeriodSeconds: ptr.To[int64](0)}})
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "stopping the instance" })
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyHalted {
		t.Fatalf("run strategy %s, want Halted", got)
	}
	// A grace period applies to this stop: the instance was deleted at once.
	if _, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("instance after a stop with grace period 0: %v", err)
	}
	if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationSucceeded {
		t.Fatalf("stop ended %+v", op.Status)
	}
}

func TestExecutorRestart(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("restart", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationRestart, Restart: &v1alpha1.RestartSpec{}})
	op := h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return recorded(op, "VirtualMachineInstance", "replaced") != nil })
	if ref := recorded(op, "VirtualMachineInstance", "replaced"); ref.UID != "vmi-1" {
		t.Fatalf("recorded %+v, want the running instance vmi-1", ref)
	}
	// Recorded before acting: the instance is still there.
	if _, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{}); err != nil {
		t.Fatalf("instance deleted before the record was written: %v", err)
	}
	h.until(key, 1, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "stopping the old instance" })
	if _, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("old instance not deleted: %v", err)
	}
	h.setVMI(testVMI("vm", "node-b", "vmi-2"))
	if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationSucceeded {
		t.Fatalf("restart ended %+v", op.Status)
	}
}

func TestExecutorRestartOfStoppedVMFails(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("restart", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationRestart, Restart: &v1alpha1.RestartSpec{}})
	op := h.until(key, 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "not running") {
		t.Fatalf("restart of a stopped VM ended %+v", op.Status)
	}
}

func migrateSpec() v1alpha1.VMOperationSpec {
	return v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationMigrate, Migrate: &v1alpha1.MigrateSpec{}}
}

func (h *harness) setMigrationPhase(op string, phase kvv1.VirtualMachineInstanceMigrationPhase) {
	h.t.Helper()
	migs := h.kv.KubevirtV1().VirtualMachineInstanceMigrations("ns")
	mig, err := migs.Get(h.ctx, "hypersdk-"+op, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	mig.Status.Phase = phase
	mig.Status.MigrationState = &kvv1.VirtualMachineInstanceMigrationState{TargetNode: "node-z"}
	if _, err := migs.Update(h.ctx, mig, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func TestExecutorMigrate(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("mig", "vm", migrateSpec())
	op := h.until(key, 1, phaseIs(v1alpha1.VMOperationRunning))
	if src := recorded(op, "Node", "source"); src == nil || src.Name != "node-a" {
		t.Fatalf("source node %+v, want node-a recorded with the slot", src)
	}
	h.until(key, 2, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "migration created" })
	// Another pass does not create a second migration.
	h.until(key, 1, func(op *v1alpha1.VMOperation) bool { return true })
	migs, _ := h.kv.KubevirtV1().VirtualMachineInstanceMigrations("ns").List(h.ctx, metav1.ListOptions{})
	if len(migs.Items) != 1 || migs.Items[0].Spec.VMIName != "vm" {
		t.Fatalf("migrations %+v, want one for vm", migs.Items)
	}
	h.setMigrationPhase("mig", kvv1.MigrationRunning)
	if op := h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true }); op.Status.Progress != 80 {
		t.Fatalf("progress while running %d, want 80", op.Status.Progress)
	}
	h.setMigrationPhase("mig", kvv1.MigrationSucceeded)
	if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Message != "migrated to node-z" {
		t.Fatalf("migration ended %+v", op.Status)
	}
	if n := h.e.reserved.migrationsInFlight(); n != 0 {
		t.Fatalf("%d migration slots held after the end", n)
	}
}

func TestExecutorMigrationFailureIsReported(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("mig", "vm", migrateSpec())
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "migration created" })
	migs := h.kv.KubevirtV1().VirtualMachineInstanceMigrations("ns")
	mig, _ := migs.Get(h.ctx, "hypersdk-mig", metav1.GetOptions{})
	mig.Status.Phase = kvv1.MigrationFailed
	mig.Status.Conditions = []kvv1.VirtualMachineInstanceMigrationCondition{{Type: "Failed", Status: corev1.ConditionTrue, Message: "target pod crashed"}}
	if _, err := migs.Update(h.ctx, mig, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	op := h.until(key, 2, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || op.Status.Message != "target pod crashed" ||
		!meta.IsStatusConditionTrue(op.Status.Conditions, "Failed") {
		t.Fatalf("failed migration reported as %+v", op.Status)
	}
}

func TestExecutorMigrationLimits(t *testing.T) {
	objs := []runtime.Object{}
	for i, node := range []string{"node-a", "node-a", "node-a", "node-b", "node-c"} {
		name := fmt.Sprintf("vm%d", i)
		objs = append(objs, testVM(name, kvv1.RunStrategyAlways), testVMI(name, node, types.UID("vmi-"+name)))
	}
	h := newHarness(t, ExecutorConfig{MaxMigrations: 3, MaxMigrationsPerNode: 2}, objs...)
	var keys []cache.ObjectName
	for i := 0; i < 5; i++ {
		keys = append(keys, h.create(fmt.Sprintf("mig%d", i), fmt.Sprintf("vm%d", i), migrateSpec()))
	}
	phases := func() []v1alpha1.VMOperationPhase {
		var out []v1alpha1.VMOperationPhase
		for _, k := range keys {
			op, err := h.pass(k)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, op.Status.Phase)
		}
		return out
	}
	got := phases()
	// vm0 and vm1 leave node-a, vm2 waits for node-a, vm3 takes the last
	// cluster slot, vm4 waits for the cluster.
	want := []v1alpha1.VMOperationPhase{"Running", "Running", "Pending", "Running", "Pending"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
	if msg := h.get(keys[2]).Status.Message; !strings.Contains(msg, "leaving node node-a (limit 2)") {
		t.Errorf("vm2 waits with %q", msg)
	}
	if msg := h.get(keys[4]).Status.Message; !strings.Contains(msg, "in the cluster (limit 3)") {
		t.Errorf("vm4 waits with %q", msg)
	}
	// A new executor (a restart) takes over the grants from the statuses.
	restarted := newHarness(t, ExecutorConfig{MaxMigrations: 3, MaxMigrationsPerNode: 2})
	all, _ := h.e.opLister.List(labels.Everything())
	restarted.e.reserved.seed(all)
	if n := restarted.e.reserved.migrationsInFlight(); n != 3 {
		t.Errorf("a restarted executor holds %d slots, want the 3 recorded", n)
	}
	// The first migration ends: its slots go to the waiting ones.
	op := h.get(keys[0])
	op.Spec.Cancel = true
	if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").Update(h.ctx, op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	got = phases()
	want = []v1alpha1.VMOperationPhase{"Cancelled", "Running", "Running", "Running", "Pending"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after one ended: phases %v, want %v", got, want)
	}
}

func TestExecutorCancelDeletesMigration(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("mig", "vm", migrateSpec())
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "migration created" })
	h.cancelOp(key)
	if op := h.until(key, 1, ended); op.Status.Phase != v1alpha1.VMOperationCancelled {
		t.Fatalf("cancel ended %+v", op.Status)
	}
	if _, err := h.kv.KubevirtV1().VirtualMachineInstanceMigrations("ns").Get(h.ctx, "hypersdk-mig", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("migration after cancel: %v", err)
	}
}

// TestExecutorFailedMigrationIsAborted: a migration the executor gives up
// on while KubeVirt still migrates is aborted by the clean-up, as a cancel
// aborts it, and holds its slot until then, so nothing migrates uncounted.
func TestExecutorFailedMigrationIsAborted(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("mig", "vm", migrateSpec())
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "migration created" })
	h.setMigrationPhase("mig", kvv1.MigrationRunning)
	down := true
	h.kv.PrependReactor("get", "virtualmachineinstances", func(k8stesting.Action) (bool, runtime.Object, error) {
		return down, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	var op *v1alpha1.VMOperation
	for i := 0; i < maxAttempts && (op == nil || !ended(op)); i++ {
		op, _ = h.pass(key)
	}
	if op.Status.Phase != v1alpha1.VMOperationFailed || h.e.reserved.migrationsInFlight() != 1 {
		t.Fatalf("after %d failed passes: %+v, %d slots held; want Failed, its slot held", maxAttempts, op.Status, h.e.reserved.migrationsInFlight())
	}
	down = false
	for range 3 {
		op, _ = h.pass(key)
	}
	if !meta.IsStatusConditionTrue(op.Status.Conditions, conditionCleanedUp) || h.e.reserved.migrationsInFlight() != 0 {
		t.Fatalf("clean-up %+v, %d slots held; want done, none held", meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp), h.e.reserved.migrationsInFlight())
	}
	if _, err := h.kv.KubevirtV1().VirtualMachineInstanceMigrations("ns").Get(h.ctx, "hypersdk-mig", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("migration after the operation failed: %v, want it aborted (clean-up %+v)", err, meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp))
	}
}

// TestExecutorAbortedMigrationHoldsItsSlot: a cancelled migration counts
// against the limits until KubeVirt has aborted it (its finalizer keeps the
// VirtualMachineInstanceMigration until then), also across a restart.
func TestExecutorAbortedMigrationHoldsItsSlot(t *testing.T) {
	h := newHarness(t, ExecutorConfig{MaxMigrations: 1}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"),
		testVM("vm2", kvv1.RunStrategyAlways), testVMI("vm2", "node-b", "vmi-2"))
	key := h.create("mig", "vm", migrateSpec())
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "migration created" })
	h.setMigrationPhase("mig", kvv1.MigrationRunning)
	// KubeVirt's finalizer: a delete marks the migration until the source
	// has aborted it.
	aborted := false
	h.kv.PrependReactor("delete", "virtualmachineinstancemigrations", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if aborted {
			return false, nil, nil
		}
		obj, err := h.kv.Tracker().Get(a.GetResource(), a.GetNamespace(), a.(k8stesting.DeleteAction).GetName())
		if err != nil {
			return true, nil, err
		}
		mig := obj.(*kvv1.VirtualMachineInstanceMigration).DeepCopy()
		mig.DeletionTimestamp = ptr.To(metav1.NewTime(h.clock.Now()))
		return true, nil, h.kv.Tracker().Update(a.GetResource(), mig, a.GetNamespace())
	})
	h.cancelOp(key)
	h.until(key, 1, ended)
	for range 3 {
		h.pass(key) // waits, an error for the queue's backoff
	}
	if cond := meta.FindStatusCondition(h.get(key).Status.Conditions, conditionCleanedUp); cond == nil || cond.Reason != reasonWaiting {
		t.Fatalf("clean-up %+v, want it waiting for KubeVirt", cond)
	}
	next := h.create("mig2", "vm2", migrateSpec())
	if op, _ := h.pass(next); op.Status.Phase != v1alpha1.VMOperationPending || !strings.Contains(op.Status.Message, "in the cluster (limit 1)") {
		t.Fatalf("a migration while the cancelled one is aborted: %s %q, want it waiting for the slot", op.Status.Phase, op.Status.Message)
	}
	restarted := newHarness(t, ExecutorConfig{MaxMigrations: 1})
	all, _ := h.e.opLister.List(labels.Everything())
	restarted.e.reserved.seed(all)
	if n := restarted.e.reserved.migrationsInFlight(); n != 1 {
		t.Errorf("a restarted executor holds %d slots, want the aborting migration's", n)
	}
	aborted = true // the finalizer comes off
	if err := h.kv.KubevirtV1().VirtualMachineInstanceMigrations("ns").Delete(h.ctx, "hypersdk-mig", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.cleanUp(key)
	if !meta.IsStatusConditionTrue(h.get(key).Status.Conditions, conditionCleanedUp) || h.e.reserved.migrationsInFlight() != 0 {
		t.Fatalf("after KubeVirt aborted: clean-up %+v, %d slots held", meta.FindStatusCondition(h.get(key).Status.Conditions, conditionCleanedUp),
			h.e.reserved.migrationsInFlight())
	}
	if op, _ := h.pass(next); op.Status.Phase != v1alpha1.VMOperationRunning {
		t.Fatalf("the waiting migration: %s %q, want it running", op.Status.Phase, op.Status.Message)
	}
}

// TestExecutorNextOperationWaitsForTheCleanUp: an operation that failed
// acts on the VM until its clean-up is done (gives its size, pin or run
// strategy back), so the VM's next operation waits for that too; a clean-up
// that keeps failing gives up, and stops acting on the VM, 15 minutes after
// the end, when the next one goes.
func TestExecutorNextOperationWaitsForTheCleanUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		ends func(h *harness, failed cache.ObjectName)
	}{
		{"cleaned up", func(h *harness, failed cache.ObjectName) {
			op := h.get(failed)
			meta.SetStatusCondition(&op.Status.Conditions, metav1.Condition{Type: conditionCleanedUp, Status: metav1.ConditionTrue, Reason: "Deleted"})
			if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").UpdateStatus(h.ctx, op, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			h.refresh()
		}},
		{"still failing past the bound", func(h *harness, failed cache.ObjectName) {
			h.kv.PrependReactor("get", "virtualmachines", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewInternalError(errors.New("etcd is slow"))
			})
			for _, step := range []time.Duration{0, coldMigrationTimeout} {
				h.clock.Step(step)
				if _, err := h.pass(failed); err == nil == (step == 0) {
					t.Fatalf("the clean-up pass %s after the end: %v", step, err)
				}
			}
			if cond := meta.FindStatusCondition(h.get(failed).Status.Conditions, conditionCleanedUp); cond == nil || cond.Reason != reasonGaveUp {
				t.Fatalf("clean-up past the bound: %+v, want it given up", cond)
			}
			if _, err := h.pass(failed); err != nil {
				t.Fatalf("a clean-up that gave up acts again: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
			failed := h.create("resize", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationResize,
				Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](4)}})
			op := h.get(failed)
			op.Status.Phase, op.Status.CompletionTime = v1alpha1.VMOperationFailed, ptr.To(metav1.NewTime(h.clock.Now()))
			op.Status.Resources = []v1alpha1.ResourceReference{{Kind: "Size", Name: "1 CPUs", Role: "previous"}}
			meta.SetStatusCondition(&op.Status.Conditions, metav1.Condition{Type: conditionCleanedUp, Status: metav1.ConditionFalse, Reason: "DeleteFailed"})
			if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").UpdateStatus(h.ctx, op, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			h.clock.Step(time.Second)
			next := h.create("start", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart})
			if op, err := h.pass(next); err != nil || op.Status.Phase != v1alpha1.VMOperationPending ||
				op.Status.Message != "waiting for the clean-up of Resize operation resize on VM vm" {
				t.Fatalf("the next operation while the failed one cleans up: %s %q (%v), want it waiting", op.Status.Phase, op.Status.Message, err)
			}
			tc.ends(h, failed)
			if op, err := h.pass(next); err != nil || op.Status.Phase != v1alpha1.VMOperationRunning {
				t.Fatalf("the next operation once the clean-up is %s: %s %q (%v), want it running", tc.name, op.Status.Phase, op.Status.Message, err)
			}
		})
	}
}

// TestExecutorEndWithoutCompletionTimeIsStamped: an operation whose status
// another client ended without a completion time gets the time of its final
// condition, and the clean-up bound and the TTL count from it (without it,
// it was never collected and a failing clean-up never gave up).
func TestExecutorEndWithoutCompletionTimeIsStamped(t *testing.T) {
	h := newHarness(t, ExecutorConfig{TTL: time.Hour}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("resize", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationResize,
		Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](4)}})
	ended := metav1.NewTime(h.clock.Now().Add(-2 * time.Hour).Truncate(time.Second))
	op := h.get(key)
	op.Status.Phase = v1alpha1.VMOperationFailed
	meta.SetStatusCondition(&op.Status.Conditions, metav1.Condition{Type: "Failed", Status: metav1.ConditionTrue, Reason: "OperationFailed",
		LastTransitionTime: ended})
	if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").UpdateStatus(h.ctx, op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	op, err := h.pass(key)
	if err != nil || op == nil {
		t.Fatalf("after a pass: %v %v, want the operation kept", err, op)
	}
	if op.Status.CompletionTime == nil || !op.Status.CompletionTime.Equal(&ended) {
		t.Fatalf("completion %v; want the Failed condition's time %v", op.Status.CompletionTime, ended)
	}
	if op, err := h.pass(key); err != nil || op != nil {
		t.Fatalf("ended two hours ago with a TTL of one: %v %v, want it collected", err, op)
	}
}

func TestExecutorResizeStoppedVM(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("resize", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationResize,
		Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](4)}})
	op := h.until(key, 4, ended)
	if op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Message != "resized; applies when the VM starts" {
		t.Fatalf("resize ended %+v", op.Status)
	}
	vm, _ := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if vm.Spec.Template.Spec.Domain.CPU.Sockets != 4 {
		t.Fatalf("sockets %d, want 4", vm.Spec.Template.Spec.Domain.CPU.Sockets)
	}
}

func (h *harness) startStrategy(vm string) *kvv1.StartStrategy {
	h.t.Helper()
	got, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, vm, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return got.Spec.Template.Spec.StartStrategy
}

func TestExecutorStartPaused(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("start", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart, Start: &v1alpha1.StartSpec{Paused: true}})
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "waiting for the instance" })
	if got := h.startStrategy("vm"); got == nil || *got != kvv1.StartStrategyPaused {
		t.Fatalf("start strategy %v, want Paused", got)
	}
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyAlways {
		t.Fatalf("run strategy %s, want Always", got)
	}
	// Running is not enough: the instance must say it is paused.
	vmi := testVMI("vm", "node-a", "vmi-1")
	vmi.Spec.StartStrategy = ptr.To(kvv1.StartStrategyPaused)
	h.setVMI(vmi)
	op := h.until(key, 2, func(op *v1alpha1.VMOperation) bool { return op.Status.Progress == 90 })
	if op.Status.Phase != v1alpha1.VMOperationRunning {
		t.Fatalf("finished before the instance reported paused: %+v", op.Status)
	}
	vmi.Status.Conditions = []kvv1.VirtualMachineInstanceCondition{{Type: kvv1.VirtualMachineInstancePaused, Status: corev1.ConditionTrue}}
	h.setVMI(vmi)
	op = h.until(key, 2, ended)
	if op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Message != "running, paused" {
		t.Fatalf("paused start ended %+v", op.Status)
	}
}

func TestExecutorStartUnpausedClearsStartStrategy(t *testing.T) {
	vm := testVM("vm", kvv1.RunStrategyHalted)
	vm.Spec.Template.Spec.StartStrategy = ptr.To(kvv1.StartStrategyPaused)
	h := newHarness(t, ExecutorConfig{}, vm)
	key := h.create("start", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart, Start: &v1alpha1.StartSpec{}})
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "waiting for the instance" })
	if got := h.startStrategy("vm"); got != nil {
		t.Fatalf("start strategy %v after a start that is not paused", *got)
	}
}

func TestExecutorStartPausedRaced(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("start", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart, Start: &v1alpha1.StartSpec{Paused: true}})
	h.until(key, 1, phaseIs(v1alpha1.VMOperationRunning))
	// Someone else started the VM, not paused, before this operation acted.
	h.setVMI(testVMI("vm", "node-a", "vmi-1"))
	op := h.until(key, 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "not paused") {
		t.Fatalf("raced paused start ended %+v", op.Status)
	}
}

func TestExecutorSnapshotQuiesce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		indications []snapshotv1.Indication
		want        v1alpha1.VMOperationPhase
		kept        bool
	}{
		{"frozen", []snapshotv1.Indication{snapshotv1.VMSnapshotOnlineSnapshotIndication, snapshotv1.VMSnapshotGuestAgentIndication}, v1alpha1.VMOperationSucceeded, true},
		{"no agent", []snapshotv1.Indication{snapshotv1.VMSnapshotOnlineSnapshotIndication, snapshotv1.VMSnapshotNoGuestAgentIndication}, v1alpha1.VMOperationFailed, false},
		{"offline", nil, v1alpha1.VMOperationSucceeded, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways))
			key := h.create("snap", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationSnapshot,
				Snapshot: &v1alpha1.SnapshotSpec{Name: "s1", Quiesce: true}})
			h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "snapshot requested" })
			snaps := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns")
			snap, err := snaps.Get(h.ctx, "s1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			snap.Status = &snapshotv1.VirtualMachineSnapshotStatus{Phase: snapshotv1.Succeeded, ReadyToUse: ptr.To(true), Indications: tc.indications}
			if _, err := snaps.Update(h.ctx, snap, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			op := h.until(key, 2, ended)
			if op.Status.Phase != tc.want {
				t.Fatalf("quiesced snapshot ended %+v, want %s", op.Status, tc.want)
			}
			if tc.want == v1alpha1.VMOperationFailed && !strings.Contains(op.Status.Message, "quiesce") {
				t.Fatalf("failure does not name quiesce: %q", op.Status.Message)
			}
			_, err = snaps.Get(h.ctx, "s1", metav1.GetOptions{})
			if kept := err == nil; kept != tc.kept {
				t.Fatalf("snapshot kept %v, want %v (%v)", kept, tc.kept, err)
			}
		})
	}
}

func TestExecutorSnapshot(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways))
	key := h.create("snap", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationSnapshot,
		Snapshot: &v1alpha1.SnapshotSpec{Name: "s1", Description: "before"}})
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "snapshot requested" })
	snaps := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns")
	snap, err := snaps.Get(h.ctx, "s1", metav1.GetOptions{})
	if err != nil || snap.Annotations[snapshotDescriptionAnnot] != "before" {
		t.Fatalf("snapshot %v %v", snap, err)
	}
	snap.Status = &snapshotv1.VirtualMachineSnapshotStatus{Phase: snapshotv1.Succeeded, ReadyToUse: ptr.To(true)}
	if _, err := snaps.Update(h.ctx, snap, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationSucceeded {
		t.Fatalf("snapshot ended %+v", op.Status)
	}
	// The snapshot is the result, not a temporary: it stays.
	if _, err := snaps.Get(h.ctx, "s1", metav1.GetOptions{}); err != nil {
		t.Fatalf("snapshot after the operation: %v", err)
	}
}

func cloneSpec(target, targetNS string) v1alpha1.VMOperationSpec {
	return v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationClone, Clone: &v1alpha1.CloneSpec{TargetName: target, TargetNamespace: targetNS}}
}

func TestExecutorCloneInNamespace(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("clone", "vm", cloneSpec("copy", ""))
	op := h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "clone requested" })
	if ref := recorded(op, "VirtualMachine", "target"); ref == nil || ref.Name != "copy" {
		t.Fatalf("target not reserved: %+v", op.Status.Resources)
	}
	clones := h.kv.CloneV1beta1().VirtualMachineClones("ns")
	c, err := clones.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{})
	if err != nil || len(c.OwnerReferences) != 1 || c.OwnerReferences[0].UID != op.UID {
		t.Fatalf("clone %v %v, want one owned by the operation", c, err)
	}
	// KubeVirt clones: the VM appears, the clone succeeds.
	if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Create(h.ctx, testVM("copy", kvv1.RunStrategyHalted), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Status.Phase = clonev1.Succeeded
	if _, err := clones.Update(h.ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	op = h.until(key, 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Message != "cloned to ns/copy" {
		t.Fatalf("clone ended %+v", op.Status)
	}
	h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true }) // the pass after the end cleans up
	if _, err := clones.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("VirtualMachineClone left after the clone: %v", err)
	}
	if op := h.get(key); !meta.IsStatusConditionTrue(op.Status.Conditions, conditionCleanedUp) {
		t.Fatalf("conditions %+v, want CleanedUp", op.Status.Conditions)
	}
	if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "copy", metav1.GetOptions{}); err != nil {
		t.Fatalf("the clone itself went: %v", err)
	}
}

// readySnapshot plays KubeVirt: the snapshot is ready with content holding
// the source VM.
func (h *harness) readySnapshot(name string, source *kvv1.VirtualMachine, backups ...snapshotv1.VolumeBackup) {
	h.t.Helper()
	content := &snapshotv1.VirtualMachineSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: "content-" + name, Namespace: "ns"},
		Spec: snapshotv1.VirtualMachineSnapshotContentSpec{Source: snapshotv1.SourceSpec{VirtualMachine: &snapshotv1.VirtualMachine{
			ObjectMeta: metav1.ObjectMeta{Name: source.Name, Labels: map[string]string{"app": "x"}}, Spec: source.Spec}},
			VolumeBackups: backups},
	}
	if _, err := h.kv.SnapshotV1beta1().VirtualMachineSnapshotContents("ns").Create(h.ctx, content, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	snaps := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns")
	snap, err := snaps.Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	snap.Status = &snapshotv1.VirtualMachineSnapshotStatus{Phase: snapshotv1.Succeeded, ReadyToUse: ptr.To(true),
		VirtualMachineSnapshotContentName: ptr.To(content.Name)}
	if _, err := snaps.Update(h.ctx, snap, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func TestExecutorCloneAcrossNamespaces(t *testing.T) {
	source := testVM("vm", kvv1.RunStrategyAlways)
	h := newHarness(t, ExecutorConfig{}, source)
	key := h.create("clone", "vm", cloneSpec("copy", "other"))
	op := h.until(key, 3, func(op *v1alpha1.VMOperation) bool {
		return recorded(op, "VirtualMachineSnapshot", roleTemporary) != nil
	})
	// Recorded before it is made.
	snaps := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns")
	if _, err := snaps.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("snapshot made before it was recorded: %v", err)
	}
	h.until(key, 1, func(op *v1alpha1.VMOperation) bool { return true })
	snap, err := snaps.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{})
	if err != nil || len(snap.OwnerReferences) != 1 || snap.OwnerReferences[0].UID != op.UID {
		t.Fatalf("temporary snapshot %v %v, want one owned by the operation", snap, err)
	}
	h.until(key, 1, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "waiting for snapshot hypersdk-clone" })
	h.readySnapshot("hypersdk-clone", source)
	op = h.until(key, 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Message != "cloned to other/copy" {
		t.Fatalf("clone ended %+v", op.Status)
	}
	vm, err := h.kv.KubevirtV1().VirtualMachines("other").Get(h.ctx, "copy", metav1.GetOptions{})
	if err != nil || ptr.Deref(vm.Spec.RunStrategy, "") != kvv1.RunStrategyHalted || vm.Labels["app"] != "x" {
		t.Fatalf("clone %v %v, want a stopped copy with the source's labels", vm, err)
	}
	h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true })
	if _, err := snaps.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("temporary snapshot left: %v", err)
	}
}

// A VM with disks on a claim and a DataVolume is cloned across namespaces
// with its own disks: DataVolume templates restored from the snapshot's
// volume backups, named after the clone; the operation (and the snapshot
// the disks are restored from) lasts until they are populated.
func TestExecutorCloneAcrossNamespacesWithDisks(t *testing.T) {
	source := testVM("vm", kvv1.RunStrategyAlways)
	source.Spec.DataVolumeTemplates = []kvv1.DataVolumeTemplateSpec{{ObjectMeta: metav1.ObjectMeta{Name: "vm-data"},
		Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}}}}
	source.Spec.Template.Spec.Volumes = []kvv1.Volume{
		{Name: "root", VolumeSource: kvv1.VolumeSource{PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
			PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "vm-root"}}}},
		{Name: "data", VolumeSource: kvv1.VolumeSource{DataVolume: &kvv1.DataVolumeSource{Name: "vm-data"}}},
		{Name: "cloudinit", VolumeSource: kvv1.VolumeSource{CloudInitNoCloud: &kvv1.CloudInitNoCloudSource{UserData: "#cloud-config"}}},
	}
	h := newHarness(t, ExecutorConfig{}, source)
	key := h.create("clone", "vm", cloneSpec("copy", "other"))
	h.until(key, 8, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "waiting for snapshot hypersdk-clone" })
	size := corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}
	backup := func(volume, claim string) snapshotv1.VolumeBackup {
		return snapshotv1.VolumeBackup{VolumeName: volume, VolumeSnapshotName: ptr.To("vs-" + volume),
			PersistentVolumeClaim: snapshotv1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: claim},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, Resources: size}}}
	}
	h.readySnapshot("hypersdk-clone", source, backup("root", "vm-root"), backup("data", "vm-data"))
	op := h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "copying disks: 0 of 2 done" })
	vm, err := h.kv.KubevirtV1().VirtualMachines("other").Get(h.ctx, "copy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"root": "copy-root", "data": "copy-data", "cloudinit": ""}
	for _, v := range vm.Spec.Template.Spec.Volumes {
		name := ""
		if v.DataVolume != nil {
			name = v.DataVolume.Name
		}
		if name != want[v.Name] || v.PersistentVolumeClaim != nil {
			t.Errorf("clone volume %s: %+v, want DataVolume %q", v.Name, v.VolumeSource, want[v.Name])
		}
	}
	if len(vm.Spec.DataVolumeTemplates) != 2 {
		t.Fatalf("clone DataVolume templates %+v, want the two restored ones", vm.Spec.DataVolumeTemplates)
	}
	for _, dvt := range vm.Spec.DataVolumeTemplates {
		src := dvt.Spec.Source
		if src == nil || src.Snapshot == nil || src.Snapshot.Namespace != "ns" || "copy-"+strings.TrimPrefix(src.Snapshot.Name, "vs-") != dvt.Name ||
			dvt.Spec.Storage == nil || dvt.Spec.Storage.Resources.Requests.Storage().String() != "10Gi" {
			t.Errorf("DataVolume template %s: %+v", dvt.Name, dvt.Spec)
		}
		// The clone waits for its disks before it powers the VM on: on a
		// storage class that binds on first consumer they must not wait
		// for it.
		if dvt.Annotations[bindImmediatelyAnnotation] != "true" {
			t.Errorf("DataVolume template %s annotations %v, want %s", dvt.Name, dvt.Annotations, bindImmediatelyAnnotation)
		}
	}
	// The disks are still being copied: the snapshot stays.
	if _, err := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns").Get(h.ctx, "hypersdk-clone", metav1.GetOptions{}); err != nil {
		t.Fatalf("snapshot gone while disks copy: %v", err)
	}
	for i, name := range []string{"copy-root", "copy-data"} {
		if _, err := h.cdi.CdiV1beta1().DataVolumes("other").Create(h.ctx, &cdiv1.DataVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "other"},
			Status:     cdiv1.DataVolumeStatus{Phase: cdiv1.Succeeded},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			op = h.until(key, 2, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "copying disks: 1 of 2 done" })
		}
	}
	op = h.until(key, 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationSucceeded {
		t.Fatalf("clone with disks ended %+v", op.Status)
	}
	h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true })
	if _, err := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns").Get(h.ctx, "hypersdk-clone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("temporary snapshot left: %v", err)
	}
}

// A disk the snapshot has no backup of cannot be copied: the clone fails
// and makes no VM.
func TestExecutorCloneAcrossNamespacesWithoutBackup(t *testing.T) {
	source := testVM("vm", kvv1.RunStrategyAlways)
	source.Spec.Template.Spec.Volumes = []kvv1.Volume{{Name: "root", VolumeSource: kvv1.VolumeSource{PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
		PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "vm-root"}}}}}
	h := newHarness(t, ExecutorConfig{}, source)
	key := h.create("clone", "vm", cloneSpec("copy", "other"))
	h.until(key, 8, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "waiting for snapshot hypersdk-clone" })
	h.readySnapshot("hypersdk-clone", source)
	op := h.until(key, 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "volume root has no backup") {
		t.Fatalf("clone of a disk without backup ended %+v", op.Status)
	}
	if _, err := h.kv.KubevirtV1().VirtualMachines("other").Get(h.ctx, "copy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("clone VM made: %v", err)
	}
}

// A target that cannot be created (here: over quota) fails the operation
// with that reason at once, and leaves neither a snapshot nor a VM.
func TestExecutorCloneForbiddenTarget(t *testing.T) {
	source := testVM("vm", kvv1.RunStrategyAlways)
	h := newHarness(t, ExecutorConfig{}, source)
	h.kv.PrependReactor("create", "virtualmachines", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(kvv1.Resource("virtualmachines"), "copy", errors.New("exceeded quota: vms, requested: count/virtualmachines.kubevirt.io=1"))
	})
	key := h.create("clone", "vm", cloneSpec("copy", "other"))
	h.until(key, 5, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "waiting for snapshot hypersdk-clone" })
	h.readySnapshot("hypersdk-clone", source)
	op := h.until(key, 2, ended)
	cond := meta.FindStatusCondition(op.Status.Conditions, "Failed")
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "exceeded quota") || cond == nil || cond.Reason != "Forbidden" {
		t.Fatalf("clone over quota ended %+v", op.Status)
	}
	h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true })
	if _, err := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns").Get(h.ctx, "hypersdk-clone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("temporary snapshot left after a failed clone: %v", err)
	}
}

// Two operations cloning two VMs to one name: the first reserves it, the
// second fails with a conflict before it makes anything.
func TestExecutorCloneSameTarget(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted), testVM("vm2", kvv1.RunStrategyHalted))
	first := h.create("first", "vm", cloneSpec("copy", "other"))
	second := h.create("second", "vm2", cloneSpec("copy", "other"))
	h.until(first, 2, func(op *v1alpha1.VMOperation) bool { return recorded(op, "VirtualMachine", "target") != nil })
	op := h.until(second, 3, ended)
	cond := meta.FindStatusCondition(op.Status.Conditions, "Failed")
	if op.Status.Phase != v1alpha1.VMOperationFailed || cond == nil || cond.Reason != string(metav1.StatusReasonConflict) ||
		!strings.Contains(op.Status.Message, "ns/first is already cloning") {
		t.Fatalf("second clone ended %+v", op.Status)
	}
	if len(op.Status.Resources) != 0 {
		t.Fatalf("the loser recorded %+v", op.Status.Resources)
	}
	// When the first ends, the name is free again.
	h.e.reserved.release(first)
	third := h.create("third", "vm2", cloneSpec("copy", "other"))
	h.until(third, 2, func(op *v1alpha1.VMOperation) bool { return recorded(op, "VirtualMachine", "target") != nil })
}

// An error that does not pass is retried a bounded number of times, then
// fails the operation with the error.
func TestExecutorGivesUp(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	h.kv.PrependReactor("patch", "virtualmachines", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	key := h.create("start", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart, Start: &v1alpha1.StartSpec{}})
	h.until(key, 1, phaseIs(v1alpha1.VMOperationRunning))
	for i := 1; i < maxAttempts; i++ {
		op, err := h.pass(key)
		if err == nil || op.Status.Phase != v1alpha1.VMOperationRunning {
			t.Fatalf("attempt %d: %v, phase %s; want a retry", i, err, op.Status.Phase)
		}
	}
	op, err := h.pass(key)
	if err != nil || op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "gave up after 12 attempts: etcd is down") {
		t.Fatalf("after %d attempts: %v %+v", maxAttempts, err, op.Status)
	}
}

func TestExecutorRefusesRequesterWithoutAccess(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("start", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart, Start: &v1alpha1.StartSpec{},
		Requester: &v1alpha1.VMOperationRequester{Username: "mallory"}})
	op := h.until(key, 1, ended)
	cond := meta.FindStatusCondition(op.Status.Conditions, "Failed")
	if op.Status.Phase != v1alpha1.VMOperationFailed || cond == nil || cond.Reason != "Forbidden" {
		t.Fatalf("operation of a requester without access: %+v", op.Status)
	}
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyHalted {
		t.Fatalf("the VM was touched: run strategy %s", got)
	}
}

// Finished operations are deleted once their TTL has passed, not before.
func TestExecutorCollectsAfterTTL(t *testing.T) {
	h := newHarness(t, ExecutorConfig{TTL: time.Hour}, testVM("vm", kvv1.RunStrategyHalted))
	key := h.create("restart", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationRestart, Restart: &v1alpha1.RestartSpec{}})
	h.until(key, 3, ended)
	h.clock.Step(59 * time.Minute)
	if op, err := h.pass(key); err != nil || op == nil {
		t.Fatalf("collected before its TTL: %v", err)
	}
	h.clock.Step(2 * time.Minute)
	if op, err := h.pass(key); err != nil || op != nil {
		t.Fatalf("not collected after its TTL: %v %v", err, op)
	}
}

// restoreSpec restores the VM in place from snapshot snap.
func restoreSpec() v1alpha1.VMOperationSpec {
	return v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationRestore, Restore: &v1alpha1.RestoreSpec{SnapshotName: "snap"}}
}

// completeRestore is a VirtualMachineRestore of vm, as KubeVirt leaves it
// once done, made for the operation of that UID.
func completeRestore(name, opUID string) *snapshotv1.VirtualMachineRestore {
	return &snapshotv1.VirtualMachineRestore{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("restore-of-" + opUID),
			Annotations: map[string]string{ownerAnnotation: "restore", ownerUIDAnnotation: opUID}},
		Spec: snapshotv1.VirtualMachineRestoreSpec{VirtualMachineSnapshotName: "snap",
			Target: corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: "vm"}},
		Status: &snapshotv1.VirtualMachineRestoreStatus{Complete: ptr.To(true)},
	}
}

// TestExecutorRestoreMadeButNotRecorded: the executor stopped a VM, made
// its restore and lost the status write that recorded it. The next
// executor takes the restore for its own, starts the VM once it is done,
// and does not stop it again when it runs.
func TestExecutorRestoreMadeButNotRecorded(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted), completeRestore("hypersdk-restore", "uid-restore"))
	key := h.create("restore", "vm", restoreSpec())
	op := h.get(key)
	op.Status.Phase = v1alpha1.VMOperationRunning
	op.Status.Resources = []v1alpha1.ResourceReference{{Kind: "VirtualMachine", APIVersion: kvv1.GroupVersion.String(),
		Namespace: "ns", Name: "vm", Role: roleRestart}}
	if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").UpdateStatus(h.ctx, op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	h.until(key, 3, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyAlways })
	h.setVMI(testVMI("vm", "node-a", "vmi-restored"))
	for i := 0; i < 3; i++ {
		op, err := h.pass(key)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.runStrategy("vm"); got != kvv1.RunStrategyAlways {
			t.Fatalf("pass %d after the VM ran again: run strategy %s, want Always (%s %q)", i, got, op.Status.Phase, op.Status.Message)
		}
		if op.Status.Phase.Final() {
			if op.Status.Phase != v1alpha1.VMOperationSucceeded {
				t.Fatalf("restore ended %s: %s", op.Status.Phase, op.Status.Message)
			}
			return
		}
	}
	t.Fatalf("restore did not end: %+v", h.get(key).Status)
}

// TestExecutorLeftoversOfAnEarlierOperation: a restore or snapshot that an
// earlier operation of the same name left is not this one's result: the
// restore is made again, and the snapshot fails the operation rather than
// count as taken.
func TestExecutorLeftoversOfAnEarlierOperation(t *testing.T) {
	snap := &snapshotv1.VirtualMachineSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns", UID: "snap-uid"},
		Spec:       snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: "vm"}},
	}
	t.Run("restore", func(t *testing.T) {
		h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted), snap, completeRestore("hypersdk-restore", "uid-earlier"))
		key := h.create("restore", "vm", restoreSpec())
		op := h.until(key, 4, func(*v1alpha1.VMOperation) bool {
			r, err := h.kv.SnapshotV1beta1().VirtualMachineRestores("ns").Get(h.ctx, "hypersdk-restore", metav1.GetOptions{})
			return err == nil && r.Annotations[ownerUIDAnnotation] == "uid-restore"
		})
		if op.Status.Phase.Final() {
			t.Fatalf("the restore ended on what an earlier operation left: %s %q", op.Status.Phase, op.Status.Message)
		}
	})
	t.Run("snapshot", func(t *testing.T) {
		earlier := &snapshotv1.VirtualMachineSnapshot{
			ObjectMeta: metav1.ObjectMeta{Name: "hypersdk-snap", Namespace: "ns", UID: "earlier-uid",
				Annotations: map[string]string{ownerAnnotation: "snap", ownerUIDAnnotation: "uid-earlier"}},
			Spec:   snap.Spec,
			Status: &snapshotv1.VirtualMachineSnapshotStatus{Phase: snapshotv1.Succeeded, ReadyToUse: ptr.To(true)},
		}
		h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), earlier)
		key := h.create("snap", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationSnapshot, Snapshot: &v1alpha1.SnapshotSpec{}})
		op := h.until(key, 3, ended)
		if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "belongs to something else") {
			t.Fatalf("snapshot over an earlier operation's: %s %q, want Failed naming it", op.Status.Phase, op.Status.Message)
		}
	})
}

// TestExecutorLeavesAnothersObjectOfItsName: a VirtualMachineClone,
// VirtualMachineSnapshot or VirtualMachineRestore named as the operation
// would name its own, made by someone else, is neither taken for the
// operation's (its result is not this operation's) nor deleted by its
// clean-up: the operation fails naming it.
func TestExecutorLeavesAnothersObjectOfItsName(t *testing.T) {
	snap := &snapshotv1.VirtualMachineSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns", UID: "snap-uid"},
		Spec:       snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: "vm"}},
	}
	theirs := metav1.ObjectMeta{Name: "hypersdk-op", Namespace: "ns", UID: "theirs"}
	restore := completeRestore("hypersdk-op", "")
	restore.ObjectMeta = theirs
	clone := &clonev1.VirtualMachineClone{ObjectMeta: theirs, Status: clonev1.VirtualMachineCloneStatus{Phase: clonev1.Succeeded}}
	snapshot := snap.DeepCopy()
	snapshot.ObjectMeta = theirs
	snapshot.Status = &snapshotv1.VirtualMachineSnapshotStatus{Phase: snapshotv1.Succeeded, ReadyToUse: ptr.To(true)}
	for _, tc := range []struct {
		kind   string
		object runtime.Object
		spec   v1alpha1.VMOperationSpec
		get    func(h *harness) error
	}{
		{"VirtualMachineRestore", restore, restoreSpec(), func(h *harness) error {
			_, err := h.kv.SnapshotV1beta1().VirtualMachineRestores("ns").Get(h.ctx, "hypersdk-op", metav1.GetOptions{})
			return err
		}},
		{"VirtualMachineClone", clone, cloneSpec("copy", ""), func(h *harness) error {
			_, err := h.kv.CloneV1beta1().VirtualMachineClones("ns").Get(h.ctx, "hypersdk-op", metav1.GetOptions{})
			return err
		}},
		{"VirtualMachineSnapshot", snapshot, cloneSpec("copy", "other"), func(h *harness) error {
			_, err := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns").Get(h.ctx, "hypersdk-op", metav1.GetOptions{})
			return err
		}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted), snap, tc.object)
			if _, err := h.kube.CoreV1().Namespaces().Create(h.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			key := h.create("op", "vm", tc.spec)
			op := h.until(key, 6, ended)
			if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, tc.kind+" hypersdk-op already exists") {
				t.Fatalf("operation over another's %s ended %s %q, want Failed naming it", tc.kind, op.Status.Phase, op.Status.Message)
			}
			h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true }) // the pass after the end cleans up
			if err := tc.get(h); err != nil {
				t.Fatalf("another's %s after the operation's clean-up: %v", tc.kind, err)
			}
		})
	}
}

// TestExecutorRestartNeedsAVMThatComesBack: KubeVirt starts a Manual (or
// Once, or RerunOnFailure) VM's deleted instance no more, so the executor
// refuses to restart it that way, and a VM stopped while it restarted ends
// the operation instead of keeping it waiting.
func TestExecutorRestartNeedsAVMThatComesBack(t *testing.T) {
	restart := v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationRestart, Restart: &v1alpha1.RestartSpec{}}
	for _, s := range []kvv1.VirtualMachineRunStrategy{kvv1.RunStrategyManual, kvv1.RunStrategyOnce, kvv1.RunStrategyRerunOnFailure} {
		h := newHarness(t, ExecutorConfig{}, testVM("vm", s), testVMI("vm", "node-a", "vmi-1"))
		op := h.until(h.create("restart", "vm", restart), 3, ended)
		if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, string(s)) {
			t.Errorf("restart of a %s VM ended %s %q, want Failed naming %s", s, op.Status.Phase, op.Status.Message, s)
		}
		if _, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{}); err != nil {
			t.Errorf("the %s VM's instance after the refused restart: %v", s, err)
		}
	}

	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("restart", "vm", restart)
	h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "stopping the old instance" })
	if err := h.e.setRunStrategy(h.ctx, "ns", "vm", kvv1.RunStrategyHalted); err != nil {
		t.Fatal(err)
	}
	if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "stopped while it restarted") {
		t.Fatalf("restart of a VM stopped meanwhile ended %s %q", op.Status.Phase, op.Status.Message)
	}
}

// resizeTo4ByRestart resizes to 4 CPUs, restarting if it must.
func resizeTo4ByRestart() v1alpha1.VMOperationSpec {
	return v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationResize,
		Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](4), RestartPolicy: v1alpha1.ResizeRestartIfNeeded}}
}

// restartingToResize is resizeTo4ByRestart of running VM "vm" (no hotplug
// bounds), past the deletion of its old instance.
func restartingToResize(t *testing.T) (*harness, cache.ObjectName) {
	t.Helper()
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("resize", "vm", resizeTo4ByRestart())
	h.until(key, 5, func(*v1alpha1.VMOperation) bool {
		_, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	return h, key
}

// TestExecutorResizeByRestart: a resize that restarts the VM ends when the
// new instance runs at the new size, not in the moment between the old
// instance and the new; a VM that would not come back is not touched.
func TestExecutorResizeByRestart(t *testing.T) {
	resize := resizeTo4ByRestart()
	h, key := restartingToResize(t)
	for i := 0; i < 2; i++ {
		if op, err := h.pass(key); err != nil || op.Status.Phase.Final() {
			t.Fatalf("pass %d with no instance: %v %s %q, want still running", i, err, op.Status.Phase, op.Status.Message)
		}
	}
	vmi := testVMI("vm", "node-b", "vmi-2")
	vmi.Spec.Domain.CPU = &kvv1.CPU{Sockets: 4, Cores: 1, Threads: 1}
	h.setVMI(vmi)
	if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Message != "resized with a restart" {
		t.Fatalf("resize ended %s %q", op.Status.Phase, op.Status.Message)
	}

	h = newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyManual), testVMI("vm", "node-a", "vmi-1"))
	op := h.until(h.create("resize", "vm", resize), 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "Manual") {
		t.Fatalf("resize of a Manual VM by restart ended %s %q, want Failed naming Manual", op.Status.Phase, op.Status.Message)
	}
	vm, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil || vm.Spec.Template.Spec.Domain.CPU.Sockets != 1 {
		t.Fatalf("the Manual VM after the refused resize: %v, sockets %d, want 1", err, vm.Spec.Template.Spec.Domain.CPU.Sockets)
	}
}

// TestExecutorResizeThatDoesNotRun: a resize by restart whose instance at
// the new size does not run fails after runTimeout, and its clean-up gives
// the VM its size back and has the instance made again at that size,
// rather than leave the VM down.
func TestExecutorResizeThatDoesNotRun(t *testing.T) {
	h, key := restartingToResize(t)
	big := pendingVMI("vmi-2", "")
	big.Spec.Domain.CPU = &kvv1.CPU{Sockets: 4, Cores: 1, Threads: 1}
	h.setVMI(big)
	if op, err := h.pass(key); err != nil || op.Status.Phase != v1alpha1.VMOperationRunning {
		t.Fatalf("resize with its instance scheduling: %v %s %q, want Running", err, op.Status.Phase, op.Status.Message)
	}
	h.clock.Step(runTimeout + time.Second)
	op := h.until(key, 1, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "did not run at its new size within") {
		t.Fatalf("resize past its timeout: %s %q, want Failed", op.Status.Phase, op.Status.Message)
	}
	op = h.until(key, 2, func(op *v1alpha1.VMOperation) bool {
		return meta.IsStatusConditionTrue(op.Status.Conditions, conditionCleanedUp)
	})
	vm, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil || vm.Spec.Template.Spec.Domain.CPU.Sockets != 1 {
		t.Fatalf("VM after the resize timed out: %v, sockets %d, want 1 as before", err, vm.Spec.Template.Spec.Domain.CPU.Sockets)
	}
	if _, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the instance at the new size after the clean-up: %v, want it deleted to be made again (%+v)", err,
			meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp))
	}
}

// TestExecutorResizeOfAVMFlaggedBefore: a VM flagged RestartRequired for an
// earlier change is not taken to have refused a live resize: the resize
// waits for the hotplug (the instance is not replaced), succeeds once the
// guest has its size, and fails after runTimeout if it never does.
func TestExecutorResizeOfAVMFlaggedBefore(t *testing.T) {
	for _, hotplugged := range []bool{true, false} {
		vm := testVM("vm", kvv1.RunStrategyAlways)
		vm.Spec.Template.Spec.Domain.CPU = &kvv1.CPU{Sockets: 2, Cores: 1, Threads: 1, MaxSockets: 8}
		vm.Status.Conditions = []kvv1.VirtualMachineCondition{{Type: kvv1.VirtualMachineRestartRequired, Status: corev1.ConditionTrue}}
		h := newHarness(t, ExecutorConfig{}, vm, testVMI("vm", "node-a", "vmi-1"))
		key := h.create("resize", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationResize,
			Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](4), RestartPolicy: v1alpha1.ResizeRestartIfNeeded}})
		op := h.until(key, 5, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "hotplugging" })
		if ref := recorded(op, "VirtualMachineInstance", "replaced"); ref != nil {
			t.Fatalf("hotplugged %v: the instance is to be replaced (%+v), want the hotplug waited for", hotplugged, ref)
		}
		if hotplugged {
			vmi := testVMI("vm", "node-a", "vmi-1")
			vmi.Status.CurrentCPUTopology = &kvv1.CPUTopology{Sockets: 4, Cores: 1, Threads: 1}
			h.setVMI(vmi)
			if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationSucceeded {
				t.Errorf("hotplugged: resize ended %s %q, want Succeeded", op.Status.Phase, op.Status.Message)
			}
			continue
		}
		h.clock.Step(runTimeout + time.Second)
		if op := h.until(key, 1, ended); op.Status.Phase != v1alpha1.VMOperationFailed {
			t.Errorf("never hotplugged: resize ended %s %q, want Failed", op.Status.Phase, op.Status.Message)
		}
	}
}

// TestOperationsRunInTheOrderMade: two operations on a VM made in the same
// second run in the order the API server stamped, whatever their names.
func TestOperationsRunInTheOrderMade(t *testing.T) {
	second := metav1.NewTime(time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC))
	op := func(name, at string) *v1alpha1.VMOperation {
		return &v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: second,
			Annotations: map[string]string{CreatedAtAnnotation: at}}}
	}
	first, then := op("resize-zz", "2026-12-07T02:00:00.1Z"), op("resize-aa", "2026-12-07T02:00:00.9Z")
	if !before(first, then) || before(then, first) {
		t.Errorf("the one made first (named after) does not come first")
	}
	// Made before the stamp existed: creation, then name.
	if old := op("resize-00", ""); !before(old, first) {
		t.Errorf("without a stamp, the name does not decide a tie")
	}
}

// TestExecutorStopThatDoesNotEnd: a stop whose instance never goes (its
// node is gone, say) fails after runTimeout, the VM left Halted, so the
// operations behind it on the VM do not wait for ever.
func TestExecutorStopThatDoesNotEnd(t *testing.T) {
	stuck := testVMI("vm", "node-a", "vmi-1")
	stuck.DeletionTimestamp, stuck.Finalizers = ptr.To(metav1.NewTime(time.Now())), []string{"kubevirt.io/virtualMachineControllerFinalize"}
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), stuck)
	key := h.create("stop", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStop, Stop: &v1alpha1.StopSpec{}})
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "stopping the instance" })
	h.clock.Step(runTimeout + time.Second)
	op := h.until(key, 1, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "did not stop within") {
		t.Fatalf("stop past its timeout: %s %q, want Failed", op.Status.Phase, op.Status.Message)
	}
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyHalted {
		t.Errorf("run strategy after the stop timed out %s, want Halted", got)
	}
}

// TestExecutorOneOperationAtATimePerVM: an operation waits, Pending, while
// an earlier one on its VM has not ended, and starts once it has;
// operations on other VMs do not wait.
func TestExecutorOneOperationAtATimePerVM(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"),
		testVM("other", kvv1.RunStrategyHalted))
	restart := h.create("restart", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationRestart, Restart: &v1alpha1.RestartSpec{}})
	h.clock.Step(time.Second)
	stop := h.create("stop", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStop, Stop: &v1alpha1.StopSpec{}})
	start := h.create("start", "other", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart, Start: &v1alpha1.StartSpec{}})
	// The later one is looked at first: it still waits for the earlier.
	for i := 0; i < 2; i++ {
		if op, err := h.pass(stop); err != nil || op.Status.Phase != v1alpha1.VMOperationPending || !strings.Contains(op.Status.Message, "restart") {
			t.Fatalf("stop pass %d while a restart of its VM is pending: %v %s %q", i, err, op.Status.Phase, op.Status.Message)
		}
	}
	h.until(start, 1, phaseIs(v1alpha1.VMOperationRunning))
	h.until(restart, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "stopping the old instance" })
	if op, err := h.pass(stop); err != nil || op.Status.Phase != v1alpha1.VMOperationPending {
		t.Fatalf("stop while the restart runs: %v %s %q", err, op.Status.Phase, op.Status.Message)
	}
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyAlways {
		t.Fatalf("the waiting stop acted: run strategy %s", got)
	}
	h.setVMI(testVMI("vm", "node-b", "vmi-2"))
	h.until(restart, 2, ended)
	// Then the stop acts.
	h.until(stop, 3, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyHalted })
}

// TestExecutorRestoreIntoANewVMReservesItsName: KubeVirt restores onto a VM
// of the target name when there is one, so a restore into a new VM claims
// the name as a clone does: a second operation making that name fails with
// a conflict, and a name taken meanwhile fails the restore before it is made.
func TestExecutorRestoreIntoANewVMReservesItsName(t *testing.T) {
	into := func(vm string) v1alpha1.VMOperationSpec {
		return v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationRestore, Restore: &v1alpha1.RestoreSpec{SnapshotName: "snap-" + vm, TargetName: "copy"}}
	}
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted), testVM("vm2", kvv1.RunStrategyHalted))
	first := h.create("first", "vm", into("vm"))
	second := h.create("second", "vm2", into("vm2"))
	h.until(first, 2, func(op *v1alpha1.VMOperation) bool { return recorded(op, "VirtualMachine", "target") != nil })
	op := h.until(second, 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "ns/first is already restoring") {
		t.Fatalf("second restore to the same name ended %s %q", op.Status.Phase, op.Status.Message)
	}

	h = newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted), testVM("copy", kvv1.RunStrategyHalted))
	op = h.until(h.create("late", "vm", into("vm")), 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "already exists") {
		t.Fatalf("restore onto a name taken since admission ended %s %q", op.Status.Phase, op.Status.Message)
	}
	if list, err := h.kv.SnapshotV1beta1().VirtualMachineRestores("ns").List(h.ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Fatalf("restores made: %v %v, want none", err, list)
	}
}

// TestExecutorFailedResizeGivesTheSizeBack: a resize that fails after it
// changed the VM (the cluster could not hotplug, and restartPolicy is
// Never) leaves the VM at its size from before, guest memory and memory
// request included; one changed since is left alone.
func TestExecutorFailedResizeGivesTheSizeBack(t *testing.T) {
	for _, changedSince := range []bool{false, true} {
		vm := testVM("vm", kvv1.RunStrategyAlways)
		dom := &vm.Spec.Template.Spec.Domain
		dom.CPU = &kvv1.CPU{Sockets: 2, Cores: 1, Threads: 1, MaxSockets: 8}
		dom.Memory = &kvv1.Memory{Guest: ptr.To(resource.MustParse("2Gi")), MaxGuest: ptr.To(resource.MustParse("8Gi"))}
		dom.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}
		h := newHarness(t, ExecutorConfig{}, vm, testVMI("vm", "node-a", "vmi-1"))
		key := h.create("resize", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationResize,
			Resize: &v1alpha1.ResizeSpec{CPUs: ptr.To[int32](4), Memory: ptr.To(resource.MustParse("4Gi")), RestartPolicy: v1alpha1.ResizeRestartNever}})
		h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return recorded(op, "VirtualMachine", "resized") != nil })
		got, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
		if err != nil || got.Spec.Template.Spec.Domain.CPU.Sockets != 4 {
			t.Fatalf("VM after the resize was applied: %v %+v", err, got.Spec.Template.Spec.Domain.CPU)
		}
		got.Status.Conditions = []kvv1.VirtualMachineCondition{{Type: kvv1.VirtualMachineRestartRequired, Status: corev1.ConditionTrue}}
		if changedSince {
			got.Spec.Template.Spec.Domain.CPU.Sockets = 6
		}
		if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Update(h.ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationFailed {
			t.Fatalf("resize refused by the cluster ended %s %q", op.Status.Phase, op.Status.Message)
		}
		h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true }) // the clean-up pass
		got, err = h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d := got.Spec.Template.Spec.Domain
		want := "2/1/1/2Gi/2Gi"
		if changedSince {
			want = "6/1/1/4Gi/4Gi"
		}
		if size := formatSize(&d); size != want {
			t.Errorf("changed since %v: VM size after the failed resize %s, want %s", changedSince, size, want)
		}
	}
}

// TestExecutorColdMigrationThatCannotStart: a VM moved cold to a node it
// does not start on fails the operation after coldMigrationTimeout, and the
// clean-up takes the pin off (or gives back the one the VM's author had
// set) and starts the VM again, so it is not left down (holding a
// migration slot) for ever.
func TestExecutorColdMigrationThatCannotStart(t *testing.T) {
	for _, own := range []string{"", "node-a"} {
		t.Run("pinned to "+own, func(t *testing.T) { coldMigrationThatCannotStart(t, own) })
	}
}

func coldMigrationThatCannotStart(t *testing.T, own string) {
	h, key := coldMigration(t)
	if own != "" {
		vm, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		vm.Spec.Template.Spec.NodeSelector = map[string]string{hostnameLabel: own}
		if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Update(h.ctx, vm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.until(key, 6, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyHalted })
	if err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Delete(h.ctx, "vm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pinned := func() string {
		vm, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return vm.Spec.Template.Spec.NodeSelector[hostnameLabel]
	}
	h.until(key, 2, func(*v1alpha1.VMOperation) bool { return pinned() == "node-b" })
	h.setVMI(pendingVMI("vmi-2", "node-b"))
	if op, err := h.pass(key); err != nil || op.Status.Phase != v1alpha1.VMOperationRunning {
		t.Fatalf("waiting for the instance on node-b: %v %s %q", err, op.Status.Phase, op.Status.Message)
	}
	h.clock.Step(coldMigrationTimeout + time.Second)
	op := h.until(key, 1, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "did not start on node-b") {
		t.Fatalf("cold migration past its timeout ended %s %q", op.Status.Phase, op.Status.Message)
	}
	h.pass(key) // the clean-up pass: it waits for the instance, made again
	if p, s := pinned(), h.runStrategy("vm"); p != own || s != kvv1.RunStrategyAlways {
		t.Fatalf("after the clean-up the VM is pinned to %q and %s, want pinned to %q and Always", p, s, own)
	}
	if _, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the instance made pinned to node-b, which cannot start there, is still there (%v)", err)
	}
}

// TestExecutorColdMigrationKeepsItsAuthorsPin: a VM moved cold runs
// unpinned on its target, unless its author had pinned it: then it stays
// pinned, to the node it moved to.
func TestExecutorColdMigrationKeepsItsAuthorsPin(t *testing.T) {
	for own, want := range map[string]string{"": "", "node-a": "node-b"} {
		h, key := coldMigration(t)
		vms := h.kv.KubevirtV1().VirtualMachines("ns")
		if own != "" {
			vm, err := vms.Get(h.ctx, "vm", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			vm.Spec.Template.Spec.NodeSelector = map[string]string{hostnameLabel: own}
			if _, err := vms.Update(h.ctx, vm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		pinned := func() string {
			vm, err := vms.Get(h.ctx, "vm", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return vm.Spec.Template.Spec.NodeSelector[hostnameLabel]
		}
		h.until(key, 6, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyHalted })
		if err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Delete(h.ctx, "vm", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		h.until(key, 3, func(*v1alpha1.VMOperation) bool { return pinned() == "node-b" })
		h.setVMI(testVMI("vm", "node-b", "vmi-2"))
		if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationSucceeded {
			t.Fatalf("pinned to %q: cold migration ended %s %q", own, op.Status.Phase, op.Status.Message)
		}
		if p := pinned(); p != want {
			t.Errorf("VM pinned to %q before its cold migration: pinned to %q after, want %q", own, p, want)
		}
	}
}

// TestExecutorVMThatDoesNotStop: a restore in place or a cold migration
// whose VM's instance does not end (stuck on a node that is gone) fails
// after runTimeout instead of waiting for ever, and its clean-up asks for
// the VM to run again.
func TestExecutorVMThatDoesNotStop(t *testing.T) {
	snap := &snapshotv1.VirtualMachineSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns", UID: "snap-uid"},
		Spec:       snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: "vm"}},
	}
	for name, spec := range map[string]v1alpha1.VMOperationSpec{
		"restore": restoreSpec(),
		"cold":    {Type: v1alpha1.VMOperationMigrate, Migrate: &v1alpha1.MigrateSpec{TargetNode: "node-b", AllowColdMigration: true}},
	} {
		t.Run(name, func(t *testing.T) {
			vmi := testVMI("vm", "node-a", "vmi-1")
			vmi.Status.Conditions = []kvv1.VirtualMachineInstanceCondition{{Type: kvv1.VirtualMachineInstanceIsMigratable,
				Status: corev1.ConditionFalse, Reason: "DisksNotLiveMigratable"}}
			h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), vmi, snap)
			key := h.create(name, "vm", spec)
			h.until(key, 6, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyHalted })
			if op, err := h.pass(key); err != nil || op.Status.Phase.Final() {
				t.Fatalf("waiting for the VM to stop: %v %s %q", err, op.Status.Phase, op.Status.Message)
			}
			h.clock.Step(runTimeout + time.Second)
			op := h.until(key, 1, ended)
			if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "did not stop within") {
				t.Fatalf("%s of a VM that does not stop ended %s %q, want Failed saying so", name, op.Status.Phase, op.Status.Message)
			}
			h.pass(key) // the clean-up
			if s := h.runStrategy("vm"); s != kvv1.RunStrategyAlways {
				t.Fatalf("after the clean-up the VM runs under %s, want Always", s)
			}
		})
	}
	// A guest given half an hour to shut down is given it.
	vmi := testVMI("vm", "node-a", "vmi-1")
	vmi.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1800)
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), vmi, snap)
	key := h.create("restore", "vm", restoreSpec())
	h.until(key, 6, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyHalted })
	h.clock.Step(runTimeout + time.Second)
	if op, err := h.pass(key); err != nil || op.Status.Phase.Final() {
		t.Fatalf("within the guest's grace period: %v %s %q, want it still stopping", err, op.Status.Phase, op.Status.Message)
	}
	h.clock.Step(30 * time.Minute)
	if op := h.until(key, 1, ended); op.Status.Phase != v1alpha1.VMOperationFailed {
		t.Fatalf("past runTimeout and the grace period: %s %q, want Failed", op.Status.Phase, op.Status.Message)
	}
}

// pendingVMI is an instance of VM "vm" not (yet) running, pinned to node
// unless that is empty.
func pendingVMI(uid types.UID, node string) *kvv1.VirtualMachineInstance {
	vmi := testVMI("vm", "", uid)
	if node != "" {
		vmi.Spec.NodeSelector = map[string]string{hostnameLabel: node}
	}
	vmi.Status.Phase = kvv1.Scheduling
	return vmi
}

// coldMigration is a migration of running VM "vm", whose disks cannot move
// live, to node-b, cold migration allowed.
func coldMigration(t *testing.T) (*harness, cache.ObjectName) {
	t.Helper()
	vmi := testVMI("vm", "node-a", "vmi-1")
	vmi.Status.Conditions = []kvv1.VirtualMachineInstanceCondition{{Type: kvv1.VirtualMachineInstanceIsMigratable,
		Status: corev1.ConditionFalse, Reason: "DisksNotLiveMigratable"}}
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), vmi)
	key := h.create("cold", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationMigrate,
		Migrate: &v1alpha1.MigrateSpec{TargetNode: "node-b", AllowColdMigration: true}})
	return h, key
}

// TestExecutorColdMigrationOfAVMThatStopped: a VM whose guest shut down
// after its cold migration was admitted is not stopped and started again
// elsewhere: the migration fails, and the VM is left as it was.
func TestExecutorColdMigrationOfAVMThatStopped(t *testing.T) {
	for _, byItsUser := range []bool{false, true} {
		h, key := coldMigration(t)
		h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return recorded(op, "VirtualMachine", "cold") != nil })
		want := kvv1.RunStrategyAlways
		if byItsUser {
			want = kvv1.RunStrategyHalted
			if err := h.e.setRunStrategy(h.ctx, "ns", "vm", want); err != nil {
				t.Fatal(err)
			}
			if err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Delete(h.ctx, "vm", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		} else {
			vmi, err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Get(h.ctx, "vm", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			vmi.Status.Phase = kvv1.Succeeded // the guest shut down
			h.setVMI(vmi)
		}
		op := h.until(key, 4, ended)
		if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "stopped before its cold migration") {
			t.Fatalf("stopped by its user %v: cold migration ended %s %q, want Failed", byItsUser, op.Status.Phase, op.Status.Message)
		}
		h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true }) // the clean-up pass
		vm, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{})
		if err != nil || h.runStrategy("vm") != want || vm.Spec.Template.Spec.NodeSelector[hostnameLabel] != "" {
			t.Errorf("stopped by its user %v: VM after: %v, run strategy %s, node selector %v; want it as it was (%s)",
				byItsUser, err, h.runStrategy("vm"), vm.Spec.Template.Spec.NodeSelector, want)
		}
	}
}

// movingCold is a cold migration of VM "vm" to node-b, with finalizers on
// the operation, that has stopped the VM, pinned it and started it again
// there: KubeVirt has made no instance yet.
func movingCold(t *testing.T, finalizers []string) (*harness, cache.ObjectName) {
	t.Helper()
	h, key := coldMigration(t)
	if finalizers != nil {
		op := h.get(key)
		op.Finalizers = finalizers
		if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").Update(h.ctx, op, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		h.refresh()
	}
	h.until(key, 6, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyHalted })
	if err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Delete(h.ctx, "vm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.until(key, 2, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyAlways })
	return h, key
}

// TestExecutorColdMigrationCleanUpWaitsForKubeVirt: KubeVirt makes an
// instance from the VM as its informer last saw it, so after the clean-up
// unpinned the VM it may still make one pinned to a node it cannot start
// on. The clean-up is not done (nor the finalizer of a deleted operation
// taken off) until it sees an instance made without the pin, and it
// replaces the pinned ones meanwhile; it does not start the VM again if
// the user stops it while it waits.
func TestExecutorColdMigrationCleanUpWaitsForKubeVirt(t *testing.T) {
	h, key := movingCold(t, []string{Finalizer})
	vmis := h.kv.KubevirtV1().VirtualMachineInstances("ns")
	// Deleted before KubeVirt made the pinned instance.
	op := h.get(key)
	op.DeletionTimestamp = ptr.To(metav1.NewTime(h.clock.Now()))
	if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").Update(h.ctx, op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	h.until(key, 1, ended)
	waiting := func(what string) {
		t.Helper()
		op, err := h.pass(key)
		var w waitingError
		if !errors.As(err, &w) {
			t.Fatalf("%s: clean-up pass returned %v, want it waiting", what, err)
		}
		c := meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reasonWaiting || !slices.Contains(op.Finalizers, Finalizer) {
			t.Fatalf("%s: CleanedUp %+v, finalizers %v: want False %s and the finalizer kept", what, c, op.Finalizers, reasonWaiting)
		}
	}
	waiting("no instance yet")
	if vm, _ := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "vm", metav1.GetOptions{}); vm.Spec.Template.Spec.NodeSelector[hostnameLabel] != "" {
		t.Fatalf("VM still pinned: %v", vm.Spec.Template.Spec.NodeSelector)
	}
	h.setVMI(pendingVMI("vmi-2", "node-b")) // made from the pinned VM KubeVirt saw last
	waiting("a pinned instance")
	if _, err := vmis.Get(h.ctx, "vm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the pinned instance is still there (%v), want it deleted to be made again", err)
	}
	waiting("the instance not made again yet")
	// Made pinned again, and LiveUpdate took the pin off its spec, not off
	// its launcher pod.
	h.setVMI(pendingVMI("vmi-3", ""))
	h.launcherPod("vmi-3", "node-b")
	waiting("an instance whose pod is pinned")
	if _, err := vmis.Get(h.ctx, "vm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the instance whose pod is pinned is still there (%v), want it deleted to be made again", err)
	}
	h.setVMI(pendingVMI("vmi-4", "")) // made again, without the pin
	waiting("no launcher pod yet")
	h.launcherPod("vmi-4", "")
	op, err := h.pass(key)
	if err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("CleanedUp %+v once the instance is made unpinned, want True", c)
	}
	h.until(key, 2, func(op *v1alpha1.VMOperation) bool { return op == nil || !slices.Contains(op.Finalizers, Finalizer) })
}

// launcherPod stores a virt-launcher pod of instance uid, pinned to node
// unless that is empty.
func (h *harness) launcherPod(uid types.UID, node string) {
	h.t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "virt-launcher-" + string(uid), Namespace: "ns",
		Labels: map[string]string{kubevirt.CreatedByLabel: string(uid)}}}
	if node != "" {
		pod.Spec.NodeSelector = map[string]string{hostnameLabel: node}
	}
	if _, err := h.kube.CoreV1().Pods("ns").Create(h.ctx, pod, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// TestExecutorColdMigrationCleanUpGivesUp: a clean-up that waits for an
// instance KubeVirt does not make is done after coldMigrationTimeout, and
// says it gave up, so a deleted operation does not stay for ever.
func TestExecutorColdMigrationCleanUpGivesUp(t *testing.T) {
	h, key := movingCold(t, nil)
	h.cancelOp(key)
	h.until(key, 1, ended)
	if _, err := h.pass(key); err == nil {
		t.Fatal("clean-up done with no instance made, want it waiting")
	}
	h.clock.Step(coldMigrationTimeout + time.Second)
	op, err := h.pass(key)
	if err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "gave up") {
		t.Errorf("CleanedUp %+v after waiting longer than %s, want True saying it gave up", c, coldMigrationTimeout)
	}
}

// TestExecutorColdMigrationCleanUpLeavesAVMStoppedMeanwhile: the clean-up
// starts the VM it stopped once; a user who stops it while the clean-up
// waits for its instance has it stopped, and the clean-up is done.
func TestExecutorColdMigrationCleanUpLeavesAVMStoppedMeanwhile(t *testing.T) {
	h, key := movingCold(t, nil)
	h.cancelOp(key)
	h.until(key, 1, ended)
	if _, err := h.pass(key); err == nil {
		t.Fatal("clean-up done with no instance made, want it waiting")
	}
	vms := h.kv.KubevirtV1().VirtualMachines("ns")
	vm, err := vms.Get(h.ctx, "vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	if _, err := vms.Update(h.ctx, vm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	op, err := h.pass(key)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyHalted {
		t.Errorf("VM stopped by its user while the clean-up waited is %s, want Halted", got)
	}
	if c := meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("CleanedUp %+v, want True", c)
	}
}

// TestExecutorRestoreGivesTheRunStrategyBack: a Manual VM that a restore in
// place stopped is started under Always, and once it runs it is Manual
// again, as it was.
func TestExecutorRestoreGivesTheRunStrategyBack(t *testing.T) {
	snap := &snapshotv1.VirtualMachineSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns", UID: "snap-uid"},
		Spec:       snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: "vm"}},
	}
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyManual), testVMI("vm", "node-a", "vmi-1"), snap)
	key := h.create("restore", "vm", restoreSpec())
	h.until(key, 4, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyHalted })
	if err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Delete(h.ctx, "vm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	restores := h.kv.SnapshotV1beta1().VirtualMachineRestores("ns")
	h.until(key, 4, func(*v1alpha1.VMOperation) bool {
		_, err := restores.Get(h.ctx, "hypersdk-restore", metav1.GetOptions{})
		return err == nil
	})
	r, _ := restores.Get(h.ctx, "hypersdk-restore", metav1.GetOptions{})
	r.Status = &snapshotv1.VirtualMachineRestoreStatus{Complete: ptr.To(true)}
	if _, err := restores.Update(h.ctx, r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.until(key, 2, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyAlways })
	h.setVMI(testVMI("vm", "node-a", "vmi-2"))
	if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationSucceeded {
		t.Fatalf("restore ended %s %q", op.Status.Phase, op.Status.Message)
	}
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyManual {
		t.Fatalf("run strategy after the restore %s, want Manual as before", got)
	}
}

// TestExecutorCancelledRestoreGivesTheRunStrategyBack: a Manual VM that a
// cancelled restore in place had stopped is started again under Always by
// the clean-up, which gives it Manual back once it runs; and a VM stopped
// by its user while the clean-up waits stays stopped.
func TestExecutorCancelledRestoreGivesTheRunStrategyBack(t *testing.T) {
	snap := &snapshotv1.VirtualMachineSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns", UID: "snap-uid"},
		Spec:       snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: "vm"}},
	}
	for _, stopMeanwhile := range []bool{false, true} {
		h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyManual), testVMI("vm", "node-a", "vmi-1"), snap)
		key := h.create("restore", "vm", restoreSpec())
		h.until(key, 4, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyHalted })
		if err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Delete(h.ctx, "vm", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		h.cancelOp(key)
		h.until(key, 1, ended)
		var w waitingError
		if op, err := h.pass(key); !errors.As(err, &w) {
			t.Fatalf("clean-up pass returned %v (%+v), want it waiting", err, op.Status)
		}
		if got := h.runStrategy("vm"); got != kvv1.RunStrategyAlways {
			t.Fatalf("run strategy while the clean-up waits %s, want Always to start it", got)
		}
		want := kvv1.RunStrategyManual
		if stopMeanwhile {
			if err := h.e.setRunStrategy(h.ctx, "ns", "vm", kvv1.RunStrategyHalted); err != nil {
				t.Fatal(err)
			}
			want = kvv1.RunStrategyHalted
		} else {
			h.setVMI(testVMI("vm", "node-a", "vmi-2"))
		}
		op, err := h.pass(key)
		if err != nil || !meta.IsStatusConditionTrue(op.Status.Conditions, conditionCleanedUp) {
			t.Fatalf("stopped meanwhile %v: clean-up pass %v, %+v; want it done", stopMeanwhile, err, op.Status.Conditions)
		}
		if got := h.runStrategy("vm"); got != want {
			t.Errorf("stopped meanwhile %v: run strategy after the clean-up %s, want %s (%+v)", stopMeanwhile, got, want,
				meta.FindStatusCondition(op.Status.Conditions, conditionCleanedUp))
		}
	}
}

// TestExecutorDeletedWhileRunning: an operation deleted while it ran (its
// finalizer holds the object) is cancelled, its clean-up undoes what it
// did (a restore in place starts the VM it stopped), and only then is the
// finalizer taken off.
func TestExecutorDeletedWhileRunning(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("restore", "vm", restoreSpec())
	op := h.get(key)
	op.Finalizers = []string{Finalizer, "example.com/other"}
	if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").Update(h.ctx, op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	h.until(key, 4, func(*v1alpha1.VMOperation) bool { return h.runStrategy("vm") == kvv1.RunStrategyHalted })
	op = h.get(key)
	op.DeletionTimestamp = ptr.To(metav1.NewTime(h.clock.Now()))
	if _, err := h.hyper.HypersdkV1alpha1().VMOperations("ns").Update(h.ctx, op, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	op = h.until(key, 2, ended)
	if op.Status.Phase != v1alpha1.VMOperationCancelled || !strings.Contains(op.Status.Message, "deleted") {
		t.Fatalf("deleted while running: %s %q, want Cancelled", op.Status.Phase, op.Status.Message)
	}
	op = h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return !slices.Contains(op.Finalizers, Finalizer) })
	if got := h.runStrategy("vm"); got != kvv1.RunStrategyAlways {
		t.Errorf("the VM the deleted restore stopped is %s, want started again", got)
	}
	if !slices.Contains(op.Finalizers, "example.com/other") {
		t.Errorf("finalizers %v: another's was taken off too", op.Finalizers)
	}
}

// cleanUp runs the passes after an operation's end that clean up after it.
func (h *harness) cleanUp(key cache.ObjectName) {
	h.t.Helper()
	for range 3 {
		if _, err := h.pass(key); err != nil {
			h.t.Fatal(err)
		}
	}
}

// cancelOp sets spec.cancel, as a user would.
func (h *harness) cancelOp(key cache.ObjectName) {
	h.t.Helper()
	op := h.get(key)
	op.Spec.Cancel = true
	if _, err := h.hyper.HypersdkV1alpha1().VMOperations(key.Namespace).Update(h.ctx, op, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.refresh()
}

// madeByRestore is a stopped VM as KubeVirt's restore controller makes it,
// marked with the restore's name and UID.
func madeByRestore(name, restore string, uid types.UID) *kvv1.VirtualMachine {
	vm := testVM(name, kvv1.RunStrategyHalted)
	vm.Annotations = map[string]string{kubevirt.LastRestoreAnnotation: kubevirt.RestoreMark(restore, uid)}
	return vm
}

// TestExecutorCancelledCopyIsDeleted: a clone within the namespace, or a
// restore into a new VM, cancelled after KubeVirt made the new VM but
// before the operation recorded it, deletes that VM; a VM of that name that
// another restore made is left alone.
func TestExecutorCancelledCopyIsDeleted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restore string // the restore that made the VM called copy
		deletes bool
	}{
		{"the clone's restore made it", "tmp-restore-c1", true},
		{"another restore made it", "tmp-restore-c2", false},
	} {
		t.Run("clone: "+tc.name, func(t *testing.T) {
			h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
			key := h.create("clone", "vm", cloneSpec("copy", ""))
			h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "clone requested" })
			clones := h.kv.CloneV1beta1().VirtualMachineClones("ns")
			c, err := clones.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c.Status = clonev1.VirtualMachineCloneStatus{Phase: clonev1.RestoreInProgress, RestoreName: ptr.To("tmp-restore-c1")}
			if _, err := clones.Update(h.ctx, c, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Create(h.ctx, madeByRestore("copy", tc.restore, "r-1"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			h.cancelOp(key)
			if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationCancelled {
				t.Fatalf("clone ended %s %q", op.Status.Phase, op.Status.Message)
			}
			h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true }) // the pass after the end cleans up
			if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "copy", metav1.GetOptions{}); apierrors.IsNotFound(err) != tc.deletes {
				t.Errorf("the VM called copy after the clone was cancelled: %v, want deleted %v", err, tc.deletes)
			}
			if _, err := clones.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("VirtualMachineClone left: %v", err)
			}
		})
	}

	// Cancelled while KubeVirt's restore is still to make the VM: the
	// clean-up waits for it, then deletes it and the clone, rather than
	// delete the clone first and leave the VM its restore goes on to make.
	t.Run("clone: its restore makes it after the cancel", func(t *testing.T) {
		h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
		key := h.create("clone", "vm", cloneSpec("copy", ""))
		h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "clone requested" })
		clones := h.kv.CloneV1beta1().VirtualMachineClones("ns")
		setPhase := func(phase clonev1.VirtualMachineClonePhase) {
			c, err := clones.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c.Status = clonev1.VirtualMachineCloneStatus{Phase: phase, RestoreName: ptr.To("tmp-restore-c1")}
			if _, err := clones.Update(h.ctx, c, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		setPhase(clonev1.RestoreInProgress)
		h.cancelOp(key)
		h.until(key, 2, ended)
		for range 2 {
			h.pass(key) // waits, an error for the queue's backoff
		}
		if _, err := clones.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{}); err != nil {
			t.Fatalf("VirtualMachineClone while its restore runs: %v, want it kept", err)
		}
		if cond := meta.FindStatusCondition(h.get(key).Status.Conditions, conditionCleanedUp); cond == nil || cond.Reason != reasonWaiting {
			t.Fatalf("clean-up %+v, want it waiting for KubeVirt", cond)
		}
		// The name stays the cancelled clone's, also across a restart: the VM
		// its restore makes there is the clean-up's to delete.
		other := cache.ObjectName{Namespace: "ns", Name: "other"}
		if holder, ok := h.e.reserved.target(other, "ns", "copy"); ok || holder != key {
			t.Errorf("name copy while the cancelled clone cleans up: granted to another %v (held by %v)", ok, holder)
		}
		restarted := newHarness(t, ExecutorConfig{})
		all, _ := h.e.opLister.List(labels.Everything())
		restarted.e.reserved.seed(all)
		if _, ok := restarted.e.reserved.target(other, "ns", "copy"); ok {
			t.Error("name copy granted to another after a restart while the cancelled clone cleans up")
		}
		if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Create(h.ctx, madeByRestore("copy", "tmp-restore-c1", "r-1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setPhase(clonev1.Succeeded)
		h.cleanUp(key)
		if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "copy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the VM the cancelled clone's restore made: %v, want it deleted", err)
		}
		if _, err := clones.Get(h.ctx, "hypersdk-clone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("VirtualMachineClone left: %v", err)
		}
		if _, ok := h.e.reserved.target(other, "ns", "copy"); !ok {
			t.Error("name copy still held once the cancelled clone cleaned up")
		}
	})

	for _, tc := range []struct {
		name    string
		uid     types.UID // of the restore that made the VM called copy
		deletes bool
	}{
		{"its restore made it", "r-1", true},
		{"an earlier restore of the same name made it", "r-0", false},
	} {
		t.Run("restore into a new VM: "+tc.name, func(t *testing.T) {
			h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyHalted))
			if _, err := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns").Create(h.ctx, &snapshotv1.VirtualMachineSnapshot{
				ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: "ns"},
				Spec: snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{
					APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: "vm"}},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			spec := restoreSpec()
			spec.Restore.TargetName = "copy"
			key := h.create("restore", "vm", spec)
			h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "restore requested" })
			restores := h.kv.SnapshotV1beta1().VirtualMachineRestores("ns")
			r, err := restores.Get(h.ctx, "hypersdk-restore", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r.UID = "r-1" // the fake gives none
			if _, err := restores.Update(h.ctx, r, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			h.until(key, 1, func(op *v1alpha1.VMOperation) bool {
				ref := recorded(op, "VirtualMachineRestore", roleTemporary)
				return ref != nil && ref.UID == "r-1"
			})
			if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Create(h.ctx, madeByRestore("copy", "hypersdk-restore", tc.uid), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			h.cancelOp(key)
			if op := h.until(key, 2, ended); op.Status.Phase != v1alpha1.VMOperationCancelled {
				t.Fatalf("restore ended %s %q", op.Status.Phase, op.Status.Message)
			}
			h.until(key, 1, func(*v1alpha1.VMOperation) bool { return true })
			if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "copy", metav1.GetOptions{}); apierrors.IsNotFound(err) != tc.deletes {
				t.Errorf("the VM called copy after the restore was cancelled: %v, want deleted %v", err, tc.deletes)
			}
		})
	}
}

// TestRunTimeoutCountsTheGracePeriod: a stop or a restart that gives the
// guest an hour to shut down is not failed after a quarter of it.
func TestRunTimeoutCountsTheGracePeriod(t *testing.T) {
	hour := ptr.To[int64](3600)
	for _, spec := range []v1alpha1.VMOperationSpec{
		{Type: v1alpha1.VMOperationStop, Stop: &v1alpha1.StopSpec{GracePeriodSeconds: hour}},
		{Type: v1alpha1.VMOperationRestart, Restart: &v1alpha1.RestartSpec{GracePeriodSeconds: hour}},
	} {
		if got := runTimeoutOf(&v1alpha1.VMOperation{Spec: spec}); got != runTimeout+time.Hour {
			t.Errorf("%s with an hour's grace period: timeout %s, want %s", spec.Type, got, runTimeout+time.Hour)
		}
	}
}
