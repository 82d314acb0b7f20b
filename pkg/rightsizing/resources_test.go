package rightsizing

import (
	"math"
	"testing"
)

const gib = 1 << 30

func TestRoundUp(t *testing.T) {
	for _, tc := range []struct {
		cores, bytes float64
		want         Resources
	}{
		{0, 0, Resources{1, MemoryStep}},
		{0.3, 1, Resources{1, MemoryStep}},
		{1, gib, Resources{1, gib}},
		{1.0000000001, gib + 1, Resources{1, gib + MemoryStep}},
		{2.01, 3.5 * gib, Resources{3, 3.5 * gib}},
		{math.NaN(), math.NaN(), Resources{1, MemoryStep}},
		{math.Inf(1), math.Inf(1), Resources{math.MaxInt32, math.MaxInt64 / MemoryStep * MemoryStep}},
	} {
		if got := roundUp(tc.cores, tc.bytes); got != tc.want {
			t.Errorf("roundUp(%g, %g) = %+v, want %+v", tc.cores, tc.bytes, got, tc.want)
		}
	}
}

func TestClamp(t *testing.T) {
	r := Resources{CPUs: 6, MemoryBytes: 6 * gib}
	for _, tc := range []struct {
		name string
		lim  Limits
		want Resources
	}{
		{"zero limits do not bound", Limits{}, r},
		{"max", Limits{Max: Resources{CPUs: 4, MemoryBytes: 8 * gib}}, Resources{4, 6 * gib}},
		{"min", Limits{Min: Resources{CPUs: 8, MemoryBytes: 1 * gib}}, Resources{8, 6 * gib}},
		{"memory only", Limits{Max: Resources{MemoryBytes: 2 * gib}}, Resources{6, 2 * gib}},
		{"min wins over a smaller max", Limits{Min: Resources{CPUs: 5}, Max: Resources{CPUs: 2}}, Resources{5, 6 * gib}},
	} {
		if got := tc.lim.clamp(r); got != tc.want {
			t.Errorf("%s: clamp = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
