package evaluation

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/hypersdk/hypersdk/pkg/cost"
)

// Cluster is one strategy's bookkeeping: the nodes and the requests of the
// VMs running on them. Strategies read it; only the simulation binds and
// releases, so no strategy can overcommit a node.
type Cluster struct {
	Nodes   []Node
	index   map[string]int
	used    []requests
	running departures
	// nodeOf is the node of each running VM, by index into the
	// simulation's VMs: a rebalanced VM departs from where it was moved.
	nodeOf map[int]int
}

type requests struct{ cpuMilli, memory int64 }

// NewCluster starts an empty cluster of nodes, whose names must be unique.
func NewCluster(nodes []Node) (*Cluster, error) {
	c := &Cluster{Nodes: nodes, index: make(map[string]int, len(nodes)), used: make([]requests, len(nodes)), nodeOf: map[int]int{}}
	for i, n := range nodes {
		if _, dup := c.index[n.Name]; dup {
			return nil, fmt.Errorf("two nodes named %q", n.Name)
		}
		c.index[n.Name] = i
	}
	return c, nil
}

// Index returns the position of the named node in Nodes.
func (c *Cluster) Index(name string) (int, bool) {
	i, ok := c.index[name]
	return i, ok
}

// Requested returns the CPU (millicores) and memory (bytes) the VMs on
// node i request.
func (c *Cluster) Requested(i int) (cpuMilli, memory int64) {
	return c.used[i].cpuMilli, c.used[i].memory
}

// Fits reports whether vm's requests fit in node i's unrequested
// allocatable CPU and memory, kube-scheduler's NodeResourcesFit filter.
func (c *Cluster) Fits(i int, vm *VM) bool {
	n, u := &c.Nodes[i], c.used[i]
	return u.cpuMilli+vm.CPUMilli() <= n.CPUMilli && u.memory+vm.MemoryBytes() <= n.MemoryBytes
}

// fitsAnywhere reports whether vm fits on any node.
func (c *Cluster) fitsAnywhere(vm *VM) bool {
	for i := range c.Nodes {
		if c.Fits(i, vm) {
			return true
		}
	}
	return false
}

// SpotAllowed reports whether vm may run on node i whatever else fits:
// spot nodes take VMs labelled to allow spot.
func (c *Cluster) SpotAllowed(i int, vm *VM) bool {
	return vm.AllowSpot || c.Nodes[i].CapacityType != cost.Spot
}

// SpotFallback reports whether vm may run on spot nodes it is not
// labelled for: when it fits on no other node, as HyperSDK's placement
// falls back to them (placement.NodeScore.SpotFallback).
func (c *Cluster) SpotFallback(vm *VM) bool {
	for i := range c.Nodes {
		if c.Fits(i, vm) && c.SpotAllowed(i, vm) {
			return false
		}
	}
	return true
}

// Usable reports whether vm fits on node i and may use it, given whether
// it falls back to spot (SpotFallback).
func (c *Cluster) Usable(i int, vm *VM, fallback bool) bool {
	return c.Fits(i, vm) && (fallback || c.SpotAllowed(i, vm))
}

// bind runs vm, the simulation's VM k, on node i until its departure.
func (c *Cluster) bind(i, k int, vm *VM) error {
	if !c.Fits(i, vm) {
		cpu, mem := c.Requested(i)
		n := &c.Nodes[i]
		return fmt.Errorf("VM %s (%d CPUs, %d MiB) does not fit on node %s (%d/%d mCPU, %d/%d MiB requested)",
			vm.Name, vm.CPUs, vm.MemoryBytes()>>20, n.Name, cpu, n.CPUMilli, mem>>20, n.MemoryBytes>>20)
	}
	c.used[i].cpuMilli += vm.CPUMilli()
	c.used[i].memory += vm.MemoryBytes()
	c.nodeOf[k] = i
	heap.Push(&c.running, departure{at: vm.Departure, vm: k, req: requests{vm.CPUMilli(), vm.MemoryBytes()}})
	return nil
}

// move takes running VM k from its node to node to, which must fit it.
func (c *Cluster) move(k, to int, vm *VM) error {
	from, ok := c.nodeOf[k]
	if !ok {
		return fmt.Errorf("VM %s is not running", vm.Name)
	}
	if !c.Fits(to, vm) {
		return fmt.Errorf("VM %s does not fit on node %s", vm.Name, c.Nodes[to].Name)
	}
	c.used[from].cpuMilli -= vm.CPUMilli()
	c.used[from].memory -= vm.MemoryBytes()
	c.used[to].cpuMilli += vm.CPUMilli()
	c.used[to].memory += vm.MemoryBytes()
	c.nodeOf[k] = to
	return nil
}

func (c *Cluster) releaseUntil(t time.Time) {
	for len(c.running) > 0 && !c.running[0].at.After(t) {
		d := heap.Pop(&c.running).(departure)
		i := c.nodeOf[d.vm]
		delete(c.nodeOf, d.vm)
		c.used[i].cpuMilli -= d.req.cpuMilli
		c.used[i].memory -= d.req.memory
	}
}

// departure is a running VM, keyed by when it stops.
type departure struct {
	at  time.Time
	vm  int
	req requests
}

// departures is a min-heap by departure time (container/heap).
type departures []departure

func (h departures) Len() int           { return len(h) }
func (h departures) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h departures) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *departures) Push(x any)        { *h = append(*h, x.(departure)) }
func (h *departures) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d
}
