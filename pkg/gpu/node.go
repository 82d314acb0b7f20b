package gpu

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// Labels that NVIDIA GPU feature discovery (GFD, part of the GPU Operator)
// puts on GPU nodes. They describe the node's first GPU model; a node with
// mixed models is described by its resource names alone.
const (
	ProductLabel = "nvidia.com/gpu.product"
	// MemoryLabel is the device memory in MiB.
	MemoryLabel = "nvidia.com/gpu.memory"
	CountLabel  = "nvidia.com/gpu.count"
	// MIGCapableLabel is "true" on GPUs that can be partitioned (A100, H100).
	MIGCapableLabel = "nvidia.com/mig.capable"
)

// vendorPrefix is the domain of the extended resources NVIDIA's device
// plugins advertise: nvidia.com/gpu for containers, and one resource per
// PCI device name (nvidia.com/GA100_A100_SXM4_40GB) for KubeVirt's
// permittedHostDevices and NVIDIA's KubeVirt device plugin.
const vendorPrefix = "nvidia.com/"

// NUMAUnknown is the NUMANode of a device whose node does not say.
const NUMAUnknown = -1

// NodeDevices returns a node's GPUs. The InventoryAnnotation, when present,
// is an override with exact topology. Otherwise they come from what real
// clusters publish: one device per unit of each nvidia.com/ extended
// resource in allocatable, described by the resource's PCI device name and
// GFD's labels. Neither source gives NUMA nodes or NVLink wiring, so the
// NUMA node is NUMAUnknown and NVLink is inferred only where the form
// factor implies it: SXM modules sit on an HGX baseboard that links every
// GPU to every other (directly on 4-GPU boards, through NVSwitch on 8).
//
// Resources that name a shared profile (ParseProfile) are instances of GPUs
// the operator partitioned: the profile's rules say how many one GPU holds,
// so the instances are dealt out to physical GPUs numbered after the whole
// ones, each instance naming its GPU as Parent. An instance whose rules are
// unknown is given a GPU of its own, which never overstates sharing.
func NodeDevices(node *corev1.Node) ([]Device, error) {
	if raw, ok := node.Annotations[InventoryAnnotation]; ok && raw != "" {
		return ParseInventory(node.Annotations)
	}
	return PublishedDevices(node)
}

// wholeGPU tells a whole GPU's resource among NVIDIA's others: the device
// plugin's nvidia.com/gpu, and the sandbox device plugin's PCI names, which
// begin with the chip's (GA100_A100_SXM4_40GB, TU104GL_Tesla_T4), in
// capitals, or are the PCI device ID in hex (2335) when its pci.ids does
// not know the card. The network operator's resources
// (rdma_shared_device_a, mlnx_sriov_rdma), in lower case, are NICs:
// counted as GPUs, they would price the node's GPUs at a fraction of their
// cost and make every VM with such a NIC a GPU VM.
func wholeGPU(resource string) bool {
	name := strings.TrimPrefix(resource, vendorPrefix)
	return name == "gpu" || name != "" && (name[0] >= 'A' && name[0] <= 'Z' || name[0] >= '0' && name[0] <= '9')
}

