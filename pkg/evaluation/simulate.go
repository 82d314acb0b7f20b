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
	// RejectedWithRoom counts the rejected VMs that some node had room
	// for: the strategy's own constraints, such as the spot label, kept
	// them off every such node.
	RejectedWithRoom int
	Usage
	// ZoneCPUHours splits Usage.CPUHours by the zone of the nodes, to
	// show where a strategy put the work.
	ZoneCPUHours map[string]float64
	// PlacedVMs marks, by index into Simulation.VMs, the VMs placed.
	PlacedVMs []bool
	// Migrations counts the rebalancer's moves; MigrationGrams and
	// MigrationDollars are what they cost, included in Usage.
	Migrations                       int
	MigrationGrams, MigrationDollars float64
	// MovedSavedGrams is what the moved VMs emitted less, after each move,
	// than they would have on the node they left over the same span (to
	// their next move, departure or the end), with the true intensity.
	// It leaves out the migrations and what the moves did to where later
	// VMs were placed: the run's grams against the same placements
	// without the rebalancer tell the whole effect.
	MovedSavedGrams float64
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
	// Each placed VM is accounted by span: from since on its node until it
	// moves, departs or the simulation ends.
	since := make([]time.Time, len(sim.VMs))
	where := make([]int, len(sim.VMs))
	// left is the node each moved VM left at its last move.
	left := map[int]int{}
	account := func(k int, to time.Time) error {
		vm := &sim.VMs[k]
		end := earliest(to, vm.Departure, sim.End)
		u, err := AccountSpan(vm, &c.Nodes[where[k]], sim.Traces, since[k], end)
		if err != nil {
			return err
		}
		r.Usage.Add(u)
		r.ZoneCPUHours[c.Nodes[where[k]].Zone] += u.CPUHours
		if from, moved := left[k]; moved {
			stayed, err := AccountSpan(vm, &c.Nodes[from], sim.Traces, since[k], end)
			if err != nil {
				return err
			}
			r.MovedSavedGrams += stayed.Grams - u.Grams
		}
		return nil
	}
	var rb mover
	if s.Rebalance != nil && len(sim.VMs) > 0 {
		if rb, err = s.Rebalance.start(sim, sim.VMs[0].Arrival); err != nil {
			return Result{}, err
		}
	}
	// rebalanceUntil runs the passes due by t.
	rebalanceUntil := func(t time.Time) error {
		for rb != nil && !rb.due().After(t) && rb.due().Before(sim.End) {
			now := rb.due()
			c.releaseUntil(now)
			moves, err := rb.pass(ctx, now, sim, c)
			if err != nil {
				return fmt.Errorf("%s rebalancing at %s: %w", s.Name, now.Format(time.RFC3339), err)
			}
			for _, m := range moves {
				if err := account(m.vm, now); err != nil {
					return err
				}
				since[m.vm], where[m.vm], left[m.vm] = now, m.to, m.from
				r.Migrations++
				r.MigrationGrams += m.cost.Grams
				r.MigrationDollars += m.cost.Dollars
				r.Usage.Grams += m.cost.Grams
				r.Usage.Dollars += m.cost.Dollars
			}
		}
		return nil
	}
	for k := range sim.VMs {
		vm := &sim.VMs[k]
		if k > 0 && vm.Arrival.Before(sim.VMs[k-1].Arrival) {
			return Result{}, fmt.Errorf("VM %s arrives before VM %s: want arrival order", vm.Name, sim.VMs[k-1].Name)
		}
		if err := rebalanceUntil(vm.Arrival); err != nil {
			return Result{}, err
		}
		c.releaseUntil(vm.Arrival)
		i, err := s.Placer.Place(ctx, vm, vm.Arrival, c)
		if err != nil {
			return Result{}, fmt.Errorf("%s placing VM %s: %w", s.Name, vm.Name, err)
		}
		if i < 0 {
			r.Rejected++
			if c.fitsAnywhere(vm) {
				r.RejectedWithRoom++
			}
			continue
		}
		if i >= len(c.Nodes) {
			return Result{}, fmt.Errorf("%s placed VM %s on node %d of %d", s.Name, vm.Name, i, len(c.Nodes))
		}
		if err := c.bind(i, k, vm); err != nil {
			return Result{}, fmt.Errorf("%s overcommits: %w", s.Name, err)
		}
		r.Placed++
		r.PlacedVMs[k] = true
		since[k], where[k] = vm.Arrival, i
		if rb != nil {
			rb.started(c.Nodes[i].Name, vm.Arrival, vm.CPUs)
		}
	}
	if err := rebalanceUntil(sim.End); err != nil {
		return Result{}, err
	}
	for k, placed := range r.PlacedVMs {
		if placed {
			if err := account(k, sim.End); err != nil {
				return Result{}, err
			}
		}
	}
	return r, nil
}
