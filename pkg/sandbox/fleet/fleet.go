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
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
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
	// GPUs are the node's devices as gpu.NodeDevices reads them from what
	// the Node publishes.
	GPUs []gpu.Device
	// GPUProduct and GPUMemoryMiB are the product name and device memory
	// GPU feature discovery labels the node with.
	GPUProduct   string
	GPUMemoryMiB int64
	// USB are the host USB devices KubeVirt may pass through.
	USB []USBDevice
}

// USBDevice is a host USB device as KubeVirt's virt-handler (a resource
// per permittedHostDevices.usb entry) and node-feature-discovery (a label
// per class, vendor and product) publish it. The sandbox's KubeVirt CR
// (artifacts/sandbox/kubevirt-cr.yaml) permits these.
type USBDevice struct {
	Resource               string
	Class, Vendor, Product string
}

// USB devices of the sandbox.
var (
	USBStick   = USBDevice{Resource: "kubevirt.io/sandisk-extreme", Class: "08", Vendor: "0781", Product: "5581"}
	USBYubiKey = USBDevice{Resource: "kubevirt.io/yubikey", Class: "03", Vendor: "1050", Product: "0407"}
)

// GPU servers publish what NVIDIA's GPU Operator publishes for KubeVirt: one
// extended resource per PCI device name and GFD's product labels, no
// HyperSDK annotation. The A100s are SXM4 modules on a 4-GPU HGX board, so
// every pair is NVLinked; the T4s are PCIe cards without NVLink. Neither
// says which NUMA node a device hangs off.
var (
	a100x4 = devices(4, gpu.Device{Model: "A100", ResourceName: "nvidia.com/GA100_A100_SXM4_40GB", MemoryMiB: 40 << 10}, true)
	t4x2   = devices(2, gpu.Device{Model: "T4", ResourceName: "nvidia.com/TU104GL_Tesla_T4", MemoryMiB: 15360}, false)
)

// t4x2vGPU is two T4s that KubeVirt's mediated-device configuration cut
// into two 8 GB T4-8Q vGPUs each, advertised as nvidia.com/GRID_T4-8Q.
var t4x2vGPU = func() []gpu.Device {
	out := make([]gpu.Device, 4)
	for i := range out {
		parent := fmt.Sprintf("gpu%d", i/2)
		out[i] = gpu.Device{ID: fmt.Sprintf("%s-T4-8Q-%d", parent, i%2), Model: "T4", ResourceName: "nvidia.com/GRID_T4-8Q",
			MemoryMiB: 8 << 10, NUMANode: gpu.NUMAUnknown, Parent: parent, Profile: "T4-8Q"}
	}
	return out
}()

// devices is n copies of d numbered gpu0.., every pair NVLinked if linked.
func devices(n int, d gpu.Device, linked bool) []gpu.Device {
	out := make([]gpu.Device, n)
	for i := range out {
		out[i] = d
		out[i].ID = fmt.Sprintf("gpu%d", i)
		out[i].NUMANode = gpu.NUMAUnknown
		for j := range n {
			if linked && j != i {
				out[i].NVLinkPeers = append(out[i].NVLinkPeers, fmt.Sprintf("gpu%d", j))
			}
		}
	}
	return out
}

// Instance types, priced like public-cloud list prices of similar shapes.
var (
	General = []InstanceType{{Name: "standard-8", CPUs: 8, MemoryGi: 32, Price: 0.384}, {Name: "standard-16", CPUs: 16, MemoryGi: 64, Price: 0.768},
		{Name: "compute-16", CPUs: 16, MemoryGi: 32, Price: 0.680}, {Name: "memory-16", CPUs: 16, MemoryGi: 128, Price: 1.008}}
	GPUA100 = InstanceType{Name: "gpu-a100x4", CPUs: 48, MemoryGi: 384, Price: 16.39, GPUs: a100x4,
		GPUProduct: "NVIDIA-A100-SXM4-40GB", GPUMemoryMiB: 40 << 10}
	GPUT4 = InstanceType{Name: "gpu-t4x2", CPUs: 16, MemoryGi: 64, Price: 1.50, GPUs: t4x2, GPUProduct: "Tesla-T4", GPUMemoryMiB: 15360}
	// USBEdge is not in Plan: tests of USB passthrough add it.
	USBEdge = InstanceType{Name: "usb-edge-8", CPUs: 8, MemoryGi: 32, Price: 0.384, USB: []USBDevice{USBStick, USBYubiKey}}
	// GPUT4vGPU is not in Plan: tests that share GPUs add it.
	GPUT4vGPU = InstanceType{Name: "gpu-t4x2-vgpu", CPUs: 16, MemoryGi: 64, Price: 1.50, GPUs: t4x2vGPU, GPUProduct: "Tesla-T4",
		GPUMemoryMiB: 15360}
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
func (n Node) Object() *corev1.Node {
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
	for _, u := range n.Type.USB {
		counts[u.Resource]++
	}
	for name, c := range counts {
		capacity[corev1.ResourceName(name)] = *resource.NewQuantity(c, resource.DecimalSI)
	}
	capacityType := "on-demand"
	if n.Spot {
		capacityType = "spot"
	}
	labels := map[string]string{
		"kubernetes.io/hostname":           n.Name,
		"kubernetes.io/os":                 "linux",
		"kubernetes.io/arch":               "amd64",
		"node.kubernetes.io/instance-type": n.Type.Name,
		RegionLabel:                        n.Zone,
		"topology.kubernetes.io/zone":      n.Zone + "-a",
		SchedulableLabel:                   "true",
		CapacityTypeLabel:                  capacityType,
	}
	if gpus := n.Type.GPUs; len(gpus) > 0 {
		labels["nvidia.com/gpu.present"] = "true"
		labels[gpu.ProductLabel] = n.Type.GPUProduct
		labels[gpu.CountLabel] = strconv.Itoa(physicalGPUs(gpus))
		labels[gpu.MemoryLabel] = strconv.FormatInt(n.Type.GPUMemoryMiB, 10)
		labels[gpu.MIGCapableLabel] = strconv.FormatBool(gpus[0].Model == "A100")
	}
	for _, u := range n.Type.USB {
		labels[kubevirt.NFDUSBLabel(u.Class, u.Vendor, u.Product, "")] = "true"
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   n.Name,
			Labels: labels,
			Annotations: map[string]string{
				KwokAnnotation:  "fake",
				PriceAnnotation: strconv.FormatFloat(n.Price, 'f', 4, 64),
			},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{FakeNodeTaint}},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "fake", Architecture: "amd64", OperatingSystem: "linux"},
		},
	}
}

// physicalGPUs counts the whole devices and the GPUs shared ones run on.
func physicalGPUs(devs []gpu.Device) int {
	parents := map[string]bool{}
	for _, d := range devs {
		if d.Parent == "" {
			parents[d.ID] = true
		} else {
			parents[d.Parent] = true
		}
	}
	return len(parents)
}