// PublishedDevices returns a node's GPUs from what it publishes
// (allocatable and GFD's labels) alone, as NodeDevices does without an
// inventory: what a caller falls back to when the inventory is bad.
func PublishedDevices(node *corev1.Node) ([]Device, error) {
	var whole, shared []string
	for name, q := range node.Status.Allocatable {
		n := string(name)
		if !strings.HasPrefix(n, vendorPrefix) || q.IsZero() {
			continue
		}
		if _, ok, _ := ParseProfile(n); ok {
			shared = append(shared, n)
		} else if wholeGPU(n) {
			whole = append(whole, n)
		}
	}
	slices.Sort(whole)
	slices.Sort(shared)
	product := node.Labels[ProductLabel]
	var labelMiB int64
	if v := node.Labels[MemoryLabel]; v != "" {
		var err error
		if labelMiB, err = strconv.ParseInt(v, 10, 64); err != nil || labelMiB < 0 {
			// One label set by hand ("40GB") takes the node's GPUs, and
			// its price, away from every VM: the memory is unknown instead.
			klog.Background().Info("Ignoring a GPU memory label that is not a number of MiB", "node", node.Name, "label", MemoryLabel, "value", v)
			labelMiB = 0
		}
	}
	var devices []Device
	for _, name := range whole {
		count, err := deviceCount(node, name)
		if err != nil {
			return nil, err
		}
		d := describe(name, product)
		if d.MemoryMiB == 0 && d.Model == ModelOf(product) {
			d.MemoryMiB = labelMiB
		}
		first := len(devices)
		for range count {
			d.ID = fmt.Sprintf("gpu%d", len(devices))
			devices = append(devices, d)
		}
		if sxm(name) || name == vendorPrefix+"gpu" && sxm(product) {
			linkAll(devices[first:])
		}
	}
	// A shared GPU's board memory, which tells how many instances of a
	// profile one holds: the label's, else the product name's (an
	// NVIDIA-A100-SXM4-80GB node in MIG mode publishes no whole GPU).
	boardMiB := labelMiB
	if m := memoryToken.FindStringSubmatch(product); boardMiB == 0 && m != nil {
		gb, _ := strconv.ParseInt(m[1], 10, 64)
		boardMiB = gb << 10
	}
	physical := len(devices)
	for _, name := range shared {
		count, err := deviceCount(node, name)
		if err != nil {
			return nil, err
		}
		p, _, err := ParseProfile(name)
		d := Device{Model: p.Model, ResourceName: name, MemoryMiB: p.MemoryGB << 10, NUMANode: NUMAUnknown, Profile: p.Name}
		if d.Model == "" {
			d.Model = ModelOf(product)
		}
		perGPU := 1
		if board, ok := boardGB(d.Model, boardMiB); ok && err == nil {
			if k, err := p.PerGPU(board); err == nil {
				perGPU = k
			}
		}
		for j := range int(count) {
			d.Parent = fmt.Sprintf("gpu%d", physical+j/perGPU)
			d.ID = fmt.Sprintf("%s-%s-%d", d.Parent, p.Name, j%perGPU)
			devices = append(devices, d)
		}
		physical += (int(count) + perGPU - 1) / perGPU
	}
	return devices, nil
}

// deviceCount is the allocatable count of a device resource.
func deviceCount(node *corev1.Node, name string) (int64, error) {
	q := node.Status.Allocatable[corev1.ResourceName(name)]
	count, ok := q.AsInt64()
	if !ok || count < 0 {
		return 0, fmt.Errorf("allocatable %s is %s, not a device count", name, q.String())
	}
	return count, nil
}

// describe is what a resource name says of its devices. The generic
// nvidia.com/gpu resource takes its model from the product label, and is
// model "gpu" without one.
func describe(resource, product string) Device {
	d := Device{ResourceName: resource, NUMANode: NUMAUnknown}
	source := strings.TrimPrefix(resource, vendorPrefix)
	if source == "gpu" && product != "" {
		source = product
	}
	d.Model = ModelOf(source)
	if m := memoryToken.FindStringSubmatch(source); m != nil {
		gb, _ := strconv.ParseInt(m[1], 10, 64)
		d.MemoryMiB = gb << 10
	}
	return d
}

// linkAll records NVLink between every pair of devs.
func linkAll(devs []Device) {
	for i := range devs {
		devs[i].NVLinkPeers = nil
		for j := range devs {
			if j != i {
				devs[i].NVLinkPeers = append(devs[i].NVLinkPeers, devs[j].ID)
			}
		}
	}
}

var (
	// chipToken is a GPU chip code (GA100, TU104GL, GH100, AD102GL).
	chipToken = regexp.MustCompile(`^(G[A-Z]|AD|TU|GV|GP|GM|GK)\d{3}[A-Z]*$`)
	// memoryToken is a memory size in a product or PCI device name.
	memoryToken = regexp.MustCompile(`(?:^|[-_])(\d+)GB(?:$|[-_])`)
	sxmToken    = regexp.MustCompile(`(?:^|[-_])(SXM\d*|HBM\d*)(?:$|[-_])`)
)

// ModelOf is the marketing model in a GPU's product or PCI device name:
// A100 in NVIDIA-A100-SXM4-40GB, GA100_A100_SXM4_40GB and nvidia.com/A100,
// T4 in Tesla-T4 and TU104GL_Tesla_T4. It drops the vendor, brand and chip
// code and keeps the first word left; "" for an empty name.
func ModelOf(name string) string {
	name = name[strings.LastIndex(name, "/")+1:]
	for _, tok := range strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == ' ' }) {
		switch {
		case strings.EqualFold(tok, "NVIDIA"), strings.EqualFold(tok, "Tesla"), strings.EqualFold(tok, "GRID"),
			chipToken.MatchString(tok):
			continue
		}
		return tok
	}
	return ""
}

// sxm reports whether a product or PCI device name is an SXM module (HBM
// parts without a PCIe suffix, such as NVIDIA-H100-80GB-HBM3, are SXM).
func sxm(name string) bool {
	return sxmToken.MatchString(name) && !strings.Contains(strings.ToUpper(name), "PCIE")
}
