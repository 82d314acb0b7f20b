package recorder

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/history"
)

// TestClusterCountsWhatItDoesNotKnow: a running VM without a price or an
// intensity is counted, so the cluster's sums it belongs in are gaps; a VM
// on no node costs and emits nothing, and that is known.
func TestClusterCountsWhatItDoesNotKnow(t *testing.T) {
	var c history.ClusterSample
	addToCluster(&c, history.VMSample{Node: "a", Phase: "Running", Priced: true, IntensityRead: true, CostPerHour: 1})
	addToCluster(&c, history.VMSample{Node: "b", Phase: "Running", IntensityRead: true})
	addToCluster(&c, history.VMSample{Node: "c", Phase: "Running", Priced: true, CostPerHour: 2})
	addToCluster(&c, history.VMSample{Phase: "Stopped"})
	if c.Unpriced != 1 || c.IntensityUnknown != 1 || c.VMs != 4 || c.VMsRunning != 3 || c.CostPerHour != 3 {
		t.Errorf("cluster %+v: want 4 VMs, 3 running, 1 unpriced, 1 without intensity, 3 per hour", c)
	}
}

// TestPlaceholderIntensityIsAGap: while the carbon source has never
// answered, the cached provider serves a neutral placeholder (a world
// average); the sample records the zone's intensity as unknown, not as
// that figure.
func TestPlaceholderIntensityIsAGap(t *testing.T) {
	down := failing{}
	cached, err := carbon.NewCachedProvider(down, carbon.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &Sampler{cfg: SamplerConfig{Carbon: cached}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{carbon.ZoneKey: "DE"}}}
	var s history.VMSample
	r.placeOnNode(context.Background(), &s, &hypersdk.VirtualMachine{}, node, map[string]zoneIntensity{})
	if s.Zone != "DE" || s.IntensityRead || s.CarbonIntensity != 0 {
		t.Errorf("sample zone %q intensity %v (read %v), want DE and no reading", s.Zone, s.CarbonIntensity, s.IntensityRead)
	}
}

// failing is a carbon source that cannot be reached.
type failing struct{}

func (failing) Current(context.Context, string) (carbon.Intensity, error) {
	return carbon.Intensity{}, errors.New("connection refused")
}
func (failing) Forecast(context.Context, string, time.Duration) ([]carbon.Intensity, error) {
	return nil, errors.New("connection refused")
}
