package evaluation

import (
	"context"
	"time"
)

// Placer chooses a node for a VM arriving now: an index into c.Nodes that
// can take it, or -1 when none can and the VM is rejected.
type Placer interface {
	Place(ctx context.Context, vm *VM, now time.Time, c *Cluster) (int, error)
}

// Strategy is a placer as the table shows it.
type Strategy struct {
	Name string
	// Signal says what carbon information the placer uses, so that a row
	// that knows the future is labelled as such.
	Signal string
	Placer Placer
	// Rebalance, when set, moves the running VMs between arrivals: the
	// rebalancer (*Rebalancing) or the oracle's moves (*OracleMoves).
	Rebalance Mover
}

// Mover moves the running VMs of a run; each run starts its own.
type Mover interface {
	start(sim *Simulation, at time.Time) (mover, error)
}

// mover is one run's Mover.
type mover interface {
	// due is when the next pass is.
	due() time.Time
	// pass plans and applies the moves at now, on c, and sets when the
	// next pass is due.
	pass(ctx context.Context, now time.Time, sim *Simulation, c *Cluster) ([]migration, error)
	// started tells it that a VM of cpus was placed on node at.
	started(node string, at time.Time, cpus int64)
}
