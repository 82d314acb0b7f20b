package placement

import (
	"reflect"
	"sync"
	"testing"
)

// TestAssessorAndRescoreEqualEvaluate: assessing every node with an
// Assessor, from one goroutine per node as kube-scheduler's Filter does,
// and ranking the feasible ones with Rescore gives Evaluate's decision:
// the same scores, ranks, GPU devices and filter reasons.
func TestAssessorAndRescoreEqualEvaluate(t *testing.T) {
	nodes := benchNodes(80)
	nodes[4].CarbonKnown = false
	nodes[9].AllocatableCPU = 1 // too small for every VM below
	for _, tc := range rankingCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := Evaluate(tc.vm, nodes, tc.policy)
			a := NewAssessor(tc.vm, tc.policy)
			scores := make([]NodeScore, len(nodes))
			reasons := make([]string, len(nodes))
			var wg sync.WaitGroup
			for i := range nodes {
				wg.Go(func() { scores[i], reasons[i] = a.Assess(&nodes[i]) })
			}
			wg.Wait()
			var got Decision
			for i := range nodes {
				if reasons[i] != "" {
					got.Filtered = append(got.Filtered, FilteredNode{Node: nodes[i].Name, Reason: reasons[i]})
				} else {
					got.Scores = append(got.Scores, scores[i])
				}
			}
			Rescore(tc.vm, got.Scores, tc.policy)
			if len(want.Filtered) == 0 || len(want.Scores) < 2 {
				t.Fatalf("Evaluate filtered %d and scored %d nodes: the case tests too little", len(want.Filtered), len(want.Scores))
			}
			if !reflect.DeepEqual(got.Filtered, want.Filtered) {
				t.Errorf("filtered %v\nEvaluate %v", got.Filtered, want.Filtered)
			}
			if len(got.Scores) != len(want.Scores) {
				t.Fatalf("scored %d nodes, Evaluate %d", len(got.Scores), len(want.Scores))
			}
			for i := range want.Scores {
				if !reflect.DeepEqual(got.Scores[i], want.Scores[i]) {
					t.Errorf("rank %d: %+v\nEvaluate %+v", i, got.Scores[i], want.Scores[i])
				}
			}
		})
	}
}
