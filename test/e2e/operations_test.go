package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/test/framework"
)

// post sends body to virtualmachines/<vm>/<sub> and returns the HTTP status
// and the created operation (when 201).
func post(t *testing.T, c hypersdkclient.Interface, ns, vm, sub string, body interface{}, dryRun bool) (int, *v1alpha1.VMOperation, error) {
	t.Helper()
	data, ok := body.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req := c.HypersdkV1alpha1().RESTClient().Post().Namespace(ns).Resource("virtualmachines").Name(vm).SubResource(sub).
		SetHeader("Content-Type", "application/json").Body(data)
	if dryRun {
		req = req.Param("dryRun", "All")
	}
	res := req.Do(context.Background())
	var code int
	res.StatusCode(&code)
	op := &v1alpha1.VMOperation{}
	err := res.Into(op)
	return code, op, err
}

// runOperation posts an operation and follows it on a watch to its end,
// checking Pending -> Running -> Succeeded with progress that only grows.
func runOperation(t *testing.T, ns, vm, sub string, body interface{}) *v1alpha1.VMOperation {
	t.Helper()
	code, op, err := post(t, env.HyperSDK, ns, vm, sub, body, false)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("POST %s/%s: %d %v", vm, sub, code, err)
	}
	if op.Status.Phase != v1alpha1.VMOperationPending || op.Spec.VMName != vm {
		t.Fatalf("created operation %+v, want Pending for %s", op.Status, vm)
	}
	return follow(t, op, v1alpha1.VMOperationSucceeded)
}

func follow(t *testing.T, op *v1alpha1.VMOperation, want v1alpha1.VMOperationPhase) *v1alpha1.VMOperation {
	t.Helper()
	w, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(op.Namespace).Watch(context.Background(), metav1.ListOptions{
		FieldSelector: "metadata.name=" + op.Name, ResourceVersion: op.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	phases := []string{string(op.Status.Phase)}
	last := op.Status.Progress
	deadline := time.After(framework.Timeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("operation watch closed")
			}
			if ev.Type != watch.Modified {
				continue
			}
			cur := ev.Object.(*v1alpha1.VMOperation)
			if p := string(cur.Status.Phase); p != phases[len(phases)-1] {
				phases = append(phases, p)
			}
			if cur.Status.Progress < last {
				t.Errorf("progress went back from %d to %d", last, cur.Status.Progress)
			}
			last = cur.Status.Progress
			if validationFinal(cur.Status.Phase) {
				if cur.Status.Phase != want {
					t.Fatalf("operation %s ended %s: %s (phases %v)", cur.Name, cur.Status.Phase, cur.Status.Message, phases)
				}
				if want == v1alpha1.VMOperationSucceeded {
					// The phases seen since the watch began, in order.
					if got := strings.Join(phases, ","); !strings.HasSuffix("Pending,Running,Succeeded", got) || cur.Status.Progress != 100 ||
						cur.Status.CompletionTime == nil || cur.Status.StartTime == nil {
						t.Errorf("operation %s: phases %s progress %d times %v/%v", cur.Name, got, cur.Status.Progress,
							cur.Status.StartTime, cur.Status.CompletionTime)
					}
				}
				return cur
			}
		case <-deadline:
			t.Fatalf("operation %s did not end; phases %v", op.Name, phases)
		}
	}
}

func validationFinal(p v1alpha1.VMOperationPhase) bool {
	return p == v1alpha1.VMOperationSucceeded || p == v1alpha1.VMOperationFailed || p == v1alpha1.VMOperationCancelled
}

// TestOperationsPower: stop, start and restart through hypersdk.io.
func TestOperationsPower(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "ops-power")
	createKubeVirtVM(t, ns, kubevirtVM("svc", 1, "1Gi", nil))
	first := runningVMI(t, ns, "svc", "")

	runOperation(t, ns, "svc", "stop", map[string]interface{}{"gracePeriodSeconds": 0})
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(context.Background(), "svc", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after stop the VMI is still there (%v)", err)
	}
	runOperation(t, ns, "svc", "start", map[string]interface{}{})
	second := runningVMI(t, ns, "svc", first.UID)
	op := runOperation(t, ns, "svc", "restart", map[string]interface{}{})
	third := runningVMI(t, ns, "svc", second.UID)
	if len(op.Status.Resources) == 0 || op.Status.Resources[0].UID != second.UID || third.UID == second.UID {
		t.Errorf("restart replaced %v, want the instance %s replaced by a new one", op.Status.Resources, second.UID)
	}
}

