package evaluation

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func workload(seed uint64, days int, load float64) WorkloadConfig {
	return WorkloadConfig{Start: t0, Window: time.Duration(days) * 24 * time.Hour, Seed: seed, Load: load, CapacityCPUs: 600}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, errA := Generate(workload(7, 5, 0.5))
	b, errB := Generate(workload(7, 5, 0.5))
	c, errC := Generate(workload(8, 5, 0.5))
	if errA != nil || errB != nil || errC != nil {
		t.Fatal(errA, errB, errC)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave different VMs")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("different seeds gave the same VMs")
	}
}

func TestGenerateDrawsFromTheMix(t *testing.T) {
	vms, err := Generate(workload(1, 30, 0.55))
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(30 * 24 * time.Hour)
	sizes := map[int64]bool{}
	spot := 0
	for i, v := range vms {
		if v.Arrival.Before(t0) || !v.Arrival.Before(end) || (i > 0 && v.Arrival.Before(vms[i-1].Arrival)) {
			t.Fatalf("VM %d arrives at %s: want sorted within [%s, %s)", i, v.Arrival, t0, end)
		}
		if life := v.Departure.Sub(v.Arrival); life <= 0 || life > maxLifetime {
			t.Fatalf("VM %d lives %s: want in (0, %s]", i, life, maxLifetime)
		}
		if perCPU := v.GuestMemoryBytes / v.CPUs >> 30; !slices.Contains(memoryPerCPUGi, perCPU) {
			t.Fatalf("VM %d has %d GiB per CPU, want one of %v", i, perCPU, memoryPerCPUGi)
		}
		if v.MemoryBytes() != v.GuestMemoryBytes+256<<20 {
			t.Fatalf("VM %d requests %d bytes for %d of guest memory, want virt-launcher's 256 MiB on top", i, v.MemoryBytes(), v.GuestMemoryBytes)
		}
		sizes[v.CPUs] = true
		if v.AllowSpot {
			spot++
		}
	}
	if !reflect.DeepEqual(sizes, map[int64]bool{1: true, 2: true, 4: true, 8: true}) {
		t.Errorf("CPU sizes drawn = %v, want 1, 2, 4 and 8", sizes)
	}
	if f := float64(spot) / float64(len(vms)); f < spotFraction-0.03 || f > spotFraction+0.03 {
		t.Errorf("spot share = %.3f, want about %.2f", f, spotFraction)
	}
}

// The arrival rate is calibrated so that requested CPUs average Load of
// the capacity: Σ CPUs × lifetime over the window ≈ Load × capacity ×
// window (lifetimes that outlast the window balance the ramp-up).
func TestGenerateMeetsTheLoad(t *testing.T) {
	for _, load := range []float64{0.3, 0.6, 0.9} {
		cfg := workload(3, 180, load)
		vms, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var cpuHours float64
		for _, v := range vms {
			cpuHours += float64(v.CPUs) * v.Departure.Sub(v.Arrival).Hours()
		}
		got := cpuHours / cfg.Window.Hours() / cfg.CapacityCPUs
		if got < load*0.95 || got > load*1.05 {
			t.Errorf("load %.2f: VMs request %.3f of the capacity on average", load, got)
		}
	}
}

func TestGenerateRejectsBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  WorkloadConfig
		want string
	}{
		{"no window", WorkloadConfig{Start: t0, Load: 0.5, CapacityCPUs: 10}, "window"},
		{"no load", WorkloadConfig{Start: t0, Window: time.Hour, CapacityCPUs: 10}, "load"},
		{"overload", WorkloadConfig{Start: t0, Window: time.Hour, Load: 1.5, CapacityCPUs: 10}, "load"},
		{"no capacity", WorkloadConfig{Start: t0, Window: time.Hour, Load: 0.5}, "capacity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Generate(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Generate = %v, want an error about %s", err, tc.want)
			}
		})
	}
}
