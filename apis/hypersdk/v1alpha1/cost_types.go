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
	// Node and Zone are where the VM runs; empty when it does not run.
	// +optional
	Node string `json:"node,omitempty"`
	// +optional
	Zone string `json:"zone,omitempty"`
	// CostPerHour is max(allocated, used) of CPU and memory at the node's
	// prices, GPUs included (pkg/cost); 0 when the VM does not run.
	CostPerHour float64 `json:"costPerHour"`
	// The amounts it is computed from: cores and bytes.
	CPUAllocatedCores    float64 `json:"cpuAllocatedCores"`
	CPUUsageCores        float64 `json:"cpuUsageCores"`
	MemoryAllocatedBytes float64 `json:"memoryAllocatedBytes"`
	MemoryUsageBytes     float64 `json:"memoryUsageBytes"`
	// CarbonIntensity of the VM's zone now, gCO2eq/kWh; 0 when unknown.
	CarbonIntensity float64 `json:"carbonIntensity"`
	// Today and MonthToDate are the cost recorded in history since 00:00
	// UTC and since the first of the month (or the store's retention).
	Today       float64 `json:"today"`
	MonthToDate float64 `json:"monthToDate"`
	// CarbonGramsPerHour is the VM's emission rate now, gCO2eq/h, and
	// CarbonGramsToday and CarbonGramsMonthToDate what history recorded
	// over the same spans as the cost: the zone's intensity × the power of
	// the VM's cores at their measured utilisation, on the default
	// per-vCPU power model and PUE (pkg/placement), which history keeps
	// no node power curve to refine.
	CarbonGramsPerHour     float64 `json:"carbonGramsPerHour"`
	CarbonGramsToday       float64 `json:"carbonGramsToday"`
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
	Cloud        string `json:"cloud"`
	Region       string `json:"region"`
	InstanceType string `json:"instanceType"`
	VCPUs        int32  `json:"vcpus"`
	// MemoryBytes is the instance type's memory.
	MemoryBytes int64 `json:"memoryBytes"`
	// +optional
	GPUs int32 `json:"gpus,omitempty"`
	// +optional
	GPUModel string `json:"gpuModel,omitempty"`
	// PricePerHour is the on-demand list price, in Currency.
	PricePerHour float64 `json:"pricePerHour"`
	Currency     string  `json:"currency"`
	// PriceListDate (YYYY-MM-DD) is when the price was read from Source.
	PriceListDate string `json:"priceListDate"`
	Source        string `json:"source"`
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
	CostPerHour            float64 `json:"costPerHour"`
	Today                  float64 `json:"today"`
	MonthToDate            float64 `json:"monthToDate"`
	CarbonGramsPerHour     float64 `json:"carbonGramsPerHour"`
	CarbonGramsToday       float64 `json:"carbonGramsToday"`
	CarbonGramsMonthToDate float64 `json:"carbonGramsMonthToDate"`
}

// VirtualMachineCostEntry is one VM of a CostReport.
type VirtualMachineCostEntry struct {
	Name string `json:"name"`
	// Node the VM runs on; empty when it does not run.
	// +optional
	Node    string      `json:"node,omitempty"`
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