// TestOperationsMigrate: live migration to any node and to a chosen node;
// a ReadWriteOnce disk is refused with KubeVirt's reason and moves cold
// when allowed.
func TestOperationsMigrate(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-migrate")
	createKubeVirtVM(t, ns, kubevirtVM("m1", 1, "1Gi", nil))
	before := runningVMI(t, ns, "m1", "")
	runOperation(t, ns, "m1", "migrate", map[string]interface{}{})
	after, _ := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "m1", metav1.GetOptions{})
	if after.Status.NodeName == before.Status.NodeName {
		t.Errorf("migration left the VM on %s", before.Status.NodeName)
	}
	target := otherNode(t, after.Status.NodeName)
	runOperation(t, ns, "m1", "migrate", map[string]interface{}{"targetNode": target})
	after, _ = env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "m1", metav1.GetOptions{})
	if after.Status.NodeName != target {
		t.Errorf("migration with targetNode %s ended on %s", target, after.Status.NodeName)
	}

	createRWOVM(t, ns, "pinned")
	pinned := runningVMI(t, ns, "pinned", "")
	code, _, err := post(t, env.HyperSDK, ns, "pinned", "migrate", map[string]interface{}{}, false)
	if code != http.StatusUnprocessableEntity || err == nil || !strings.Contains(err.Error(), "DisksNotLiveMigratable") {
		t.Errorf("live migration of a RWO VM: %d %v, want 422 naming DisksNotLiveMigratable", code, err)
	}
	runOperation(t, ns, "pinned", "migrate", map[string]interface{}{"allowColdMigration": true})
	moved := runningVMI(t, ns, "pinned", pinned.UID)
	if moved.Status.NodeName == pinned.Status.NodeName {
		t.Errorf("cold migration left the VM on %s", pinned.Status.NodeName)
	}
	// A cold move goes only to nodes with the nodeSelector's labels. The
	// last eligible node by name is asked for: without the selector the
	// executor takes the first one with room.
	want := lastOtherNode(t, moved.Status.NodeName)
	runOperation(t, ns, "pinned", "migrate", map[string]interface{}{"allowColdMigration": true,
		"nodeSelector": map[string]string{"kubernetes.io/hostname": want}})
	if got := runningVMI(t, ns, "pinned", moved.UID).Status.NodeName; got != want {
		t.Errorf("cold migration with nodeSelector kubernetes.io/hostname=%s ended on %s", want, got)
	}
}

// TestOperationsColdMigrationCancelled: a cold migration whose VM cannot
// start on the target (no room for another pod, which the precheck does not
// look at) waits there stopped and pinned; cancelled, it takes the pin
// off and starts the VM again, so it runs where it can.
func TestOperationsColdMigrationCancelled(t *testing.T) { coldMigrationUndone(t, false) }

// TestOperationsColdMigrationDeleted: the same cold migration deleted
// instead of cancelled is undone the same way before the operation goes
// (its finalizer holds it until the clean-up is done).
func TestOperationsColdMigrationDeleted(t *testing.T) { coldMigrationUndone(t, true) }

