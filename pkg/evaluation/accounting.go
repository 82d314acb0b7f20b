package evaluation

import (
	"fmt"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// Usage is what placed VMs used and caused.
type Usage struct {
	CPUHours float64
	// EnergyKWh is drawn from the grid: the VMs' power times the PUE.
	EnergyKWh float64
	// Grams of CO2eq, with the true intensity of every hour.
	Grams   float64
	Dollars float64
}

// Add accumulates o into u.
func (u *Usage) Add(o Usage) {
	u.CPUHours += o.CPUHours
	u.EnergyKWh += o.EnergyKWh
	u.Grams += o.Grams
	u.Dollars += o.Dollars
}

// MeanIntensity is the energy-weighted carbon intensity the VMs ran on, in
// g/kWh; zero when they used no energy.
func (u Usage) MeanIntensity() float64 {
	if u.EnergyKWh == 0 {
		return 0
	}
	return u.Grams / u.EnergyKWh
}

// Account is what vm uses on node n from its arrival until it departs or the
// simulation ends, whichever is first:
//
//	grams   = Σ_hours I(zone, hour) × overlap_h × P_vm / 1000 × PUE
//	dollars = cost.VMCostPerHour(n) × runtime_h
//
// with P_vm = placement.VMPowerWatts at the VM's utilisation and I the true
// recorded intensity (Trace.At) of each hour the VM overlaps.
func Account(vm *VM, n *Node, traces map[string]*carbon.Trace, end time.Time) (Usage, error) {
	return AccountSpan(vm, n, traces, vm.Arrival, earliest(vm.Departure, end))
}

// AccountSpan is what vm uses on n from from to to: its share of the
// node's power at its utilisation, the true intensity of every hour, and
// the node's price for its size. An empty or negative span uses nothing.
func AccountSpan(vm *VM, n *Node, traces map[string]*carbon.Trace, from, to time.Time) (Usage, error) {
	if !to.After(from) {
		return Usage{}, nil
	}
	tr, ok := traces[n.Zone]
	if !ok {
		return Usage{}, fmt.Errorf("no carbon trace for zone %q of node %s", n.Zone, n.Name)
	}
	intensityHours, err := integrate(tr, from, to)
	if err != nil {
		return Usage{}, fmt.Errorf("accounting VM %s on node %s: %w", vm.Name, n.Name, err)
	}
	return usageOf(vm, n, intensityHours, to.Sub(from).Hours()), nil
}

// usageOf is what vm uses on n over hours whose intensities sum, each
// weighted by the part of it the VM ran, to intensityHours (g/kWh × h).
func usageOf(vm *VM, n *Node, intensityHours, hours float64) Usage {
	watts := placement.VMPowerWatts(n.Power, float64(n.CPUMilli)/1000, float64(vm.CPUs), vm.Utilization)
	pue := n.PUE
	if pue <= 0 {
		pue = placement.DefaultPUE
	}
	return Usage{
		CPUHours:  float64(vm.CPUs) * hours,
		EnergyKWh: watts / 1000 * hours * pue,
		// Grams are linear in intensity, so the intensity-hours give the
		// grams over the whole span in one call.
		Grams:   placement.GramsCO2PerHour(intensityHours, watts, pue),
		Dollars: cost.VMCostPerHour(n.Pricing, float64(vm.CPUs), float64(vm.MemoryBytes()), nil, 0, 0) * hours,
	}
}

// integrate is ∫ I dt over [from, to) in g/kWh × hours, the true trace
// value of each hour weighted by how much of it the interval covers.
func integrate(tr *carbon.Trace, from, to time.Time) (float64, error) {
	var sum float64
	for t := from; t.Before(to); {
		next := t.Truncate(time.Hour).Add(time.Hour)
		if next.After(to) {
			next = to
		}
		v, ok := tr.At(t)
		if !ok {
			return 0, fmt.Errorf("zone %s trace covers [%s, %s), not %s", tr.Zone,
				tr.Start.Format(time.RFC3339), tr.End().Format(time.RFC3339), t.Format(time.RFC3339))
		}
		sum += v * next.Sub(t).Hours()
		t = next
	}
	return sum, nil
}

// earliest is the earliest of times.
func earliest(first time.Time, rest ...time.Time) time.Time {
	for _, t := range rest {
		if t.Before(first) {
			first = t
		}
	}
	return first
}
