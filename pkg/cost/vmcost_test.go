package cost

import "testing"

func TestVMCostPerHour(t *testing.T) {
	p := NodePricing{CPUCoreHour: 0.04, MemoryGiBHour: 0.005, GPUHour: []GPUPrice{{"A100", 3}}, DefaultGPUHour: 1}
	for _, tc := range []struct {
		name               string
		cpu, mem           float64
		gpus               []GPUCount
		usageCPU, usageMem float64
		want               float64
	}{
		{"requests only", 2, 4 << 30, nil, 0, 0, 2*0.04 + 4*0.005},
		{"usage above CPU request", 2, 4 << 30, nil, 3, 1 << 30, 3*0.04 + 4*0.005},
		{"usage above memory request", 2, 4 << 30, nil, 1, 6 << 30, 2*0.04 + 6*0.005},
		{"listed GPU model", 1, 0, []GPUCount{{"A100", 2}}, 0, 0, 0.04 + 2*3},
		{"unlisted GPU model uses default", 1, 0, []GPUCount{{"T4", 1}}, 0, 0, 0.04 + 1},
		{"nothing", 0, 0, nil, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := VMCostPerHour(p, tc.cpu, tc.mem, tc.gpus, tc.usageCPU, tc.usageMem); !approx(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
