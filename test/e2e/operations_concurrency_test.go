package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestMigrationLimitsHold: 20 migrations asked for at once never have more
// than --max-migrations (5, the controller's default and the manifests')
// in flight, nor more than --max-migrations-per-node (2) out of one node,
// as seen on a watch of KubeVirt's migrations; and all of them finish.
func TestMigrationLimitsHold(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-limits")
	const n = 20
	for i := 0; i < n; i++ {
		createKubeVirtVM(t, ns, kubevirtVM(fmt.Sprintf("m%d", i), 1, "1Gi", nil))
	}
	source := map[string]string{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%d", i)
		source[name] = runningVMI(t, ns, name, "").Status.NodeName
	}
	migs, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: migs.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	ops := make([]*v1alpha1.VMOperation, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, op, err := post(t, env.HyperSDK, ns, fmt.Sprintf("m%d", i), "migrate", map[string]interface{}{}, false)
			if err != nil || code != http.StatusCreated {
				t.Errorf("POST migrate m%d: %d %v", i, code, err)
				return
			}
			ops[i] = op
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	inFlight := map[string]string{} // migration -> source node
	maxCluster, maxNode, finished := 0, 0, 0
	deadline := time.After(framework.Timeout)
	for finished < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("migration watch closed")
			}
			mig, ok := ev.Object.(*kvv1.VirtualMachineInstanceMigration)
			if !ok {
				t.Fatalf("watch event %s: %v", ev.Type, ev.Object)
			}
			_, was := inFlight[mig.Name]
			done := ev.Type == watch.Deleted || mig.Status.Phase == kvv1.MigrationSucceeded || mig.Status.Phase == kvv1.MigrationFailed
			switch {
			case done && was:
				delete(inFlight, mig.Name)
				finished++
			case !done:
				inFlight[mig.Name] = source[mig.Spec.VMIName]
			}
			perNode := map[string]int{}
			for _, node := range inFlight {
				perNode[node]++
				maxNode = max(maxNode, perNode[node])
			}
			maxCluster = max(maxCluster, len(inFlight))
		case <-deadline:
			t.Fatalf("%d of %d migrations finished in time", finished, n)
		}
	}
	t.Logf("at most %d migrations in flight, at most %d out of one node", maxCluster, maxNode)
	if maxCluster > 5 || maxNode > 2 {
		t.Errorf("%d migrations in flight (limit 5), %d out of one node (limit 2)", maxCluster, maxNode)
	}
	for _, op := range ops {
		if end := followToEnd(t, op); end.Status.Phase != v1alpha1.VMOperationSucceeded {
			t.Errorf("migration %s ended %s: %s", op.Name, end.Status.Phase, end.Status.Message)
		}
	}
}

// TestCloneIntoMissingNamespace: refused at POST with a 422 naming the
// field; nothing is created.
func TestCloneIntoMissingNamespace(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-clone-nons")
	createKubeVirtVM(t, ns, kubevirtVM("src", 1, "1Gi", nil))
	code, _, err := post(t, env.HyperSDK, ns, "src", "clone",
		map[string]interface{}{"targetName": "copy", "targetNamespace": "no-such-namespace"}, false)
	status, ok := err.(apierrors.APIStatus)
	if code != http.StatusUnprocessableEntity || !ok || status.Status().Details == nil || len(status.Status().Details.Causes) != 1 ||
		status.Status().Details.Causes[0].Field != "targetNamespace" {
		t.Fatalf("clone into a missing namespace: %d %v, want 422 naming targetNamespace", code, err)
	}
	ops, _ := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).List(ctx, metav1.ListOptions{})
	snaps, _ := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).List(ctx, metav1.ListOptions{})
	if len(ops.Items) != 0 || len(snaps.Items) != 0 {
		t.Errorf("a refused clone left %d operations and %d snapshots", len(ops.Items), len(snaps.Items))
	}
}

// TestNamespaceBoundVMIsNotClonedAcross: a VM that mounts a
// ServiceAccount's token is refused a clone into another namespace (where
// it would get that namespace's ServiceAccount of that name), through the
// subresource and as a VMOperation alike, with a 422 naming the field.
func TestNamespaceBoundVMIsNotClonedAcross(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-clone-bound")
	other := env.Namespace(t, "ops-clone-bound-to")
	vm := kubevirtVM("src", 1, "1Gi", nil)
	vm.Spec.Template.Spec.Volumes = append(vm.Spec.Template.Spec.Volumes, kvv1.Volume{Name: "token",
		VolumeSource: kvv1.VolumeSource{ServiceAccount: &kvv1.ServiceAccountVolumeSource{ServiceAccountName: "deployer"}}})
	createKubeVirtVM(t, ns, vm)
	refused := func(how string, err error, field string) {
		t.Helper()
		status, ok := err.(apierrors.APIStatus)
		if !ok || status.Status().Code != http.StatusUnprocessableEntity || status.Status().Details == nil || len(status.Status().Details.Causes) != 1 ||
			status.Status().Details.Causes[0].Field != field || !strings.Contains(status.Status().Details.Causes[0].Message, "ServiceAccount deployer") {
			t.Errorf("%s: %v, want 422 naming %s and the ServiceAccount", how, err, field)
		}
	}
	_, _, err := post(t, env.HyperSDK, ns, "src", "clone", map[string]interface{}{"targetName": "copy", "targetNamespace": other}, false)
	refused("clone subresource", err, "targetNamespace")
	_, err = env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Create(ctx, &v1alpha1.VMOperation{
		ObjectMeta: metav1.ObjectMeta{Name: "clone"},
		Spec: v1alpha1.VMOperationSpec{VMName: "src", Type: v1alpha1.VMOperationClone,
			Clone: &v1alpha1.CloneSpec{TargetName: "copy", TargetNamespace: other}},
	}, metav1.CreateOptions{})
	refused("VMOperation", err, "spec.clone.targetNamespace")
	if vms, err := env.KubeVirt.KubevirtV1().VirtualMachines(other).List(ctx, metav1.ListOptions{}); err != nil || len(vms.Items) != 0 {
		t.Errorf("VMs in %s after the refusals: %v %v", other, vms, err)
	}
}

