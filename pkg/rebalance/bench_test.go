package rebalance

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// BenchmarkPass is one rebalancing pass over 5,000 VMs on 500 nodes in
// three zones and two price levels, every trigger on: a tenth of the nodes
// overloaded, one zone armed dirtier, a maintenance window draining ten
// nodes. Run: go test -run '^$' -bench BenchmarkPass -benchmem ./pkg/rebalance/
func BenchmarkPass(b *testing.B) {
	zones := []struct {
		name      string
		intensity float64
	}{{"PL", 650}, {"ES", 180}, {"NO", 30}}
	in := &Input{Now: now, Placement: placement.DefaultPolicy(),
		Armed: map[string]time.Time{carbonKey("PL", "NO"): now.Add(-2 * time.Hour), carbonKey("PL", "ES"): now.Add(-2 * time.Hour)}}
	for i := range 500 {
		z := zones[i%len(zones)]
		used := 45.0
		if i%10 == 0 {
			used = 92
		}
		n := node(fmt.Sprintf("node-%03d", i), z.name, z.intensity, used)
		n.Snapshot.AllocatableCPU, n.Snapshot.AllocatableMemory = 64, 256*gib
		if i%2 == 0 {
			n.Snapshot.Pricing = cost.NodePricing{CPUCoreHour: 0.02, MemoryGiBHour: 0.003}
		}
		if i < 10 {
			n.Labels["pool"] = "legacy"
		}
		in.Nodes = append(in.Nodes, n)
		in.Armed[pressureKey(n.Snapshot.Name)] = now.Add(-time.Hour)
	}
	for i := range 5000 {
		v := vm(fmt.Sprintf("vm-%04d", i), fmt.Sprintf("node-%03d", i%500), float64(1+i%8), float64(i%8)/2, float64(2+i%16))
		if i%7 == 0 {
			v.CooldownUntil = now.Add(time.Minute)
		}
		place(in, v)
	}
	d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
	s := spec(pressure(5*time.Minute), carbonTrigger(time.Hour),
		v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceCost, Cost: &v1alpha1.CostTrigger{ThresholdPercent: 10}},
		v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceMaintenance, Maintenance: &v1alpha1.MaintenanceTrigger{
			Name: "legacy", Schedule: "0 11 * * *", Duration: *d(time.Hour), DrainBefore: d(time.Hour),
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "legacy"}}}})
	// The limits of a real policy would stop planning after five moves;
	// lift them so the pass weighs every VM, the worst case.
	s.MaxInFlight, s.MaxInFlightPerNode = 1<<30, 1<<30
	b.ReportAllocs()
	b.ResetTimer()
	var plan Plan
	for b.Loop() {
		var err error
		if plan, err = Compute(s, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(plan.Moves)), "moves")
}
