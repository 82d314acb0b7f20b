package fleet

import (
	"reflect"
	"testing"

	"github.com/hypersdk/hypersdk/pkg/gpu"
)

// TestGPUNodesPublishRealShapes: a GPU node carries no HyperSDK inventory,
// and what gpu.NodeDevices reads from its resources and labels is the
// instance type's devices.
func TestGPUNodesPublishRealShapes(t *testing.T) {
	seen := 0
	plan := append(Plan(12), Node{Name: "vgpu", Zone: Zones[0], Type: GPUT4vGPU})
	for _, n := range plan {
		obj := n.Object()
		if _, ok := obj.Annotations[gpu.InventoryAnnotation]; ok {
			t.Fatalf("node %s has the %s annotation", n.Name, gpu.InventoryAnnotation)
		}
		devs, err := gpu.NodeDevices(obj)
		if err != nil {
			t.Fatalf("node %s: %v", n.Name, err)
		}
		if len(devs) == 0 && len(n.Type.GPUs) == 0 {
			continue
		}
		seen++
		if !reflect.DeepEqual(devs, n.Type.GPUs) {
			t.Errorf("node %s (%s) reads as %+v, want %+v", n.Name, n.Type.Name, devs, n.Type.GPUs)
		}
	}
	if seen != 5 {
		t.Fatalf("%d GPU nodes of 13, want 5", seen)
	}
}
