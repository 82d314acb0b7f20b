package history

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestUnknownSignalsAreGaps: a VM whose zone's intensity was not read, and
// cluster sums that a running VM without a price or an intensity would be
// part of, are kept as gaps, in SQLite and on the exporter, not as 0 or as
// sums that leave the VM out. The VM's row is kept.
func TestUnknownSignalsAreGaps(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "h.db"), SQLiteOptions{Clock: clocktesting.NewFakePassiveClock(t0.Add(time.Hour))})
	known := ClusterSample{VMs: 1, VMsRunning: 1, CPUUsageCores: 1, CarbonIntensityAvg: 200, CostPerHour: 0.5, CarbonGramsPerHour: 10}
	unpriced, unknownIntensity := known, known
	unpriced.Unpriced = 1
	unknownIntensity.IntensityUnknown = 1
	vm := VMSample{Namespace: "ns", Name: "vm", Node: "n", Zone: "XX", Phase: "Running", CPUUsageCores: 1, UsageRead: true, Priced: true}
	withIntensity := vm
	withIntensity.CarbonIntensity, withIntensity.IntensityRead = 200, true
	mustAppend(t, s, Batch{Time: t0.Add(time.Minute), VMs: []VMSample{withIntensity}, Cluster: known})
	mustAppend(t, s, Batch{Time: t0.Add(2 * time.Minute), VMs: []VMSample{withIntensity}, Cluster: unpriced})
	mustAppend(t, s, Batch{Time: t0.Add(3 * time.Minute), VMs: []VMSample{vm}, Cluster: unknownIntensity})

	got, err := s.QueryCluster(ctx, Query{Start: t0.Add(time.Minute), End: t0.Add(3 * time.Minute), Step: time.Minute,
		Fields: []string{FieldCPUUsage, FieldCostPerHour, FieldCarbonEmissions, FieldCarbonIntensity}})
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{
		FieldCPUUsage:        {{time.Minute, 1}, {2 * time.Minute, 1}, {3 * time.Minute, 1}},
		FieldCostPerHour:     {{time.Minute, 0.5}, {3 * time.Minute, 0.5}},
		FieldCarbonEmissions: {{time.Minute, 10}, {2 * time.Minute, 10}},
		FieldCarbonIntensity: {{time.Minute, 200}, {2 * time.Minute, 200}},
	})
	got, err = s.QueryVM(ctx, vmQuery("vm", time.Minute, 3*time.Minute, time.Minute, FieldCPUUsage, FieldCarbonIntensity))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{
		FieldCPUUsage:        {{time.Minute, 1}, {2 * time.Minute, 1}, {3 * time.Minute, 1}},
		FieldCarbonIntensity: {{time.Minute, 200}, {2 * time.Minute, 200}},
	})

	p, err := NewPrometheusStore(PrometheusOptions{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p.Exporter())
	if err := p.Append(ctx, Batch{Time: t0, VMs: []VMSample{vm}, Cluster: unpriced}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "hypersdk_cluster_cost_per_hour", "hypersdk_vm_carbon_intensity_grams_per_kwh":
			t.Errorf("%s exported (%v), want a gap", mf.GetName(), mf.GetMetric())
		}
	}
}

// TestNoZoneNoIntensity: a stopped VM has no zone, so no intensity (not a
// known 0 that would pull its average down), and a cluster where nothing
// runs has no average intensity; its emissions are a known 0.
func TestNoZoneNoIntensity(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "h.db"), SQLiteOptions{Clock: clocktesting.NewFakePassiveClock(t0.Add(time.Hour))})
	running := VMSample{Namespace: "ns", Name: "vm", Node: "n", Zone: "ES", Phase: "Running", CPUAllocatedCores: 2, CPUUsageCores: 1,
		UsageRead: true, Priced: true, CarbonIntensity: 400, IntensityRead: true}
	stopped := VMSample{Namespace: "ns", Name: "vm", Phase: "Stopped"}
	mustAppend(t, s, Batch{Time: t0.Add(time.Minute), VMs: []VMSample{running},
		Cluster: ClusterSample{VMs: 1, VMsRunning: 1, CarbonIntensityAvg: 400, CarbonGramsPerHour: 10}})
	mustAppend(t, s, Batch{Time: t0.Add(2 * time.Minute), VMs: []VMSample{stopped}, Cluster: ClusterSample{VMs: 1, VMsStopped: 1}})
	got, err := s.QueryVM(ctx, vmQuery("vm", time.Minute, 2*time.Minute, time.Minute, FieldCarbonIntensity, FieldCPUAllocated))
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{
		FieldCarbonIntensity: {{time.Minute, 400}},
		FieldCPUAllocated:    {{time.Minute, 2}, {2 * time.Minute, 0}},
	})
	got, err = s.QueryCluster(ctx, Query{Start: t0.Add(time.Minute), End: t0.Add(2 * time.Minute), Step: time.Minute,
		Fields: []string{FieldCarbonIntensity, FieldCarbonEmissions}})
	if err != nil {
		t.Fatal(err)
	}
	expectSeries(t, got, map[string][]pt{
		FieldCarbonIntensity: {{time.Minute, 400}},
		FieldCarbonEmissions: {{time.Minute, 10}, {2 * time.Minute, 0}},
	})
}
