package rebalance

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
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// TestFlightsCountEveryMigration: another policy's migration and one a
// person asked for are in flight for the policy being planned as much as
// its own, though its status counts only its own; and a migration anyone
// made lately puts the VM on the policy's cooldown.
func TestFlightsCountEveryMigration(t *testing.T) {
	vmi := func(name, node string) kvv1.VirtualMachineInstance {
		return kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Status: kvv1.VirtualMachineInstanceStatus{NodeName: node}}
	}
	migrate := func(vm, policy string, phase v1alpha1.VMOperationPhase, ended time.Time) v1alpha1.VMOperation {
		op := v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: vm + "-" + policy},
			Spec:   v1alpha1.VMOperationSpec{VMName: vm, Type: v1alpha1.VMOperationMigrate, Migrate: &v1alpha1.MigrateSpec{TargetNode: "n2"}},
			Status: v1alpha1.VMOperationStatus{Phase: phase}}
		if policy != "" {
			op.Labels = map[string]string{LabelPolicy: policy}
		}
		if !ended.IsZero() {
			op.Status.CompletionTime = &metav1.Time{Time: ended}
		}
		return op
	}
	cl := &cluster{vmis: []kvv1.VirtualMachineInstance{vmi("a", "n1"), vmi("b", "n1"), vmi("c", "n2"), vmi("d", "n1")},
		migrations: []v1alpha1.VMOperation{
			migrate("a", "other", v1alpha1.VMOperationPending, time.Time{}),
			migrate("b", "", v1alpha1.VMOperationRunning, time.Time{}),
			migrate("c", "", v1alpha1.VMOperationSucceeded, now.Add(-10*time.Minute)),
			migrate("d", "mine", v1alpha1.VMOperationRunning, time.Time{}),
		},
		// b's target pod is bound to n2 already.
		boundTo: map[string][]string{"ns/b": {"n1", "n2"}, "ns/d": {"n1"}}}
	p := &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "mine"}, Spec: *spec()}
	in := &Input{Now: now}
	for _, name := range []string{"a", "b", "c", "d"} {
		in.VMs = append(in.VMs, vm(name, cl.vmis[0].Status.NodeName, 2, 1, 1))
	}
	flights(p, cl, in)
	want := map[string]Flight{
		"a": {Namespace: "ns", VMName: "a", From: "n1", To: "n2"},
		"b": {Namespace: "ns", VMName: "b", From: "n1", To: "n2", Booked: true},
		"d": {Namespace: "ns", VMName: "d", From: "n1", To: "n2", Own: true},
	}
	if len(in.InFlight) != len(want) {
		t.Errorf("in flight %+v, want a, b and d", in.InFlight)
	}
	for _, f := range in.InFlight {
		if f != want[f.VMName] {
			t.Errorf("flight %+v, want %+v", f, want[f.VMName])
		}
	}
	if got, wantUntil := in.VMs[2].CooldownUntil, now.Add(50*time.Minute); !got.Equal(wantUntil) {
		t.Errorf("c cools down until %v, want %v: an hour after the migration a person made", got, wantUntil)
	}
}

