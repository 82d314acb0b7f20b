package kubevirtsim

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/gpu"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// gpuDevices says which physical GPUs the guest got, as a device plugin
// would: the devices named on the pod at bind time (by HyperSDK's scheduler
// extender), else the first free devices of each requested model on the
// node, as the plugin picks when nobody chose. The VMI shows them in the
// same annotation.
func (s *Simulator) gpuDevices(vmi *kvv1.VirtualMachineInstance, pod *corev1.Pod) string {
	if len(vmi.Spec.Domain.Devices.GPUs) == 0 {
		return ""
	}
	if chosen := pod.Annotations[gpu.AssignedAnnotation]; chosen != "" {
		return chosen
	}
	if prev := vmi.Annotations[gpu.AssignedAnnotation]; prev != "" {
		return prev // allocated earlier by this fallback
	}
	node, err := s.nodes.Get(pod.Spec.NodeName)
	if err != nil {
		return ""
	}
	inventory, err := gpu.NodeDevices(node)
	if err != nil {
		return ""
	}
	used := s.devicesInUse(pod)
	var picked []string
	for _, want := range vmi.Spec.Domain.Devices.GPUs {
		for _, d := range inventory {
			if d.ResourceName == want.DeviceName && !used[d.ID] && !slices.Contains(picked, d.ID) {
				picked = append(picked, d.ID)
				break
			}
		}
	}
	return strings.Join(picked, ",")
}

// devicesInUse are the GPUs of the other running launcher pods on pod's node.
func (s *Simulator) devicesInUse(pod *corev1.Pod) map[string]bool {
	used := map[string]bool{}
	pods, err := s.pods.List(labels.SelectorFromSet(labels.Set{kubevirt.LauncherLabel: kubevirt.LauncherLabelValue}))
	if err != nil {
		return used
	}
	for _, p := range pods {
		if p.UID == pod.UID || p.Spec.NodeName != pod.Spec.NodeName || podFinished(p) {
			continue
		}
		ids := p.Annotations[gpu.AssignedAnnotation]
		if ids == "" {
			// Fallback allocations are on the VMI the pod runs.
			if obj, ok, _ := s.vmiInformer.GetIndexer().GetByKey(p.Namespace + "/" + p.Labels[kubevirt.VMNameLabel]); ok {
				if vmi, ok := obj.(*kvv1.VirtualMachineInstance); ok {
					ids = vmi.Annotations[gpu.AssignedAnnotation]
				}
			}
		}
		for _, id := range strings.Split(ids, ",") {
			if id != "" {
				used[id] = true
			}
		}
	}
	return used
}
