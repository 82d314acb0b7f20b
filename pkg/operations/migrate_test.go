package operations

import (
	"context"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	kvv1 "kubevirt.io/api/core/v1"
	kvfake "kubevirt.io/client-go/kubevirt/fake"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// TestExecutorMigrationOfAStoppedVMFails: a VM stopped by someone else
// while its live migration runs fails the operation; it does not take the
// executor down (the instance is gone, and a pass read it as nil).
func TestExecutorMigrationOfAStoppedVMFails(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("mig", "vm", migrateSpec())
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "migration created" })
	if err := h.kv.KubevirtV1().VirtualMachineInstances("ns").Delete(h.ctx, "vm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	op := h.until(key, 2, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "stopped") {
		t.Fatalf("migration of a VM that stopped ended %s: %q", op.Status.Phase, op.Status.Message)
	}
}

// TestExecutorDeletedMigrationIsNotMadeAgain: deleting the
// VirtualMachineInstanceMigration, KubeVirt's way to abort one, fails the
// operation instead of starting the migration again.
func TestExecutorDeletedMigrationIsNotMadeAgain(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	creates := 0
	h.kv.PrependReactor("create", "virtualmachineinstancemigrations", func(a k8stesting.Action) (bool, runtime.Object, error) {
		creates++
		// kube-apiserver gives every object a UID; the fake does not.
		a.(k8stesting.CreateAction).GetObject().(*kvv1.VirtualMachineInstanceMigration).UID = types.UID("mig-uid")
		return false, nil, nil
	})
	key := h.create("mig", "vm", migrateSpec())
	h.until(key, 3, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "migration created" })
	if err := h.kv.KubevirtV1().VirtualMachineInstanceMigrations("ns").Delete(h.ctx, "hypersdk-mig", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	op := h.until(key, 2, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "deleted before it completed") || creates != 1 {
		t.Fatalf("after its migration was deleted: %s %q, %d migrations created; want Failed and one", op.Status.Phase, op.Status.Message, creates)
	}
}

// TestExecutorSurvivesAPanickingPass: a pass that panics is an error the
// worker retries, not the end of the process.
func TestExecutorSurvivesAPanickingPass(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), testVMI("vm", "node-a", "vmi-1"))
	key := h.create("mig", "vm", migrateSpec())
	h.until(key, 1, phaseIs(v1alpha1.VMOperationRunning))
	h.kv.PrependReactor("get", "virtualmachineinstances", func(k8stesting.Action) (bool, runtime.Object, error) {
		panic("a defect")
	})
	if err := h.e.syncRecovering(h.ctx, key); err == nil || !strings.Contains(err.Error(), "a defect") {
		t.Fatalf("a panicking pass returned %v, want its panic as an error", err)
	}
}

// TestExecutorNoLiveMigrationWithHotpluggedUSB: a VM with a USB device
// lent by its node's agent does not migrate live (the target node's agent
// would lend another device); it fails, saying to detach first, unless a
// cold migration is allowed.
func TestExecutorNoLiveMigrationWithHotpluggedUSB(t *testing.T) {
	vmi := testVMI("vm", "node-a", "vmi-1")
	vmi.Annotations = map[string]string{kubevirt.USBHotplugAnnotation: `[{"name":"key","vendor":"1050","product":"0407"}]`}
	h := newHarness(t, ExecutorConfig{}, testVM("vm", kvv1.RunStrategyAlways), vmi)
	key := h.create("mig", "vm", migrateSpec())
	op := h.until(key, 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "USB devices key") {
		t.Errorf("live migration of a VM with a hot-plugged USB device ended %s: %q, want Failed naming the device", op.Status.Phase, op.Status.Message)
	}
	if migs, err := h.kv.KubevirtV1().VirtualMachineInstanceMigrations("ns").List(h.ctx, metav1.ListOptions{}); err != nil || len(migs.Items) != 0 {
		t.Errorf("migrations %v (%v), want none", migs, err)
	}
}

// migrationNode is a ready node KubeVirt may schedule VMs on, with room,
// the labels and the taints given.
// kvmResource is KubeVirt's device plugin's, which every launcher pod asks for.
const kvmResource = "devices.kubevirt.io/kvm"

