package placement

import (
	"slices"
	"testing"
)

func TestRank(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []NodeScore
		wanted []string
	}{
		{"empty", nil, nil},
		{"already ranked", []NodeScore{{Node: "a", Total: 3}, {Node: "b", Total: 2}}, []string{"a", "b"}},
		{"reversed", []NodeScore{{Node: "a", Total: 1}, {Node: "b", Total: 2}, {Node: "c", Total: 3}}, []string{"c", "b", "a"}},
		{"ties by name", []NodeScore{{Node: "c", Total: 5}, {Node: "a", Total: 5}, {Node: "b", Total: 9}, {Node: "d", Total: 5}}, []string{"b", "a", "c", "d"}},
		// Equal totals: the cheaper node first, then by name; a higher
		// total still wins over a lower price.
		{"ties by price, then name", []NodeScore{{Node: "a", Total: 5, CostPerHour: 0.3}, {Node: "b", Total: 5, CostPerHour: 0.1},
			{Node: "c", Total: 6, CostPerHour: 0.9}, {Node: "d", Total: 5, CostPerHour: 0.1}}, []string{"c", "b", "d", "a"}},
		// An unknown price (0 in CostPerHour) is not the cheapest.
		{"unknown price last in a tie", []NodeScore{{Node: "a", Total: 5, PriceUnknown: true}, {Node: "b", Total: 5, CostPerHour: 0.2},
			{Node: "c", Total: 5, CostPerHour: 0.1}}, []string{"c", "b", "a"}},
		// Two cycles: positions 0↔1 and 2→3→4→2.
		{"several cycles", []NodeScore{{Node: "b", Total: 4}, {Node: "a", Total: 5}, {Node: "e", Total: 1}, {Node: "c", Total: 3}, {Node: "d", Total: 2}}, []string{"a", "b", "c", "d", "e"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			rank(in)
			if got := names(in); !slices.Equal(got, tc.wanted) {
				t.Errorf("got %v, want %v", got, tc.wanted)
			}
			// Totals travel with their nodes.
			for _, s := range in {
				orig := tc.in[slices.IndexFunc(tc.in, func(o NodeScore) bool { return o.Node == s.Node })]
				if s.Total != orig.Total {
					t.Errorf("%s: total %v, want %v", s.Node, s.Total, orig.Total)
				}
			}
		})
	}
}
