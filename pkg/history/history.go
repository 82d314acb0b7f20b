// Package history keeps the usage history of VMs and of the whole cluster
// behind one Store interface, with two backends that answer the same query
// with the same numbers: SQLite (a file of its own, for clusters without
// Prometheus) and Prometheus (HyperSDK's own exported series, or KubeVirt's).
//
// A recorder appends one Batch per tick; an API server queries ranges. Both
// backends evaluate a range query the way Prometheus' avg_over_time does, so
// which one is configured does not change what a client sees, except:
//   - beyond SQLiteOptions.RawRetention SQLite keeps hourly (by default)
//     averages, so there it agrees only for steps that are multiples of the
//     interval with Start aligned to it, and a smaller step gets one point
//     per interval;
//   - Prometheus only has the ticks it scraped: a scrape interval longer
//     than the recorder's, or a failed scrape, loses ticks SQLite keeps;
//   - retention is enforced differently (SQLite hourly by row, Prometheus
//     by whole block), so data just past the retention may linger in either;
//   - sums are rounded differently, so values may differ in the last bits.
package history

import (
	"context"
	"slices"
	"time"
)

// VMSample is one VM at one recorder tick.
type VMSample struct {
	Namespace, Name string
	// Node, Zone and Phase describe where and in which state the VM was; they
	// are stored with the sample but are not series of their own.
	Node, Zone, Phase string

	CPUUsageCores, CPUAllocatedCores       float64
	MemoryUsageBytes, MemoryAllocatedBytes float64
	// CarbonIntensity is in g CO2eq/kWh of the VM's zone, 0 if unknown
	// (IntensityRead false).
	CarbonIntensity float64
	// CostPerHour is in currency units per hour, 0 if unknown.
	CostPerHour float64
	// UsageRead and Priced say a running VM's usage came from a
	// metrics.k8s.io reading (a launcher pod that has only just started
	// has none yet) and its cost from a price of its node: without them
	// those fields are 0 for want of the signal, not a measured 0, and the
	// stores keep no value for them (a gap in the series). A VM on no node
	// uses and costs nothing, and that is known.
	UsageRead, Priced bool
	// IntensityRead says a running VM's zone is known and its carbon
	// intensity was read; without it the intensity is a gap, as above.
	IntensityRead bool
}

// usageKnown: the VM's usage is a reading, or it runs nowhere.
func (s *VMSample) usageKnown() bool { return s.Node == "" || s.UsageRead }

// priceKnown: the VM's cost is from its node's price, or it runs nowhere.
func (s *VMSample) priceKnown() bool { return s.Node == "" || s.Priced }

// intensityKnown: the VM's zone's intensity was read. A VM that runs
// nowhere has no zone, so no intensity: a 0 there would pull the VM's
// average intensity down, and, averaged into a downsampled hour it ran part
// of, its emissions (its allocation already counts the hour's stopped part
// as 0).
func (s *VMSample) intensityKnown() bool { return s.IntensityRead }

// ClusterSample is the whole cluster at one recorder tick.
type ClusterSample struct {
	VMs, VMsRunning, VMsStopped, VMsOther  float64
	CPUUsageCores, CPUAllocatedCores       float64
	MemoryUsageBytes, MemoryAllocatedBytes float64
	// CarbonIntensityAvg is the average over the VMs' zones, g CO2eq/kWh.
	CarbonIntensityAvg float64
	CostPerHour        float64
	// CarbonGramsPerHour is the VMs' summed emission rate, g CO2eq/h.
	CarbonGramsPerHour float64
	// Unpriced and IntensityUnknown count the running VMs without a price
	// or a carbon intensity: with any, the sums they would be part of
	// (cost, emissions, the average intensity) are not known, and the
	// stores keep a gap rather than a sum that leaves them out. They are
	// not stored. (A VM without a usage reading yet counts 0 in the usage
	// sums: its launcher pod has only just started, and a failed metrics
	// API read records no batch at all.)
	Unpriced, IntensityUnknown int
}

func (s *ClusterSample) priceKnown() bool     { return s.Unpriced == 0 }
func (s *ClusterSample) intensityKnown() bool { return s.IntensityUnknown == 0 }

// averageKnown: the average intensity of the VMs' zones has VMs to average
// over, and every running one's was read.
func (s *ClusterSample) averageKnown() bool { return s.intensityKnown() && s.VMsRunning > 0 }

// Batch is everything recorded at one tick. Time is the tick time (the
// recorder truncates wall time to its interval), so re-writing the same tick
// after a crash is idempotent.
type Batch struct {
	Time    time.Time
	VMs     []VMSample
	Cluster ClusterSample
}

// Query asks for series of one VM, or of the cluster.
//
// The evaluation times are Start, Start+Step, ... up to End. The value at an
// evaluation time T is the average of the samples with timestamps in
// (T-Step, T], exactly Prometheus' avg_over_time(metric[Step]) at T.
// Evaluation times without samples are omitted. Times have millisecond
// resolution, as in Prometheus.
type Query struct {
	// Namespace and Name select a VM; both are empty for cluster queries.
	Namespace, Name string
	// Start and End are the inclusive range of evaluation times.
	Start, End time.Time
	Step       time.Duration
	// Fields are the series to return, in this order; empty means all
	// fields of the kind (VMFields or ClusterFields).
	Fields []string
}

// Point is the value of a series at one evaluation time.
type Point struct {
	Time  time.Time
	Value float64
}

// Series is one field over the queried range; Points is empty when no sample
// fell in the range.
type Series struct {
	Field  string
	Points []Point
}

// Recorded is fields less the VM fields store has no series for: a
// store that records only some says which by a Records method.
func Recorded(store Store, fields []string) []string {
	partial, ok := store.(interface{ Records(field string) bool })
	if !ok {
		return fields
	}
	return slices.DeleteFunc(slices.Clone(fields), func(f string) bool { return !partial.Records(f) })
}

// Store keeps usage history.
type Store interface {
	// Append stores a batch durably: when it returns nil the batch survives
	// kill -9. Appending a batch whose Time was already stored replaces
	// nothing and duplicates nothing (idempotent).
	Append(ctx context.Context, b Batch) error
	// QueryVM returns one series per requested field of one VM.
	QueryVM(ctx context.Context, q Query) ([]Series, error)
	// QueryCluster returns one series per requested cluster field.
	QueryCluster(ctx context.Context, q Query) ([]Series, error)
	// Retention is how far back queries can reach; queries starting earlier
	// are refused by callers (see Validate).
	Retention() time.Duration
	Close() error
}