func migrationNode(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	l := map[string]string{"kubevirt.io/schedulable": "true"}
	maps.Copy(l, labels)
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"), kvmResource: resource.MustParse("1k")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

// TestColdMigrationPicksANodeTheVMMayRunOn: a cold migration without a
// target node pins the VM only to a node its pod tolerates and whose
// labels match its nodeSelector; a named target it may not run on is
// refused with the field.
func TestColdMigrationPicksANodeTheVMMayRunOn(t *testing.T) {
	dedicated := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	nodes := func() []runtime.Object {
		return []runtime.Object{
			migrationNode("node-a", map[string]string{"disk": "ssd"}),
			migrationNode("node-b", map[string]string{"disk": "ssd"}, dedicated),
			migrationNode("node-c", nil),
			migrationNode("node-d", map[string]string{"disk": "ssd"}),
		}
	}
	for _, tc := range []struct {
		name       string
		tolerate   bool
		pinned     bool
		objects    []runtime.Object
		wantTarget string
		wantFail   string
	}{
		{name: "only the node it tolerates and matches", objects: nodes(), wantTarget: "node-d"},
		{name: "none it may run on", objects: nodes()[:3], wantFail: "no other node that VM vm may run on"},
		{name: "the launcher pod tolerates the taint", tolerate: true, objects: nodes()[:3], wantTarget: "node-b"},
		// Its pod pinned to its node by the last migration, with KubeVirt's
		// selectors of the CPU it started on: the move sets its own pin, and
		// KubeVirt its own selectors.
		{name: "pinned by the last migration", pinned: true, objects: nodes(), wantTarget: "node-d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vmi := testVMI("vm", "node-a", "vmi-1")
			// Started before its template's selector changed: it starts
			// again from the template.
			vmi.Spec.NodeSelector = map[string]string{"disk": "hdd"}
			vmi.Status.Conditions = []kvv1.VirtualMachineInstanceCondition{{Type: kvv1.VirtualMachineInstanceIsMigratable,
				Status: corev1.ConditionFalse, Reason: "DisksNotLiveMigratable"}}
			vm := testVM("vm", kvv1.RunStrategyAlways)
			vm.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} // it starts again from its template
			h := newHarness(t, ExecutorConfig{}, vm, vmi)
			for _, n := range tc.objects {
				if _, err := h.kube.CoreV1().Nodes().Create(h.ctx, n.(*corev1.Node), metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.tolerate || tc.pinned {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "virt-launcher-vm-x", Namespace: "ns",
					Labels: map[string]string{kubevirt.VMNameLabel: "vm"}},
					Spec:   corev1.PodSpec{NodeName: "node-a", NodeSelector: maps.Clone(vmi.Spec.NodeSelector)},
					Status: corev1.PodStatus{Phase: corev1.PodRunning}}
				if tc.tolerate {
					pod.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
				}
				if tc.pinned {
					pod.Spec.NodeSelector[hostnameLabel] = "node-a"
					pod.Spec.NodeSelector["host-model-cpu.node.kubevirt.io/Skylake"] = "true"
				}
				if _, err := h.kube.CoreV1().Pods("ns").Create(h.ctx, pod, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			key := h.create("cold", "vm", v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationMigrate,
				Migrate: &v1alpha1.MigrateSpec{AllowColdMigration: true}})
			op := h.until(key, 4, func(op *v1alpha1.VMOperation) bool {
				return recorded(op, "Node", "target") != nil || op.Status.Phase == v1alpha1.VMOperationFailed
			})
			if tc.wantFail != "" {
				if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, tc.wantFail) {
					t.Fatalf("cold migration with no node to go to: %s %q, want failed with %q", op.Status.Phase, op.Status.Message, tc.wantFail)
				}
				return
			}
			if got := recorded(op, "Node", "target"); got == nil || got.Name != tc.wantTarget {
				t.Fatalf("cold migration target %+v (%s %q), want %s", got, op.Status.Phase, op.Status.Message, tc.wantTarget)
			}
		})
	}

	// Live, from the instance's spec: its pod's pin, left by an earlier
	// migration to a named node, is the migration's to set.
	vmi := testVMI("vm", "node-a", "vmi-1")
	vmi.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	launcher := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "virt-launcher-vm-x", Namespace: "ns", Labels: map[string]string{kubevirt.VMNameLabel: "vm"}},
		Spec: corev1.PodSpec{NodeName: "node-a", NodeSelector: map[string]string{"disk": "ssd", hostnameLabel: "node-a"},
			Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{kvmResource: resource.MustParse("1")}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	noKubeVirt := migrationNode("node-e", map[string]string{"disk": "ssd"})
	delete(noKubeVirt.Labels, "kubevirt.io/schedulable")
	noDevice := migrationNode("node-f", map[string]string{"disk": "ssd"}) // its virt-handler down
	delete(noDevice.Status.Allocatable, kvmResource)
	// Pinned in its own spec (a cold migration's start): KubeVirt keeps the
	// instance's selectors over a live migration's.
	pinned := vmi.DeepCopy()
	pinned.Name, pinned.Spec.NodeSelector = "pinned", map[string]string{"disk": "ssd", hostnameLabel: "node-a"}
	p := &Prechecker{Kube: kubefake.NewClientset(append(nodes(), launcher, noKubeVirt, noDevice)...),
		KubeVirt: kvfake.NewSimpleClientset(testVM("vm", kvv1.RunStrategyAlways), vmi, testVM("pinned", kvv1.RunStrategyAlways), pinned)}
	for _, tc := range []struct{ vm, target, want string }{
		{"vm", "node-b", "does not tolerate the node's taint dedicated=gpu:NoSchedule"},
		{"vm", "node-c", "does not match the VM's nodeSelector"},
		{"vm", "node-e", "KubeVirt does not run VMs on the node"},
		{"vm", "node-f", "not enough devices.kubevirt.io/kvm"},
		{"vm", "node-d", ""},
		{"pinned", "node-d", "does not match the VM's nodeSelector"},
	} {
		err := p.Check(context.Background(), &hypersdk.VMOperation{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: hypersdk.VMOperationSpec{VMName: tc.vm,
			Type: hypersdk.VMOperationMigrate, Migrate: &hypersdk.MigrateSpec{TargetNode: tc.target}}})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("migrate %s to %s: %v, want it admitted", tc.vm, tc.target, err)
		case tc.want != "" && (!apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "targetNode")):
			t.Errorf("migrate %s to %s: %v, want 422 on targetNode saying %q", tc.vm, tc.target, err, tc.want)
		}
	}
}

