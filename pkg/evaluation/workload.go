package evaluation

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// LauncherMemoryOverhead is what virt-launcher (QEMU, libvirt) requests on
// top of the guest memory, as the sandbox's KubeVirt simulator requests it.
const LauncherMemoryOverhead = 256 << 20

// The workload's shape. It follows what public VM traces such as Azure's
// (Resource Central, SOSP 2017) report: most VMs are small, most live for
// hours rather than days, and a few live much longer.
const (
	// medianLifetime and lifetimeSigma parametrise the log-normal lifetime:
	// ln(lifetime) ~ N(ln(median), sigma²).
	medianLifetime = 4 * time.Hour
	lifetimeSigma  = 1.5
	// maxLifetime caps the tail: longer VMs would be pets that are placed
	// once and never arrive during a month.
	maxLifetime = 72 * time.Hour
	// spotFraction of VMs carry the allow-spot label.
	spotFraction = 0.3
	// vmUtilization is every VM's mean CPU utilisation, which the power
	// model charges; a constant because placement does not see it.
	vmUtilization = 0.5
)

// sizeMix is the share of VMs by vCPU count; memory is 2 GiB (compute
// shapes) or 4 GiB (general-purpose shapes) per vCPU with equal odds.
var (
	sizeMix        = []struct{ cpus, weight float64 }{{1, 0.35}, {2, 0.35}, {4, 0.2}, {8, 0.1}}
	memoryPerCPUGi = []int64{2, 4}
)

// VM is one simulated VM.
type VM struct {
	Name string
	// Arrival is when it asks to be placed; Departure when it would stop,
	// possibly after the simulated window.
	Arrival, Departure time.Time
	CPUs               int64
	GuestMemoryBytes   int64
	// AllowSpot is the hypersdk.io/allow-spot label.
	AllowSpot bool
	// Utilization is the mean utilisation of its cores, 0..1.
	Utilization float64
}

// CPUMilli is the virt-launcher pod's CPU request: one CPU per vCPU, the
// sandbox's allocation ratio.
func (vm *VM) CPUMilli() int64 { return vm.CPUs * 1000 }

// MemoryBytes is the virt-launcher pod's memory request.
func (vm *VM) MemoryBytes() int64 { return vm.GuestMemoryBytes + LauncherMemoryOverhead }

// WorkloadConfig describes the arrivals of a simulation.
type WorkloadConfig struct {
	// Start and Window bound the arrivals: [Start, Start+Window).
	Start  time.Time
	Window time.Duration
	Seed   uint64
	// Load is the share of CapacityCPUs that running VMs request on
	// average in steady state, in (0, 1].
	Load         float64
	CapacityCPUs float64
}

// Generate draws the VMs of cfg, sorted by arrival. Arrivals are Poisson at
// the rate that makes the requested CPUs average Load × CapacityCPUs in
// steady state (Little's law: rate = Load × CapacityCPUs / (E[CPUs] ×
// E[lifetime])). The fleet starts empty, so the first day or so is below
// that. The same cfg always gives the same VMs.
func Generate(cfg WorkloadConfig) ([]VM, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ratePerHour := cfg.Load * cfg.CapacityCPUs / (meanCPUs() * meanLifetime().Hours())
	// The second PCG word only selects a stream; any constant will do.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	end := cfg.Start.Add(cfg.Window)
	var vms []VM
	for t := cfg.Start; ; {
		t = t.Add(hours(rng.ExpFloat64() / ratePerHour))
		if !t.Before(end) {
			return vms, nil
		}
		cpus := drawCPUs(rng)
		mem := (cpus * memoryPerCPUGi[rng.IntN(len(memoryPerCPUGi))]) << 30
		vms = append(vms, VM{
			Name:             fmt.Sprintf("vm-%05d", len(vms)),
			Arrival:          t,
			Departure:        t.Add(drawLifetime(rng)),
			CPUs:             cpus,
			GuestMemoryBytes: mem,
			AllowSpot:        rng.Float64() < spotFraction,
			Utilization:      vmUtilization,
		})
	}
}

func (cfg WorkloadConfig) validate() error {
	var errs []error
	if cfg.Window <= 0 {
		errs = append(errs, fmt.Errorf("window %s: want > 0", cfg.Window))
	}
	if !(cfg.Load > 0 && cfg.Load <= 1) {
		errs = append(errs, fmt.Errorf("load %v: want in (0, 1]", cfg.Load))
	}
	if !(cfg.CapacityCPUs > 0) || math.IsInf(cfg.CapacityCPUs, 0) {
		errs = append(errs, fmt.Errorf("fleet capacity %v CPUs: want > 0", cfg.CapacityCPUs))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid workload: %w", err)
	}
	return nil
}

func drawCPUs(rng *rand.Rand) int64 {
	x := rng.Float64()
	for _, s := range sizeMix {
		if x < s.weight {
			return int64(s.cpus)
		}
		x -= s.weight
	}
	// Rounding can leave x a hair above the last weight.
	return int64(sizeMix[len(sizeMix)-1].cpus)
}

func drawLifetime(rng *rand.Rand) time.Duration {
	h := medianLifetime.Hours() * math.Exp(lifetimeSigma*rng.NormFloat64())
	return min(hours(h), maxLifetime)
}

func meanCPUs() float64 {
	var m float64
	for _, s := range sizeMix {
		m += s.cpus * s.weight
	}
	return m
}

// meanLifetime is E[min(X, c)] of the capped log-normal X with μ = ln(median):
//
//	E = e^(μ+σ²/2) Φ((ln c − μ − σ²)/σ) + c (1 − Φ((ln c − μ)/σ))
//
// computed rather than sampled so that the arrival rate does not depend on
// the seed.
func meanLifetime() time.Duration {
	mu, s, c := math.Log(medianLifetime.Hours()), lifetimeSigma, maxLifetime.Hours()
	phi := func(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
	m := math.Exp(mu+s*s/2)*phi((math.Log(c)-mu-s*s)/s) + c*(1-phi((math.Log(c)-mu)/s))
	return hours(m)
}

// hours converts fractional hours to a Duration.
func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }
