package rightsizing

import "time"

// Sample is one observation of one VM's usage.
type Sample struct {
	Time time.Time
	// CPUCores is the guest CPU used, averaged over the sample interval.
	CPUCores float64
	// MemoryBytes is the guest memory in use (working set) at the sample;
	// zero, negative or NaN means memory was not measured.
	MemoryBytes float64
}

// Resources is an allocation KubeVirt can apply: whole vCPUs and memory in
// whole MemoryStep units. A zero field means "not set" in Limits.
type Resources struct {
	CPUs        int32
	MemoryBytes int64
}

// MemoryStep is the granularity of recommended guest memory.
const MemoryStep int64 = 128 << 20

// Limits bound a recommendation (VirtualMachineAutoscaler minAllowed and
// maxAllowed); zero fields do not bound.
type Limits struct {
	Min, Max Resources
}

// Estimate is a recommendation and its evidence.
type Estimate struct {
	// Target is what the VM should have; Lower and Upper are the range in
	// which the current allocation is left alone. All three are rounded to
	// what KubeVirt can apply and clamped to the Limits.
	Target, Lower, Upper Resources
	// CPUCores and MemoryBytes are the unrounded, unclamped targets.
	CPUCores, MemoryBytes float64
	// Samples is how many samples contribute; First and Last the oldest and
	// newest of them.
	Samples     int
	First, Last time.Time
	// Confidence grows with the evidence, in [0, 1].
	Confidence float64
}

// Recommender turns a VM's samples into an Estimate.
type Recommender interface {
	// Name identifies the strategy ("vpa", "vm").
	Name() string
	// Method says in a sentence how the target is computed.
	Method() string
	// Add records a sample. Samples arrive in time order; a sample not newer
	// than the last one is ignored.
	Add(s Sample)
	// Estimate recommends at now within lim; ok is false without samples.
	Estimate(now time.Time, lim Limits) (e Estimate, ok bool)
}
