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
	// Rebalance, when set, moves the running VMs every pass.
	Rebalance *Rebalancing
}