// TestFlightsCountKubeVirtsOwnMigrations: a migration made in KubeVirt
// directly (virtctl migrate, a drain's evictions) is in flight, and puts
// its VM on a cooldown once ended, as an operation's does.
func TestFlightsCountKubeVirtsOwnMigrations(t *testing.T) {
	migrating := func(name string, started time.Time, ended *time.Time) kvv1.VirtualMachineInstance {
		ms := &kvv1.VirtualMachineInstanceMigrationState{StartTimestamp: &metav1.Time{Time: started}, SourceNode: "n1", TargetNode: "n3"}
		if ended != nil {
			ms.Completed, ms.EndTimestamp = true, &metav1.Time{Time: *ended}
		}
		return kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Status: kvv1.VirtualMachineInstanceStatus{NodeName: "n1", MigrationState: ms}}
	}
	ended := now.Add(-10 * time.Minute)
	// A failed migration has an end time; Completed or not (the
	// sandbox's simulator leaves it unset), it is no longer moving.
	failedOne := migrating("failed", now.Add(-20*time.Minute), nil)
	failedOne.Status.MigrationState.Failed, failedOne.Status.MigrationState.EndTimestamp = true, &metav1.Time{Time: ended}
	cl := &cluster{vmis: []kvv1.VirtualMachineInstance{migrating("moving", now.Add(-time.Minute), nil), migrating("moved", now.Add(-20*time.Minute), &ended),
		failedOne}}
	p := &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "mine"}, Spec: *spec()}
	in := &Input{Now: now, VMs: []VM{vm("moving", "n1", 2, 1, 1), vm("moved", "n3", 2, 1, 1), vm("failed", "n1", 2, 1, 1)}}
	flights(p, cl, in)
	if want := ended.Add(failureBackoff); !in.VMs[2].BackoffUntil.Equal(want) {
		t.Errorf("failed backs off until %v, want %v", in.VMs[2].BackoffUntil, want)
	}
	if want := (Flight{Namespace: "ns", VMName: "moving", From: "n1", To: "n3"}); len(in.InFlight) != 1 || in.InFlight[0] != want {
		t.Errorf("in flight %+v, want %+v", in.InFlight, want)
	}
	if got, want := in.VMs[1].CooldownUntil, ended.Add(time.Hour); !got.Equal(want) {
		t.Errorf("moved cools down until %v, want %v", got, want)
	}

	// A migration KubeVirt holds back (its instance does not say it moves
	// yet) takes its source's slot; a Migrate operation that named no
	// target takes the slot of the node KubeVirt chose.
	queued := kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "queued"},
		Status: kvv1.VirtualMachineInstanceStatus{NodeName: "n2"}}
	asked := migrating("asked", now.Add(-time.Minute), nil)
	cl = &cluster{vmis: []kvv1.VirtualMachineInstance{queued, asked},
		pending: []kvv1.VirtualMachineInstanceMigration{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "m1"},
			Spec: kvv1.VirtualMachineInstanceMigrationSpec{VMIName: "queued"}, Status: kvv1.VirtualMachineInstanceMigrationStatus{Phase: kvv1.MigrationPending}}},
		migrations: []v1alpha1.VMOperation{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "op"},
			Spec: v1alpha1.VMOperationSpec{VMName: "asked", Type: v1alpha1.VMOperationMigrate, Migrate: &v1alpha1.MigrateSpec{}}}}}
	in = &Input{Now: now, VMs: []VM{vm("queued", "n2", 2, 1, 1), vm("asked", "n1", 2, 1, 1)}}
	flights(p, cl, in)
	want := []Flight{{Namespace: "ns", VMName: "asked", From: "n1", To: "n3"}, {Namespace: "ns", VMName: "queued", From: "n2"}}
	if !slices.Equal(in.InFlight, want) {
		t.Errorf("in flight %+v, want %+v", in.InFlight, want)
	}
}