// coldMigrationUndone moves a VM cold to a node it cannot start on, then
// cancels the operation (or deletes it), and waits for the VM unpinned and
// running again elsewhere.
func coldMigrationUndone(t *testing.T, deleted bool) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-cold-cancel")
	createRWOVM(t, ns, "stuck")
	before := runningVMI(t, ns, "stuck", "")
	target := ns + "-blocked"
	typ := fleet.General[1]
	// No room for another pod there: the precheck, which weighs CPU,
	// memory, devices, taints and affinity but not the node's pod count,
	// admits the move, and the VM's pod waits on the node.
	addNode(t, fleet.Node{Name: target, Zone: fleet.Zones[1], Type: typ, Price: typ.Price}, func(n *corev1.Node) {
		n.Status.Capacity[corev1.ResourcePods] = resource.MustParse("0")
		n.Status.Allocatable[corev1.ResourcePods] = resource.MustParse("0")
	})
	code, op, err := post(t, env.HyperSDK, ns, "stuck", "migrate", map[string]interface{}{"allowColdMigration": true, "targetNode": target}, false)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("POST stuck/migrate: %d %v", code, err)
	}
	vms := env.KubeVirt.KubevirtV1().VirtualMachines(ns)
	framework.Eventually(t, "stuck stopped and pinned to "+target+", its new instance's pod waiting there", func(ctx context.Context) (bool, error) {
		vm, err := vms.Get(ctx, "stuck", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "stuck", metav1.GetOptions{})
		if err == nil && vmi.Status.Phase == kvv1.Running {
			got, _ := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, op.Name, metav1.GetOptions{})
			return false, fmt.Errorf("stuck runs on %s; operation %s %d%%: %s", vmi.Status.NodeName, got.Status.Phase, got.Status.Progress, got.Status.Message)
		}
		if err != nil || vm.Spec.Template.Spec.NodeSelector["kubernetes.io/hostname"] != target {
			return false, nil
		}
		// Its launcher pod made, pinned: the clean-up must replace the
		// instance, also once KubeVirt's LiveUpdate has taken the pin off
		// the instance's spec (not off its pod).
		pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubevirt.io/created-by=" + string(vmi.UID)})
		if err != nil {
			return false, err
		}
		return len(pods.Items) > 0 && pods.Items[0].Spec.NodeSelector["kubernetes.io/hostname"] == target, nil
	})
	// Stopping it by its spec now would race the migration, whose clean-up
	// starts it again: refused, naming the operation.
	if _, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Patch(ctx, "stuck", types.MergePatchType,
		[]byte(`{"spec":{"running":false}}`), metav1.PatchOptions{}); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), op.Name) {
		t.Errorf("spec.running false while %s is under way: %v, want 409 naming it", op.Name, err)
	}
	ops := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns)
	if deleted {
		if err := ops.Delete(ctx, op.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	} else if _, err := ops.Patch(ctx, op.Name, types.MergePatchType, []byte(`{"spec":{"cancel":true}}`), metav1.PatchOptions{}); err != nil {
		// A patch, not a read-modify-write: the executor writes the
		// status as the operation goes, and an update would race it.
		t.Fatal(err)
	}
	framework.Eventually(t, "the cancelled cold migration undone: stuck unpinned and running", func(ctx context.Context) (bool, error) {
		got, err := ops.Get(ctx, op.Name, metav1.GetOptions{})
		switch {
		case deleted && apierrors.IsNotFound(err):
			// Gone, which it may only be once undone: the checks below say.
		case err != nil || got.Status.Phase != v1alpha1.VMOperationCancelled:
			return false, errors.Join(err, fmt.Errorf("operation %s", got.Status.Phase))
		case deleted:
			return false, fmt.Errorf("operation %s still there (%v), finalizers %v", got.Name, got.DeletionTimestamp, got.Finalizers)
		}
		vm, err := vms.Get(ctx, "stuck", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if pin, ok := vm.Spec.Template.Spec.NodeSelector["kubernetes.io/hostname"]; ok {
			return false, fmt.Errorf("still pinned to %s", pin)
		}
		vmi, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "stuck", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if vmi.UID == before.UID || vmi.Status.Phase != kvv1.Running || vmi.Status.NodeName == target {
			return false, fmt.Errorf("instance %s %s on %q", vmi.UID, vmi.Status.Phase, vmi.Status.NodeName)
		}
		return true, nil
	})
}

// TestOperationsNameReused: a Migrate operation made with the name of an
// earlier one, deleted, whose KubeVirt migration is still there, migrates
// its own VM instead of taking the earlier migration's success for its own.
func TestOperationsNameReused(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-name-reused")
	createKubeVirtVM(t, ns, kubevirtVM("a", 1, "1Gi", nil))
	createKubeVirtVM(t, ns, kubevirtVM("b", 1, "1Gi", nil))
	runningVMI(t, ns, "a", "")
	before := runningVMI(t, ns, "b", "")
	ops := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns)
	migrate := func(vm string) *v1alpha1.VMOperation {
		op, err := ops.Create(ctx, &v1alpha1.VMOperation{ObjectMeta: metav1.ObjectMeta{Name: "move"},
			Spec: v1alpha1.VMOperationSpec{VMName: vm, Type: v1alpha1.VMOperationMigrate}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return follow(t, op, v1alpha1.VMOperationSucceeded)
	}
	migrate("a")
	if err := ops.Delete(ctx, "move", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "operation move gone", func(ctx context.Context) (bool, error) {
		_, err := ops.Get(ctx, "move", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).Get(ctx, "hypersdk-move", metav1.GetOptions{}); err != nil {
		t.Fatalf("the first operation's migration: %v; the case is an earlier migration still there", err)
	}
	migrate("b")
	after, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Status.NodeName == before.Status.NodeName {
		t.Errorf("the second operation named move succeeded, but b is still on %s", before.Status.NodeName)
	}
}

// lastOtherNode is the last schedulable node by name, other than not and
// the GPU servers.
func lastOtherNode(t *testing.T, not string) string {
	t.Helper()
	nodes, err := env.Kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: "kubevirt.io/schedulable=true"})
	if err != nil {
		t.Fatal(err)
	}
	last := ""
	for _, n := range nodes.Items {
		if n.Name != not && !n.Spec.Unschedulable && n.Labels["node.kubernetes.io/instance-type"] != "gpu-a100x4" && n.Name > last {
			last = n.Name
		}
	}
	if last == "" {
		t.Fatal("no other node")
	}
	return last
}

func otherNode(t *testing.T, not string) string {
	t.Helper()
	nodes, err := env.Kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if n.Name != not && n.Labels["node.kubernetes.io/instance-type"] != "gpu-a100x4" {
			return n.Name
		}
	}
	t.Fatal("no other node")
	return ""
}

// TestOperationsResize: live within maxSockets/maxGuest, by restart otherwise.
func TestOperationsResize(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-resize")
	live := kubevirtVM("elastic", 0, "2Gi", nil)
	live.Spec.Template.Spec.Domain.CPU = &kvv1.CPU{Sockets: 2, Cores: 1, Threads: 1, MaxSockets: 8}
	live.Spec.Template.Spec.Domain.Memory.MaxGuest = ptr.To(resourceQuantity("8Gi"))
	createKubeVirtVM(t, ns, live)
	before := runningVMI(t, ns, "elastic", "")
	runOperation(t, ns, "elastic", "resize", map[string]interface{}{"cpus": 4, "memory": "4Gi"})
	after, _ := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "elastic", metav1.GetOptions{})
	if after.UID != before.UID || after.Status.CurrentCPUTopology.Sockets != 4 || after.Status.Memory.GuestCurrent.String() != "4Gi" {
		t.Errorf("live resize: uid %s->%s sockets %d memory %v", before.UID, after.UID, after.Status.CurrentCPUTopology.Sockets, after.Status.Memory.GuestCurrent)
	}

	createKubeVirtVM(t, ns, kubevirtVM("rigid", 2, "2Gi", nil))
	old := runningVMI(t, ns, "rigid", "")
	// Without hotplug bounds, Never is refused, naming the field, and
	// nothing changes.
	code, _, err := post(t, env.HyperSDK, ns, "rigid", "resize", map[string]interface{}{"cpus": 3, "restartPolicy": "Never"}, false)
	var status apierrors.APIStatus
	if code != http.StatusUnprocessableEntity || !errors.As(err, &status) || status.Status().Details == nil ||
		len(status.Status().Details.Causes) != 1 || !strings.HasSuffix(status.Status().Details.Causes[0].Field, "restartPolicy") {
		t.Fatalf("POST resize that needs a restart with restartPolicy Never: %d %v, want 422 naming restartPolicy", code, err)
	}
	if vm, _ := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "rigid", metav1.GetOptions{}); vm.Spec.Template.Spec.Domain.CPU.Cores != 2 {
		t.Errorf("a refused resize changed the VM")
	}
	runOperation(t, ns, "rigid", "resize", map[string]interface{}{"cpus": 3})
	restarted := runningVMI(t, ns, "rigid", old.UID)
	if got := restarted.Spec.Domain.CPU.Sockets * max(restarted.Spec.Domain.CPU.Cores, 1); got != 3 {
		t.Errorf("restarted VM has %d CPUs, want 3", got)
	}
}

