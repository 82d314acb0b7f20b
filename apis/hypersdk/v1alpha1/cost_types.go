package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineCost is the answer of virtualmachines/cost: what the VM
// costs now on its node, and what history recorded it cost today and this
// month. Amounts are in the price model's currency; computed on request,
// never stored.
type VirtualMachineCost struct {
	metav1.TypeMeta `json:",inline"`
	// ObjectMeta names the VM.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// SampledAt is when usage and allocation were read.
	SampledAt metav1.Time `json:"sampledAt"`
	// Node is where the VM runs; empty when it does not run.
	// +optional
	Node string `json:"node,omitempty"`
	// Zone is its node's grid zone; empty when it does not run or the node
	// has none.
	// +optional
	Zone string `json:"zone,omitempty"`
	// CostPerHour is max(allocated, used) of CPU and memory at the node's
	// prices, GPUs included (pkg/cost); 0 when the VM does not run.
	CostPerHour float64 `json:"costPerHour"`
	// CPUAllocatedCores is the running instance's CPUs, one of the
	// amounts the cost is computed from.
	CPUAllocatedCores float64 `json:"cpuAllocatedCores"`
	// CPUUsageCores is the CPU it uses now (metrics.k8s.io), in cores.
	CPUUsageCores float64 `json:"cpuUsageCores"`
	// MemoryAllocatedBytes is the running instance's memory, in bytes.
	MemoryAllocatedBytes float64 `json:"memoryAllocatedBytes"`
	// MemoryUsageBytes is the memory it uses now (metrics.k8s.io), in
	// bytes.
	MemoryUsageBytes float64 `json:"memoryUsageBytes"`
	// CarbonIntensity of the VM's zone now, gCO2eq/kWh; absent when the
	// VM does not run or its zone has no reading.
	// +optional
	CarbonIntensity *float64 `json:"carbonIntensity,omitempty"`
	// Today is the cost recorded in history since 00:00 UTC.
	Today float64 `json:"today"`
	// MonthToDate is the cost recorded in history since the first of the
	// month, or since monthToDateFrom.
	MonthToDate float64 `json:"monthToDate"`
	// MonthToDateFrom is set when the history store no longer keeps the
	// month's first days: the month-to-date figures count from here.
	// +optional
	MonthToDateFrom *metav1.Time `json:"monthToDateFrom,omitempty"`
	// CarbonGramsPerHour is the VM's emission rate now, gCO2eq/h: the
	// zone's intensity × the power of the VM's cores at their measured
	// utilisation, on the default per-vCPU power model and PUE
	// (pkg/placement), which history keeps no node power curve to refine.
	// Absent when the VM runs in a zone without a reading: unknown, not
	// zero. A VM that does not run emits 0.
	// +optional
	CarbonGramsPerHour *float64 `json:"carbonGramsPerHour,omitempty"`
	// CarbonGramsToday is what history recorded the VM emitted since
	// 00:00 UTC, in gCO2eq, on the same model.
	CarbonGramsToday float64 `json:"carbonGramsToday"`
	// CarbonGramsMonthToDate is the same since the first of the month.
	CarbonGramsMonthToDate float64 `json:"carbonGramsMonthToDate"`
	// CloudComparison prices the VM's size (its vCPUs, memory and GPUs)
	// at the cheapest instance type that fits it in each public cloud
	// price list the server has (dated, with their source), cheapest first.
	// +optional
	// +listType=atomic
	CloudComparison []CloudInstancePrice `json:"cloudComparison,omitempty"`
}

// CloudInstancePrice is the on-demand price of one instance type of a
// public cloud's price list.
type CloudInstancePrice struct {
	// Cloud names the price list's cloud, as its header gives it, for
	// example "aws".
	Cloud string `json:"cloud"`
	// Region is the cloud region the list prices, as its header gives it.
	Region string `json:"region"`
	// InstanceType is the cheapest instance type of the list that fits
	// the VM.
	InstanceType string `json:"instanceType"`
	// VCPUs is the instance type's vCPUs.
	VCPUs int32 `json:"vcpus"`
	// MemoryBytes is the instance type's memory.
	MemoryBytes int64 `json:"memoryBytes"`
	// GPUs is the instance type's GPUs; none when the VM has none.
	// +optional
	GPUs int32 `json:"gpus,omitempty"`
	// GPUModel is the instance type's GPU model.
	// +optional
	GPUModel string `json:"gpuModel,omitempty"`
	// PricePerHour is the on-demand list price, in Currency.
	PricePerHour float64 `json:"pricePerHour"`
	// Currency is the list's currency, as its header gives it, for
	// example "USD".
	Currency string `json:"currency"`
	// PriceListDate (YYYY-MM-DD) is when the price was read from Source.
	PriceListDate string `json:"priceListDate"`
	// Source says where the list's figures come from, as its header
	// gives it.
	Source string `json:"source"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CostReport is the answer of namespaces/<ns>/costreports/current: what the
// namespace's VMs cost and emit now, today and this month, each VM as its
// virtualmachines/cost says and the namespace as their sum. Computed on
// request, never stored.
type CostReport struct {
	metav1.TypeMeta `json:",inline"`
	// ObjectMeta names the report ("current") and the namespace.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// GeneratedAt is when the report was computed.
	GeneratedAt metav1.Time `json:"generatedAt"`
	// Total is the sum over the VMs.
	Total CostAmounts `json:"total"`
	// VirtualMachines are the namespace's VMs, by name.
	// +optional
	// +listType=map
	// +listMapKey=name
	VirtualMachines []VirtualMachineCostEntry `json:"virtualMachines,omitempty"`
}

// CostAmounts are costs (in the price model's currency) and emissions
// (gCO2eq) now, since 00:00 UTC and since the first of the month.
type CostAmounts struct {
	// CostPerHour is the cost per hour now.
	CostPerHour float64 `json:"costPerHour"`
	// Today is the cost recorded since 00:00 UTC.
	Today float64 `json:"today"`
	// MonthToDate is the cost recorded since the first of the month, or
	// since monthToDateFrom.
	MonthToDate float64 `json:"monthToDate"`
	// MonthToDateFrom is set when the history store no longer keeps the
	// month's first days: the month-to-date figures count from here (for
	// a total, the latest of its VMs').
	// +optional
	MonthToDateFrom *metav1.Time `json:"monthToDateFrom,omitempty"`
	// CarbonGramsPerHour is the emission rate now, gCO2eq/h; absent when
	// it is unknown (for a total, when any VM's is).
	// +optional
	CarbonGramsPerHour *float64 `json:"carbonGramsPerHour,omitempty"`
	// CarbonGramsToday is the gCO2eq recorded since 00:00 UTC.
	CarbonGramsToday float64 `json:"carbonGramsToday"`
	// CarbonGramsMonthToDate is the gCO2eq recorded since the first of the
	// month.
	CarbonGramsMonthToDate float64 `json:"carbonGramsMonthToDate"`
}

// VirtualMachineCostEntry is one VM of a CostReport.
type VirtualMachineCostEntry struct {
	// Name is the VM's name.
	Name string `json:"name"`
	// Node the VM runs on; empty when it does not run.
	// +optional
	Node string `json:"node,omitempty"`
	// Amounts are the VM's, as its virtualmachines/cost says.
	Amounts CostAmounts `json:"amounts"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CostReportOptions are the query parameters of costreports.
type CostReportOptions struct {
	metav1.TypeMeta `json:",inline"`
	// Format is "json" (default) or "csv" (one row per VM, then the total;
	// an Accept: text/csv header asks for the same).
	Format string `json:"format,omitempty"`
}