// TestInputReadsTheLauncherPod: a VM's view comes from its running
// launcher pod's tolerations and spot label, read as the extender reads it
// ("true" lets the VM use spot nodes as targets like any other, "false"
// never), and its instance's node selector (so a target must fit them):
// not the launcher pod's, which holds the node the last move sent it to.
func TestInputReadsTheLauncherPod(t *testing.T) {
	const kvm = corev1.ResourceName("devices.kubevirt.io/kvm")
	node := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"), kvm: resource.MustParse("1k")}}}
	vmi := func(name string) kvv1.VirtualMachineInstance {
		return kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec:   kvv1.VirtualMachineInstanceSpec{NodeSelector: map[string]string{"pool": "a"}},
			Status: kvv1.VirtualMachineInstanceStatus{NodeName: "n1", Phase: kvv1.Running}}
	}
	launcher := func(spot string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{placement.AllowSpotLabel: spot}},
			Spec: corev1.PodSpec{NodeSelector: map[string]string{"pool": "a", corev1.LabelHostname: "n1"},
				Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("2"), kvm: resource.MustParse("1")}}}}}}
	}
	cl := &cluster{nodes: []corev1.Node{node}, intensity: map[string]zoneIntensity{},
		vmis:      []kvv1.VirtualMachineInstance{vmi("spot"), vmi("on-demand"), vmi("unlabelled")},
		vms:       map[string]*kvv1.VirtualMachine{"ns/spot": {}, "ns/on-demand": {}, "ns/unlabelled": {}},
		launchers: map[string]*corev1.Pod{"ns/spot": launcher("true"), "ns/on-demand": launcher("false")}}
	c := &Controller{cfg: Config{Clock: clocktesting.NewFakeClock(now)}}
	in, _, _, err := c.input(context.Background(), cl, &v1alpha1.RebalancePolicy{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]VM{}
	for _, vm := range in.VMs {
		got[vm.Name] = vm
	}
	if r := got["spot"].Request; !r.AllowSpot || r.NoSpot {
		t.Errorf("spot: allow %t, no %t; want allowed", r.AllowSpot, r.NoSpot)
	}
	if r := got["on-demand"].Request; r.AllowSpot || !r.NoSpot {
		t.Errorf("on-demand: allow %t, no %t; want kept off spot", r.AllowSpot, r.NoSpot)
	}
	if r := got["unlabelled"].Request; r.AllowSpot || r.NoSpot || got["unlabelled"].Tolerations != nil {
		t.Errorf("unlabelled, without a launcher pod: allow %t, no %t, tolerations %v; want neither and none", r.AllowSpot, r.NoSpot, got["unlabelled"].Tolerations)
	}
	spot := got["spot"]
	if len(in.Nodes) != 1 || !in.Nodes[0].Devices[kvm] {
		t.Fatalf("node devices %v, want the node's kvm", in.Nodes)
	}
	tainted := &Node{Snapshot: placement.NodeSnapshot{Name: "n2"}, Labels: map[string]string{"pool": "a"},
		Taints: []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}, Devices: in.Nodes[0].Devices}
	elsewhere := &Node{Snapshot: placement.NodeSnapshot{Name: "n3"}, Labels: map[string]string{"pool": "b"}, Devices: in.Nodes[0].Devices}
	// Its virt-handler down: no KubeVirt device for the target pod.
	noDevice := &Node{Snapshot: placement.NodeSnapshot{Name: "n4"}, Labels: map[string]string{"pool": "a"}}
	if !fits(&spot, tainted) || fits(&spot, elsewhere) || fits(&spot, noDevice) {
		t.Errorf("fits a tolerated taint in its pool %t, another pool %t, a node without kvm %t; want true, false, false",
			fits(&spot, tainted), fits(&spot, elsewhere), fits(&spot, noDevice))
	}
}

// TestInputNamesAnUnknownZoneOnce: a zone whose intensity cannot be read
// is named once in the missing signals, however many nodes it has.
func TestInputNamesAnUnknownZoneOnce(t *testing.T) {
	var nodes []corev1.Node
	for _, name := range []string{"a", "b", "c"} {
		nodes = append(nodes, corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{corev1.LabelTopologyRegion: "ES"}}})
	}
	cl := &cluster{nodes: nodes, intensity: map[string]zoneIntensity{}}
	c := &Controller{cfg: Config{Clock: clocktesting.NewFakeClock(now)}} // no carbon source
	// The cost trigger weighs grams too (see planner.consider).
	for _, trigger := range []v1alpha1.RebalanceTrigger{{Type: v1alpha1.RebalanceCarbon, Carbon: &v1alpha1.CarbonTrigger{}},
		{Type: v1alpha1.RebalanceCost, Cost: &v1alpha1.CostTrigger{}}} {
		p := &v1alpha1.RebalancePolicy{Spec: v1alpha1.RebalancePolicySpec{Triggers: []v1alpha1.RebalanceTrigger{trigger}}}
		_, missing, _, err := c.input(context.Background(), cl, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) != 1 {
			t.Errorf("%s trigger: missing %q, want zone ES named once", trigger.Type, missing)
		}
	}
}

