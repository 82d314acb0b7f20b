package kubevirtsim

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	kvv1 "kubevirt.io/api/core/v1"
	cdifake "kubevirt.io/client-go/containerizeddataimporter/fake"
	snapshotfake "kubevirt.io/client-go/externalsnapshotter/fake"
	kvfake "kubevirt.io/client-go/kubevirt/fake"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// The caches of pods, instances and migrations are separate watches, so a
// pass can see a pod event before the update of the object it belongs to.
// These tests give a pass such a stale object, with the API already ahead,
// and check that it creates no pod: a pod created from a stale view is
// owned by nobody and stays.

func launcher(name string, vmi *kvv1.VirtualMachineInstance, migration types.UID) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: vmi.Namespace, UID: types.UID(name + "-uid"),
		Labels: map[string]string{
			kubevirt.LauncherLabel: kubevirt.LauncherLabelValue, kubevirt.CreatedByLabel: string(vmi.UID), kubevirt.VMNameLabel: vmi.Name,
		},
	}}
	if migration != "" {
		pod.Labels[MigrationJobLabel] = string(migration)
	}
	return pod
}

// newSimulator is a simulator on fake clientsets whose informers never run:
// a test fills their caches itself.
func newSimulator(kube *kubefake.Clientset, kv *kvfake.Clientset) *Simulator {
	return New(Config{Kube: kube, KubeVirt: kv, CDI: cdifake.NewSimpleClientset(), VolumeSnapshots: snapshotfake.NewSimpleClientset()})
}

func podCount(t *testing.T, kube *kubefake.Clientset, ns string) int {
	t.Helper()
	pods, err := kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(pods.Items)
}

// A migration has just moved the instance to its target pod and deleted the
// source; the pass still has the instance before the move.
func TestNoPodForAnInstanceBehindTheAPI(t *testing.T) {
	now := metav1.Now()
	cached := &kvv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", UID: "vmi-uid", ResourceVersion: "1"},
		Status: kvv1.VirtualMachineInstanceStatus{
			Phase:          kvv1.Running,
			MigrationState: &kvv1.VirtualMachineInstanceMigrationState{MigrationUID: "mig-uid", StartTimestamp: &now},
		},
	}
	source := launcher("source", cached, "")
	source.DeletionTimestamp = &now
	source.Finalizers = []string{"kwok.x-k8s.io/fake"} // kwok has yet to remove it
	target := launcher("target", cached, "mig-uid")
	target.Spec.NodeName = "node-b"
	target.Status.Phase = corev1.PodRunning
	cached.Status.ActivePods = map[types.UID]string{source.UID: "node-a"}

	moved := cached.DeepCopy()
	moved.ResourceVersion = "2"
	moved.Status.ActivePods = map[types.UID]string{target.UID: "node-b"}
	moved.Status.NodeName = "node-b"
	moved.Status.MigrationState.Completed = true

	kube := kubefake.NewClientset(source, target)
	s := newSimulator(kube, kvfake.NewSimpleClientset(moved))
	for _, obj := range []any{source, target} {
		if err := s.podInformer.GetIndexer().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.vmiInformer.GetIndexer().Add(cached); err != nil {
		t.Fatal(err)
	}

	if err := s.syncVMI(context.Background(), cache.ObjectName{Namespace: "ns", Name: "vm"}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if n := podCount(t, kube, "ns"); n != 2 {
		t.Errorf("a pass on the instance before its migration's move left %d pods, want the 2 there were", n)
	}
}

// A migration failed and its target pod was deleted; the pass still has
// the migration from before it created that pod.
func TestNoTargetPodForAMigrationBehindTheAPI(t *testing.T) {
	vmi := &kvv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", UID: "vmi-uid", ResourceVersion: "5"},
		Status:     kvv1.VirtualMachineInstanceStatus{Phase: kvv1.Running, NodeName: "node-a"},
	}
	source := launcher("source", vmi, "")
	source.Spec.NodeName = "node-a"
	source.Status.Phase = corev1.PodRunning
	vmi.Status.ActivePods = map[types.UID]string{source.UID: "node-a"}

	cached := &kvv1.VirtualMachineInstanceMigration{
		ObjectMeta: metav1.ObjectMeta{Name: "mig", Namespace: "ns", UID: "mig-uid", ResourceVersion: "1"},
		Spec:       kvv1.VirtualMachineInstanceMigrationSpec{VMIName: "vm"},
		Status:     kvv1.VirtualMachineInstanceMigrationStatus{Phase: kvv1.MigrationPending},
	}
	failed := cached.DeepCopy()
	failed.ResourceVersion = "3"
	failed.Status.Phase = kvv1.MigrationFailed

	kube := kubefake.NewClientset(source)
	s := newSimulator(kube, kvfake.NewSimpleClientset(vmi, failed))
	if err := s.podInformer.GetIndexer().Add(source); err != nil {
		t.Fatal(err)
	}
	if err := s.vmiInformer.GetIndexer().Add(vmi); err != nil {
		t.Fatal(err)
	}
	if err := s.migInformer.GetIndexer().Add(cached); err != nil {
		t.Fatal(err)
	}

	if err := s.syncMigration(context.Background(), cache.ObjectName{Namespace: "ns", Name: "mig"}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if n := podCount(t, kube, "ns"); n != 1 {
		t.Errorf("a pass on a failed migration seen as pending left %d pods, want only the source", n)
	}
}
