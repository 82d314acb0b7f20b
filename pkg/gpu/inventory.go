// Package gpu describes the GPUs of a node, from what real clusters publish
// (device-plugin resources and GPU feature discovery labels, NodeDevices) or
// from an annotation that overrides them with exact topology. Placement
// reads it to keep multi-GPU VMs on NVLink peers and one NUMA node.
package gpu

import (
	"encoding/json"
	"fmt"
)

// InventoryAnnotation holds a node's devices as a JSON list of Device. An
// administrator sets it where the published shapes miss the wiring (PCIe
// cards joined by NVLink bridges, NUMA nodes); it replaces them.
const InventoryAnnotation = "hypersdk.io/gpu-devices"

// AssignedAnnotation on a virt-launcher pod lists the device IDs bound to it,
// comma-separated, as chosen at bind time.
const AssignedAnnotation = "hypersdk.io/gpu-assigned"

// Device is one physical GPU.
type Device struct {
	// ID is unique on the node, for example gpu0.
	ID string `json:"id"`
	// Model is the marketing model, for example A100.
	Model string `json:"model"`
	// ResourceName is the extended resource that counts devices of this model.
	ResourceName string `json:"resourceName"`
	// MemoryMiB is the device memory.
	MemoryMiB int64 `json:"memoryMiB"`
	// NUMANode is the host NUMA node the device hangs off, NUMAUnknown when
	// the node does not say.
	NUMANode int `json:"numaNode"`
	// NVLinkPeers are the IDs of devices with a direct NVLink to this one.
	NVLinkPeers []string `json:"nvlinkPeers,omitempty"`
	// Parent, on an instance of a shared GPU, is the ID of the physical GPU
	// it runs on; its siblings share that GPU.
	Parent string `json:"parent,omitempty"`
	// Profile, on an instance of a shared GPU, is its vGPU type or MIG
	// profile (Profile.Name).
	Profile string `json:"profile,omitempty"`
}

// ParseInventory reads the inventory annotation of a node; a node without
// one has no GPUs. A device that does not give its numaNode is on an
// unknown one (NUMAUnknown, not node 0, which would make every such device
// look local to the others); IDs must be given and unique, as the devices
// bound to pods are kept by ID; and each device names its resource, which
// is how a VM's request finds it (without, the node would seem to have no
// GPUs of any resource, and every GPU VM be refused there).
func ParseInventory(annotations map[string]string) ([]Device, error) {
	raw, ok := annotations[InventoryAnnotation]
	if !ok || raw == "" {
		return nil, nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return nil, fmt.Errorf("parsing annotation %s: %w", InventoryAnnotation, err)
	}
	devices := make([]Device, len(entries))
	seen := make(map[string]bool, len(entries))
	for i, e := range entries {
		devices[i].NUMANode = NUMAUnknown
		if err := json.Unmarshal(e, &devices[i]); err != nil {
			return nil, fmt.Errorf("parsing annotation %s, device %d: %w", InventoryAnnotation, i, err)
		}
		switch id := devices[i].ID; {
		case id == "":
			return nil, fmt.Errorf("annotation %s, device %d: no id", InventoryAnnotation, i)
		case seen[id]:
			return nil, fmt.Errorf("annotation %s: device id %q given twice", InventoryAnnotation, id)
		case devices[i].ResourceName == "":
			return nil, fmt.Errorf("annotation %s, device %q: no resourceName", InventoryAnnotation, id)
		default:
			seen[id] = true
		}
	}
	return devices, nil
}

// FormatInventory is the annotation value for devices.
func FormatInventory(devices []Device) (string, error) {
	data, err := json.Marshal(devices)
	if err != nil {
		return "", fmt.Errorf("encoding GPU inventory: %w", err)
	}
	return string(data), nil
}

// Share is the part of a physical GPU that devs[i] is: 1 for a whole GPU,
// 1/n for one of n instances of a shared one.
func Share(devs []Device, i int) float64 {
	if devs[i].Parent == "" {
		return 1
	}
	n := 0
	for j := range devs {
		if devs[j].Parent == devs[i].Parent {
			n++
		}
	}
	return 1 / float64(n)
}
