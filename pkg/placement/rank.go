package placement

import (
	"cmp"
	"slices"
	"strings"
)

// rankKey is a score's total and where the score is. It holds no pointers,
// so sorting keys needs no GC write barriers.
type rankKey struct {
	total float64
	over  bool // over the cost budget: after every node in budget
	i     int
}

// rank sorts scores best first (nodes in the cost budget before those over
// it), ties by node name. It sorts small keys and
// then permutes scores in place, because moving whole NodeScores through a
// sort of thousands of nodes costs more than scoring them.
func rank(scores []NodeScore) {
	keys := make([]rankKey, len(scores))
	for i := range scores {
		keys[i] = rankKey{total: scores[i].Total, over: scores[i].OverBudget, i: i}
	}
	slices.SortFunc(keys, func(a, b rankKey) int {
		if a.over != b.over {
			if a.over {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(b.total, a.total); c != 0 {
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
