package evaluation

import (
	"context"
	"fmt"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// HyperSDK places VMs with placement.Evaluate, the model the scheduler
// extender runs, on the node with the best total. Carbon intensity comes from
// a TraceProvider replaying the traces on a fake clock that follows the
// simulation, so it only ever sees the past: the current hour, or a
// seasonal-naive forecast when the policy has a CarbonHorizon.
type HyperSDK struct {
	policy   placement.Policy
	clock    *testingclock.FakePassiveClock
	provider *carbon.TraceProvider
	// snaps and zones are scratch space reused across calls.
	snaps []placement.NodeSnapshot
	zones map[string]float64
}

// NewHyperSDK replays traces from start, which is both the clock time and the
// trace time at which the simulation begins.
func NewHyperSDK(policy placement.Policy, traces []*carbon.Trace, start time.Time) (*HyperSDK, error) {
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	clk := testingclock.NewFakePassiveClock(start)
	p, err := carbon.NewTraceProviderWithConfig(carbon.TraceProviderConfig{Clock: clk, Start: start, Epoch: start}, traces...)
	if err != nil {
		return nil, fmt.Errorf("replaying carbon traces: %w", err)
	}
	return &HyperSDK{policy: policy, clock: clk, provider: p, zones: map[string]float64{}}, nil
}

// Place implements Placer.
func (h *HyperSDK) Place(ctx context.Context, vm *VM, now time.Time, c *Cluster) (int, error) {
	h.clock.SetTime(now)
	clear(h.zones)
	h.snaps = h.snaps[:0]
	for i := range c.Nodes {
		n := &c.Nodes[i]
		intensity, err := h.intensity(ctx, n.Zone)
		if err != nil {
			return -1, err
		}
		cpu, mem := c.Requested(i)
		// No measured usage: pressure works from requests, as the
		// extender does without metrics.k8s.io. The simulated VMs' constant
		// utilisation would make usage a fixed fraction of requests, which
		// says nothing more about the node.
		h.snaps = append(h.snaps, placement.NodeSnapshot{
			Name: n.Name, Zone: n.Zone, CapacityType: n.CapacityType,
			AllocatableCPU: float64(n.CPUMilli) / 1000, AllocatableMemory: float64(n.MemoryBytes),
			RequestedCPU: float64(cpu) / 1000, RequestedMemory: float64(mem),
			CarbonIntensity: intensity, CarbonKnown: true,
			Pricing: n.Pricing, Power: n.Power, PUE: n.PUE,
		})
	}
	req := placement.VMRequest{Name: vm.Name, CPUCores: float64(vm.CPUs),
		MemoryBytes: float64(vm.MemoryBytes()), AllowSpot: vm.AllowSpot}
	d := placement.Evaluate(req, h.snaps, h.policy)
	if len(d.Scores) == 0 {
		return -1, nil
	}
	i, ok := c.Index(d.Scores[0].Node)
	if !ok {
		return -1, fmt.Errorf("placement chose unknown node %q", d.Scores[0].Node)
	}
	return i, nil
}

// intensity is the zone's value for the policy, memoised per call: the
// forecast's mean over the policy's horizon when it has one and the
// forecast is available (the traces must hold the day before), else the
// current value, exactly as the extender fills
// NodeSnapshot.CarbonIntensity. Unlike the extender, a zone without data is
// an error: LoadTraces checked that the traces cover the simulation.
func (h *HyperSDK) intensity(ctx context.Context, zone string) (float64, error) {
	if v, ok := h.zones[zone]; ok {
		return v, nil
	}
	v, err := placement.ZoneIntensity(ctx, h.provider, zone, h.policy.CarbonHorizon)
	if err != nil {
		return 0, fmt.Errorf("replaying carbon intensity: %w", err)
	}
	h.zones[zone] = v
	return v, nil
}
