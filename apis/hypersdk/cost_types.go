package hypersdk

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VirtualMachineCost is the answer of virtualmachines/cost: what the VM
// costs now on its node, and what history recorded it cost today and this
// month. Amounts are in the price model's currency; computed on request,
// never stored.
type VirtualMachineCost struct {
	metav1.TypeMeta
	// ObjectMeta names the VM.
	metav1.ObjectMeta

	// SampledAt is when usage and allocation were read.
	SampledAt metav1.Time
	// Node and Zone are where the VM runs; empty when it does not run.
	Node string
	Zone string
	// CostPerHour is max(allocated, used) of CPU and memory at the node's
	// prices, GPUs included (pkg/cost); 0 when the VM does not run.
	CostPerHour float64
	// The amounts it is computed from: cores and bytes.
	CPUAllocatedCores    float64
	CPUUsageCores        float64
	MemoryAllocatedBytes float64
	MemoryUsageBytes     float64
	// CarbonIntensity of the VM's zone now, gCO2eq/kWh; nil when the VM
	// does not run or its zone has no reading.
	CarbonIntensity *float64
	// Today and MonthToDate are the cost recorded in history since 00:00
	// UTC and since the first of the month, or since MonthToDateFrom.
	Today       float64
	MonthToDate float64
	// MonthToDateFrom is set when the history store no longer keeps the
	// month's first days: the month-to-date figures count from here.
	MonthToDateFrom *metav1.Time
	// CarbonGramsPerHour is the VM's emission rate now, gCO2eq/h, and
	// CarbonGramsToday and CarbonGramsMonthToDate what history recorded
	// over the same spans as the cost: the zone's intensity × the power of
	// the VM's cores at their measured utilisation, on the default
	// per-vCPU power model and PUE (pkg/placement), which history keeps
	// no node power curve to refine. CarbonGramsPerHour is nil when the VM
	// runs in a zone without a reading: unknown, not zero.
	CarbonGramsPerHour     *float64
	CarbonGramsToday       float64
	CarbonGramsMonthToDate float64
	// CloudComparison prices the VM's size (its vCPUs, memory and GPUs)
	// at the cheapest instance type that fits it in each public cloud
	// price list the server has (dated, with their source), cheapest first.
	CloudComparison []CloudInstancePrice
}

// CloudInstancePrice is the on-demand price of one instance type of a
// public cloud's price list.
type CloudInstancePrice struct {
	Cloud        string
	Region       string
	InstanceType string
	VCPUs        int32
	// MemoryBytes is the instance type's memory.
	MemoryBytes int64
	GPUs        int32
	GPUModel    string
	// PricePerHour is the on-demand list price, in Currency.
	PricePerHour float64
	Currency     string
	// PriceListDate (YYYY-MM-DD) is when the price was read from Source.
	PriceListDate string
	Source        string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CostReport is the answer of namespaces/<ns>/costreports/current: what the
// namespace's VMs cost and emit now, today and this month, each VM as its
// virtualmachines/cost says and the namespace as their sum. Computed on
// request, never stored.
type CostReport struct {
	metav1.TypeMeta
	// ObjectMeta names the report ("current") and the namespace.
	metav1.ObjectMeta

	// GeneratedAt is when the report was computed.
	GeneratedAt metav1.Time
	// Total is the sum over the VMs.
	Total CostAmounts
	// VirtualMachines are the namespace's VMs, by name.
	VirtualMachines []VirtualMachineCostEntry
}

// CostAmounts are costs (in the price model's currency) and emissions
// (gCO2eq) now, since 00:00 UTC and since the first of the month.
type CostAmounts struct {
	CostPerHour float64
	Today       float64
	MonthToDate float64
	// MonthToDateFrom is set when the history store no longer keeps the
	// month's first days (for a total, the latest of its VMs').
	MonthToDateFrom *metav1.Time
	// CarbonGramsPerHour is nil when some VM's rate is unknown.
	CarbonGramsPerHour     *float64
	CarbonGramsToday       float64
	CarbonGramsMonthToDate float64
}

// VirtualMachineCostEntry is one VM of a CostReport.
type VirtualMachineCostEntry struct {
	Name string
	// Node the VM runs on; empty when it does not run.
	Node    string
	Amounts CostAmounts
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CostReportOptions are the query parameters of costreports.
type CostReportOptions struct {
	metav1.TypeMeta
	// Format is "json" (default) or "csv" (one row per VM, then the total;
	// an Accept: text/csv header asks for the same).
	Format string
}
