package gpu

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func gpuNode(labels, annotations map[string]string, resources map[string]string) *corev1.Node {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16")}
	for name, q := range resources {
		alloc[corev1.ResourceName(name)] = resource.MustParse(q)
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: labels, Annotations: annotations},
		Status: corev1.NodeStatus{Allocatable: alloc}}
}

func TestModelOf(t *testing.T) {
	for name, want := range map[string]string{
		"NVIDIA-A100-SXM4-40GB":           "A100",
		"nvidia.com/GA100_A100_SXM4_40GB": "A100",
		"nvidia.com/A100":                 "A100",
		"Tesla-T4":                        "T4",
		"nvidia.com/TU104GL_Tesla_T4":     "T4",
		"NVIDIA-H100-80GB-HBM3":           "H100",
		"nvidia.com/GH100_H100_SXM5_80GB": "H100",
		"nvidia.com/AD102GL_L40S":         "L40S",
		"":                                "",
	} {
		if got := ModelOf(name); got != want {
			t.Errorf("ModelOf(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestNodeDevicesFromPublishedShapes(t *testing.T) {
	t.Run("SXM passthrough: every pair NVLinked, memory from the name", func(t *testing.T) {
		n := gpuNode(map[string]string{ProductLabel: "NVIDIA-A100-SXM4-40GB", MemoryLabel: "40960", CountLabel: "4"}, nil,
			map[string]string{"nvidia.com/GA100_A100_SXM4_40GB": "4", "devices.kubevirt.io/kvm": "1k"})
		devs, err := NodeDevices(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 4 {
			t.Fatalf("got %d devices, want 4: %+v", len(devs), devs)
		}
		for i, d := range devs {
			if d.Model != "A100" || d.ResourceName != "nvidia.com/GA100_A100_SXM4_40GB" || d.MemoryMiB != 40960 || d.NUMANode != NUMAUnknown {
				t.Errorf("device %d = %+v", i, d)
			}
			if len(d.NVLinkPeers) != 3 || slices.Contains(d.NVLinkPeers, d.ID) {
				t.Errorf("device %s peers %v, want the 3 others", d.ID, d.NVLinkPeers)
			}
		}
	})
	t.Run("PCIe cards: no NVLink, memory from the label", func(t *testing.T) {
		n := gpuNode(map[string]string{ProductLabel: "Tesla-T4", MemoryLabel: "15360"}, nil,
			map[string]string{"nvidia.com/TU104GL_Tesla_T4": "2"})
		devs, err := NodeDevices(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 2 || devs[0].ID != "gpu0" || devs[1].ID != "gpu1" {
			t.Fatalf("devices %+v", devs)
		}
		for _, d := range devs {
			if d.Model != "T4" || d.MemoryMiB != 15360 || len(d.NVLinkPeers) != 0 {
				t.Errorf("device %+v", d)
			}
		}
	})
	t.Run("generic nvidia.com/gpu takes the product label", func(t *testing.T) {
		n := gpuNode(map[string]string{ProductLabel: "NVIDIA-H100-80GB-HBM3"}, nil, map[string]string{"nvidia.com/gpu": "8"})
		devs, err := NodeDevices(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 8 || devs[7].Model != "H100" || devs[7].MemoryMiB != 80<<10 || len(devs[7].NVLinkPeers) != 7 {
			t.Fatalf("devices %+v", devs)
		}
	})
	t.Run("two models: IDs run on, NVLink stays within a model", func(t *testing.T) {
		n := gpuNode(nil, nil, map[string]string{"nvidia.com/GH100_H100_SXM5_80GB": "2", "nvidia.com/TU104GL_Tesla_T4": "1"})
		devs, err := NodeDevices(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 3 || devs[2].Model != "T4" || devs[2].ID != "gpu2" || !slices.Equal(devs[0].NVLinkPeers, []string{"gpu1"}) {
			t.Fatalf("devices %+v", devs)
		}
	})
	t.Run("no GPUs", func(t *testing.T) {
		devs, err := NodeDevices(gpuNode(nil, nil, nil))
		if err != nil || len(devs) != 0 {
			t.Fatalf("got %+v, %v", devs, err)
		}
	})
	t.Run("annotation overrides", func(t *testing.T) {
		inv, err := FormatInventory([]Device{{ID: "g", Model: "A100", ResourceName: "nvidia.com/A100", NUMANode: 1}})
		if err != nil {
			t.Fatal(err)
		}
		devs, err := NodeDevices(gpuNode(nil, map[string]string{InventoryAnnotation: inv}, map[string]string{"nvidia.com/A100": "4"}))
		if err != nil || len(devs) != 1 || devs[0].ID != "g" || devs[0].NUMANode != 1 {
			t.Fatalf("got %+v, %v", devs, err)
		}
	})
	// NVIDIA's network operator publishes NICs under nvidia.com/ too.
	t.Run("NICs are not GPUs", func(t *testing.T) {
		// A card its pci.ids does not know is named by its device ID.
		n := gpuNode(nil, nil, map[string]string{"nvidia.com/GA100_A100_SXM4_40GB": "8", "nvidia.com/rdma_shared_device_a": "63",
			"nvidia.com/mlnx_sriov_rdma": "4", "nvidia.com/2335": "2"})
		devs, err := NodeDevices(n)
		if err != nil || len(devs) != 10 || devs[0].ResourceName != "nvidia.com/2335" || devs[9].ResourceName != "nvidia.com/GA100_A100_SXM4_40GB" {
			t.Fatalf("got %d devices (%v), want the 2 unnamed and the 8 A100s", len(devs), err)
		}
	})
	// A label set by hand does not take the node's GPUs (and its price)
	// away: their memory is unknown.
	t.Run("bad label leaves the memory unknown", func(t *testing.T) {
		n := gpuNode(map[string]string{ProductLabel: "Tesla-T4", MemoryLabel: "40GB"}, nil, map[string]string{"nvidia.com/gpu": "2"})
		devs, err := NodeDevices(n)
		if err != nil || len(devs) != 2 || devs[0].MemoryMiB != 0 {
			t.Fatalf("got %+v, %v; want 2 devices of unknown memory", devs, err)
		}
	})
}

// TestParseInventory: a device without numaNode is on an unknown NUMA node,
// not node 0; devices without an ID, or with one given twice, or without
// a resource name, are refused.
func TestParseInventory(t *testing.T) {
	parse := func(v string) ([]Device, error) { return ParseInventory(map[string]string{InventoryAnnotation: v}) }
	devs, err := parse(`[{"id":"gpu0","model":"A100","resourceName":"nvidia.com/A100"},{"id":"gpu1","model":"A100","resourceName":"nvidia.com/A100","numaNode":0}]`)
	if err != nil || len(devs) != 2 || devs[0].NUMANode != NUMAUnknown || devs[1].NUMANode != 0 {
		t.Fatalf("devices %+v, %v: want gpu0 on an unknown NUMA node and gpu1 on node 0", devs, err)
	}
	for _, bad := range []string{`[{"model":"A100"}]`, `[{"id":"gpu0","resourceName":"nvidia.com/A100"},{"id":"gpu0","resourceName":"nvidia.com/A100"}]`,
		`{"id":"gpu0"}`, `[{"id":"gpu0","model":"A100","numaNode":0}]`} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
	if devs, err := ParseInventory(nil); err != nil || devs != nil {
		t.Errorf("no annotation: %v %v, want no GPUs", devs, err)
	}
}

// TestMIGInstancesOfAnA100With80GB: a node in MIG mode publishes only its
// instances; the board's memory, from its label or else its product name,
// says how many one GPU holds (seven 1g.10gb on 80 GB, not the 40 GB
// board's four), and so each instance's share and its parent.
func TestMIGInstancesOfAnA100With80GB(t *testing.T) {
	for name, labels := range map[string]map[string]string{
		"memory label": {ProductLabel: "NVIDIA-A100-SXM4-80GB", MemoryLabel: "81920"},
		"product name": {ProductLabel: "NVIDIA-A100-SXM4-80GB"},
	} {
		devs, err := NodeDevices(gpuNode(labels, nil, map[string]string{"nvidia.com/mig-1g.10gb": "14"}))
		if err != nil || len(devs) != 14 {
			t.Fatalf("%s: %d devices, %v; want 14", name, len(devs), err)
		}
		if devs[6].Parent != "gpu0" || devs[7].Parent != "gpu1" || devs[13].Parent != "gpu1" {
			t.Errorf("%s: parents %s, %s, %s of instances 6, 7, 13; want gpu0, gpu1, gpu1 (seven a GPU)", name, devs[6].Parent, devs[7].Parent, devs[13].Parent)
		}
	}
}
