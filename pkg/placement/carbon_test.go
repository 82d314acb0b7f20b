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
		{"bursting above request", VMRequest{CPUCores: 4, UsageCPU: 6}, 1}, // of its 6 power cores
		{"no cores", VMRequest{UsageCPU: 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := vmCPUUtilization(&tc.vm); !approx(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPowerOfAVMUsingMoreThanItsRequest: a VM whose pod asks for a
// fraction of its vCPUs (KubeVirt's cpuAllocationRatio) and uses 3 cores
// emits as 3 busy cores do, as history counts it, not as its request's
// 0.4 cores do.
func TestPowerOfAVMUsingMoreThanItsRequest(t *testing.T) {
	vm := VMRequest{CPUCores: 0.4, MemoryBytes: 4 << 30, UsageCPU: 3}
	node := NodeSnapshot{Name: "n", AllocatableCPU: 16, AllocatableMemory: 64 << 30, CarbonKnown: true, CarbonIntensity: 300}
	d := Evaluate(vm, []NodeSnapshot{node}, DefaultPolicy())
	if len(d.Scores) != 1 {
		t.Fatalf("scores %+v", d.Scores)
	}
	want := RecordedVMGramsPerHour(300, 3, 3)
	if got := d.Scores[0].GramsCO2PerHour; !approx(got, want) {
		t.Errorf("g/h of 3 busy cores on a request of 0.4: %v, want %v (as history counts them)", got, want)
	}
}
