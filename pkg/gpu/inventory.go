// Package gpu describes the GPUs of a node: the per-device inventory that a
// node advertises in an annotation, beside the extended resources the device
// plugin counts. Placement reads it to keep multi-GPU VMs on NVLink peers and
// one NUMA node; the sandbox writes it for its simulated fleet.
package gpu

import (
	"encoding/json"
	"fmt"
)

// InventoryAnnotation holds a node's devices as a JSON list of Device.
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
	// NUMANode is the host NUMA node the device hangs off.
	NUMANode int `json:"numaNode"`
	// NVLinkPeers are the IDs of devices with a direct NVLink to this one.
	NVLinkPeers []string `json:"nvlinkPeers,omitempty"`
}

// ParseInventory reads the inventory annotation of a node; a node without
// one has no GPUs.
func ParseInventory(annotations map[string]string) ([]Device, error) {
	raw, ok := annotations[InventoryAnnotation]
	if !ok || raw == "" {
		return nil, nil
	}
	var devices []Device
	if err := json.Unmarshal([]byte(raw), &devices); err != nil {
		return nil, fmt.Errorf("parsing annotation %s: %w", InventoryAnnotation, err)
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
