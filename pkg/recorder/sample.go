package recorder

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/gpu"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// usage is one pod's reading from the metrics API.
type usage struct{ cpu, memory float64 }

// Sample builds the batch of time t from the caches and one metrics API list.
func (r *Sampler) Sample(ctx context.Context, t time.Time) (history.Batch, error) {
	b := history.Batch{Time: t}
	podUsage, err := r.podUsage(ctx)
	if err != nil {
		return b, err
	}
	zones := map[string]zoneIntensity{} // looked up once per tick
	var carbonSum float64
	var carbonVMs int
	for _, obj := range r.vms.GetStore().List() {
		vm, ok := obj.(*kvv1.VirtualMachine)
		if !ok {
			continue
		}
		var vmi *kvv1.VirtualMachineInstance
		if o, exists, _ := r.vmis.GetStore().GetByKey(vm.Namespace + "/" + vm.Name); exists {
			vmi, _ = o.(*kvv1.VirtualMachineInstance)
		}
		view := kubevirt.View(vm, vmi)
		s := history.VMSample{Namespace: vm.Namespace, Name: vm.Name, Node: view.Status.NodeName, Phase: string(view.Status.Phase)}
		s.CPUAllocatedCores = float64(view.Status.AllocatedCPUs)
		if m := view.Status.AllocatedMemory; m != nil {
			s.MemoryAllocatedBytes = float64(m.Value())
		}
		if vmi != nil && s.Node != "" {
			u, read := podUsage[launcherKey{vmi.UID, s.Node}]
			s.CPUUsageCores, s.MemoryUsageBytes, s.UsageRead = u.cpu, u.memory, read
			if node, err := r.nodes.Get(s.Node); err == nil {
				r.placeOnNode(ctx, &s, view, node, zones)
			}
		}
		if s.IntensityRead {
			carbonSum += s.CarbonIntensity
			carbonVMs++
		}
		b.VMs = append(b.VMs, s)
		addToCluster(&b.Cluster, s)
	}
	if carbonVMs > 0 {
		b.Cluster.CarbonIntensityAvg = carbonSum / float64(carbonVMs)
	}
	return b, nil
}

// placeOnNode fills in what depends on the VM's node: zone, the zone's
// carbon intensity and the VM's price per hour there.
func (r *Sampler) placeOnNode(ctx context.Context, s *history.VMSample, view *hypersdk.VirtualMachine, node *corev1.Node, zones map[string]zoneIntensity) {
	logger := klog.FromContext(ctx)
	if zone, ok := carbon.ZoneOf(node.Labels, node.Annotations); ok {
		s.Zone = zone
		in, seen := zones[zone]
		if !seen && r.cfg.Carbon != nil {
			// A neutral placeholder is no reading either: a gap.
			if got, err := carbon.Read(ctx, r.cfg.Carbon, zone); err == nil {
				in = zoneIntensity{got.GramsPerKWh, true}
			} else {
				logger.V(4).Info("No carbon intensity", "zone", zone, "err", err)
			}
			zones[zone] = in
		}
		s.CarbonIntensity, s.IntensityRead = in.v, in.ok
	}
	pricing, err := r.cfg.Prices.NodePrices(node)
	if err != nil {
		logger.V(4).Info("Node not priced", "node", node.Name, "err", err)
		return
	}
	s.CostPerHour = cost.VMCostPerHour(pricing, s.CPUAllocatedCores, s.MemoryAllocatedBytes,
		gpuCounts(view.Spec.GPUs, node), s.CPUUsageCores, s.MemoryUsageBytes)
	s.Priced = true
}

// gpuCounts maps the VM's GPU requests (by resource name) to models, from
// the node's inventory.
func gpuCounts(reqs []hypersdk.GPURequest, node *corev1.Node) []cost.GPUCount {
	if len(reqs) == 0 {
		return nil
	}
	devices, _ := gpu.NodeDevices(node)
	var out []cost.GPUCount
	for _, req := range reqs {
		model, share := req.DeviceName, 1.0
		for i, d := range devices {
			if d.ResourceName == req.DeviceName {
				model, share = d.Model, gpu.Share(devices, i)
				break
			}
		}
		out = append(out, cost.GPUCount{Model: model, Count: float64(req.Count) * share})
	}
	return out
}

// zoneIntensity is a zone's carbon intensity, if it could be read.
type zoneIntensity struct {
	v  float64
	ok bool
}

// addToCluster adds one VM to the cluster totals.
func addToCluster(c *history.ClusterSample, s history.VMSample) {
	if s.Node != "" {
		if !s.Priced {
			c.Unpriced++
		}
		if !s.IntensityRead {
			c.IntensityUnknown++
		}
	}
	c.VMs++
	switch hypersdk.VirtualMachinePhase(s.Phase) {
	case hypersdk.VirtualMachineRunning, hypersdk.VirtualMachineMigrating:
		c.VMsRunning++
	case hypersdk.VirtualMachineStopped:
		c.VMsStopped++
	default:
		c.VMsOther++
	}
	c.CPUUsageCores += s.CPUUsageCores
	c.CPUAllocatedCores += s.CPUAllocatedCores
	c.MemoryUsageBytes += s.MemoryUsageBytes
	c.MemoryAllocatedBytes += s.MemoryAllocatedBytes
	c.CostPerHour += s.CostPerHour
	c.CarbonGramsPerHour += placement.RecordedVMGramsPerHour(s.CarbonIntensity, s.CPUAllocatedCores, s.CPUUsageCores)
}

// launcherKey finds the pod that runs a VMI on a node: during a migration
// a VMI has two pods, and only the one on the VMI's node runs the guest.
type launcherKey struct {
	vmi  types.UID
	node string
}

// podUsage reads every virt-launcher pod's usage, keyed by VMI and node.
func (r *Sampler) podUsage(ctx context.Context) (map[launcherKey]usage, error) {
	list, err := r.cfg.Metrics.MetricsV1beta1().PodMetricses(metav1.NamespaceAll).List(ctx,
		metav1.ListOptions{LabelSelector: kubevirt.LauncherSelector})
	if err != nil {
		return nil, fmt.Errorf("listing pod metrics: %w", err)
	}
	out := make(map[launcherKey]usage, len(list.Items))
	for _, pm := range list.Items {
		pod, err := r.pods.Pods(pm.Namespace).Get(pm.Name)
		if err != nil || pod.Spec.NodeName == "" {
			continue
		}
		var u usage
		for _, c := range pm.Containers {
			u.cpu += c.Usage.Cpu().AsApproximateFloat64()
			u.memory += c.Usage.Memory().AsApproximateFloat64()
		}
		out[launcherKey{types.UID(pod.Labels[kubevirt.CreatedByLabel]), pod.Spec.NodeName}] = u
	}
	return out, nil
}