// TestUnreadClusterIsNotReady: a pass that cannot read the cluster says so
// on every policy; the Ready condition of the last good pass does not
// stand over a plan nobody follows.
func TestUnreadClusterIsNotReady(t *testing.T) {
	policy := &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 3},
		Status: v1alpha1.RebalancePolicyStatus{Conditions: []metav1.Condition{{Type: ConditionReady,
			Status: metav1.ConditionTrue, Reason: "Planned", Message: "0 moves planned, 0 in flight"}}}}
	kube := kubefake.NewSimpleClientset()
	kube.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("nodes"), "", errors.New("RBAC says no"))
	})
	hyper := hyperfake.NewSimpleClientset(policy)
	c, err := New(Config{Kube: kube, HyperSDK: hyper, Clock: clocktesting.NewFakeClock(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Pass(ctx); err == nil || !strings.Contains(err.Error(), "listing nodes") {
		t.Fatalf("pass: %v, want the failed node list", err)
	}
	got, err := hyper.HypersdkV1alpha1().RebalancePolicies().Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cond := meta.FindStatusCondition(got.Status.Conditions, ConditionReady)
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "ReadFailed" ||
		!strings.Contains(cond.Message, "RBAC says no") || cond.ObservedGeneration != 3 {
		t.Fatalf("Ready after a pass that could not list nodes: %+v", cond)
	}
}

// TestFailedTaintCheckKeepsTheTaints: while a window is open, a check of
// the requester's right to taint that fails (not a refusal) leaves the
// maintenance taints as they are, rather than take them off and let new
// VMs onto the nodes; a refusal is an answer.
func TestFailedTaintCheckKeepsTheTaints(t *testing.T) {
	node := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old", Labels: map[string]string{"name": "old"}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi")}}}
	p := &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1alpha1.RebalancePolicySpec{
		Mode: v1alpha1.RebalanceAutomatic, Requester: &v1alpha1.VMOperationRequester{Username: "alice"},
		Triggers: []v1alpha1.RebalanceTrigger{{Type: v1alpha1.RebalanceMaintenance, Maintenance: &v1alpha1.MaintenanceTrigger{
			Name: "kernel", Schedule: "0 10 * * *", Duration: metav1.Duration{Duration: time.Hour}, // open at 10:30
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"name": "old"}}}}}}}
	for _, tc := range []struct {
		name   string
		answer func() (bool, error)
		known  bool
	}{
		{"the check failed", func() (bool, error) { return false, errors.New("webhook authorizer timed out") }, false},
		{"refused", func() (bool, error) { return false, nil }, true},
		{"allowed", func() (bool, error) { return true, nil }, true},
	} {
		kube := kubefake.NewSimpleClientset()
		kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			allowed, err := tc.answer()
			sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
			sar.Status.Allowed = allowed
			return true, sar, err
		})
		c, err := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(p.DeepCopy()), Clock: clocktesting.NewFakeClock(now)})
		if err != nil {
			t.Fatal(err)
		}
		cl := &cluster{nodes: []corev1.Node{node}, intensity: map[string]zoneIntensity{}, vms: map[string]*kvv1.VirtualMachine{}}
		_, known, _ := c.sync(context.Background(), cl, p)
		if known != tc.known {
			t.Errorf("%s: the maintenance taints known %v, want %v", tc.name, known, tc.known)
		}
		// Only a node its requester may taint fences other policies off.
		if may := c.tainters["p"].may["old"]; may != (tc.name == "allowed") {
			t.Errorf("%s: alice recorded as allowed to taint node old: %v", tc.name, may)
		}
	}
}

// TestTaintGoesOnPastANodeThatFails: a node whose update fails holds back
// no other: the open window's taint still comes off the nodes after it.
func TestTaintGoesOnPastANodeThatFails(t *testing.T) {
	tainted := func(name string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{taintFor(MaintenanceOpen)}}}
	}
	kube := kubefake.NewSimpleClientset(tainted("a"), tainted("b"))
	kube.PrependReactor("update", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.UpdateAction).GetObject().(*corev1.Node).Name == "a" {
			return true, nil, errors.New("denied by a webhook")
		}
		return false, nil, nil
	})
	c, err := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(), Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.taint(context.Background(), map[string]string{}, false); err == nil || !strings.Contains(err.Error(), "node a") {
		t.Errorf("taint: %v, want the error of node a", err)
	}
	b, err := kube.CoreV1().Nodes().Get(context.Background(), "b", metav1.GetOptions{})
	if err != nil || len(b.Spec.Taints) != 0 {
		t.Errorf("node b after the window: %v %v, want its taint off", b.Spec.Taints, err)
	}
}

