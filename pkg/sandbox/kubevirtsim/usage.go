package kubevirtsim

import (
	"context"
	"hash/fnv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/metrics/pkg/apis/metrics"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/metricsapi"
	"github.com/hypersdk/hypersdk/pkg/sandbox/usage"
)

// metricsWindow is the interval each sample stands for, as metrics-server
// reports it.
const metricsWindow = 30 * time.Second

// Node overhead that is not a VM: kubelet, the container runtime, KubeVirt's
// node agents.
var (
	nodeBaseCPU    = resource.MustParse("250m")
	nodeBaseMemory = resource.MustParse("1536Mi")
)

var _ metricsapi.Source = &Simulator{}

// PodMetrics reports each running virt-launcher pod's usage: its VM's load
// profile at the simulated now, applied to the VM's CPUs and memory, plus
// virt-launcher's own memory.
func (s *Simulator) PodMetrics(_ context.Context, namespace string) ([]metrics.PodMetrics, error) {
	pods, err := s.pods.Pods(namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	out := make([]metrics.PodMetrics, 0, len(pods))
	for _, pod := range pods {
		cpu, mem, ok := s.podUsage(pod)
		if !ok {
			continue
		}
		out = append(out, metrics.PodMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, Labels: pod.Labels,
				CreationTimestamp: metav1.NewTime(now)},
			Timestamp: metav1.NewTime(now),
			Window:    metav1.Duration{Duration: metricsWindow},
			Containers: []metrics.ContainerMetrics{{Name: launcherContainer, Usage: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(cpu, resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(mem, resource.BinarySI),
			}}},
		})
	}
	return out, nil
}

// NodeMetrics reports each node's usage: its pods' plus a fixed base.
func (s *Simulator) NodeMetrics(ctx context.Context) ([]metrics.NodeMetrics, error) {
	nodes, err := s.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	pods, err := s.pods.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	cpuByNode, memByNode := map[string]int64{}, map[string]int64{}
	for _, pod := range pods {
		if cpu, mem, ok := s.podUsage(pod); ok {
			cpuByNode[pod.Spec.NodeName] += cpu
			memByNode[pod.Spec.NodeName] += mem
		}
	}
	now := metav1.NewTime(s.cfg.Clock.Now())
	out := make([]metrics.NodeMetrics, 0, len(nodes))
	for _, n := range nodes {
		cpu := nodeBaseCPU.MilliValue() + cpuByNode[n.Name]
		mem := nodeBaseMemory.Value() + memByNode[n.Name]
		out = append(out, metrics.NodeMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: now},
			Timestamp:  now,
			Window:     metav1.Duration{Duration: metricsWindow},
			Usage: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(cpu, resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(mem, resource.BinarySI),
			},
		})
	}
	return out, nil
}

// podUsage is a running launcher pod's CPU (millicores) and memory (bytes).
func (s *Simulator) podUsage(pod *corev1.Pod) (int64, int64, bool) {
	if !podRunning(pod) || pod.Spec.NodeName == "" {
		return 0, 0, false
	}
	obj, ok, err := s.vmiInformer.GetIndexer().GetByKey(pod.Namespace + "/" + pod.Labels[kubevirt.VMNameLabel])
	if err != nil || !ok {
		return 0, 0, false
	}
	vmi := obj.(*kvv1.VirtualMachineInstance)
	cpus := int64(kubevirt.CPUCount(vmi.Spec.Domain.CPU))
	if t := vmi.Status.CurrentCPUTopology; t != nil {
		cpus = int64(max(t.Sockets, 1) * max(t.Cores, 1) * max(t.Threads, 1))
	}
	memBytes := int64(1 << 30)
	if m := guestMemory(vmi); m != nil {
		memBytes = m.Value()
	}
	u := ProfileOf(vmi).At(SeedOf(vmi.Namespace, vmi.Name), s.cfg.SimClock.Now())
	cpu, mem := u.Absolute(cpus, memBytes)
	return cpu, mem + memoryOverheadBytes/2, true
}

// ProfileOf is a VMI's load profile: its annotation, else one picked from
// its name so that every process picks the same.
func ProfileOf(vmi *kvv1.VirtualMachineInstance) usage.Profile {
	if spec, ok := vmi.Annotations[usage.Annotation]; ok {
		if p, err := usage.ParseProfile(spec); err == nil {
			return p
		}
	}
	return usage.Pick(SeedOf(vmi.Namespace, vmi.Name), 0)
}

// SeedOf is the noise seed of a VM, stable across restarts and processes.
func SeedOf(namespace, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(namespace + "/" + name))
	return int64(h.Sum64() >> 1)
}
