package cost

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/gpu"
)

// gibibyte is the number of bytes in a GiB.
const gibibyte = 1 << 30

// nvidiaPrefix starts the extended resources of NVIDIA's device plugin; the
// rest of the name stands in for the model on nodes without an inventory.
const nvidiaPrefix = "nvidia.com/"

// shape is what a whole-node price pays for.
type shape struct {
	cpuCores  float64
	memoryGiB float64
	gpus      []GPUCount // one entry per model
}

// shapeOf reads a node's capacity (falling back to allocatable for a
// resource capacity lacks). GPUs come from the gpu.InventoryAnnotation or,
// without one, from nvidia.com/<name> extended resources, counted as model
// <name>.
func shapeOf(node *corev1.Node) (shape, error) {
	resources := node.Status.Capacity
	if _, ok := resources[corev1.ResourceCPU]; !ok {
		resources = node.Status.Allocatable
	}
	s := shape{
		cpuCores:  resources.Cpu().AsApproximateFloat64(),
		memoryGiB: resources.Memory().AsApproximateFloat64() / gibibyte,
	}
	devices, err := gpu.ParseInventory(node.Annotations)
	if err != nil {
		return shape{}, fmt.Errorf("node %q: %w", node.Name, err)
	}
	for _, d := range devices {
		s.gpus = addGPU(s.gpus, d.Model, 1)
	}
	if len(devices) > 0 {
		return s, nil
	}
	for name, q := range resources {
		if model, ok := strings.CutPrefix(string(name), nvidiaPrefix); ok && q.Value() > 0 {
			s.gpus = addGPU(s.gpus, model, int(q.Value()))
		}
	}
	// Map iteration order is random; keep results deterministic.
	slices.SortFunc(s.gpus, func(a, b GPUCount) int { return strings.Compare(a.Model, b.Model) })
	return s, nil
}

// addGPU adds n devices of model to counts.
func addGPU(counts []GPUCount, model string, n int) []GPUCount {
	for i := range counts {
		if counts[i].Model == model {
			counts[i].Count += n
			return counts
		}
	}
	return append(counts, GPUCount{Model: model, Count: n})
}
