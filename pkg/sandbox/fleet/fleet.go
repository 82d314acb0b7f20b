// Package fleet describes the sandbox's simulated nodes: a realistic mix of
// instance types, prices and GPUs spread over three grid zones whose carbon
// intensity the sandbox replays. kwok makes them Ready and keeps their
// heartbeats; this package only writes the Node objects.
package fleet

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/pkg/gpu"
)

// Labels and annotations of sandbox nodes.
const (
	// KwokAnnotation marks nodes kwok manages.
	KwokAnnotation = "kwok.x-k8s.io/node"
	// FakeNodeTaintKey taints every simulated node, as kwok advises: only
	// pods that tolerate it (the simulated virt-launcher pods) land there, and
	// pods that must really run (HyperSDK's own, in a sandbox that runs
	// artifacts/deploy) go to a node whose pods are processes.
	FakeNodeTaintKey = KwokAnnotation
	// SchedulableLabel is set on nodes KubeVirt may place VMs on.
	SchedulableLabel = "kubevirt.io/schedulable"
	// RegionLabel names the grid zone of a node.
	RegionLabel = "topology.kubernetes.io/region"
	// PriceAnnotation is the node's price in US dollars per hour.
	PriceAnnotation = "hypersdk.io/price-per-hour"
	// CapacityTypeLabel is on-demand or spot.
	CapacityTypeLabel = "hypersdk.io/capacity-type"
	// KVMResource is the device KubeVirt's virt-handler advertises.
	KVMResource corev1.ResourceName = "devices.kubevirt.io/kvm"
)

// FakeNodeTaint is the taint of every simulated node; FakeNodeToleration
// tolerates it.
var (
	FakeNodeTaint      = corev1.Taint{Key: FakeNodeTaintKey, Value: "fake", Effect: corev1.TaintEffectNoSchedule}
	FakeNodeToleration = corev1.Toleration{Key: FakeNodeTaintKey, Operator: corev1.TolerationOpEqual, Value: "fake",
		Effect: corev1.TaintEffectNoSchedule}
)

// Zones are the grid zones of the fleet, whose carbon traces ship in
// shared/data/carbon.
var Zones = []string{"ES", "US-CAL-CISO", "NO"}

// InstanceType is a machine shape with an hourly on-demand price.
type InstanceType struct {
	Name     string
	CPUs     int64
	MemoryGi int64
	Price    float64
	GPUs     []gpu.Device
}

// A100x4 has two NVLink pairs, one per NUMA node, as on 4-GPU servers.
var a100x4 = []gpu.Device{
	{ID: "gpu0", Model: "A100", ResourceName: "nvidia.com/A100", MemoryMiB: 40960, NUMANode: 0, NVLinkPeers: []string{"gpu1"}},
	{ID: "gpu1", Model: "A100", ResourceName: "nvidia.com/A100", MemoryMiB: 40960, NUMANode: 0, NVLinkPeers: []string{"gpu0"}},
	{ID: "gpu2", Model: "A100", ResourceName: "nvidia.com/A100", MemoryMiB: 40960, NUMANode: 1, NVLinkPeers: []string{"gpu3"}},
	{ID: "gpu3", Model: "A100", ResourceName: "nvidia.com/A100", MemoryMiB: 40960, NUMANode: 1, NVLinkPeers: []string{"gpu2"}},
}

var t4x2 = []gpu.Device{
	{ID: "gpu0", Model: "T4", ResourceName: "nvidia.com/T4", MemoryMiB: 16384, NUMANode: 0},
	{ID: "gpu1", Model: "T4", ResourceName: "nvidia.com/T4", MemoryMiB: 16384, NUMANode: 1},
}

// Instance types, priced like public-cloud list prices of similar shapes.
var (
	General  = []InstanceType{{"standard-8", 8, 32, 0.384, nil}, {"standard-16", 16, 64, 0.768, nil}, {"compute-16", 16, 32, 0.680, nil}, {"memory-16", 16, 128, 1.008, nil}}
	GPUA100  = InstanceType{"gpu-a100x4", 48, 384, 16.39, a100x4}
	GPUT4    = InstanceType{"gpu-t4x2", 16, 64, 1.50, t4x2}
	spotRate = 0.35 // spot capacity costs about a third of on-demand
)

// Node is one simulated node.
type Node struct {
	Name  string
	Zone  string
	Type  InstanceType
	Spot  bool
	Price float64
}

// Plan returns n nodes: zones round-robin, every sixth node a 4xA100 server
// and every sixth (offset) a 2xT4 one, general shapes otherwise, and every
// fourth general node spot-priced. The plan is a pure function of n.
func Plan(n int) []Node {
	nodes := make([]Node, 0, n)
	general := 0
	for i := 0; i < n; i++ {
		node := Node{Name: fmt.Sprintf("node-%03d", i), Zone: Zones[i%len(Zones)]}
		switch i % 6 {
		case 3:
			node.Type = GPUA100
		case 5:
			node.Type = GPUT4
		default:
			node.Type = General[general%len(General)]
			node.Spot = general%4 == 3
			general++
		}
		node.Price = node.Type.Price
		if node.Spot {
			node.Price *= spotRate
		}
		nodes = append(nodes, node)
	}
	return nodes
}

// Object is the Node object kwok will manage.
func (n Node) Object() (*corev1.Node, error) {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(n.Type.CPUs, resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(n.Type.MemoryGi<<30, resource.BinarySI),
		corev1.ResourcePods:             resource.MustParse("110"),
		KVMResource:                     resource.MustParse("1k"),
		"devices.kubevirt.io/tun":       resource.MustParse("1k"),
		"devices.kubevirt.io/vhost-net": resource.MustParse("1k"),
		corev1.ResourceEphemeralStorage: resource.MustParse("500Gi"),
	}
	counts := map[string]int64{}
	for _, d := range n.Type.GPUs {
		counts[d.ResourceName]++
	}
	for name, c := range counts {
		capacity[corev1.ResourceName(name)] = *resource.NewQuantity(c, resource.DecimalSI)
	}
	capacityType := "on-demand"
	if n.Spot {
		capacityType = "spot"
	}
	annotations := map[string]string{
		KwokAnnotation:  "fake",
		PriceAnnotation: strconv.FormatFloat(n.Price, 'f', 4, 64),
	}
	if len(n.Type.GPUs) > 0 {
		inv, err := gpu.FormatInventory(n.Type.GPUs)
		if err != nil {
			return nil, err
		}
		annotations[gpu.InventoryAnnotation] = inv
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.Name,
			Labels: map[string]string{
				"kubernetes.io/hostname":           n.Name,
				"kubernetes.io/os":                 "linux",
				"kubernetes.io/arch":               "amd64",
				"node.kubernetes.io/instance-type": n.Type.Name,
				RegionLabel:                        n.Zone,
				"topology.kubernetes.io/zone":      n.Zone + "-a",
				SchedulableLabel:                   "true",
				CapacityTypeLabel:                  capacityType,
			},
			Annotations: annotations,
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{FakeNodeTaint}},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "fake", Architecture: "amd64", OperatingSystem: "linux"},
		},
	}, nil
}