// TestOperationsSnapshotAndClone: a snapshot, clones from the VM and from the
// snapshot, and a clone into another namespace that is started after.
func TestOperationsSnapshotAndClone(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-clone")
	other := env.Namespace(t, "ops-clone-target")
	createKubeVirtVM(t, ns, kubevirtVM("golden", 2, "2Gi", map[string]string{"app": "golden", "private": "x"}))
	runningVMI(t, ns, "golden", "")

	runOperation(t, ns, "golden", "snapshot", map[string]interface{}{"name": "golden-snap", "description": "before upgrade"})
	snap, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, "golden-snap", metav1.GetOptions{})
	if err != nil || snap.Annotations["hypersdk.io/description"] != "before upgrade" {
		t.Fatalf("snapshot: %v %v", err, snap)
	}
	runOperation(t, ns, "golden", "clone", map[string]interface{}{"targetName": "copy-a", "labelFilters": []string{"*", "!private"}})
	a, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "copy-a", metav1.GetOptions{})
	if err != nil || a.Labels["app"] != "golden" || a.Labels["private"] != "" {
		t.Errorf("clone from VM: %v labels %v", err, a.Labels)
	}
	runOperation(t, ns, "golden", "clone", map[string]interface{}{"targetName": "copy-b", "snapshotRef": "golden-snap"})
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "copy-b", metav1.GetOptions{}); err != nil {
		t.Errorf("clone from snapshot: %v", err)
	}
	// A snapshot of another VM is not this VM's to clone, in its namespace
	// or across: a clone is authorized on its VM alone (copy-a here).
	for _, body := range []string{`{"targetName":"stolen","snapshotRef":"golden-snap"}`,
		fmt.Sprintf(`{"targetName":"stolen","snapshotRef":"golden-snap","targetNamespace":%q}`, other)} {
		code, _, err := post(t, env.HyperSDK, ns, "copy-a", "clone", []byte(body), false)
		if code != http.StatusUnprocessableEntity {
			t.Errorf("clone of copy-a from golden's snapshot %s: %d (%v), want 422", body, code, err)
		} else {
			assertInvalidKind(t, err, "VirtualMachineCloneOptions", "snapshotRef")
		}
		code, err = createOperation(t, env.HyperSDK, ns, "copy-a", "clone", body)
		if code != http.StatusUnprocessableEntity {
			t.Errorf("clone of copy-a from golden's snapshot as a VMOperation %s: %d (%v), want 422", body, code, err)
		} else {
			assertInvalidKind(t, err, "VMOperation", "spec.clone.snapshotRef")
		}
	}
	runOperation(t, ns, "golden", "clone", map[string]interface{}{"targetName": "copy-c", "targetNamespace": other, "powerOnAfter": true})
	runningVMI(t, other, "copy-c", "")
}

