package autoscaler

import (
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

// sizeOf is a VM's size as its spec says.
func sizeOf(vm *kvv1.VirtualMachine) rightsizing.Resources {
	var r rightsizing.Resources
	if vm.Spec.Template == nil {
		return r
	}
	r.CPUs = kubevirt.CPUCount(vm.Spec.Template.Spec.Domain.CPU)
	if m := kubevirt.GuestMemory(&vm.Spec.Template.Spec); m != nil {
		r.MemoryBytes = m.Value()
	}
	return r
}

// hotplugMax is the largest size the running VM takes live: maxSockets
// sockets of its cores and threads, and maxGuest.
func hotplugMax(vm *kvv1.VirtualMachine) rightsizing.Resources {
	var r rightsizing.Resources
	if vm.Spec.Template == nil {
		return r
	}
	dom := vm.Spec.Template.Spec.Domain
	if c := dom.CPU; c != nil && c.MaxSockets > 0 {
		r.CPUs = int32(c.MaxSockets * max(c.Cores, 1) * max(c.Threads, 1))
	}
	if m := dom.Memory; m != nil && m.MaxGuest != nil {
		r.MemoryBytes = m.MaxGuest.Value()
	}
	return r
}

// cpuStep is the vCPUs one socket of vm has: what a CPU hotplug adds.
func cpuStep(vm *kvv1.VirtualMachine) int32 {
	if vm.Spec.Template == nil || vm.Spec.Template.Spec.Domain.CPU == nil {
		return 1
	}
	c := vm.Spec.Template.Spec.Domain.CPU
	return int32(max(c.Cores, 1) * max(c.Threads, 1))
}

// limitsOf is minAllowed and maxAllowed, never below what a Resize accepts.
func limitsOf(spec v1alpha1.VirtualMachineAutoscalerSpec) rightsizing.Limits {
	l := rightsizing.Limits{Min: rightsizing.Resources{CPUs: 1, MemoryBytes: minMemoryBytes}}
	if m := spec.MinAllowed; m != nil {
		if m.CPUs != nil {
			l.Min.CPUs = max(*m.CPUs, 1)
		}
		if m.Memory != nil {
			l.Min.MemoryBytes = max(m.Memory.Value(), minMemoryBytes)
		}
	}
	if m := spec.MaxAllowed; m != nil {
		if m.CPUs != nil {
			l.Max.CPUs = *m.CPUs
		}
		if m.Memory != nil {
			l.Max.MemoryBytes = m.Memory.Value()
		}
	}
	return l
}

// policyOf is the actuation policy of a (defaulted) spec.
func policyOf(spec v1alpha1.VirtualMachineAutoscalerSpec) rightsizing.Policy {
	p := rightsizing.Policy{
		Mode:   rightsizing.Mode(spec.UpdateMode),
		CPU:    slices.Contains(spec.ControlledResources, v1alpha1.AutoscalerResourceCPU),
		Memory: slices.Contains(spec.ControlledResources, v1alpha1.AutoscalerResourceMemory),
	}
	if spec.MaxChangesPerDay != nil {
		p.MaxChangesPerDay = int(*spec.MaxChangesPerDay)
	}
	if spec.Cooldown != nil {
		p.Cooldown = spec.Cooldown.Duration
	}
	return p
}

// resourcesOut is a size in API terms.
func resourcesOut(r rightsizing.Resources) v1alpha1.AutoscalerResources {
	cpus := r.CPUs
	return v1alpha1.AutoscalerResources{CPUs: &cpus, Memory: resource.NewQuantity(r.MemoryBytes, resource.BinarySI)}
}

// recent keeps the changes of the last 24 hours.
func recent(changes []metav1.Time, now time.Time) []metav1.Time {
	var out []metav1.Time
	for _, c := range changes {
		if now.Sub(c.Time) < 24*time.Hour {
			out = append(out, c)
		}
	}
	return out
}
