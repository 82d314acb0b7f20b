package recorder

import (
	"testing"

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
