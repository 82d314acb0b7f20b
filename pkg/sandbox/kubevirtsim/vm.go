package kubevirtsim

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// syncVM keeps a VM's instance in line with its run strategy, applies CPU and
// memory changes live where KubeVirt would (or flags RestartRequired), and
// writes the VM's status.
func (s *Simulator) syncVM(ctx context.Context, key cache.ObjectName) error {
	vmis := s.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(key.Namespace)
	var vmi *kvv1.VirtualMachineInstance
	if obj, ok, err := s.vmiInformer.GetIndexer().GetByKey(key.String()); err != nil {
		return err
	} else if ok {
		vmi = obj.(*kvv1.VirtualMachineInstance)
	}
	obj, exists, err := s.vmInformer.GetIndexer().GetByKey(key.String())
	if err != nil {
		return err
	}
	if !exists || obj.(*kvv1.VirtualMachine).DeletionTimestamp != nil {
		if ref := metav1.GetControllerOf(vmiOrNil(vmi)); ref != nil && ref.Kind == "VirtualMachine" && vmi.DeletionTimestamp == nil {
			return ignoreNotFound(vmis.Delete(ctx, vmi.Name, metav1.DeleteOptions{}))
		}
		return nil
	}
	vm := obj.(*kvv1.VirtualMachine)
	if vm.Spec.Template == nil {
		return nil
	}
	want := kubevirt.WantsRunning(vm, vmi)
	disksReady, err := s.dataVolumesReady(ctx, vm)
	if err != nil {
		return err
	}
	rerun := vm.Spec.RunStrategy == nil || *vm.Spec.RunStrategy == kvv1.RunStrategyAlways ||
		(*vm.Spec.RunStrategy == kvv1.RunStrategyRerunOnFailure && vmi != nil && vmi.Status.Phase == kvv1.Failed)
	switch {
	case want && vmi == nil && !disksReady:
		// KubeVirt starts a VM once its DataVolumes are populated.
	case want && vmi == nil:
		created, err := vmis.Create(ctx, newVMI(vm), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating VMI: %w", err)
		}
		klog.FromContext(ctx).V(2).Info("Started VM", "vm", klog.KObj(vm), "vmi", created.UID)
		vmi = created
	case want && vmi.IsFinal() && rerun && vmi.DeletionTimestamp == nil:
		// Always-running VMs come back after the guest stopped.
		if err := ignoreNotFound(vmis.Delete(ctx, vmi.Name, metav1.DeleteOptions{})); err != nil {
			return err
		}
	case !want && vmi != nil && vmi.DeletionTimestamp == nil:
		if err := ignoreNotFound(vmis.Delete(ctx, vmi.Name, metav1.DeleteOptions{})); err != nil {
			return err
		}
	}

	restartRequired := false
	if vmi != nil && vmi.DeletionTimestamp == nil && !vmi.IsFinal() {
		var err error
		if restartRequired, err = s.hotplug(ctx, vm, vmi); err != nil {
			return err
		}
	}
	return s.updateVMStatus(ctx, vm, vmi, want, want && !disksReady, restartRequired)
}

func newVMI(vm *kvv1.VirtualMachine) *kvv1.VirtualMachineInstance {
	t := vm.Spec.Template
	labels := map[string]string{kubevirt.VMNameLabel: vm.Name}
	for k, v := range t.ObjectMeta.Labels {
		labels[k] = v
	}
	return &kvv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{
			Name:            vm.Name,
			Namespace:       vm.Namespace,
			Labels:          labels,
			Annotations:     t.ObjectMeta.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(vm, kvv1.GroupVersion.WithKind("VirtualMachine"))},
		},
		Spec:   *t.Spec.DeepCopy(),
		Status: kvv1.VirtualMachineInstanceStatus{Phase: kvv1.Pending},
	}
}

func vmiOrNil(vmi *kvv1.VirtualMachineInstance) metav1.Object {
	if vmi == nil {
		return &metav1.ObjectMeta{}
	}
	return vmi
}

