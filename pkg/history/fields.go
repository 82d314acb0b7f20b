package history

import "slices"

// Series field names. VM and cluster queries share the resource fields.
const (
	FieldCPUUsage        = "cpuUsage"
	FieldCPUAllocated    = "cpuAllocated"
	FieldMemoryUsage     = "memoryUsage"
	FieldMemoryAllocated = "memoryAllocated"
	FieldCarbonIntensity = "carbonIntensity"
	FieldCostPerHour     = "costPerHour"
	FieldCarbonEmissions = "carbonEmissions"
	FieldVMs             = "vms"
	FieldVMsRunning      = "vmsRunning"
	FieldVMsStopped      = "vmsStopped"
	FieldVMsOther        = "vmsOther"
)

// field is one series: its name in queries, its column in SQLite and its
// metric in Prometheus. This one table is what keeps the exporter, the
// Prometheus reader and the SQLite schema in step.
type field[S any] struct {
	name   string
	column string
	metric string
	help   string
	value  func(*S) float64
	// known, when set, says whether a sample has the field at all: one it
	// lacks is stored as NULL and not exported, so a missing reading is a
	// gap in the series, never a 0.
	known func(*S) bool
}

// has reports whether s has the field.
func (f *field[S]) has(s *S) bool { return f.known == nil || f.known(s) }

var vmFieldTable = []field[VMSample]{
	{FieldCPUUsage, "cpu_usage", "hypersdk_vm_cpu_usage_cores", "CPU cores the VM used.",
		func(s *VMSample) float64 { return s.CPUUsageCores }, (*VMSample).usageKnown},
	{FieldCPUAllocated, "cpu_allocated", "hypersdk_vm_cpu_allocated_cores", "CPU cores allocated to the VM.",
		func(s *VMSample) float64 { return s.CPUAllocatedCores }, nil},
	{FieldMemoryUsage, "memory_usage", "hypersdk_vm_memory_usage_bytes", "Memory the VM used, bytes.",
		func(s *VMSample) float64 { return s.MemoryUsageBytes }, (*VMSample).usageKnown},
	{FieldMemoryAllocated, "memory_allocated", "hypersdk_vm_memory_allocated_bytes", "Memory allocated to the VM, bytes.",
		func(s *VMSample) float64 { return s.MemoryAllocatedBytes }, nil},
	{FieldCarbonIntensity, "carbon_intensity", "hypersdk_vm_carbon_intensity_grams_per_kwh", "Carbon intensity of the VM's zone, g CO2eq/kWh; absent while it is not known.",
		func(s *VMSample) float64 { return s.CarbonIntensity }, (*VMSample).intensityKnown},
	{FieldCostPerHour, "cost_per_hour", "hypersdk_vm_cost_per_hour", "Cost of the VM per hour; absent while its node has no price.",
		func(s *VMSample) float64 { return s.CostPerHour }, (*VMSample).priceKnown},
}

// The VM counts by phase are metrics of their own rather than one metric with
// a phase label, so that summing hypersdk_cluster_vms over its labels never
// counts a VM twice and each field maps to exactly one metric.
var clusterFieldTable = []field[ClusterSample]{
	{FieldVMs, "vms", "hypersdk_cluster_vms", "VMs in the cluster.",
		func(s *ClusterSample) float64 { return s.VMs }, nil},
	{FieldVMsRunning, "vms_running", "hypersdk_cluster_vms_running", "Running VMs.",
		func(s *ClusterSample) float64 { return s.VMsRunning }, nil},
	{FieldVMsStopped, "vms_stopped", "hypersdk_cluster_vms_stopped", "Stopped VMs.",
		func(s *ClusterSample) float64 { return s.VMsStopped }, nil},
	{FieldVMsOther, "vms_other", "hypersdk_cluster_vms_other", "VMs neither running nor stopped.",
		func(s *ClusterSample) float64 { return s.VMsOther }, nil},
	{FieldCPUUsage, "cpu_usage", "hypersdk_cluster_cpu_usage_cores", "CPU cores used by all VMs.",
		func(s *ClusterSample) float64 { return s.CPUUsageCores }, nil},
	{FieldCPUAllocated, "cpu_allocated", "hypersdk_cluster_cpu_allocated_cores", "CPU cores allocated to all VMs.",
		func(s *ClusterSample) float64 { return s.CPUAllocatedCores }, nil},
	{FieldMemoryUsage, "memory_usage", "hypersdk_cluster_memory_usage_bytes", "Memory used by all VMs, bytes.",
		func(s *ClusterSample) float64 { return s.MemoryUsageBytes }, nil},
	{FieldMemoryAllocated, "memory_allocated", "hypersdk_cluster_memory_allocated_bytes", "Memory allocated to all VMs, bytes.",
		func(s *ClusterSample) float64 { return s.MemoryAllocatedBytes }, nil},
	{FieldCarbonIntensity, "carbon_intensity", "hypersdk_cluster_carbon_intensity_grams_per_kwh", "Average carbon intensity of the running VMs' zones, g CO2eq/kWh; absent while none runs or one's is not known.",
		func(s *ClusterSample) float64 { return s.CarbonIntensityAvg }, (*ClusterSample).averageKnown},
	{FieldCostPerHour, "cost_per_hour", "hypersdk_cluster_cost_per_hour", "Cost of all VMs per hour; absent while a running VM's node has no price.",
		func(s *ClusterSample) float64 { return s.CostPerHour }, (*ClusterSample).priceKnown},
	{FieldCarbonEmissions, "carbon_emissions", "hypersdk_cluster_carbon_emissions_grams_per_hour", "Emission rate of all VMs, g CO2eq/h; absent while a running VM's intensity is not known.",
		func(s *ClusterSample) float64 { return s.CarbonGramsPerHour }, (*ClusterSample).intensityKnown},
}

// VMFields are the VM series, in the order queries return them by default.
var VMFields = names(vmFieldTable)

// ClusterFields are the cluster series, in the order queries return them by
// default.
var ClusterFields = names(clusterFieldTable)

// ValidVMField reports whether f names a VM series.
func ValidVMField(f string) bool { return slices.Contains(VMFields, f) }

// FieldCostMonthToDate is derived from costPerHour, not recorded: at each
// evaluation time, what the cluster's VMs cost since 00:00 UTC on the first
// of that time's month, as recorded (see MonthToDate).
const FieldCostMonthToDate = "costMonthToDate"

// DerivedClusterFields are cluster series computed from recorded ones when a
// query names them; a store answers only ClusterFields, and a query that
// names no field gets ClusterFields alone (a derived series reads a month
// of history).
var DerivedClusterFields = []string{FieldCostMonthToDate}

// ValidClusterField reports whether f names a cluster series, recorded or
// derived.
func ValidClusterField(f string) bool {
	return slices.Contains(ClusterFields, f) || slices.Contains(DerivedClusterFields, f)
}

func names[S any](table []field[S]) []string {
	out := make([]string, len(table))
	for i, f := range table {
		out[i] = f.name
	}
	return out
}

// lookup returns the table entries for the requested names, all of them when
// none are requested. Names are checked by the caller.
func lookup[S any](table []field[S], requested []string) []field[S] {
	if len(requested) == 0 {
		return table
	}
	out := make([]field[S], 0, len(requested))
	for _, name := range requested {
		for _, f := range table {
			if f.name == name {
				out = append(out, f)
			}
		}
	}
	return out
}
