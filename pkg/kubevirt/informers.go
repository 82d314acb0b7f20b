package kubevirt

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	clonev1 "kubevirt.io/api/clone/v1beta1"
	kvv1 "kubevirt.io/api/core/v1"
	poolv1 "kubevirt.io/api/pool/v1beta1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"
)

// The generated KubeVirt client has no informer factory; these build shared
// informers over its typed clients, across all namespaces.

// NewVirtualMachineInformer watches KubeVirt VirtualMachines.
func NewVirtualMachineInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	return informerFor[*kvv1.VirtualMachineList](&kvv1.VirtualMachine{}, resync,
		client.KubevirtV1().VirtualMachines(metav1.NamespaceAll))
}

// NewVirtualMachineInstanceInformer watches KubeVirt VirtualMachineInstances.
func NewVirtualMachineInstanceInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	return informerFor[*kvv1.VirtualMachineInstanceList](&kvv1.VirtualMachineInstance{}, resync,
		client.KubevirtV1().VirtualMachineInstances(metav1.NamespaceAll))
}

// NewMigrationInformer watches VirtualMachineInstanceMigrations.
func NewMigrationInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	return informerFor[*kvv1.VirtualMachineInstanceMigrationList](&kvv1.VirtualMachineInstanceMigration{}, resync,
		client.KubevirtV1().VirtualMachineInstanceMigrations(metav1.NamespaceAll))
}

// NewSnapshotInformer watches VirtualMachineSnapshots (snapshot.kubevirt.io/v1beta1).
func NewSnapshotInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	return informerFor[*snapshotv1.VirtualMachineSnapshotList](&snapshotv1.VirtualMachineSnapshot{}, resync,
		client.SnapshotV1beta1().VirtualMachineSnapshots(metav1.NamespaceAll))
}

// NewRestoreInformer watches VirtualMachineRestores (snapshot.kubevirt.io/v1beta1).
func NewRestoreInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	return informerFor[*snapshotv1.VirtualMachineRestoreList](&snapshotv1.VirtualMachineRestore{}, resync,
		client.SnapshotV1beta1().VirtualMachineRestores(metav1.NamespaceAll))
}

// NewCloneInformer watches VirtualMachineClones (clone.kubevirt.io/v1beta1).
func NewCloneInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	return informerFor[*clonev1.VirtualMachineCloneList](&clonev1.VirtualMachineClone{}, resync,
		client.CloneV1beta1().VirtualMachineClones(metav1.NamespaceAll))
}

// NewPoolInformer watches VirtualMachinePools (pool.kubevirt.io/v1beta1).
func NewPoolInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	return informerFor[*poolv1.VirtualMachinePoolList](&poolv1.VirtualMachinePool{}, resync,
		client.PoolV1beta1().VirtualMachinePools(metav1.NamespaceAll))
}

// listWatcher is the list and watch half of a generated typed client.
type listWatcher[L runtime.Object] interface {
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// informerFor builds a shared informer, indexed by namespace, over a typed client.
func informerFor[L runtime.Object](obj runtime.Object, resync time.Duration, c listWatcher[L]) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.List(ctx, o)
		},
		WatchFuncWithContext: c.Watch,
	}, obj, resync, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}
