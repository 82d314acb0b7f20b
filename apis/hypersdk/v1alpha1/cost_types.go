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
}
