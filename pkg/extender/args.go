package extender

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// schedulingArgs is extenderv1.ExtenderArgs as the filter and prioritize
// handlers decode it: only the parts of the pod that placement reads.
// Decoding kube-scheduler's whole pod into a corev1.Pod was a quarter of
// the extender's CPU; encoding/json skips what this leaves out without
// allocating it. Field names match ExtenderArgs' (it has no JSON tags).
type schedulingArgs struct {
	Pod *struct {
		Metadata struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			UID       types.UID         `json:"uid"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Containers []struct {
				Resources struct {
					Requests corev1.ResourceList `json:"requests"`
				} `json:"resources"`
			} `json:"containers"`
			// What kube-scheduler's own scoring would weigh (see
			// weighsPreferences).
			Affinity                  *corev1.Affinity                  `json:"affinity"`
			TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
			Tolerations               []corev1.Toleration               `json:"tolerations"`
		} `json:"spec"`
	}
	NodeNames *[]string
}

// extenderArgs returns the arguments with a pod holding what was decoded.
func (a *schedulingArgs) extenderArgs() *extenderv1.ExtenderArgs {
	out := &extenderv1.ExtenderArgs{NodeNames: a.NodeNames}
	if a.Pod == nil {
		return out
	}
	m, s := a.Pod.Metadata, a.Pod.Spec
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace, pod.UID, pod.Labels = m.Name, m.Namespace, m.UID, m.Labels
	pod.Spec.Affinity, pod.Spec.TopologySpreadConstraints, pod.Spec.Tolerations = s.Affinity, s.TopologySpreadConstraints, s.Tolerations
	pod.Spec.Containers = make([]corev1.Container, len(s.Containers))
	for i, c := range s.Containers {
		pod.Spec.Containers[i].Resources.Requests = c.Resources.Requests
	}
	out.Pod = pod
	return out
}
