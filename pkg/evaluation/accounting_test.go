package evaluation

import (
	"math"
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// watts2CPUs is what a 2-CPU VM at 50% draws under the default power
// model: 2 × (0.74 + (3.5 − 0.74) × 0.5) W.
const watts2CPUs = 4.24

func TestAccount(t *testing.T) {
	traces := traceMap(trace("A", t0, 100, 200, 300))
	n := node("a", "A", 8, 32)
	// 2 CPUs and 4 GiB + 256 MiB at $0.03/CPU-h and $0.004/GiB-h.
	const dollarsPerHour = 2*0.03 + 4.25*0.004
	for _, tc := range []struct {
		name           string
		from, to       time.Duration
		end            time.Duration
		intensityHours float64
		hours          float64
	}{
		{"whole hours", 0, 2 * time.Hour, 3 * time.Hour, 100 + 200, 2},
		{"partial hours", 30 * time.Minute, 2*time.Hour + 15*time.Minute, 3 * time.Hour, 0.5*100 + 200 + 0.25*300, 1.75},
		{"cut at the end of the simulation", 30 * time.Minute, 5 * time.Hour, 90 * time.Minute, 0.5*100 + 0.5*200, 1},
		{"arriving at the end", 3 * time.Hour, 4 * time.Hour, 3 * time.Hour, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := vm("v", tc.from, tc.to-tc.from, 2)
			got, err := Account(&v, &n, traces, t0.Add(tc.end))
			if err != nil {
				t.Fatal(err)
			}
			want := Usage{
				CPUHours:  2 * tc.hours,
				EnergyKWh: watts2CPUs / 1000 * tc.hours * placement.DefaultPUE,
				Grams:     tc.intensityHours * watts2CPUs / 1000 * placement.DefaultPUE,
				Dollars:   dollarsPerHour * tc.hours,
			}
			if !closeUsage(got, want) {
				t.Errorf("Account = %+v, want %+v", got, want)
			}
			if tc.hours > 0 {
				if mean := tc.intensityHours / tc.hours; math.Abs(got.MeanIntensity()-mean) > 1e-9 {
					t.Errorf("MeanIntensity = %v, want %v", got.MeanIntensity(), mean)
				}
			}
		})
	}
}

func TestAccountNeedsTheTrace(t *testing.T) {
	n := node("a", "A", 8, 32)
	v := vm("v", 2*time.Hour, 2*time.Hour, 2)
	for name, traces := range map[string]map[string]*carbon.Trace{
		"trace too short": traceMap(trace("A", t0, 100, 200, 300)),
		"zone missing":    traceMap(trace("B", t0, repeat(100, 10)...)),
	} {
		if _, err := Account(&v, &n, traces, t0.Add(10*time.Hour)); err == nil {
			t.Errorf("%s: Account returned no error", name)
		}
	}
}

func closeUsage(a, b Usage) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*max(1, math.Abs(y)) }
	return near(a.CPUHours, b.CPUHours) && near(a.EnergyKWh, b.EnergyKWh) && near(a.Grams, b.Grams) && near(a.Dollars, b.Dollars)
}
