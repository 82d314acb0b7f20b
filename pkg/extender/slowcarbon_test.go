package extender

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// hanging is a carbon source that answers only once released.
type hanging struct {
	called  chan struct{}
	release chan struct{}
}

func (h *hanging) Current(ctx context.Context, zone string) (carbon.Intensity, error) {
	select {
	case h.called <- struct{}{}:
	default:
	}
	<-h.release
	return carbon.Intensity{Zone: zone, GramsPerKWh: 100}, nil
}

func (h *hanging) Forecast(ctx context.Context, zone string, horizon time.Duration) ([]carbon.Intensity, error) {
	in, err := h.Current(ctx, zone)
	return []carbon.Intensity{in}, err
}

// TestSlowCarbonSourceHoldsNothing: while the carbon source does not
// answer, a scheduling request goes on with the zone unknown (the cached
// provider's fetch goes on for later requests), and node events are not
// held behind it.
func TestSlowCarbonSourceHoldsNothing(t *testing.T) {
	ctx := context.Background()
	e, _, names := fleetExtender(t, 6, false)
	src := &hanging{called: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(src.release)
	cached, err := carbon.NewCachedProvider(src, carbon.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Carbon = cached
	pod := vmPod("vm", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2Gi")})

	evaluated := make(chan pending, 1)
	go func() { evaluated <- e.evaluate(ctx, pod, names) }()
	<-src.called
	updated := make(chan struct{})
	go func() {
		e.nodes.setNode(fleet.Plan(1)[0].Object())
		close(updated)
	}()
	deadline := time.After(time.Minute) // generous: the source answers only at the end of the test
	select {
	case <-updated:
	case <-deadline:
		t.Fatal("a node event waited for the carbon source")
	}
	select {
	case p := <-evaluated:
		if len(p.decision.Scores) == 0 {
			t.Fatalf("no node scored while the carbon source hangs: %+v", p.decision.Filtered)
		}
		for _, s := range p.decision.Scores {
			if s.CarbonKnown {
				t.Errorf("%s: carbon known (%v gCO2/h) while the source has not answered", s.Node, s.GramsCO2PerHour)
			}
		}
	case <-deadline:
		t.Fatal("the scheduling request waited for the carbon source")
	}
}

// TestRecordLeavesUnknownsOut: the placement record of a node whose zone's
// intensity and price are unknown has no figures for them, where 0 would
// read as the cleanest and a free node; known ones are written.
func TestRecordLeavesUnknownsOut(t *testing.T) {
	e, _, names := fleetExtender(t, 6, false)
	zone := e.nodes.zone(names[0])
	unknown := e.toAPIScore(placement.NodeScore{Node: names[0], PriceUnknown: true}, map[string]zoneValue{zone: {}})
	if unknown.CarbonIntensity != nil || unknown.GramsCO2PerHour != nil || unknown.CostPerHour != nil {
		t.Errorf("record of unknowns: intensity %v, grams %v, cost %v; want none", unknown.CarbonIntensity, unknown.GramsCO2PerHour, unknown.CostPerHour)
	}
	known := e.toAPIScore(placement.NodeScore{Node: names[0], CarbonKnown: true, GramsCO2PerHour: 12.345, CostPerHour: 0.12345},
		map[string]zoneValue{zone: {v: 150, ok: true}})
	if known.CarbonIntensity == nil || *known.CarbonIntensity != 150 || known.GramsCO2PerHour == nil || *known.GramsCO2PerHour != 12.35 ||
		known.CostPerHour == nil || *known.CostPerHour != 0.1235 {
		t.Errorf("record of known figures: %+v", known)
	}
}
