package placement

import (
	"reflect"
	"testing"
)

// TestRescoreEqualsEvaluatingTheSubset: ranking a subset of one
// evaluation's scores with Rescore gives what evaluating those nodes alone
// gives, with and without a carbon price, GPUs and a node of unknown
// intensity; and the subset's ranking differs from its order in the whole
// evaluation's, or the test would not tell Rescore from a plain filter.
func TestRescoreEqualsEvaluatingTheSubset(t *testing.T) {
	nodes := benchNodes(60)
	nodes[4].CarbonKnown = false
	for i := range nodes {
		// Servers of one type and zone differ too (the GPU case has no
		// other spread).
		nodes[i].CarbonIntensity += float64(i)
	}
	for _, tc := range rankingCases() {
		t.Run(tc.name, func(t *testing.T) {
			all := Evaluate(tc.vm, nodes, tc.policy)
			// The feasible nodes but the cheapest and the cleanest, as a
			// scheduler whose other filters ruled those out would ask: the
			// spans of cost and carbon change.
			// (GPU servers of one model all cost the same: then only the
			// cleanest go.)
			cheapest, dearest, cleanest := all.Scores[0].CostPerHour, all.Scores[0].CostPerHour, all.Scores[0].GramsCO2PerHour
			for _, s := range all.Scores {
				if s.SpotFallback {
					continue // outside the spans
				}
				cheapest, dearest = min(cheapest, s.CostPerHour), max(dearest, s.CostPerHour)
				if s.CarbonKnown {
					cleanest = min(cleanest, s.GramsCO2PerHour)
				}
			}
			var subset []NodeScore
			var subsetNodes []NodeSnapshot
			for _, s := range all.Scores {
				if (s.CostPerHour == cheapest && cheapest < dearest) || (s.CarbonKnown && s.GramsCO2PerHour == cleanest) {
					continue
				}
				subset = append(subset, s)
				for _, n := range nodes {
					if n.Name == s.Node {
						subsetNodes = append(subsetNodes, n)
					}
				}
			}
			if len(subset) < 3 {
				t.Fatalf("only %d nodes in the subset", len(subset))
			}
			before := append([]NodeScore(nil), subset...)
			Rescore(tc.vm, subset, tc.policy)
			want := Evaluate(tc.vm, subsetNodes, tc.policy).Scores
			if len(want) != len(subset) {
				t.Fatalf("evaluating the subset alone scored %d nodes, want %d", len(want), len(subset))
			}
			for i := range want {
				got := subset[i]
				got.GPUDevices, want[i].GPUDevices = nil, nil // compared below
				if !reflect.DeepEqual(got, want[i]) {
					t.Errorf("rank %d: Rescore %+v\nEvaluate %+v", i, got, want[i])
				}
			}
			changed := false
			for i := range before {
				changed = changed || before[i].Total != subset[i].Total || before[i].Node != subset[i].Node
			}
			if !changed {
				t.Error("Rescore changed no total or rank: the subset does not test renormalising")
			}
		})
	}
}

// TestRescoreJudgesTheBudgetAgain: nodes over budget among all the
// candidates (unpriced ones are) may be scored normally among a subset
// with no priced node at all, as evaluating that subset alone does.
func TestRescoreJudgesTheBudgetAgain(t *testing.T) {
	nodes := benchNodes(3)
	nodes[1].PriceUnknown, nodes[2].PriceUnknown = true, true
	vm := VMRequest{CPUCores: 4, MemoryBytes: 16 << 30}
	all := Evaluate(vm, nodes, DefaultPolicy())
	var subset []NodeScore
	for _, s := range all.Scores {
		if s.PriceUnknown {
			if !s.OverBudget {
				t.Fatalf("unpriced %s among priced nodes: not over budget", s.Node)
			}
			subset = append(subset, s)
		}
	}
	Rescore(vm, subset, DefaultPolicy())
	want := Evaluate(vm, nodes[1:], DefaultPolicy()).Scores
	for i := range want {
		if subset[i].Node != want[i].Node || subset[i].OverBudget != want[i].OverBudget || subset[i].Total != want[i].Total {
			t.Errorf("rank %d: Rescore %s over budget %v total %v; Evaluate %s %v %v", i, subset[i].Node, subset[i].OverBudget, subset[i].Total,
				want[i].Node, want[i].OverBudget, want[i].Total)
		}
	}
}
