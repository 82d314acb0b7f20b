package kubevirtsim

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	kvv1 "kubevirt.io/api/core/v1"
	poolv1 "kubevirt.io/api/pool/v1beta1"
)

// syncPool keeps spec.replicas VMs named <pool>-<index> from the pool's
// template, removing the highest indices first when scaled in, and reports
// status.replicas, readyReplicas and the labelSelector the scale subresource
// reads.
func (s *Simulator) syncPool(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := s.poolInformer.GetIndexer().GetByKey(key.String())
	if err != nil || !exists {
		return err
	}
	pool := obj.(*poolv1.VirtualMachinePool)
	if pool.DeletionTimestamp != nil || pool.Spec.VirtualMachineTemplate == nil {
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(pool.Spec.Selector)
	if err != nil {
		return fmt.Errorf("pool %s selector: %w", key, err)
	}
	want := int32(1)
	if pool.Spec.Replicas != nil {
		want = *pool.Spec.Replicas
	}
	owned := map[int]*kvv1.VirtualMachine{}
	objs, err := s.vmInformer.GetIndexer().ByIndex(cache.NamespaceIndex, pool.Namespace)
	if err != nil {
		return err
	}
	for _, o := range objs {
		vm := o.(*kvv1.VirtualMachine)
		if ref := metav1.GetControllerOf(vm); ref == nil || ref.UID != pool.UID || vm.DeletionTimestamp != nil {
			continue
		}
		if i, err := strconv.Atoi(strings.TrimPrefix(vm.Name, pool.Name+"-")); err == nil {
			owned[i] = vm
		}
	}
	vms := s.cfg.KubeVirt.KubevirtV1().VirtualMachines(pool.Namespace)
	for i := 0; len(owned) < int(want); i++ {
		if _, taken := owned[i]; taken {
			continue
		}
		vm := poolVM(pool, i)
		created, err := vms.Create(ctx, vm, metav1.CreateOptions{})
		switch {
		case err == nil:
			owned[i] = created
		case apierrors.IsAlreadyExists(err):
			owned[i] = vm // not ours (no owner match above), but the name is taken: count it once
		default:
			return fmt.Errorf("creating pool VM %s: %w", vm.Name, err)
		}
	}
	if len(owned) > int(want) {
		indices := make([]int, 0, len(owned))
		for i := range owned {
			indices = append(indices, i)
		}
		sort.Sort(sort.Reverse(sort.IntSlice(indices)))
		for _, i := range indices[:len(owned)-int(want)] {
			if err := ignoreNotFound(vms.Delete(ctx, owned[i].Name, metav1.DeleteOptions{})); err != nil {
				return err
			}
			delete(owned, i)
		}
	}
	st := pool.Status.DeepCopy()
	st.Replicas = int32(len(owned))
	st.ReadyReplicas = 0
	for _, vm := range owned {
		if vm.Status.Ready {
			st.ReadyReplicas++
		}
	}
	st.LabelSelector = selector.String()
	if equality.Semantic.DeepEqual(*st, pool.Status) {
		return nil
	}
	updated := pool.DeepCopy()
	updated.Status = *st
	_, err = s.cfg.KubeVirt.PoolV1beta1().VirtualMachinePools(pool.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreNotFound(err)
}

func poolVM(pool *poolv1.VirtualMachinePool, i int) *kvv1.VirtualMachine {
	t := pool.Spec.VirtualMachineTemplate
	return &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("%s-%d", pool.Name, i),
			Namespace:   pool.Namespace,
			Labels:      t.ObjectMeta.Labels,
			Annotations: t.ObjectMeta.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(pool,
				poolv1.SchemeGroupVersion.WithKind("VirtualMachinePool"))},
		},
		Spec: *t.Spec.DeepCopy(),
	}
}

// enqueuePoolOf wakes the pool that controls a VM.
func (s *Simulator) enqueuePoolOf(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	vm, ok := obj.(*kvv1.VirtualMachine)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(vm); ref != nil && ref.Kind == "VirtualMachinePool" {
		s.pools.queue.Add(cache.ObjectName{Namespace: vm.Namespace, Name: ref.Name})
	}
}
