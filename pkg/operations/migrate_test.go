package operations

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	kvv1 "kubevirt.io/api/core/v1"

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
