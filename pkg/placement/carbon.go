package placement

// Defaults for nodes without a power model or PUE: Cloud Carbon Footprint's
// AWS averages, derived from SPECpower results: 0.74 W per vCPU idle, 3.5 W
// per vCPU at full load, and a PUE of 1.135.
const (
	DefaultIdleWattsPerCPU = 0.74
	DefaultMaxWattsPerCPU  = 3.5
	DefaultPUE             = 1.135
)

// VMPowerWatts is the power attributed to a VM of vmCPUs cores whose cores
// run at utilisation u (0..1) on a node with power curve pm:
//
//	P_vm = (vmCPUs / cpus) × (idle + (max − idle) × u)
//
// where cpus is pm.CPUs, or nodeCPUs when that is zero. The first term is the
// VM's share of the server's idle draw and the second the dynamic power its
// cores add under the linear model P(u) = idle + (max − idle)×u. Charging
// the idle share (attributional accounting, as Cloud Carbon Footprint does)
// rather than only the marginal dynamic power is what lets efficient servers
// beat inefficient ones, whose idle draw would otherwise be invisible.
// A zero pm.MaxWatts uses DefaultIdleWattsPerCPU and DefaultMaxWattsPerCPU.
func VMPowerWatts(pm PowerModel, nodeCPUs, vmCPUs, u float64) float64 {
	cpus := pm.CPUs
	if cpus <= 0 {
		cpus = nodeCPUs
	}
	if cpus <= 0 {
		return 0
	}
	idle, peak := pm.IdleWatts, pm.MaxWatts
	if peak <= 0 {
		idle, peak = DefaultIdleWattsPerCPU*cpus, DefaultMaxWattsPerCPU*cpus
	}
	return vmCPUs / cpus * (idle + (peak-idle)*u)
}

// RecordedVMGramsPerHour is a VM's emission rate, gCO2eq/h, from what
// history records of it: its zone's intensity and its cores at their
// utilisation, on the default per-vCPU power model and PUE (history keeps no
// node power curve). Zero when either is unknown.
func RecordedVMGramsPerHour(intensity, cpuAllocated, cpuUsage float64) float64 {
	if cpuAllocated <= 0 || intensity <= 0 {
		return 0
	}
	u := min(1, max(0, cpuUsage/cpuAllocated))
	return GramsCO2PerHour(intensity, VMPowerWatts(PowerModel{}, cpuAllocated, cpuAllocated, u), 0)
}

// GramsCO2PerHour is the emission rate of a load drawing watts in a zone of
// the given intensity (g/kWh), in a data centre with the given PUE (zero
// means DefaultPUE):
//
//	g/h = intensity × watts / 1000 × PUE
func GramsCO2PerHour(intensity, watts, pue float64) float64 {
	if pue <= 0 {
		pue = DefaultPUE
	}
	return intensity * watts / 1000 * pue
}

// vmPowerCPUs is the cores a VM draws power on: its request, or the cores
// it is measured using when more. A request can be a fraction of the
// guest's vCPUs (KubeVirt's cpuAllocationRatio asks for 100m per vCPU by
// default), and a VM that runs 3 cores on a request of 0.4 draws the power
// of 3, as history and the cost's max(request, usage) count it.
func vmPowerCPUs(vm *VMRequest) float64 { return max(vm.CPUCores, vm.UsageCPU) }

// vmCPUUtilization is the expected utilisation of the VM's power cores
// (vmPowerCPUs): measured for a running VM, otherwise 1, the most the VM
// can draw.
func vmCPUUtilization(vm *VMRequest) float64 {
	if cores := vmPowerCPUs(vm); vm.UsageCPU > 0 && cores > 0 {
		return min(1, vm.UsageCPU/cores)
	}
	return 1
}
