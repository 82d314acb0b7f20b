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
	// CarbonIntensity of the VM's zone now, gCO2eq/kWh; 0 when unknown.
	CarbonIntensity float64
	// Today and MonthToDate are the cost recorded in history since 00:00
	// UTC and since the first of the month (or the store's retention).
	Today       float64
	MonthToDate float64
}
