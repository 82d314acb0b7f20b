package carbonscalingpolicy

import (
	"context"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// TestTableBandOutOfTheBands: a status band index that names no band (the
// status is written through policies/status) shows as none, not a panic
// that fails every list.
func TestTableBandOutOfTheBands(t *testing.T) {
	for _, b := range []int32{-1, 1, 0} {
		p := &hypersdk.CarbonScalingPolicy{Spec: hypersdk.CarbonScalingPolicySpec{Zone: "ES",
			Bands: []hypersdk.CarbonScalingBand{{AboveGramsPerKWh: 300, MaxReplicasPercent: 50}}},
			Status: hypersdk.CarbonScalingPolicyStatus{ActiveBand: ptr.To(b)}}
		table, err := tableConvertor{}.ConvertToTable(context.Background(), p, nil)
		if err != nil {
			t.Fatalf("band %d: %v", b, err)
		}
		want := "<none>"
		if b == 0 {
			want = ">=300: 50%"
		}
		if got := table.Rows[0].Cells[3]; got != want {
			t.Errorf("band %d shows %v, want %s", b, got, want)
		}
	}
}
