package evaluation

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// maxNodeScore is kube-scheduler's framework.MaxNodeScore.
const maxNodeScore = 100

// DefaultScheduler emulates kube-scheduler v1.37 with its default
// configuration placing a virt-launcher pod that requests CPU and memory.
//
// Filter: NodeResourcesFit (the requests fit in unrequested allocatable).
// kube-scheduler knows nothing of spot capacity, so spot nodes take any VM,
// unless they are tainted (see NewSpotTaintedScheduler).
//
// Score: NodeResourcesFit with the LeastAllocated strategy plus
// NodeResourcesBalancedAllocation, both weight 1 over CPU and memory weight
// 1, in the integer arithmetic of k8s.io/kubernetes
// pkg/scheduler/framework/plugins/noderesources. The other default score
// plugins give every node of this fleet the same score for these pods (no
// taints, affinities or topology-spread constraints: system default
// spreading only applies to pods of Services and replica sets, not to
// virt-launcher pods, which a VMI owns), so they do not change the choice.
//
// selectHost picks among the best nodes uniformly at random (reservoir
// sampling); here the randomness is seeded, for repeatable runs.
type DefaultScheduler struct {
	rng *rand.Rand
	// spotTainted adds TaintToleration's filter for a NoSchedule taint on
	// every spot node that only VMs allowing spot tolerate.
	spotTainted bool
}

// NewDefaultScheduler returns the emulation, breaking ties with seed.
func NewDefaultScheduler(seed uint64) *DefaultScheduler {
	return &DefaultScheduler{rng: rand.New(rand.NewPCG(seed, 0xde7a))}
}

// NewSpotTaintedScheduler returns the emulation on a cluster whose spot
// nodes carry a NoSchedule taint that the VMs labelled to allow spot
// tolerate: how a cluster without HyperSDK keeps other VMs off spot
// capacity (AKS taints spot node pools so by default). It honours the
// spot label as HyperSDK does, so the two reject VMs on the same terms.
func NewSpotTaintedScheduler(seed uint64) *DefaultScheduler {
	d := NewDefaultScheduler(seed)
	d.spotTainted = true
	return d
}

// Place implements Placer.
func (d *DefaultScheduler) Place(_ context.Context, vm *VM, _ time.Time, c *Cluster) (int, error) {
	best, bestScore, ties := -1, int64(0), 0
	for i := range c.Nodes {
		if !c.Fits(i, vm) || d.spotTainted && !c.SpotAllowed(i, vm) {
			continue
		}
		cpu, mem := c.Requested(i)
		n := &c.Nodes[i]
		alloc := [2]int64{n.CPUMilli, n.MemoryBytes}
		before := [2]int64{cpu, mem}
		after := [2]int64{cpu + vm.CPUMilli(), mem + vm.MemoryBytes()}
		s := leastAllocatedScore(after, alloc) + balancedAllocationScore(before, after, alloc)
		switch {
		case best < 0 || s > bestScore:
			best, bestScore, ties = i, s, 1
		case s == bestScore:
			ties++
			if d.rng.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return best, nil
}

// leastAllocatedScore is leastResourceScorer with equal weights:
// the mean over resources of (allocatable − requested) × 100 / allocatable,
// requested including the pod.
func leastAllocatedScore(requested, allocatable [2]int64) int64 {
	var sum, n int64
	for i := range requested {
		if allocatable[i] == 0 {
			continue
		}
		score := int64(0)
		if requested[i] <= allocatable[i] {
			score = (allocatable[i] - requested[i]) * maxNodeScore / allocatable[i]
		}
		sum += score
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// balancedAllocationScore is balancedResourceScorer: it rewards the pod for
// improving the balance of CPU and memory fractions on the node,
//
//	score = 50 + (50 + balance(with pod) − balance(without)) / 2
//	balance = ⌊(1 − |f_cpu − f_mem| / 2) × 100⌋, f = min(requested/allocatable, 1)
func balancedAllocationScore(before, after, allocatable [2]int64) int64 {
	return maxNodeScore/2 + (maxNodeScore/2+balance(after, allocatable)-balance(before, allocatable))/2
}

func balance(requested, allocatable [2]int64) int64 {
	var f [2]float64
	for i := range requested {
		if allocatable[i] == 0 {
			// Upstream skips the resource; with one left, std is 0.
			return maxNodeScore
		}
		f[i] = min(float64(requested[i])/float64(allocatable[i]), 1)
	}
	std := math.Abs(f[0]-f[1]) / 2
	return int64((1 - std) * maxNodeScore)
}
