package rebalance

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestStartLogKeepsDepartedStartsForTheWindow(t *testing.T) {
	var l startLog
	a := Start{Node: "n1", At: now.Add(-time.Hour), CPUCores: 2}
	b := Start{Node: "n2", At: now.Add(-2 * time.Hour), CPUCores: 4}
	byAt := func(x, y Start) int { return x.At.Compare(y.At) }
	want := []Start{b, a}
	got := l.observe(now, map[types.UID]Start{"a": a, "b": b})
	if slices.SortFunc(got, byAt); !slices.Equal(got, want) {
		t.Fatalf("starts = %v, want %v", got, want)
	}
	// a migrated to n3, where it is no arrival, and b departed: both
	// still took their room where they started.
	moved := a
	moved.Node = "n3"
	got = l.observe(now.Add(time.Minute), map[types.UID]Start{"a": moved})
	if slices.SortFunc(got, byAt); !slices.Equal(got, want) {
		t.Fatalf("starts = %v after a migration and a departure, want %v", got, want)
	}
	// Once b started more than DisplacementWindow ago it is forgotten.
	later := b.At.Add(DisplacementWindow + time.Minute)
	if got := l.observe(later, nil); !slices.Equal(got, []Start{a}) {
		t.Fatalf("starts = %v at %s, want only a", got, later)
	}
	if _, ok := l.seen["b"]; ok {
		t.Error("b is still remembered after the window")
	}
}
