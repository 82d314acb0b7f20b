package operations

import (
	"fmt"
	"sync"

	"k8s.io/client-go/tools/cache"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// reservations grants what operations must not share: migration slots, in
// the cluster and out of one node, and the name of the VM a clone or a
// restore into a new VM makes.
// The executor's workers promote operations concurrently, and a count read
// from the informer cache lags behind the grants just made, so grants are
// made here, under one lock. Each grant is also written into the
// operation's status (the migration's source node, the new VM)
// before the operation acts on it, so an executor that restarts rebuilds
// the same grants from its cache (seed) and never grants one twice.
type reservations struct {
	mu                  sync.Mutex
	maxCluster, maxNode int
	migrations          map[cache.ObjectName]string // operation -> source node
	targets             map[string]cache.ObjectName // "namespace/name" of a new VM (clone, restore) -> operation
}

func newReservations(maxCluster, maxNode int) *reservations {
	return &reservations{
		maxCluster: maxCluster, maxNode: maxNode,
		migrations: map[cache.ObjectName]string{},
		targets:    map[string]cache.ObjectName{},
	}
}

// seed takes over the grants that unfinished operations recorded, and
// those ended ones still hold (holdsGrants).
func (r *reservations) seed(ops []*v1alpha1.VMOperation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, op := range ops {
		if op.Status.Phase.Final() && !holdsGrants(op) {
			continue
		}
		key := cache.MetaObjectToName(op)
		if src := recorded(op, "Node", "source"); src != nil && op.Spec.Type == v1alpha1.VMOperationMigrate {
			r.migrations[key] = src.Name
		}
		if t := recorded(op, "VirtualMachine", "target"); t != nil {
			r.targets[t.Namespace+"/"+t.Name] = key
		}
	}
}

// migration grants op a migration slot out of node, or says why it waits.
// Asking again for an operation that holds a slot grants it again.
func (r *reservations) migration(op cache.ObjectName, node string) (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.migrations[op]; ok {
		r.migrations[op] = node
		return true, ""
	}
	onNode := 0
	for _, n := range r.migrations {
		if n == node {
			onNode++
		}
	}
	switch {
	case len(r.migrations) >= r.maxCluster:
		return false, fmt.Sprintf("waiting: %d migrations in flight in the cluster (limit %d)", len(r.migrations), r.maxCluster)
	case onNode >= r.maxNode:
		return false, fmt.Sprintf("waiting: %d migrations leaving node %s (limit %d)", onNode, node, r.maxNode)
	}
	r.migrations[op] = node
	return true, ""
}

// target reserves the VM name namespace/name for the VM op makes. It returns
// the operation holding it when that is another one.
func (r *reservations) target(op cache.ObjectName, namespace, name string) (cache.ObjectName, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := namespace + "/" + name
	if holder, ok := r.targets[key]; ok && holder != op {
		return holder, false
	}
	r.targets[key] = op
	return op, true
}

// release gives back everything op holds: it ended or is gone.
func (r *reservations) release(op cache.ObjectName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.migrations, op)
	for k, holder := range r.targets {
		if holder == op {
			delete(r.targets, k)
		}
	}
}

// migrationsInFlight counts the migration slots granted.
func (r *reservations) migrationsInFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.migrations)
}
