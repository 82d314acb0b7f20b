package placement

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// rankKey is a score's total, the VM's price on the node and where the
// score is. It holds no pointers, so sorting keys needs no GC write barriers.
type rankKey struct {
	total float64
	cost  float64
	tier  int8 // over the cost budget, a spot fallback: after the rest
	i     int
}

// rank sorts scores best first (nodes in the cost budget before those over
// it, spot fallbacks after both), ties by the VM's price on the node and
// then by node name.
//
// Why price before name: nodes tie when the policy's criteria cannot tell
// them apart, as carbon alone cannot within one zone. By name, VMs then
// fill one node after another whatever its shape, and the shapes that
// only some VMs fit (those with the most memory per CPU, for VMs that ask
// for it) are filled by VMs that fit anywhere. The VM's price is lowest
// on the shape whose prices suit what it asks for, and on spot nodes where
// it allows them. Over the 48 month-long evaluation cases
// (docs/placement-evaluation.md), carbon-only placement then rejected no
// more VMs than kube-scheduler with spot nodes tainted in any case, where
// by name it rejected more in 9.
//
// It sorts small keys and then permutes scores in place, because moving
// whole NodeScores through a sort of thousands of nodes costs more than
// scoring them.
func rank(scores []NodeScore) {
	keys := make([]rankKey, len(scores))
	for i := range scores {
		cost := scores[i].CostPerHour
		if scores[i].PriceUnknown {
			cost = math.Inf(1) // an unknown price is not a free node's
		}
		keys[i] = rankKey{total: scores[i].Total, cost: cost, tier: tier(&scores[i]), i: i}
	}
	slices.SortFunc(keys, func(a, b rankKey) int {
		if c := cmp.Compare(a.tier, b.tier); c != 0 {
			return c
		}
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		if c := cmp.Compare(a.cost, b.cost); c != 0 {
			return c
		}
		return strings.Compare(scores[a.i].Node, scores[b.i].Node)
	})
	// Position k takes the score at keys[k].i. Follow each cycle of that
	// permutation once, marking visited positions with -1.
	for start := range keys {
		if keys[start].i < 0 {
			continue
		}
		held := scores[start]
		for k := start; ; {
			src := keys[k].i
			keys[k].i = -1
			if src == start {
				scores[k] = held
				break
			}
			scores[k] = scores[src]
			k = src
		}
	}
}

// tier orders s's kind of node: in budget, over it, then the spot
// fallbacks (in budget and over it, when they are all there is).
func tier(s *NodeScore) int8 {
	var t int8
	if s.OverBudget {
		t = 1
	}
	if s.SpotFallback {
		t += 2
	}
	return t
}
