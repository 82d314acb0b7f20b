package cost

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Node labels and annotations the model reads. PriceAnnotation and
// CapacityTypeLabel are what the sandbox fleet writes on its nodes.
const (
	// PriceAnnotation is the whole node's price in US dollars per hour, as
	// actually paid: for a spot node it is the spot price.
	PriceAnnotation = "hypersdk.io/price-per-hour"
	// CPUPriceAnnotation is the price of one CPU core per hour.
	CPUPriceAnnotation = "hypersdk.io/cpu-price-per-hour"
	// MemoryPriceAnnotation is the price of one GiB of memory per hour.
	MemoryPriceAnnotation = "hypersdk.io/memory-gib-price-per-hour"
	// GPUPriceAnnotation is the price of one GPU per hour, whatever its model.
	GPUPriceAnnotation = "hypersdk.io/gpu-price-per-hour"
	// CapacityTypeLabel is on-demand or spot; a node without it is on-demand.
	CapacityTypeLabel = "hypersdk.io/capacity-type"
)

// CapacityType is how a node is bought.
type CapacityType string

// Capacity types, the values of CapacityTypeLabel.
const (
	OnDemand CapacityType = "on-demand"
	Spot     CapacityType = "spot"
)

// cloudSpotLabels are what managed node pools and autoscalers label spot
// (preemptible) nodes with: read when CapacityTypeLabel is not set, so that
// such nodes are spot without relabelling them.
var cloudSpotLabels = []struct{ key, value string }{
	{"karpenter.sh/capacity-type", "spot"},
	{"eks.amazonaws.com/capacityType", "SPOT"},
	{"cloud.google.com/gke-spot", "true"},
	{"cloud.google.com/gke-preemptible", "true"},
	{"kubernetes.azure.com/scalesetpriority", "spot"},
}

// CapacityTypeOf reads CapacityTypeLabel (in any case); without it, a
// cloud's spot label (cloudSpotLabels) makes the node spot, and anything
// else on-demand.
func CapacityTypeOf(node *corev1.Node) (CapacityType, error) {
	v, set := node.Labels[CapacityTypeLabel]
	if !set || v == "" {
		for _, l := range cloudSpotLabels {
			if node.Labels[l.key] == l.value {
				return Spot, nil
			}
		}
		return OnDemand, nil
	}
	switch ct := CapacityType(strings.ToLower(v)); ct {
	case OnDemand, Spot:
		return ct, nil
	}
	return "", fmt.Errorf("node %q: label %s=%q, want %q or %q", node.Name, CapacityTypeLabel, v, OnDemand, Spot)
}

// overrides are the prices a node's annotations state; set reports which.
type overrides struct {
	node, cpu, memory, gpu             float64
	hasNode, hasCPU, hasMemory, hasGPU bool
}

// readOverrides parses the price annotations of node.
func readOverrides(node *corev1.Node) (overrides, error) {
	var o overrides
	for _, a := range []struct {
		key string
		v   *float64
		set *bool
	}{
		{PriceAnnotation, &o.node, &o.hasNode},
		{CPUPriceAnnotation, &o.cpu, &o.hasCPU},
		{MemoryPriceAnnotation, &o.memory, &o.hasMemory},
		{GPUPriceAnnotation, &o.gpu, &o.hasGPU},
	} {
		raw, ok := node.Annotations[a.key]
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return overrides{}, fmt.Errorf("node %q: annotation %s=%q: want a non-negative price in dollars per hour", node.Name, a.key, raw)
		}
		*a.v, *a.set = v, true
	}
	return o, nil
}
