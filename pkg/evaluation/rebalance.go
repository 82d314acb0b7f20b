package evaluation

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/rebalance"
)

// Rebalancing moves a strategy's running VMs every Every with the
// rebalancer's own planner (rebalance.Compute) under Policy, as
// hypersdk-controller would, seeing each zone's intensity of the current
// hour only. A migration completes within the pass; its grams and dollars
// (rebalance's migration cost model) are charged to the run.
type Rebalancing struct {
	Policy v1alpha1.RebalancePolicySpec
	Every  time.Duration
}

// DefaultRebalancing is a RebalancePolicy with the carbon and cost
// triggers at the API's defaults, planning hourly (the traces' step).
func DefaultRebalancing() *Rebalancing {
	spec := v1alpha1.RebalancePolicySpec{Mode: v1alpha1.RebalanceAutomatic, Triggers: []v1alpha1.RebalanceTrigger{
		{Type: v1alpha1.RebalanceCarbon, Carbon: &v1alpha1.CarbonTrigger{}},
		{Type: v1alpha1.RebalanceCost, Cost: &v1alpha1.CostTrigger{}},
	}}
	v1alpha1.SetDefaults_RebalancePolicySpec(&spec)
	v1alpha1.SetDefaults_CarbonTrigger(spec.Triggers[0].Carbon)
	v1alpha1.SetDefaults_CostTrigger(spec.Triggers[1].Cost)
	return &Rebalancing{Policy: spec, Every: time.Hour}
}

// rebalancer is one run's rebalancing state.
type rebalancer struct {
	cfg   *Rebalancing
	armed map[string]time.Time
	moved map[int]moveHistory
	next  time.Time
	// clock and provider replay the traces as hypersdk-controller's carbon
	// source would: the current hour, or the forecast mean when the
	// carbon trigger asks for it; horizon is that trigger's.
	clock    *testingclock.FakePassiveClock
	provider *carbon.TraceProvider
	horizon  time.Duration
	// starts are the placements in arrival order, from the first that
	// may lie within rebalance.DisplacementWindow: the controller
	// remembers the VMs it saw start, and the planner counts them, gone or
	// not, as arrivals (rebalance.Input.Starts).
	starts []rebalance.Start
}

// started records that a VM of cpus started on node at.
func (rb *rebalancer) started(node string, at time.Time, cpus int64) {
	rb.starts = append(rb.starts, rebalance.Start{Node: node, At: at, CPUCores: float64(cpus)})
}

// recentStarts forgets the starts before rebalance.DisplacementWindow of
// now and returns the rest.
func (rb *rebalancer) recentStarts(now time.Time) []rebalance.Start {
	first := 0
	for first < len(rb.starts) && now.Sub(rb.starts[first].At) > rebalance.DisplacementWindow {
		first++
	}
	rb.starts = rb.starts[first:]
	return rb.starts
}

type moveHistory struct {
	last  time.Time
	count int
}

// migration is one move a pass made.
type migration struct {
	vm, from, to int
	cost         rebalance.MigrationCost
}

// start implements Mover.
func (cfg *Rebalancing) start(sim *Simulation, start time.Time) (mover, error) {
	return newRebalancer(cfg, sim, start)
}

func newRebalancer(cfg *Rebalancing, sim *Simulation, start time.Time) (*rebalancer, error) {
	clk := testingclock.NewFakePassiveClock(start)
	p, err := carbon.NewTraceProviderWithConfig(carbon.TraceProviderConfig{Clock: clk, Start: start, Epoch: start}, sortedTraces(sim.Traces)...)
	if err != nil {
		return nil, fmt.Errorf("replaying carbon traces: %w", err)
	}
	rb := &rebalancer{cfg: cfg, armed: map[string]time.Time{}, moved: map[int]moveHistory{}, next: start.Add(cfg.Every),
		clock: clk, provider: p}
	for _, t := range cfg.Policy.Triggers {
		if t.Type == v1alpha1.RebalanceCarbon && t.Carbon != nil && t.Carbon.UseForecast && t.Carbon.ForecastHorizon != nil {
			rb.horizon = t.Carbon.ForecastHorizon.Duration
		}
	}
	return rb, nil
}