// TestOperationSurvivesControllerKill: SIGKILL of hypersdk-controller in the
// middle of a migration; the next one finishes it, with one migration only.
func TestOperationSurvivesControllerKill(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-crash")
	createKubeVirtVM(t, ns, kubevirtVM("survivor", 1, "1Gi", nil))
	before := runningVMI(t, ns, "survivor", "")
	code, op, err := post(t, env.HyperSDK, ns, "survivor", "migrate", map[string]interface{}{}, false)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("POST migrate: %d %v", code, err)
	}
	framework.Eventually(t, "the migration to be under way", func(ctx context.Context) (bool, error) {
		cur, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, op.Name, metav1.GetOptions{})
		return err == nil && cur.Status.Phase == v1alpha1.VMOperationRunning && cur.Status.Progress >= 5 && cur.Status.Progress < 100, err
	})
	if err := env.KillController(ctx); err != nil {
		t.Fatal(err)
	}
	cur, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, op.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := follow(t, cur, v1alpha1.VMOperationSucceeded)
	if done.Status.Phase != v1alpha1.VMOperationSucceeded {
		t.Fatalf("operation ended %s", done.Status.Phase)
	}
	migs, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(migs.Items) != 1 || migs.Items[0].Status.Phase != kvv1.MigrationSucceeded {
		t.Errorf("%d migrations for one operation, want exactly 1 that succeeded", len(migs.Items))
	}
	after, _ := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "survivor", metav1.GetOptions{})
	if after.UID != before.UID || after.Status.NodeName == before.Status.NodeName {
		t.Errorf("after the crash: VMI %s on %s, want the same VMI moved off %s", after.UID, after.Status.NodeName, before.Status.NodeName)
	}
}

