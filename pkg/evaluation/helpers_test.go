package evaluation

import (
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
)

// t0 is where the hand-made scenarios start.
var t0 = time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC)

// flatPricing prices every node alike, so cost never decides a test.
var flatPricing = cost.NodePricing{CPUCoreHour: 0.03, MemoryGiBHour: 0.004}

func node(name, zone string, cpus, memGi int64) Node {
	return Node{Name: name, Zone: zone, CapacityType: cost.OnDemand, CPUMilli: cpus * 1000, MemoryBytes: memGi << 30, Pricing: flatPricing}
}

func spotNode(name, zone string, cpus, memGi int64) Node {
	n := node(name, zone, cpus, memGi)
	n.CapacityType = cost.Spot
	return n
}

// vm arrives at t0+at and runs for d.
func vm(name string, at, d time.Duration, cpus int64) VM {
	return VM{Name: name, Arrival: t0.Add(at), Departure: t0.Add(at + d), CPUs: cpus,
		GuestMemoryBytes: cpus * 2 << 30, Utilization: 0.5}
}

// trace is zone's hourly values from start.
func trace(zone string, start time.Time, values ...float64) *carbon.Trace {
	return &carbon.Trace{Zone: zone, Signal: carbon.Direct, Start: start, Values: values}
}

// repeat is n copies of v.
func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func traceMap(traces ...*carbon.Trace) map[string]*carbon.Trace {
	m := map[string]*carbon.Trace{}
	for _, tr := range traces {
		m[tr.Zone] = tr
	}
	return m
}