func (rb *rebalancer) due() time.Time { return rb.next }

// pass plans and applies one rebalancing pass at now.
func (rb *rebalancer) pass(ctx context.Context, now time.Time, sim *Simulation, c *Cluster) ([]migration, error) {
	rb.next = now.Add(rb.cfg.Every)
	in := &rebalance.Input{Now: now, Armed: rb.armed, Placement: placement.DefaultPolicy(), Starts: rb.recentStarts(now)}
	rb.clock.SetTime(now)
	zones := map[string]float64{}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		cpu, mem := c.Requested(i)
		s := placement.NodeSnapshot{Name: n.Name, Zone: n.Zone, CapacityType: n.CapacityType,
			AllocatableCPU: float64(n.CPUMilli) / 1000, AllocatableMemory: float64(n.MemoryBytes),
			RequestedCPU: float64(cpu) / 1000, RequestedMemory: float64(mem),
			Pricing: n.Pricing, Power: n.Power, PUE: n.PUE}
		v, ok := zones[n.Zone]
		if !ok {
			var err error
			if v, err = placement.ZoneIntensity(ctx, rb.provider, n.Zone, rb.horizon); err != nil {
				return nil, fmt.Errorf("replaying the intensity of zone %s: %w", n.Zone, err)
			}
			zones[n.Zone] = v
		}
		s.CarbonIntensity, s.CarbonKnown = v, true
		in.Nodes = append(in.Nodes, rebalance.Node{Snapshot: s})
	}
	running := make([]int, 0, len(c.nodeOf))
	for k := range c.nodeOf {
		running = append(running, k)
	}
	slices.Sort(running)
	byName := make(map[string]int, len(running))
	for _, k := range running {
		vm := &sim.VMs[k]
		byName[vm.Name] = k
		v := rebalance.VM{Name: vm.Name, Node: c.Nodes[c.nodeOf[k]].Name, LiveMigratable: true, UsageKnown: true, Started: vm.Arrival,
			Request: placement.VMRequest{Name: vm.Name, CPUCores: float64(vm.CPUs), MemoryBytes: float64(vm.MemoryBytes()),
				AllowSpot: vm.AllowSpot, UsageCPU: float64(vm.CPUs) * vm.Utilization}}
		if h, ok := rb.moved[k]; ok && now.Sub(h.last) < 24*time.Hour {
			wait := float64(rb.cfg.Policy.Cooldown.Duration) * math.Pow(2, float64(h.count-1))
			v.CooldownUntil = h.last.Add(time.Duration(min(wait, float64(24*time.Hour))))
		}
		in.VMs = append(in.VMs, v)
	}
	plan, err := rebalance.Compute(&rb.cfg.Policy, in)
	if err != nil {
		return nil, err
	}
	rb.armed = plan.Armed
	var out []migration
	for _, m := range plan.Moves {
		k, ok := byName[m.VMName]
		to, found := c.Index(m.ToNode)
		if !ok || !found {
			return nil, fmt.Errorf("rebalancer moved unknown VM %s or to unknown node %s", m.VMName, m.ToNode)
		}
		from := c.nodeOf[k]
		if err := c.move(k, to, &sim.VMs[k]); err != nil {
			return nil, fmt.Errorf("rebalancer overcommits: %w", err)
		}
		h := rb.moved[k]
		if now.Sub(h.last) >= 24*time.Hour {
			h.count = 0
		}
		h.last, h.count = now, h.count+1
		rb.moved[k] = h
		out = append(out, migration{vm: k, from: from, to: to,
			cost: rebalance.MigrationCost{Grams: m.MigrationGramsCO2, Dollars: m.MigrationCost}})
	}
	return out, nil
}
