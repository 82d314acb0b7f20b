package evaluation

import (
	"context"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// Oracle knows the future: it places each VM, among the nodes it fits on
// and may use (spot only if allowed, or as HyperSDK's fallback when nothing
// else fits), on the one where the VM would emit
// least over its actual lifetime with the true recorded intensities (the
// accounting itself), cheaper first on ties, then earlier in the fleet.
//
// It is greedy per VM, not a global optimum: it does not hold clean
// capacity back for a later, bigger or longer VM. It is an offline bound
// for what a forecast could buy, not a strategy anyone can run.
type Oracle struct {
	traces map[string]*carbon.Trace
	end    time.Time
}

// NewOracle reads the future from traces, up to the end of the simulation.
func NewOracle(traces map[string]*carbon.Trace, end time.Time) *Oracle {
	return &Oracle{traces: traces, end: end}
}

// Place implements Placer.
func (o *Oracle) Place(_ context.Context, vm *VM, _ time.Time, c *Cluster) (int, error) {
	best := -1
	var bestUse Usage
	fallback := c.SpotFallback(vm)
	for i := range c.Nodes {
		if !c.Usable(i, vm, fallback) {
			continue
		}
		u, err := Account(vm, &c.Nodes[i], o.traces, o.end)
		if err != nil {
			return -1, err
		}
		if best < 0 || u.Grams < bestUse.Grams || u.Grams == bestUse.Grams && u.Dollars < bestUse.Dollars {
			best, bestUse = i, u
		}
	}
	return best, nil
}
