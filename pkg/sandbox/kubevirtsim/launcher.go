package kubevirtsim

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// launcherPod is the virt-launcher pod KubeVirt would create for vmi. The
// simulated cluster runs with a CPU allocation ratio of 1 (one requested CPU
// per vCPU) so that scheduling on the fleet reflects real capacity; a CPU
// request in the VMI's resources wins, as in KubeVirt.
func launcherPod(vmi *kvv1.VirtualMachineInstance) *corev1.Pod {
	dom := vmi.Spec.Domain
	requests := corev1.ResourceList{}
	if cpu, ok := dom.Resources.Requests[corev1.ResourceCPU]; ok {
		requests[corev1.ResourceCPU] = cpu.DeepCopy()
	} else {
		requests[corev1.ResourceCPU] = *resource.NewQuantity(int64(kubevirt.CPUCount(dom.CPU)), resource.DecimalSI)
	}
	mem := resource.MustParse("1Gi")
	if m := kubevirt.GuestMemory(&vmi.Spec); m != nil {
		mem = m.DeepCopy()
	}
	// virt-launcher's own overhead (QEMU, libvirt) on top of the guest.
	mem.Add(*resource.NewQuantity(memoryOverheadBytes, resource.BinarySI))
	requests[corev1.ResourceMemory] = mem
	requests[fleet.KVMResource] = resource.MustParse("1")
	limits := corev1.ResourceList{fleet.KVMResource: resource.MustParse("1")}
	gpus := map[string]int64{}
	for _, g := range dom.Devices.GPUs {
		gpus[g.DeviceName]++
	}
	for _, d := range dom.Devices.HostDevices {
		gpus[d.DeviceName]++ // host devices are device-plugin resources too
	}
	for name, n := range gpus {
		// Extended resources need equal requests and limits.
		requests[corev1.ResourceName(name)] = *resource.NewQuantity(n, resource.DecimalSI)
		limits[corev1.ResourceName(name)] = *resource.NewQuantity(n, resource.DecimalSI)
	}

	labels := map[string]string{}
	for k, v := range vmi.Labels {
		labels[k] = v
	}
	labels[kubevirt.LauncherLabel] = kubevirt.LauncherLabelValue
	labels[kubevirt.CreatedByLabel] = string(vmi.UID)
	labels[kubevirt.VMNameLabel] = vmi.Name
	nodeSelector := map[string]string{fleet.SchedulableLabel: "true"}
	for k, v := range vmi.Spec.NodeSelector {
		nodeSelector[k] = v
	}
	grace := int64(30)
	if vmi.Spec.TerminationGracePeriodSeconds != nil {
		grace = *vmi.Spec.TerminationGracePeriodSeconds
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: fmt.Sprintf("virt-launcher-%s-", vmi.Name),
			Namespace:    vmi.Namespace,
			Labels:       labels,
			Annotations:  map[string]string{"kubevirt.io/domain": vmi.Name},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(vmi,
				kvv1.GroupVersion.WithKind("VirtualMachineInstance"))},
		},
		Spec: corev1.PodSpec{
			SchedulerName: vmi.Spec.SchedulerName,
			// As virt-controller does: the VM's priority is its pod's, for
			// preemption and eviction order.
			PriorityClassName: vmi.Spec.PriorityClassName,
			NodeSelector:      nodeSelector,
			Affinity:          vmi.Spec.Affinity.DeepCopy(),
			// The simulated nodes carry the fake-node taint; the pods of
			// simulated VMs run there.
			Tolerations:                   append(slices.Clone(vmi.Spec.Tolerations), fleet.FakeNodeToleration),
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:      launcherContainer,
				Image:     launcherImage,
				Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits},
			}},
		},
	}
}

// podRunning reports whether kwok runs the pod and it has an address.
func podRunning(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "" && pod.DeletionTimestamp == nil
}

func podFinished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
}

// unschedulable returns the scheduler's reason when it could not place pod.
func unschedulable(pod *corev1.Pod) (string, bool) {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Message, true
		}
	}
	return "", false
}
