package placement

import "testing"

func TestPredictedUtilization(t *testing.T) {
	for _, tc := range []struct {
		base, demand, capacity, want float64
	}{
		{4, 4, 16, 50},
		{0, 0, 16, 0},
		{15, 4, 16, 118.75},
		{0, 1, 0, 100},
	} {
		if got := PredictedUtilization(tc.base, tc.demand, tc.capacity); !approx(got, tc.want) {
			t.Errorf("PredictedUtilization(%v, %v, %v) = %v, want %v", tc.base, tc.demand, tc.capacity, got, tc.want)
		}
	}
}

func TestTargetLoadPackingScore(t *testing.T) {
	for _, tc := range []struct {
		name              string
		predicted, target float64
		want              float64
	}{
		{"empty node scores the target", 0, 60, 60},
		{"below target", 30, 60, 80}, // 40×30/60 + 60
		{"at target", 60, 60, 100},
		{"above target", 80, 60, 30}, // 60×20/40
		{"full", 100, 60, 0},
		{"overcommitted", 120, 60, 0},
		{"Trimaran default target", 20, 40, 70}, // 60×20/40 + 40
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TargetLoadPackingScore(tc.predicted, tc.target); !approx(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoadVariationRiskScore(t *testing.T) {
	idle := LoadStats{Capacity: 1}
	for _, tc := range []struct {
		name     string
		cpu, mem LoadStats
		want     float64
	}{
		// mu = (4+4)/16 = 0.5, sigma 0: risk 0.25
		{"steady CPU", LoadStats{Mean: 4, Demand: 4, Capacity: 16}, idle, 75},
		// sigma = 4/16 = 0.25, √0.25 = 0.5: risk (0.5+0.5)/2
		{"variable CPU", LoadStats{Mean: 4, StdDev: 4, Demand: 4, Capacity: 16}, idle, 50},
		// memory mu = (6+2)/8 = 1: risk 0.5 beats CPU's 0.25
		{"memory is the worst", LoadStats{Mean: 4, Demand: 4, Capacity: 16}, LoadStats{Mean: 6, Demand: 2, Capacity: 8}, 50},
		// mu clamps to 1
		{"overloaded", LoadStats{Mean: 20, Demand: 4, Capacity: 16}, idle, 50},
		{"no capacity", LoadStats{Demand: 1}, idle, 0},
		{"empty", idle, idle, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := LoadVariationRiskScore(tc.cpu, tc.mem); !approx(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFitScore(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cpu, memory float64
		want        float64
	}{
		{"empty node", 0, 0, 50},
		{"full and balanced", 100, 100, 100},
		{"half and balanced", 50, 50, 75},
		// MostAllocated 43.75, BalancedAllocation 93.75.
		{"CPU ahead of memory", 50, 37.5, 68.75},
		{"memory full, CPU idle", 0, 100, 50},
		{"shares capped at 100", 120, 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FitScore(tc.cpu, tc.memory); !approx(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