// TestConcurrentClonesToOneName: three clones to one name posted at once
// give exactly one VM and one Succeeded; the others are refused (409) or
// fail with a conflict, and nothing temporary is left.
func TestConcurrentClonesToOneName(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-clone-race")
	createKubeVirtVM(t, ns, kubevirtVM("src", 1, "1Gi", nil))
	runningVMI(t, ns, "src", "")
	type result struct {
		code int
		op   *v1alpha1.VMOperation
		err  error
	}
	results := make([]result, 3)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			code, op, err := post(t, env.HyperSDK, ns, "src", "clone", map[string]interface{}{"targetName": "race-clone"}, false)
			results[i] = result{code, op, err}
		}(i)
	}
	close(start)
	wg.Wait()
	succeeded := 0
	for i, r := range results {
		switch r.code {
		case http.StatusConflict:
			t.Logf("clone %d: 409 %v", i, r.err)
		case http.StatusCreated:
			end := followToEnd(t, r.op)
			t.Logf("clone %d: 201, ended %s: %s", i, end.Status.Phase, end.Status.Message)
			switch end.Status.Phase {
			case v1alpha1.VMOperationSucceeded:
				succeeded++
			case v1alpha1.VMOperationFailed:
				if !strings.Contains(end.Status.Message, "already cloning") && !strings.Contains(end.Status.Message, "already exists") {
					t.Errorf("clone %d failed with %q, want a conflict", i, end.Status.Message)
				}
			default:
				t.Errorf("clone %d ended %s", i, end.Status.Phase)
			}
		default:
			t.Errorf("clone %d: %d %v, want 201 or 409", i, r.code, r.err)
		}
	}
	if succeeded != 1 {
		t.Errorf("%d clones succeeded, want exactly 1", succeeded)
	}
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "race-clone", metav1.GetOptions{}); err != nil {
		t.Errorf("the clone: %v", err)
	}
	nothingTemporaryLeft(t, ns)
}

// TestCloneTargetRefusedLater: a clone whose VM cannot be created in the
// target namespace (its quota allows no VM) is accepted, then ends Failed
// with the quota's message, and leaves no snapshot and no VM.
func TestCloneTargetRefusedLater(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-clone-quota")
	target := env.Namespace(t, "ops-clone-quota-target")
	noVMsQuota(t, target)
	createKubeVirtVM(t, ns, kubevirtVM("src", 1, "1Gi", nil))
	code, op, err := post(t, env.HyperSDK, ns, "src", "clone", map[string]interface{}{"targetName": "copy", "targetNamespace": target}, false)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("POST clone: %d %v", code, err)
	}
	end := follow(t, op, v1alpha1.VMOperationFailed)
	if !strings.Contains(end.Status.Message, "exceeded quota") {
		t.Errorf("clone over quota failed with %q, want the quota's message", end.Status.Message)
	}
	nothingTemporaryLeft(t, ns)
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(target).Get(ctx, "copy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a VM in the target namespace: %v", err)
	}
}

// noVMsQuota gives ns a quota of no KubeVirt VMs and waits until the quota
// controller has counted it: before that, admission refuses with "status
// unknown" rather than "exceeded quota".
func noVMsQuota(t *testing.T, ns string) {
	t.Helper()
	const vms = "count/virtualmachines.kubevirt.io"
	if _, err := env.Kube.CoreV1().ResourceQuotas(ns).Create(context.Background(), &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-vms"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{vms: resource.MustParse("0")}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the quota to be counted", func(ctx context.Context) (bool, error) {
		q, err := env.Kube.CoreV1().ResourceQuotas(ns).Get(ctx, "no-vms", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		_, counted := q.Status.Used[vms]
		return counted, nil
	})
}

// cloneWaitingForNode clones a stopped VM with its root disk on a claim,
// which can run only on a node labelled key (none is yet), into target with
// powerOnAfter, and returns the operation once the copy and its disk are
// made and it waits for a node.
func cloneWaitingForNode(t *testing.T, ns, target, key string) *v1alpha1.VMOperation {
	t.Helper()
	vm := withClaimDisk(t, ns, kubevirtVM("src", 1, "1Gi", nil))
	vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	vm.Spec.Template.Spec.NodeSelector = map[string]string{key: "yes"}
	createKubeVirtVM(t, ns, vm)
	code, op, err := post(t, env.HyperSDK, ns, "src", "clone",
		map[string]interface{}{"targetName": "copy", "targetNamespace": target, "powerOnAfter": true}, false)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("POST clone: %d %v", code, err)
	}
	framework.Eventually(t, "the copy to wait for a node", func(ctx context.Context) (bool, error) {
		cur, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, op.Name, metav1.GetOptions{})
		op = cur
		return err == nil && cur.Status.Progress >= 80 && strings.HasPrefix(cur.Status.Message, "clone "), err
	})
	return op
}

