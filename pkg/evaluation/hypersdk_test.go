package evaluation

import (
	"context"
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// Yesterday A was 100 and B 300 all day; at 0:00 today B dips to 50. The
// current hour ranks B first; the seasonal-naive day-ahead mean (yesterday's
// values) ranks A first. When the traces hold no yesterday the forecast is
// not available and, like the extender, the strategy falls back to the
// current hour. No case may see that B is back at 300 from 1:00.
func TestHyperSDKCarbonSignal(t *testing.T) {
	day := 24 * time.Hour
	yesterday := t0.Add(-day)
	withHistory := []*carbon.Trace{
		trace("A", yesterday, repeat(100, 48)...),
		trace("B", yesterday, append(append(repeat(300, 24), 50), repeat(300, 23)...)...),
	}
	withoutHistory := []*carbon.Trace{
		trace("A", t0, repeat(100, 24)...),
		trace("B", t0, append([]float64{50}, repeat(300, 23)...)...),
	}
	forecast := placement.Policy{CarbonWeight: 1, CarbonHorizon: day}
	for _, tc := range []struct {
		name   string
		policy placement.Policy
		traces []*carbon.Trace
		want   string
	}{
		{"current hour", placement.Policy{CarbonWeight: 1}, withHistory, "b"},
		{"day-ahead seasonal-naive mean", forecast, withHistory, "a"},
		{"forecast without history falls back to now", forecast, withoutHistory, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHyperSDK(tc.policy, tc.traces, t0)
			if err != nil {
				t.Fatal(err)
			}
			c, err := NewCluster([]Node{node("a", "A", 8, 32), node("b", "B", 8, 32)})
			if err != nil {
				t.Fatal(err)
			}
			v := vm("v", 0, 4*time.Hour, 2)
			i, err := h.Place(context.Background(), &v, t0, c)
			if err != nil {
				t.Fatal(err)
			}
			if i < 0 || c.Nodes[i].Name != tc.want {
				t.Errorf("placed on %d, want node %s", i, tc.want)
			}
		})
	}
}

func TestHyperSDKRejectsInvalidPolicy(t *testing.T) {
	if _, err := NewHyperSDK(placement.Policy{CarbonWeight: -1}, []*carbon.Trace{trace("A", t0, 1)}, t0); err == nil {
		t.Error("NewHyperSDK accepted a negative weight")
	}
}
