package placement

import "testing"

func TestLowerIsBetter(t *testing.T) {
	for _, tc := range []struct {
		x, lo, hi, want float64
	}{
		{10, 10, 20, 100},
		{20, 10, 20, 0},
		{15, 10, 20, 50},
		{5, 5, 5, 100}, // one candidate, or all equal
	} {
		if got := lowerIsBetter(tc.x, tc.lo, tc.hi); !approx(got, tc.want) {
			t.Errorf("lowerIsBetter(%v, %v, %v) = %v, want %v", tc.x, tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestSpan(t *testing.T) {
	var s span
	for _, x := range []float64{5, -2, 9, 3} {
		s.add(x)
	}
	if s.lo != -2 || s.hi != 9 {
		t.Errorf("span [%v, %v], want [-2, 9]", s.lo, s.hi)
	}
}
