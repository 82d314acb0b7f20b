package kubevirt

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	kvv1 "kubevirt.io/api/core/v1"
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
