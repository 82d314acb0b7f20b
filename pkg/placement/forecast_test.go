package placement

import (
	"testing"

	"github.com/hypersdk/hypersdk/pkg/carbon"
)

func TestMeanIntensity(t *testing.T) {
	for _, tc := range []struct {
		name     string
		forecast []float64
		want     float64
		wantErr  bool
	}{
		{"one hour", []float64{250}, 250, false},
		{"four hours", []float64{100, 200, 300, 400}, 250, false},
		{"empty", nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f []carbon.Intensity
			for _, v := range tc.forecast {
				f = append(f, carbon.Intensity{Zone: "ES", GramsPerKWh: v})
			}
			got, err := MeanIntensity(f)
			if (err != nil) != tc.wantErr || !approx(got, tc.want) {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
