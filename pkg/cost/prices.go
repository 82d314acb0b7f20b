// Package cost prices VMs on nodes the way OpenCost prices workloads: every
// node has an hourly price per CPU core, per GiB of memory and per GPU, and a
// VM pays for the larger of what it requested and what it used.
//
// Unit prices come from a Model: default on-demand and spot tables, refined
// per node by annotations. A node that only states its whole price per hour
// has that price split across its CPUs, memory and GPUs in proportion to the
// default table, as OpenCost does when it knows a node's total cost but not
// its breakdown.
package cost

// Prices is a table of hourly unit prices in US dollars.
type Prices struct {
	// CPUCoreHour is the price of one CPU core for an hour.
	CPUCoreHour float64
	// MemoryGiBHour is the price of one GiB of memory for an hour.
	MemoryGiBHour float64
	// GPUHour is the price of one device for an hour, by gpu.Device.Model.
	GPUHour map[string]float64
	// DefaultGPUHour prices a device whose model GPUHour does not list.
	DefaultGPUHour float64
}

// GPU returns the hourly price of one device of model.
func (p Prices) GPU(model string) float64 {
	if v, ok := p.GPUHour[model]; ok {
		return v
	}
	return p.DefaultGPUHour
}

// Model holds the price tables for each capacity type.
type Model struct {
	OnDemand Prices
	Spot     Prices
}

// spotGPUFraction is the share of the on-demand GPU price that spot GPUs
// cost in DefaultModel: about a third, the rate the sandbox fleet uses for
// spot capacity. OpenCost's default table has no spot GPU price.
const spotGPUFraction = 0.35

// DefaultModel returns the built-in tables.
//
// CPU, memory and the default GPU price are OpenCost's defaults
// (configs/default.json, based on GCP us-central1): on-demand $0.031611 per
// core-hour, $0.004237 per GiB-hour and $0.95 per GPU-hour; spot $0.006655
// per core-hour and $0.000892 per GiB-hour. Per-model GPU prices are GCP
// us-central1 list prices for the accelerator alone (A100 40GB $2.93, T4
// $0.35), and spot GPUs cost spotGPUFraction of on-demand. With these
// weights the sandbox fleet's whole-node prices split into GPU prices close
// to list (A100 $3.23, T4 $0.36 per hour).
func DefaultModel() Model {
	onDemandGPU := map[string]float64{"A100": 2.93, "T4": 0.35}
	const onDemandDefaultGPU = 0.95
	spotGPU := make(map[string]float64, len(onDemandGPU))
	for model, v := range onDemandGPU {
		spotGPU[model] = v * spotGPUFraction
	}
	return Model{
		OnDemand: Prices{CPUCoreHour: 0.031611, MemoryGiBHour: 0.004237, GPUHour: onDemandGPU, DefaultGPUHour: onDemandDefaultGPU},
		Spot:     Prices{CPUCoreHour: 0.006655, MemoryGiBHour: 0.000892, GPUHour: spotGPU, DefaultGPUHour: onDemandDefaultGPU * spotGPUFraction},
	}
}

// table returns the prices for capacity type ct.
func (m Model) table(ct CapacityType) Prices {
	if ct == Spot {
		return m.Spot
	}
	return m.OnDemand
}