// TestCancelledCloneLeavesNothing: a clone across namespaces cancelled while
// its copy waits to be scheduled ends Cancelled; the copy and the temporary
// snapshot are deleted, the source is untouched.
func TestCancelledCloneLeavesNothing(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-clone-cancel")
	target := env.Namespace(t, "ops-clone-cancel-target")
	op := cloneWaitingForNode(t, ns, target, "hypersdk.io/e2e-"+ns)
	var cancelled *v1alpha1.VMOperation
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, op.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Cancel = true
		cancelled, err = env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	follow(t, cancelled, v1alpha1.VMOperationCancelled)
	framework.Eventually(t, "the half-made copy and its disk to go", func(ctx context.Context) (bool, error) {
		_, err := env.KubeVirt.KubevirtV1().VirtualMachines(target).Get(ctx, "copy", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, nil
		}
		dvs, err := env.CDI.CdiV1beta1().DataVolumes(target).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		claims, err := env.Kube.CoreV1().PersistentVolumeClaims(target).List(ctx, metav1.ListOptions{})
		return err == nil && len(dvs.Items)+len(claims.Items) == 0, err
	})
	nothingTemporaryLeft(t, ns)
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "src", metav1.GetOptions{}); err != nil {
		t.Errorf("the source: %v", err)
	}
	boundVolume(t, ns, "src-root")
}

// TestCloneSurvivesControllerKill: SIGKILL of hypersdk-controller while a
// clone across namespaces waits for its copy to be scheduled; the next
// controller finishes it, with one copy and nothing temporary left.
func TestCloneSurvivesControllerKill(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-clone-crash")
	target := env.Namespace(t, "ops-clone-crash-target")
	key := "hypersdk.io/e2e-" + ns
	op := cloneWaitingForNode(t, ns, target, key)
	if err := env.KillController(ctx); err != nil {
		t.Fatal(err)
	}
	node := otherNode(t, "")
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"yes"}}}`, key)
	if _, err := env.Kube.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unlabel := fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, key)
		_, _ = env.Kube.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, []byte(unlabel), metav1.PatchOptions{})
	})
	follow(t, op, v1alpha1.VMOperationSucceeded)
	if vmi := runningVMI(t, target, "copy", ""); vmi.Status.NodeName != node {
		t.Errorf("the copy runs on %s, want %s", vmi.Status.NodeName, node)
	}
	nothingTemporaryLeft(t, ns)
	vms, err := env.KubeVirt.KubevirtV1().VirtualMachines(target).List(ctx, metav1.ListOptions{})
	if err != nil || len(vms.Items) != 1 {
		t.Errorf("%d VMs in the target namespace (%v), want the one copy", len(vms.Items), err)
	}
	if source, copied := boundVolume(t, ns, "src-root"), boundVolume(t, target, "copy-rootdisk"); source.Name == copied.Name {
		t.Errorf("the copy shares the source's volume %s", source.Name)
	}
}

// followToEnd follows an operation to whichever final phase it reaches.
func followToEnd(t *testing.T, op *v1alpha1.VMOperation) *v1alpha1.VMOperation {
	t.Helper()
	var end *v1alpha1.VMOperation
	framework.Eventually(t, "operation "+op.Name+" to end", func(ctx context.Context) (bool, error) {
		cur, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(op.Namespace).Get(ctx, op.Name, metav1.GetOptions{})
		end = cur
		return err == nil && validationFinal(cur.Status.Phase), err
	})
	return end
}

// nothingTemporaryLeft waits until the namespace holds no snapshot (of a VM
// or of a volume), restore or clone object that operations made for
// themselves.
func nothingTemporaryLeft(t *testing.T, ns string) {
	t.Helper()
	framework.Eventually(t, "no temporary snapshot or clone in "+ns, func(ctx context.Context) (bool, error) {
		snaps, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		restores, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineRestores(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		clones, err := env.KubeVirt.CloneV1beta1().VirtualMachineClones(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		volumeSnaps, err := env.VolumeSnapshots.SnapshotV1().VolumeSnapshots(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(snaps.Items)+len(restores.Items)+len(clones.Items)+len(volumeSnaps.Items) == 0, nil
	})
}