// hotplug applies a change of CPU sockets or guest memory to a running
// instance when KubeVirt could: LiveUpdate rollout, and the new value within
// maxSockets / maxGuest. It reports whether the template differs from the
// instance in a way only a restart applies.
func (s *Simulator) hotplug(ctx context.Context, vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance) (bool, error) {
	want := vm.Spec.Template.Spec.DeepCopy()
	have := vmi.Spec.DeepCopy()
	updated := vmi.DeepCopy()
	changed := false

	wantCPU, haveCPU := cpuOf(want), cpuOf(have)
	if wantCPU.Sockets != haveCPU.Sockets && s.cfg.LiveUpdate && wantCPU.MaxSockets > 0 &&
		wantCPU.Sockets <= wantCPU.MaxSockets && wantCPU.Cores == haveCPU.Cores && wantCPU.Threads == haveCPU.Threads {
		if updated.Spec.Domain.CPU == nil {
			updated.Spec.Domain.CPU = &kvv1.CPU{}
		}
		updated.Spec.Domain.CPU.Sockets = wantCPU.Sockets
		updated.Spec.Domain.CPU.MaxSockets = wantCPU.MaxSockets
		setCondition(updated, kvv1.VirtualMachineInstanceVCPUChange, corev1.ConditionTrue, "", "", s.now())
		changed = true
	}
	wantMem, haveMem := memoryOf(want), memoryOf(have)
	if wantMem.Guest != nil && (haveMem.Guest == nil || wantMem.Guest.Cmp(*haveMem.Guest) != 0) && s.cfg.LiveUpdate &&
		wantMem.MaxGuest != nil && wantMem.Guest.Cmp(*wantMem.MaxGuest) <= 0 {
		if updated.Spec.Domain.Memory == nil {
			updated.Spec.Domain.Memory = &kvv1.Memory{}
		}
		g := wantMem.Guest.DeepCopy()
		updated.Spec.Domain.Memory.Guest = &g
		updated.Spec.Domain.Memory.MaxGuest = wantMem.MaxGuest
		setCondition(updated, kvv1.VirtualMachineInstanceMemoryChange, corev1.ConditionTrue, "", "", s.now())
		changed = true
	}
	// Placement constraints are live-updatable under LiveUpdate: they apply to
	// the next migration, not to where the instance runs now.
	if s.cfg.LiveUpdate && (!equality.Semantic.DeepEqual(want.NodeSelector, have.NodeSelector) ||
		!equality.Semantic.DeepEqual(want.Affinity, have.Affinity) || !equality.Semantic.DeepEqual(want.Tolerations, have.Tolerations)) {
		updated.Spec.NodeSelector, updated.Spec.Affinity, updated.Spec.Tolerations = want.NodeSelector, want.Affinity, want.Tolerations
		changed = true
	}
	if changed {
		if _, err := s.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(vmi.Namespace).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return false, fmt.Errorf("hotplugging VMI: %w", err)
		}
		klog.FromContext(ctx).V(2).Info("Hotplugging", "vmi", klog.KObj(vmi))
		return false, nil
	}
	// Anything else that differs needs a restart.
	return !equality.Semantic.DeepEqual(want, have), nil
}

func cpuOf(spec *kvv1.VirtualMachineInstanceSpec) kvv1.CPU {
	c := kvv1.CPU{}
	if spec.Domain.CPU != nil {
		c = *spec.Domain.CPU
	}
	c.Sockets, c.Cores, c.Threads = max(c.Sockets, 1), max(c.Cores, 1), max(c.Threads, 1)
	return c
}

func memoryOf(spec *kvv1.VirtualMachineInstanceSpec) kvv1.Memory {
	if spec.Domain.Memory == nil {
		return kvv1.Memory{}
	}
	return *spec.Domain.Memory
}

func guestMemory(vmi *kvv1.VirtualMachineInstance) *resource.Quantity {
	return kubevirt.GuestMemory(&vmi.Spec)
}

// hotplugStatus finishes a hotplug one step after it began: the guest now
// has the CPUs and memory its spec asks for, and the condition goes away.
func (s *Simulator) hotplugStatus(key cache.ObjectName, vmi *kvv1.VirtualMachineInstance) {
	if vmi.Status.Phase != kvv1.Running {
		return
	}
	for _, typ := range []kvv1.VirtualMachineInstanceConditionType{kvv1.VirtualMachineInstanceVCPUChange, kvv1.VirtualMachineInstanceMemoryChange} {
		for _, c := range vmi.Status.Conditions {
			if c.Type != typ || c.Status != corev1.ConditionTrue {
				continue
			}
			if wait := c.LastTransitionTime.Add(s.cfg.StepDelay).Sub(s.cfg.Clock.Now()); wait > 0 {
				s.vmis.after(key, wait)
				continue
			}
			if typ == kvv1.VirtualMachineInstanceVCPUChange {
				c := cpuOf(&vmi.Spec)
				vmi.Status.CurrentCPUTopology = &kvv1.CPUTopology{Sockets: c.Sockets, Cores: c.Cores, Threads: c.Threads}
			} else if m := guestMemory(vmi); m != nil {
				if vmi.Status.Memory == nil {
					vmi.Status.Memory = &kvv1.MemoryStatus{}
				}
				vmi.Status.Memory.GuestCurrent = m
				vmi.Status.Memory.GuestRequested = m
			}
			removeCondition(vmi, typ)
		}
	}
}