// TestTaintsOfAHalfWrittenWindowComeOff: a window whose taint reached one
// node and failed on another leaves the first tainted; once no policy is
// left, the next pass takes that taint off (it used to skip the nodes,
// remembering an earlier pass that had left none).
func TestTaintsOfAHalfWrittenWindowComeOff(t *testing.T) {
	ctx := context.Background()
	kube := kubefake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "b"}})
	refuseA := true
	kube.PrependReactor("update", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if refuseA && a.(k8stesting.UpdateAction).GetObject().(*corev1.Node).Name == "a" {
			return true, nil, errors.New("denied by a webhook")
		}
		return false, nil, nil
	})
	c, err := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(), Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Pass(ctx); err != nil { // no policy, no taint
		t.Fatal(err)
	}
	if err := c.taint(ctx, map[string]string{"a": MaintenanceOpen, "b": MaintenanceOpen}, false); err == nil {
		t.Fatal("taint: no error, want node a's")
	}
	refuseA = false
	if err := c.Pass(ctx); err != nil { // the policy deleted
		t.Fatal(err)
	}
	b, err := kube.CoreV1().Nodes().Get(ctx, "b", metav1.GetOptions{})
	if err != nil || len(b.Spec.Taints) != 0 {
		t.Errorf("node b once no policy is left: %v %v, want its taint off", b.Spec.Taints, err)
	}
}

// TestVMUsageIsItsInstancesPod: a VM's usage is its launcher pod's on the
// instance's node (during a migration the target's pod runs too, and is
// not load the source would shed), and unknown while metrics.k8s.io has no
// sample of that pod.
func TestVMUsageIsItsInstancesPod(t *testing.T) {
	pod := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: corev1.PodSpec{NodeName: node}}
	}
	cl := &cluster{vmPods: map[string][]*corev1.Pod{"ns/moving": {pod("src", "n1"), pod("dst", "n2")}, "ns/fresh": {pod("new", "n1")}},
		podUsage: map[string][2]float64{"ns/src": {1.5, 1 << 30}, "ns/dst": {0.2, 1 << 29}}}
	if u, ok := cl.vmUsageOn("ns/moving", "n1"); !ok || u != [2]float64{1.5, 1 << 30} {
		t.Errorf("migrating VM on n1: usage %v (%v), want its source pod's alone", u, ok)
	}
	if _, ok := cl.vmUsageOn("ns/fresh", "n1"); ok {
		t.Error("a VM whose pod has no sample yet: usage known, want unknown")
	}
}

// TestOperationNamesAreUnambiguous: moves of different policies and VMs
// made in the same second never share a name, however names run together
// or are cut.
func TestOperationNamesAreUnambiguous(t *testing.T) {
	long := strings.Repeat("x", 250)
	for _, pair := range [][2][2]string{
		{{"a", "b-c"}, {"a-b", "c"}},
		{{long, "vm1"}, {long, "vm2"}},
	} {
		x, y := operationName(pair[0][0], pair[0][1], now), operationName(pair[1][0], pair[1][1], now)
		if x == y || len(x) > 253 || len(y) > 253 {
			t.Errorf("policy %.10s VM %s and policy %.10s VM %s: names %q and %q", pair[0][0], pair[0][1], pair[1][0], pair[1][1], x, y)
		}
	}
}

// TestVMsWithDevicesArePinned: a VM with GPUs, host devices or USB devices
// its node's agent lends it stays on its node; the others may move.
func TestVMsWithDevicesArePinned(t *testing.T) {
	node := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	vmi := func(name string, annotations map[string]string) kvv1.VirtualMachineInstance {
		return kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Annotations: annotations},
			Status: kvv1.VirtualMachineInstanceStatus{NodeName: "n1", Phase: kvv1.Running}}
	}
	gpu := vmi("gpu", nil)
	gpu.Spec.Domain.Devices.GPUs = []kvv1.GPU{{Name: "g", DeviceName: "nvidia.com/T4"}}
	cl := &cluster{nodes: []corev1.Node{node}, intensity: map[string]zoneIntensity{},
		vmis: []kvv1.VirtualMachineInstance{gpu, vmi("usb", map[string]string{
			kubevirt.USBHotplugAnnotation: `[{"name":"key","vendor":"0781","product":"5581"}]`}), vmi("plain", nil)},
		vms: map[string]*kvv1.VirtualMachine{"ns/gpu": {}, "ns/usb": {}, "ns/plain": {}}}
	c := &Controller{cfg: Config{Clock: clocktesting.NewFakeClock(now)}}
	in, _, _, err := c.input(context.Background(), cl, &v1alpha1.RebalancePolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if pinned := in.Nodes[0].Pinned; !slices.Equal(pinned, []string{"ns/gpu", "ns/usb"}) || len(in.VMs) != 1 || in.VMs[0].Name != "plain" {
		t.Errorf("pinned %v, movable %d VMs; want gpu and usb pinned, plain movable", pinned, len(in.VMs))
	}
}

