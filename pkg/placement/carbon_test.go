package placement

import "testing"

func TestVMPowerWatts(t *testing.T) {
	for _, tc := range []struct {
		name             string
		pm               PowerModel
		nodeCPUs, vmCPUs float64
		u                float64
		want             float64
	}{
		// 8/32 × (100 + 200×1)
		{"full load", PowerModel{IdleWatts: 100, MaxWatts: 300, CPUs: 32}, 64, 8, 1, 75},
		// 8/32 × (100 + 200×0.5)
		{"half load", PowerModel{IdleWatts: 100, MaxWatts: 300, CPUs: 32}, 64, 8, 0.5, 50},
		// idle share only: 8/32 × 100
		{"idle", PowerModel{IdleWatts: 100, MaxWatts: 300, CPUs: 32}, 64, 8, 0, 25},
		// CPUs unset: 4/16 × 300
		{"node CPUs", PowerModel{IdleWatts: 100, MaxWatts: 300}, 16, 4, 1, 75},
		// default curve: 4/16 × 3.5×16
		{"default full load", PowerModel{}, 16, 4, 1, 14},
		// default curve: 4/16 × 0.74×16
		{"default idle", PowerModel{}, 16, 4, 0, 2.96},
		{"no CPUs", PowerModel{}, 0, 4, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := VMPowerWatts(tc.pm, tc.nodeCPUs, tc.vmCPUs, tc.u); !approx(got, tc.want) {
				t.Errorf("got %v W, want %v W", got, tc.want)
			}
		})
	}
}

func TestGramsCO2PerHour(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		intensity, watts, pue float64
		want                  float64
	}{
		{"300 g/kWh, 75 W, PUE 1.2", 300, 75, 1.2, 27}, // 300 × 0.075 kW × 1.2
		{"default PUE", 200, 10, 0, 2.27},              // 200 × 0.01 × 1.135
		{"clean grid", 30, 75, 1, 2.25},                // 30 × 0.075
		{"no power", 300, 0, 1.2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := GramsCO2PerHour(tc.intensity, tc.watts, tc.pue); !approx(got, tc.want) {
				t.Errorf("got %v g/h, want %v", got, tc.want)
			}
		})
	}
}

func TestVMCPUUtilization(t *testing.T) {
	for _, tc := range []struct {
		name string
		vm   VMRequest
		want float64
	}{
		{"new VM draws its most", VMRequest{CPUCores: 4}, 1},
		{"running VM", VMRequest{CPUCores: 4, UsageCPU: 1}, 0.25},
		{"bursting above request", VMRequest{CPUCores: 4, UsageCPU: 6}, 1},
		{"no cores", VMRequest{UsageCPU: 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := vmCPUUtilization(&tc.vm); !approx(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