func (s *Simulator) updateVMStatus(ctx context.Context, vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance, want, provisioning, restartRequired bool) error {
	st := vm.Status.DeepCopy()
	st.Created = vmi != nil && vmi.DeletionTimestamp == nil
	st.Ready = st.Created && vmi.Status.Phase == kvv1.Running && hasCondition(vmi, kvv1.VirtualMachineInstanceReady)
	st.PrintableStatus = printableStatus(vm, vmi, want)
	if provisioning && vmi == nil {
		st.PrintableStatus = kvv1.VirtualMachineStatusProvisioning
	}
	st.ObservedGeneration = vm.Generation
	st.DesiredGeneration = vm.Generation
	if vm.Spec.RunStrategy != nil {
		st.RunStrategy = *vm.Spec.RunStrategy
	}
	now := s.now()
	readyStatus := corev1.ConditionFalse
	if st.Ready {
		readyStatus = corev1.ConditionTrue
	}
	st.Conditions = setVMCondition(st.Conditions, kvv1.VirtualMachineReady, readyStatus, "", now)
	if restartRequired {
		st.Conditions = setVMCondition(st.Conditions, kvv1.VirtualMachineRestartRequired, corev1.ConditionTrue,
			"a non-live-updatable field was changed in the template spec", now)
	} else {
		st.Conditions = dropVMCondition(st.Conditions, kvv1.VirtualMachineRestartRequired)
	}
	if equality.Semantic.DeepEqual(*st, vm.Status) {
		return nil
	}
	updated := vm.DeepCopy()
	updated.Status = *st
	_, err := s.cfg.KubeVirt.KubevirtV1().VirtualMachines(vm.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreNotFound(err)
}

func printableStatus(vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance, want bool) kvv1.VirtualMachinePrintableStatus {
	switch {
	case vm.DeletionTimestamp != nil:
		return kvv1.VirtualMachineStatusTerminating
	case vmi == nil:
		if want {
			return kvv1.VirtualMachineStatusStarting
		}
		return kvv1.VirtualMachineStatusStopped
	case vmi.DeletionTimestamp != nil:
		return kvv1.VirtualMachineStatusStopping
	}
	switch vmi.Status.Phase {
	case kvv1.Pending, kvv1.Scheduling, kvv1.VmPhaseUnset:
		for _, c := range vmi.Status.Conditions {
			if string(c.Type) == string(corev1.PodScheduled) && c.Reason == corev1.PodReasonUnschedulable {
				return kvv1.VirtualMachineStatusUnschedulable
			}
		}
		return kvv1.VirtualMachineStatusStarting
	case kvv1.Scheduled:
		return kvv1.VirtualMachineStatusStarting
	case kvv1.Running:
		if ms := vmi.Status.MigrationState; ms != nil && !ms.Completed && !ms.Failed {
			return kvv1.VirtualMachineStatusMigrating
		}
		if hasCondition(vmi, kvv1.VirtualMachineInstancePaused) {
			return kvv1.VirtualMachineStatusPaused
		}
		return kvv1.VirtualMachineStatusRunning
	case kvv1.Succeeded, kvv1.Failed:
		return kvv1.VirtualMachineStatusStopped
	}
	return kvv1.VirtualMachineStatusUnknown
}

func setVMCondition(conds []kvv1.VirtualMachineCondition, typ kvv1.VirtualMachineConditionType, status corev1.ConditionStatus, msg string, now metav1.Time) []kvv1.VirtualMachineCondition {
	for i := range conds {
		if conds[i].Type == typ {
			if conds[i].Status != status {
				conds[i].LastTransitionTime = now
			}
			conds[i].Status, conds[i].Message = status, msg
			return conds
		}
	}
	return append(conds, kvv1.VirtualMachineCondition{Type: typ, Status: status, Message: msg, LastTransitionTime: now})
}

func dropVMCondition(conds []kvv1.VirtualMachineCondition, typ kvv1.VirtualMachineConditionType) []kvv1.VirtualMachineCondition {
	out := conds[:0]
	for _, c := range conds {
		if c.Type != typ {
			out = append(out, c)
		}
	}
	return out
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