// TestOperationCancel: cancelling a migration that cannot find a target
// aborts it: the operation ends Cancelled, KubeVirt's migration and its
// target pod go, and the VM stays where it was.
func TestOperationCancel(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-cancel")
	createKubeVirtVM(t, ns, kubevirtVM("stay", 1, "1Gi", nil))
	before := runningVMI(t, ns, "stay", "")
	code, op, err := post(t, env.HyperSDK, ns, "stay", "migrate",
		map[string]interface{}{"nodeSelector": map[string]string{"hypersdk.io/no-such-label": "x"}}, false)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("POST migrate: %d %v", code, err)
	}
	framework.Eventually(t, "the migration to wait for a target", func(ctx context.Context) (bool, error) {
		cur, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, op.Name, metav1.GetOptions{})
		return err == nil && strings.Contains(cur.Status.Message, "Scheduling"), err
	})
	// A patch: an update of what a get read would race the status writes.
	cur, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Patch(ctx, op.Name, types.MergePatchType, []byte(`{"spec":{"cancel":true}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, cur, v1alpha1.VMOperationCancelled)
	framework.Eventually(t, "the migration and its target pod to go", func(ctx context.Context) (bool, error) {
		migs, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(migs.Items) == 0 && len(launcherPods(t, ns, "stay")) == 1, err
	})
	after, _ := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "stay", metav1.GetOptions{})
	if after.UID != before.UID || after.Status.NodeName != before.Status.NodeName || after.Status.Phase != kvv1.Running {
		t.Errorf("after cancel the VM is %s on %s (%s), want it running on %s", after.UID, after.Status.NodeName, after.Status.Phase, before.Status.NodeName)
	}
}

// TestRestartOfAVMThatWouldNotComeBack: a VM that KubeVirt does not start
// again once its instance is deleted (runStrategy Once here) is refused a
// restart, and a resize that needs one, both ways (409 naming its run
// strategy), and its instance is left running.
func TestRestartOfAVMThatWouldNotComeBack(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "run-once")
	vm := kubevirtVM("vm", 1, "1Gi", nil)
	vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyOnce)
	createKubeVirtVM(t, ns, vm)
	vmi := runningVMI(t, ns, "vm", "")
	for sub, body := range map[string]string{"restart": `{}`, "resize": `{"cpus":2,"restartPolicy":"IfNeeded"}`} {
		code, _, err := post(t, env.HyperSDK, ns, "vm", sub, []byte(body), false)
		if code != http.StatusConflict || !strings.Contains(fmt.Sprint(err), "Once") {
			t.Errorf("%s through the subresource: %d (%v), want 409 naming Once", sub, code, err)
		}
		code, err = createOperation(t, env.HyperSDK, ns, "vm", sub, body)
		if code != http.StatusConflict || !strings.Contains(fmt.Sprint(err), "Once") {
			t.Errorf("%s as a VMOperation: %d (%v), want 409 naming Once", sub, code, err)
		}
	}
	got, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "vm", metav1.GetOptions{})
	if err != nil || got.UID != vmi.UID || got.DeletionTimestamp != nil {
		t.Errorf("the instance after the refusals: %v, want %s untouched", err, vmi.UID)
	}
}
