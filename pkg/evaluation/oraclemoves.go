package evaluation

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/rebalance"
)

// OracleMoves moves running VMs every hour with the true future, as the
// oracles place them: a VM moves to the node where the rest of its actual
// life would cost least, grams plus GramsPerDollar times dollars, when
// that beats staying by more than the move's own cost (rebalance's
// migration cost model, priced the same way). The VMs whose moves gain
// most go first; a move that no longer fits is dropped. VMs move only to
// nodes they may use (spot only with the label), and as often as a move
// pays: it is a reference, not a policy, so the rebalancer's limits and
// cooldowns do not apply.
type OracleMoves struct {
	GramsPerDollar float64
}

// start implements Mover.
func (o *OracleMoves) start(sim *Simulation, at time.Time) (mover, error) {
	f, err := newFuture(sim.Traces)
	if err != nil {
		return nil, err
	}
	return &oracleMover{price: o.GramsPerDollar, future: f, next: at.Truncate(time.Hour).Add(time.Hour)}, nil
}

type oracleMover struct {
	price  float64
	future future
	next   time.Time
}

func (m *oracleMover) due() time.Time { return m.next }

func (m *oracleMover) started(string, time.Time, int64) {}

// pass implements mover.
func (m *oracleMover) pass(_ context.Context, now time.Time, sim *Simulation, c *Cluster) ([]migration, error) {
	m.next = now.Add(time.Hour)
	type candidate struct {
		vm, to int
		gain   float64
		cost   rebalance.MigrationCost
	}
	// Each zone's intensity now: the copy's at the source, the VM's rate
	// on the target.
	intensityNow := map[string]float64{}
	for i := range c.Nodes {
		zone := c.Nodes[i].Zone
		if _, ok := intensityNow[zone]; !ok {
			v, err := m.future.intensity(zone, now)
			if err != nil {
				return nil, err
			}
			intensityNow[zone] = v
		}
	}
	var candidates []candidate
	for _, k := range slices.Sorted(maps.Keys(c.nodeOf)) {
		vm, from := &sim.VMs[k], c.nodeOf[k]
		end := earliest(vm.Departure, sim.End)
		if !end.After(now) {
			continue
		}
		stay, err := m.future.usage(vm, &c.Nodes[from], now, end)
		if err != nil {
			return nil, err
		}
		source := intensityNow[c.Nodes[from].Zone]
		req := placement.VMRequest{Name: vm.Name, CPUCores: float64(vm.CPUs), MemoryBytes: float64(vm.MemoryBytes()),
			AllowSpot: vm.AllowSpot, UsageCPU: float64(vm.CPUs) * vm.Utilization}
		best := candidate{vm: k, to: -1}
		for to := range c.Nodes {
			if to == from || !c.Fits(to, vm) || !c.SpotAllowed(to, vm) {
				continue
			}
			there, err := m.future.usage(vm, &c.Nodes[to], now, end)
			if err != nil {
				return nil, err
			}
			// The VM's rate on the target now: the copy runs it twice.
			hour := usageOf(vm, &c.Nodes[to], intensityNow[c.Nodes[to].Zone], 1)
			mig := rebalance.EstimateMigration(&req, placement.NodeScore{GramsCO2PerHour: hour.Grams, CostPerHour: hour.Dollars}, source)
			gain := stay.Grams + m.price*stay.Dollars - (there.Grams + m.price*there.Dollars + mig.Grams + m.price*mig.Dollars)
			if gain > best.gain {
				best = candidate{vm: k, to: to, gain: gain, cost: mig}
			}
		}
		if best.to >= 0 {
			candidates = append(candidates, best)
		}
	}
	slices.SortStableFunc(candidates, func(a, b candidate) int { return cmp.Compare(b.gain, a.gain) })
	var out []migration
	for _, cd := range candidates {
		vm := &sim.VMs[cd.vm]
		if !c.Fits(cd.to, vm) {
			continue
		}
		from := c.nodeOf[cd.vm]
		if err := c.move(cd.vm, cd.to, vm); err != nil {
			return nil, err
		}
		out = append(out, migration{vm: cd.vm, from: from, to: cd.to, cost: cd.cost})
	}
	return out, nil
}

// future is each zone's true intensity, summed from its trace's start, so
// that what a VM uses over any span takes two lookups: the oracle's moves
// weigh every running VM on every node every hour.
type future map[string]*summedTrace

type summedTrace struct {
	trace *carbon.Trace
	// sums[i] is the intensity-hours of the trace's first i hours.
	sums []float64
}

func newFuture(traces map[string]*carbon.Trace) (future, error) {
	f := future{}
	for zone, tr := range traces {
		if tr.Start.Truncate(time.Hour) != tr.Start {
			return nil, fmt.Errorf("zone %s trace starts at %s, not on the hour", zone, tr.Start.Format(time.RFC3339))
		}
		sums := make([]float64, len(tr.Values)+1)
		for i, v := range tr.Values {
			sums[i+1] = sums[i] + v
		}
		f[zone] = &summedTrace{trace: tr, sums: sums}
	}
	return f, nil
}

// usage is AccountSpan's figure, from the sums.
func (f future) usage(vm *VM, n *Node, from, to time.Time) (Usage, error) {
	if !to.After(from) {
		return Usage{}, nil
	}
	s, ok := f[n.Zone]
	if !ok {
		return Usage{}, fmt.Errorf("no carbon trace for zone %q of node %s", n.Zone, n.Name)
	}
	a, err := s.upTo(from)
	if err != nil {
		return Usage{}, err
	}
	b, err := s.upTo(to)
	if err != nil {
		return Usage{}, err
	}
	return usageOf(vm, n, b-a, to.Sub(from).Hours()), nil
}

// intensity is zone's true intensity at t.
func (f future) intensity(zone string, t time.Time) (float64, error) {
	s, ok := f[zone]
	if !ok {
		return 0, fmt.Errorf("no carbon trace for zone %q", zone)
	}
	v, ok := s.trace.At(t)
	if !ok {
		return 0, s.outside(t)
	}
	return v, nil
}

// upTo is the intensity-hours from the trace's start to t.
func (s *summedTrace) upTo(t time.Time) (float64, error) {
	h := t.Sub(s.trace.Start).Hours()
	i := int(h)
	switch {
	case h < 0 || i > len(s.trace.Values):
		return 0, s.outside(t)
	case i == len(s.trace.Values):
		if h > float64(i) {
			return 0, s.outside(t)
		}
		return s.sums[i], nil
	}
	return s.sums[i] + s.trace.Values[i]*(h-float64(i)), nil
}

func (s *summedTrace) outside(t time.Time) error {
	return fmt.Errorf("zone %s trace covers [%s, %s), not %s", s.trace.Zone,
		s.trace.Start.Format(time.RFC3339), s.trace.End().Format(time.RFC3339), t.Format(time.RFC3339))
}
