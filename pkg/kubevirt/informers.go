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

// NewVirtualMachineInformer watches KubeVirt VirtualMachines.
func NewVirtualMachineInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	c := client.KubevirtV1()
	return newInformer(&kvv1.VirtualMachine{}, resync,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.VirtualMachines(metav1.NamespaceAll).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.VirtualMachines(metav1.NamespaceAll).Watch(ctx, o)
		})
}

// NewVirtualMachineInstanceInformer watches KubeVirt VirtualMachineInstances.
func NewVirtualMachineInstanceInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	c := client.KubevirtV1()
	return newInformer(&kvv1.VirtualMachineInstance{}, resync,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.VirtualMachineInstances(metav1.NamespaceAll).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.VirtualMachineInstances(metav1.NamespaceAll).Watch(ctx, o)
		})
}

// NewMigrationInformer watches VirtualMachineInstanceMigrations.
func NewMigrationInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	c := client.KubevirtV1()
	return newInformer(&kvv1.VirtualMachineInstanceMigration{}, resync,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.VirtualMachineInstanceMigrations(metav1.NamespaceAll).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.VirtualMachineInstanceMigrations(metav1.NamespaceAll).Watch(ctx, o)
		})
}

// newInformer builds a shared informer from list and watch functions: the
// generated KubeVirt client has no informer factory.
func newInformer(obj runtime.Object, resync time.Duration,
	list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc:  list,
		WatchFuncWithContext: watchFn,
	}, obj, resync, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}

// NewSnapshotInformer watches VirtualMachineSnapshots (snapshot.kubevirt.io/v1beta1).
func NewSnapshotInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	c := client.SnapshotV1beta1()
	return newInformer(&snapshotv1.VirtualMachineSnapshot{}, resync,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.VirtualMachineSnapshots(metav1.NamespaceAll).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.VirtualMachineSnapshots(metav1.NamespaceAll).Watch(ctx, o)
		})
}

// NewRestoreInformer watches VirtualMachineRestores (snapshot.kubevirt.io/v1beta1).
func NewRestoreInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	c := client.SnapshotV1beta1()
	return newInformer(&snapshotv1.VirtualMachineRestore{}, resync,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.VirtualMachineRestores(metav1.NamespaceAll).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.VirtualMachineRestores(metav1.NamespaceAll).Watch(ctx, o)
		})
}

// NewCloneInformer watches VirtualMachineClones (clone.kubevirt.io/v1beta1).
func NewCloneInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	c := client.CloneV1beta1()
	return newInformer(&clonev1.VirtualMachineClone{}, resync,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.VirtualMachineClones(metav1.NamespaceAll).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.VirtualMachineClones(metav1.NamespaceAll).Watch(ctx, o)
		})
}

// NewPoolInformer watches VirtualMachinePools (pool.kubevirt.io/v1beta1).
func NewPoolInformer(client Clientset, resync time.Duration) cache.SharedIndexInformer {
	c := client.PoolV1beta1()
	return newInformer(&poolv1.VirtualMachinePool{}, resync,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.VirtualMachinePools(metav1.NamespaceAll).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.VirtualMachinePools(metav1.NamespaceAll).Watch(ctx, o)
		})
}
