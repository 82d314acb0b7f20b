package evaluation

import (
	"context"
	"fmt"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// Simulation is what every strategy is run on.
type Simulation struct {
	Nodes []Node
	// VMs in arrival order.
	VMs []VM
	// End closes the window: VMs still running then are accounted up to it.
	End time.Time
	// Traces hold each zone's true intensity, for the accounting.
	Traces map[string]*carbon.Trace
}

// Result is one strategy's outcome.
type Result struct {
	Strategy, Signal string
	Placed, Rejected int
	Usage
	// ZoneCPUHours splits Usage.CPUHours by the zone of the nodes, to
	// show where a strategy put the work.
	ZoneCPUHours map[string]float64
	// PlacedVMs marks, by index into Simulation.VMs, the VMs placed.
	PlacedVMs []bool
}

// Run places the VMs with s on an empty cluster, one at a time in arrival
// order, after releasing the VMs that departed by then. A VM no node can
// take is rejected and never retried: retrying would need a model of how
// long a pending VM waits and whether its lifetime shifts, which would
// weigh on the comparison more than the placements themselves.
func (sim *Simulation) Run(ctx context.Context, s Strategy) (Result, error) {
	c, err := NewCluster(sim.Nodes)
	if err != nil {
		return Result{}, err
	}
	r := Result{Strategy: s.Name, Signal: s.Signal, ZoneCPUHours: map[string]float64{}, PlacedVMs: make([]bool, len(sim.VMs))}
	for k := range sim.VMs {
		vm := &sim.VMs[k]
		if k > 0 && vm.Arrival.Before(sim.VMs[k-1].Arrival) {
			return Result{}, fmt.Errorf("VM %s arrives before VM %s: want arrival order", vm.Name, sim.VMs[k-1].Name)
		}
		c.releaseUntil(vm.Arrival)
		i, err := s.Placer.Place(ctx, vm, vm.Arrival, c)
		if err != nil {
			return Result{}, fmt.Errorf("%s placing VM %s: %w", s.Name, vm.Name, err)
		}
		if i < 0 {
			r.Rejected++
			continue
		}
		if i >= len(c.Nodes) {
			return Result{}, fmt.Errorf("%s placed VM %s on node %d of %d", s.Name, vm.Name, i, len(c.Nodes))
		}
		if err := c.bind(i, vm); err != nil {
			return Result{}, fmt.Errorf("%s overcommits: %w", s.Name, err)
		}
		u, err := Account(vm, &c.Nodes[i], sim.Traces, sim.End)
		if err != nil {
			return Result{}, err
		}
		r.Placed++
		r.PlacedVMs[k] = true
		r.Usage.Add(u)
		r.ZoneCPUHours[c.Nodes[i].Zone] += u.CPUHours
	}
	return r, nil
}
