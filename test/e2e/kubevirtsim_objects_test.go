package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	clonev1 "kubevirt.io/api/clone/v1beta1"
	kvv1 "kubevirt.io/api/core/v1"
	poolv1 "kubevirt.io/api/pool/v1beta1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/test/framework"
)

// TestSnapshotRestoreClone: snapshot, restore and clone complete with
// KubeVirt's phases and leave the objects KubeVirt would.
func TestSnapshotRestoreClone(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "snap")
	vm := kubevirtVM("origin", 2, "2Gi", map[string]string{"app": "db", "secret-tier": "gold"})
	vm.Annotations = map[string]string{"owner": "team-a"}
	createKubeVirtVM(t, ns, vm)
	runningVMI(t, ns, "origin", "")
	snaps := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns)

	if _, err := snaps.Create(ctx, &snapshotv1.VirtualMachineSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "snap-1"},
		Spec: snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{
			APIGroup: ptr.To("kubevirt.io"), Kind: "VirtualMachine", Name: "origin"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var snap *snapshotv1.VirtualMachineSnapshot
	framework.Eventually(t, "the snapshot to succeed", func(ctx context.Context) (bool, error) {
		got, err := snaps.Get(ctx, "snap-1", metav1.GetOptions{})
		snap = got
		return err == nil && got.Status != nil && got.Status.Phase == snapshotv1.Succeeded, err
	})
	if !*snap.Status.ReadyToUse || snap.Status.VirtualMachineSnapshotContentName == nil || snap.Status.CreationTime == nil {
		t.Errorf("snapshot status = %+v, want ready with content and creation time", snap.Status)
	}
	content, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshotContents(ns).Get(ctx, *snap.Status.VirtualMachineSnapshotContentName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("snapshot content: %v", err)
	}
	if src := content.Spec.Source.VirtualMachine; src == nil || src.Spec.Template.Spec.Domain.CPU.Cores != 2 {
		t.Errorf("content does not hold the VM's definition: %+v", content.Spec.Source)
	}

	// Restore onto the (stopped) original after changing it.
	setRunStrategy(t, ns, "origin", kvv1.RunStrategyHalted)
	framework.Eventually(t, "origin stopped", func(ctx context.Context) (bool, error) {
		_, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "origin", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	// The simulator writes the VM's status as it stops: retry on conflict,
	// as any client-go writer does.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "origin", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Template.Spec.Domain.CPU.Cores = 6
		_, err = env.KubeVirt.KubevirtV1().VirtualMachines(ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	restores := env.KubeVirt.SnapshotV1beta1().VirtualMachineRestores(ns)
	if _, err := restores.Create(ctx, &snapshotv1.VirtualMachineRestore{
		ObjectMeta: metav1.ObjectMeta{Name: "restore-1"},
		Spec: snapshotv1.VirtualMachineRestoreSpec{
			Target:                     corev1.TypedLocalObjectReference{APIGroup: ptr.To("kubevirt.io"), Kind: "VirtualMachine", Name: "origin"},
			VirtualMachineSnapshotName: "snap-1",
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the restore to complete", func(ctx context.Context) (bool, error) {
		got, err := restores.Get(ctx, "restore-1", metav1.GetOptions{})
		return err == nil && got.Status != nil && got.Status.Complete != nil && *got.Status.Complete, err
	})
	restored, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "origin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := restored.Spec.Template.Spec.Domain.CPU.Cores; c != 2 {
		t.Errorf("restored VM has %d cores, want the snapshot's 2", c)
	}

	// Clone from the VM, keeping only some labels.
	clones := env.KubeVirt.CloneV1beta1().VirtualMachineClones(ns)
	if _, err := clones.Create(ctx, &clonev1.VirtualMachineClone{
		ObjectMeta: metav1.ObjectMeta{Name: "clone-1"},
		Spec: clonev1.VirtualMachineCloneSpec{
			Source:       &corev1.TypedLocalObjectReference{APIGroup: ptr.To("kubevirt.io"), Kind: "VirtualMachine", Name: "origin"},
			Target:       &corev1.TypedLocalObjectReference{APIGroup: ptr.To("kubevirt.io"), Kind: "VirtualMachine", Name: "copy"},
			LabelFilters: []string{"*", "!secret-*"},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var phases []string
	framework.Eventually(t, "the clone to succeed", func(ctx context.Context) (bool, error) {
		got, err := clones.Get(ctx, "clone-1", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p := string(got.Status.Phase); p != "" && (len(phases) == 0 || phases[len(phases)-1] != p) {
			phases = append(phases, p)
		}
		return got.Status.Phase == clonev1.Succeeded, nil
	})
	t.Logf("clone phases seen: %v", phases)
	cp, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "copy", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("clone target: %v", err)
	}
	if cp.Labels["app"] != "db" || cp.Labels["secret-tier"] != "" || cp.Spec.Template.Spec.Domain.CPU.Cores != 2 {
		t.Errorf("clone labels %v cores %d, want app=db without secret-tier, 2 cores", cp.Labels, cp.Spec.Template.Spec.Domain.CPU.Cores)
	}
	// The temporary snapshot and restore are gone.
	framework.Eventually(t, "temporary objects removed", func(ctx context.Context) (bool, error) {
		list, err := snaps.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range list.Items {
			if strings.HasPrefix(s.Name, "tmp-") {
				return false, nil
			}
		}
		return true, nil
	})

	// Clone from a snapshot.
	if _, err := clones.Create(ctx, &clonev1.VirtualMachineClone{
		ObjectMeta: metav1.ObjectMeta{Name: "clone-2"},
		Spec: clonev1.VirtualMachineCloneSpec{
			Source: &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.kubevirt.io"), Kind: "VirtualMachineSnapshot", Name: "snap-1"},
			Target: &corev1.TypedLocalObjectReference{APIGroup: ptr.To("kubevirt.io"), Kind: "VirtualMachine", Name: "from-snap"},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the snapshot clone to succeed", func(ctx context.Context) (bool, error) {
		got, err := clones.Get(ctx, "clone-2", metav1.GetOptions{})
		return err == nil && got.Status.Phase == clonev1.Succeeded, err
	})
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "from-snap", metav1.GetOptions{}); err != nil {
		t.Errorf("clone from snapshot made no VM: %v", err)
	}
}

// TestPoolScale: a pool of 3 becomes 5 when spec.replicas changes through
// the scale subresource, and reports what the scale subresource reads.
func TestPoolScale(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "pool")
	template := kubevirtVM("", 1, "1Gi", map[string]string{"pool": "web"})
	template.Spec.Template.ObjectMeta.Labels = map[string]string{"pool": "web"}
	pools := env.KubeVirt.PoolV1beta1().VirtualMachinePools(ns)
	if _, err := pools.Create(ctx, &poolv1.VirtualMachinePool{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: poolv1.VirtualMachinePoolSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "web"}},
			VirtualMachineTemplate: &poolv1.VirtualMachineTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"pool": "web"}},
				Spec:       template.Spec,
			},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPool := func(n int32) {
		t.Helper()
		framework.Eventually(t, "the pool to hold ready VMs", func(ctx context.Context) (bool, error) {
			p, err := pools.Get(ctx, "web", metav1.GetOptions{})
			return err == nil && p.Status.Replicas == n && p.Status.ReadyReplicas == n && p.Status.LabelSelector == "pool=web", err
		})
	}
	waitPool(3)
	if _, err := env.Kubectl(t, "scale", "vmpool/web", "-n", ns, "--replicas=5"); err != nil {
		t.Fatal(err)
	}
	waitPool(5)
	out, err := env.Kubectl(t, "get", "vmpool", "web", "-n", ns, "--subresource=scale", "-o", "jsonpath={.spec.replicas} {.status.replicas} {.status.selector}")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "5 5 pool=web" {
		t.Errorf("scale subresource = %q, want \"5 5 pool=web\"", out)
	}
	running, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).List(ctx, metav1.ListOptions{LabelSelector: "pool=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(running.Items) != 5 {
		t.Errorf("%d VMIs of the pool, want 5", len(running.Items))
	}
}
