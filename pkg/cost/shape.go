package cost

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/gpu"
)

// gibibyte is the number of bytes in a GiB.
const gibibyte = 1 << 30

// shape is what a whole-node price pays for.
type shape struct {
	cpuCores  float64
	memoryGiB float64
	gpus      []GPUCount // one entry per model
}

// shapeOf reads a node's capacity (falling back to allocatable for a
// resource capacity lacks). GPUs are gpu.NodeDevices, counted by model.
func shapeOf(node *corev1.Node) (shape, error) {
	resources := node.Status.Capacity
	if _, ok := resources[corev1.ResourceCPU]; !ok {
		resources = node.Status.Allocatable
	}
	s := shape{
		cpuCores:  resources.Cpu().AsApproximateFloat64(),
		memoryGiB: resources.Memory().AsApproximateFloat64() / gibibyte,
	}
	devices, err := gpu.NodeDevices(node)
	if err != nil {
		// As placement does (nodesnapshot): a typo in the inventory must
		// not leave every VM of the node without a price; what the node
		// publishes stands in.
		published, perr := gpu.PublishedDevices(node)
		if perr != nil {
			return shape{}, fmt.Errorf("node %q: %w", node.Name, errors.Join(err, perr))
		}
		devices = published
	}
	for i, d := range devices {
		s.gpus = addGPU(s.gpus, d.Model, gpu.Share(devices, i))
	}
	return s, nil
}

// addGPU adds n devices of model to counts.
func addGPU(counts []GPUCount, model string, n float64) []GPUCount {
	for i := range counts {
		if counts[i].Model == model {
			counts[i].Count += n
			return counts
		}
	}
	return append(counts, GPUCount{Model: model, Count: n})
}