// staleProvider serves its provider's readings as the cached provider
// serves the last good one while the source fails: Stale, hours old.
type staleProvider struct{ carbon.Provider }

func (s staleProvider) Current(ctx context.Context, zone string) (carbon.Intensity, error) {
	in, err := s.Provider.Current(ctx, zone)
	in.Freshness, in.At = carbon.Stale, in.At.Add(-3*time.Hour)
	return in, err
}

// TestAPlanOnStaleReadingsSaysSo: a plan whose carbon intensities are the
// last readings before the source stopped answering says so in Ready,
// naming each zone once, as a missing reading is said.
func TestAPlanOnStaleReadingsSaysSo(t *testing.T) {
	var nodes []corev1.Node
	for _, name := range []string{"a", "b"} {
		nodes = append(nodes, corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelTopologyRegion: "ES"}}})
	}
	p := &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1alpha1.RebalancePolicySpec{Mode: v1alpha1.RebalanceDryRun,
		Triggers: []v1alpha1.RebalanceTrigger{{Type: v1alpha1.RebalanceCarbon, Carbon: &v1alpha1.CarbonTrigger{}}}}}
	for _, tc := range []struct {
		name   string
		stale  bool
		reason string
	}{{"fresh", false, "Planned"}, {"stale", true, "PlannedOnStaleReadings"}} {
		clk := clocktesting.NewFakeClock(now)
		var source carbon.Provider
		fixed, err := carbon.NewFixedProvider(clk, map[string]float64{"ES": 480})
		if source = fixed; err != nil {
			t.Fatal(err)
		}
		if tc.stale {
			source = staleProvider{fixed}
		}
		hyper := hyperfake.NewSimpleClientset(p.DeepCopy())
		c, err := New(Config{Kube: kubefake.NewSimpleClientset(), HyperSDK: hyper, Carbon: source, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		cl := &cluster{nodes: nodes, intensity: map[string]zoneIntensity{}, vms: map[string]*kvv1.VirtualMachine{}}
		if _, _, err := c.sync(context.Background(), cl, p); err != nil {
			t.Fatal(err)
		}
		got, err := hyper.HypersdkV1alpha1().RebalancePolicies().Get(context.Background(), "p", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cond := meta.FindStatusCondition(got.Status.Conditions, ConditionReady)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != tc.reason ||
			tc.stale && strings.Count(cond.Message, "zone ES") != 1 {
			t.Errorf("%s readings: Ready %+v, want True %s naming zone ES once when stale", tc.name, cond, tc.reason)
		}
	}
}

// TestAnotherPolicysUntaintedWindowKeepsMovesOff: a node an Automatic
// policy's open window empties takes no VM from another policy's moves,
// also while its taint is not written (the write failed, the window's
// first pass), when its requester may taint it; one whose requester may
// not fences nothing off, nor does a DryRun policy's window.
func TestAnotherPolicysUntaintedWindowKeepsMovesOff(t *testing.T) {
	nodes := []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "old", Labels: map[string]string{"name": "old"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "new", Labels: map[string]string{"name": "new"}}},
	}
	window := kernelWindow()
	dryRun := *window.DeepCopy()
	dryRun.Spec.Mode = v1alpha1.RebalanceDryRun
	pressure := &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "pressure"}}
	allow := func(user string) (bool, error) { return user == "alice", nil }
	for _, tc := range []struct {
		name    string
		windows []v1alpha1.RebalancePolicy
		answer  func(user string) (bool, error)
		oldFits bool
	}{
		// A fresh controller: the first pass after a start fences too.
		{"Automatic", []v1alpha1.RebalancePolicy{window}, allow, false},
		{"Automatic, its requester may not taint", []v1alpha1.RebalancePolicy{window},
			func(string) (bool, error) { return false, nil }, true},
		{"Automatic, the check failed", []v1alpha1.RebalancePolicy{window},
			func(string) (bool, error) { return false, errors.New("webhook authorizer timed out") }, true},
		{"DryRun", []v1alpha1.RebalancePolicy{dryRun}, allow, true},
	} {
		kube := kubefake.NewSimpleClientset()
		reviews := 0
		kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			reviews++
			sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
			allowed, err := tc.answer(sar.Spec.User)
			sar.Status.Allowed = allowed
			return true, sar, err
		})
		c, err := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(), Clock: clocktesting.NewFakeClock(now)})
		if err != nil {
			t.Fatal(err)
		}
		cl := &cluster{nodes: nodes, intensity: map[string]zoneIntensity{}, vms: map[string]*kvv1.VirtualMachine{}}
		cl.emptying = c.fence(context.Background(), append(tc.windows, *pressure), cl.nodes, now)
		in, _, _, err := c.input(context.Background(), cl, pressure)
		if err != nil {
			t.Fatal(err)
		}
		fitsOn := map[string]bool{}
		for i := range in.Nodes {
			fitsOn[in.Nodes[i].Snapshot.Name] = fits(&VM{}, &in.Nodes[i])
		}
		if fitsOn["old"] != tc.oldFits || !fitsOn["new"] {
			t.Errorf("%s window: a VM fits on old %t, new %t; want %t, true", tc.name, fitsOn["old"], fitsOn["new"], tc.oldFits)
		}
		if tc.windows[0].Spec.Mode != v1alpha1.RebalanceAutomatic {
			continue
		}
		// The window's own pass takes this pass's answer: asked once.
		if _, err := c.mayTaint(context.Background(), &tc.windows[0], map[string]string{"old": MaintenanceOpen}); reviews != 1 || err == nil == tc.oldFits {
			t.Errorf("%s window: %d reviews, taint check %v; want one, refused or failed only where old fits", tc.name, reviews, err)
		}
	}
}