// TestKubeVirtNamesAreLabelValues: KubeVirt writes a migration's name into
// a label value; an operation's long name gives a name that fits, the same
// on every pass, and other than another long name's of the same start.
func TestKubeVirtNamesAreLabelValues(t *testing.T) {
	named := func(name string) string {
		return kubevirtName(&v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
	if got := named("db-migrate-abcde"); got != "hypersdk-db-migrate-abcde" {
		t.Errorf("short name: %q, want it as it was", got)
	}
	long := strings.Repeat("a", 44) + ".-migrate-abcde" // cut after the dot
	a, b := named(long), named(long+"f")
	for _, n := range []string{a, b} {
		if errs := validation.IsValidLabelValue(n); len(errs) > 0 {
			t.Errorf("%q: %v", n, errs)
		}
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Errorf("%q: %v", n, errs)
		}
	}
	if a == b || a != named(long) {
		t.Errorf("long names give %q and %q: want them apart, and each the same every time", a, b)
	}
}

// TestTargetPodOfALiveAndAColdMove: a live move's target pod keeps the
// instance's own node pin (KubeVirt keeps it over the migration's), a cold
// one drops the template's (the move sets its own); the running launcher
// pod's tolerations replace the spec's.
func TestTargetPodOfALiveAndAColdMove(t *testing.T) {
	vmi := testVMI("vm", "node-a", "vmi-1")
	vmi.Spec.NodeSelector = map[string]string{hostnameLabel: "node-a", "disk": "ssd"}
	vm := testVM("vm", kvv1.RunStrategyAlways)
	vm.Spec.Template.Spec.NodeSelector = map[string]string{hostnameLabel: "node-a", "disk": "hdd"}
	vm.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "spec", Operator: corev1.TolerationOpExists}}

	spec, cold := MigrationSpec(vmi, vm)
	if live := TargetPod(spec, cold, nil); cold || !maps.Equal(live.Spec.NodeSelector, vmi.Spec.NodeSelector) {
		t.Errorf("live move (cold %v): selector %v, want the instance's %v", cold, live.Spec.NodeSelector, vmi.Spec.NodeSelector)
	}
	vmi.Status.Conditions = []kvv1.VirtualMachineInstanceCondition{{Type: kvv1.VirtualMachineInstanceIsMigratable, Status: corev1.ConditionFalse, Reason: "DisksNotLiveMigratable"}}
	spec, cold = MigrationSpec(vmi, vm)
	pod := TargetPod(spec, cold, nil)
	if want := map[string]string{"disk": "hdd"}; !cold || !maps.Equal(pod.Spec.NodeSelector, want) {
		t.Errorf("cold move (cold %v): selector %v, want the template's without its pin, %v", cold, pod.Spec.NodeSelector, want)
	}
	if len(pod.Spec.Tolerations) != 1 || pod.Spec.Tolerations[0].Key != "spec" {
		t.Errorf("no launcher pod: tolerations %v, want the spec's", pod.Spec.Tolerations)
	}
	if vm.Spec.Template.Spec.NodeSelector[hostnameLabel] != "node-a" {
		t.Errorf("the template's own selector lost its pin: %v", vm.Spec.Template.Spec.NodeSelector)
	}
	launcher := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "launcher", Operator: corev1.TolerationOpExists}}}}
	if pod := TargetPod(spec, cold, launcher); len(pod.Spec.Tolerations) != 1 || pod.Spec.Tolerations[0].Key != "launcher" {
		t.Errorf("tolerations %v, want the launcher pod's", pod.Spec.Tolerations)
	}
}
