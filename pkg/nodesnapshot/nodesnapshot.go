// Package nodesnapshot reads what placement needs to know about a node from
// its Node object, so that the scheduler extender and the rebalancer see a
// node the same way.
package nodesnapshot

import (
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/gpu"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// Static returns the parts of node's snapshot that change only with the
// Node object: zone, capacity type, allocatable, prices and GPUs. A cordoned
// node keeps its allocatable: kube-scheduler has already filtered it out
// for pods that do not tolerate the unschedulable taint, and the ones that
// do may go there; the rebalancer reads Spec.Unschedulable itself. Requests,
// usage and carbon intensity are the caller's to fill.
func Static(node *corev1.Node, prices cost.Model) placement.NodeSnapshot {
	s := placement.NodeSnapshot{Name: node.Name}
	s.Zone, _ = carbon.ZoneOf(node.Labels, node.Annotations)
	if ct, err := cost.CapacityTypeOf(node); err == nil {
		s.CapacityType = ct
	} else {
		// A capacity type that cannot be read may be spot: a VM that must
		// not run on spot is kept off it, as off spot nodes.
		s.CapacityType = cost.Spot
		klog.ErrorS(err, "Unreadable capacity type: placing as on a spot node", "node", node.Name)
	}
	s.AllocatableCPU = node.Status.Allocatable.Cpu().AsApproximateFloat64()
	s.AllocatableMemory = node.Status.Allocatable.Memory().AsApproximateFloat64()
	if p, err := prices.NodePrices(node); err == nil {
		s.Pricing = p
	} else {
		s.PriceUnknown = true
		klog.V(2).InfoS("Node not priced", "node", node.Name, "err", err)
	}
	if devices, err := gpu.NodeDevices(node); err == nil {
		s.GPUs = devices
	} else if published, perr := gpu.PublishedDevices(node); perr == nil {
		// A typo in the inventory must not make the node's GPUs vanish
		// (every GPU VM refused there, where kube-scheduler counts them):
		// what the node publishes stands in, without its topology.
		s.GPUs = published
		klog.ErrorS(err, "Bad GPU inventory: placing on the GPUs the node publishes", "node", node.Name, "annotation", gpu.InventoryAnnotation)
	} else {
		klog.ErrorS(errors.Join(err, perr), "Bad GPU inventory and published GPUs", "node", node.Name)
	}
	return s
}
