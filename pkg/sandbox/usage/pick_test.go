package usage

import (
	"math"
	"reflect"
	"testing"
)

func TestPickDeterministicAndVaried(t *testing.T) {
	for _, seed := range []int64{0, 1, 12345} {
		counts := map[Kind]int{}
		levels := map[float64]bool{}
		for i := 0; i < 100; i++ {
			p := Pick(seed, i)
			if q := Pick(seed, i); !reflect.DeepEqual(p, q) {
				t.Fatalf("Pick(%d, %d) = %+v then %+v", seed, i, p, q)
			}
			// Every pick is valid and survives its text form.
			back, err := ParseProfile(p.String())
			if err != nil {
				t.Fatalf("Pick(%d, %d) = %q: %v", seed, i, p, err)
			}
			if !reflect.DeepEqual(back, p) {
				t.Fatalf("Pick(%d, %d) = %+v, round trip %+v", seed, i, p, back)
			}
			counts[p.Kind]++
			levels[p.Level] = true
		}
		for _, k := range []Kind{Idle, Steady, Diurnal, Bursty} {
			if counts[k] == 0 {
				t.Errorf("seed %d: no %s VM among 100: %v", seed, k, counts)
			}
		}
		if counts[Trace] != 0 {
			t.Errorf("seed %d: Pick chose trace: %v", seed, counts)
		}
		if len(levels) < 20 {
			t.Errorf("seed %d: only %d distinct levels among 100 VMs", seed, len(levels))
		}
	}

	// Seeds give different fleets.
	same := 0
	for i := 0; i < 100; i++ {
		if reflect.DeepEqual(Pick(1, i), Pick(2, i)) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 1 and 2 agree on %d of 100 VMs", same)
	}
}

func TestPickMix(t *testing.T) {
	const n = 5000
	want := map[Kind]float64{Idle: 0.20, Steady: 0.30, Diurnal: 0.35, Bursty: 0.15}
	counts := map[Kind]int{}
	for i := 0; i < n; i++ {
		counts[Pick(7, i).Kind]++
	}
	for k, w := range want {
		// ±0.03 is over 4 standard deviations at n = 5000.
		if got := float64(counts[k]) / n; math.Abs(got-w) > 0.03 {
			t.Errorf("%s: %.3f of VMs, want %.2f", k, got, w)
		}
	}
}