// TestATaintersRightsAreAskedEveryPass: who may taint is asked again at
// every pass, so a policy rewritten by another requester (or whose
// requester lost the right) stops fencing nodes at once.
func TestATaintersRightsAreAskedEveryPass(t *testing.T) {
	nodes := []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "old", Labels: map[string]string{"name": "old"}}}}
	window := kernelWindow()
	kube := kubefake.NewSimpleClientset()
	kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		sar.Status.Allowed = sar.Spec.User == "alice"
		return true, sar, nil
	})
	c, err := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(), Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.fence(context.Background(), []v1alpha1.RebalancePolicy{window}, nodes, now); got["old"] != MaintenanceOpen {
		t.Fatalf("alice's open window fences %v, want old open", got)
	}
	window.Spec.Requester = &v1alpha1.VMOperationRequester{Username: "bob"}
	if got := c.fence(context.Background(), []v1alpha1.RebalancePolicy{window}, nodes, now); len(got) != 0 {
		t.Errorf("the window rewritten by bob, who may not taint, fences %v, want nothing", got)
	}
}

// TestAFailedRightsCheckFencesNothing: a window whose requester's rights
// could not all be checked fences none of its nodes that pass, also not
// those answered before the check failed.
func TestAFailedRightsCheckFencesNothing(t *testing.T) {
	nodes := []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"name": "old"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b", Labels: map[string]string{"name": "old"}}},
	}
	window := kernelWindow()
	kube := kubefake.NewSimpleClientset()
	kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		if sar.Spec.ResourceAttributes.Name == "b" {
			return true, nil, errors.New("webhook authorizer timed out")
		}
		sar.Status.Allowed = true
		return true, sar, nil
	})
	c, err := New(Config{Kube: kube, HyperSDK: hyperfake.NewSimpleClientset(), Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.fence(context.Background(), []v1alpha1.RebalancePolicy{window}, nodes, now); len(got) != 0 {
		t.Errorf("fenced %v after a failed check, want nothing", got)
	}
}

// kernelWindow is alice's Automatic policy whose maintenance window, open
// at now (10:30), empties the nodes labelled name=old.
func kernelWindow() v1alpha1.RebalancePolicy {
	return v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "kernel"}, Spec: v1alpha1.RebalancePolicySpec{
		Mode: v1alpha1.RebalanceAutomatic, Requester: &v1alpha1.VMOperationRequester{Username: "alice"},
		Triggers: []v1alpha1.RebalanceTrigger{{Type: v1alpha1.RebalanceMaintenance, Maintenance: &v1alpha1.MaintenanceTrigger{
			Name: "kernel", Schedule: "0 10 * * *", Duration: metav1.Duration{Duration: time.Hour}, // open at 10:30
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"name": "old"}}}}}}}
}
