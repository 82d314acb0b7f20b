package placement

import (
	"context"
	"testing"
	"time"

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

// stubProvider answers Current with current and Forecast with forecast (or
// an error when forecast is nil).
type stubProvider struct {
	current  float64
	fallback carbon.Freshness // of current
	forecast []carbon.Intensity
}

func (s stubProvider) Current(context.Context, string) (carbon.Intensity, error) {
	return carbon.Intensity{GramsPerKWh: s.current, Freshness: s.fallback}, nil
}

func (s stubProvider) Forecast(context.Context, string, time.Duration) ([]carbon.Intensity, error) {
	if s.forecast == nil {
		return nil, carbon.ErrNoData
	}
	return s.forecast, nil
}

func TestZoneIntensity(t *testing.T) {
	forecast := []carbon.Intensity{{GramsPerKWh: 100}, {GramsPerKWh: 300}}
	for _, tc := range []struct {
		name     string
		p        stubProvider
		horizon  time.Duration
		expected float64
	}{
		{"no horizon: current", stubProvider{current: 50, forecast: forecast}, 0, 50},
		{"horizon: forecast mean", stubProvider{current: 50, forecast: forecast}, 2 * time.Hour, 200},
		{"no forecast: current", stubProvider{current: 50}, 2 * time.Hour, 50},
	} {
		got, err := ZoneIntensity(context.Background(), tc.p, "ES", tc.horizon)
		if err != nil || got != tc.expected {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.expected)
		}
	}
}

// TestZoneIntensityNeutralIsUnknown: the cached provider's neutral
// placeholder is no measurement: ZoneIntensity says the zone is unknown
// rather than score it as the world average; a stale value still counts.
func TestZoneIntensityNeutralIsUnknown(t *testing.T) {
	neutral := []carbon.Intensity{{GramsPerKWh: 475, Freshness: carbon.Neutral}, {GramsPerKWh: 475, Freshness: carbon.Neutral}}
	if _, err := ZoneIntensity(context.Background(), stubProvider{current: 475, fallback: carbon.Neutral}, "ES", 0); err == nil {
		t.Error("a neutral current value was taken for a measurement")
	}
	if got, err := ZoneIntensity(context.Background(), stubProvider{current: 120, forecast: neutral}, "ES", 2*time.Hour); err != nil || got != 120 {
		t.Errorf("a neutral forecast with a measured current value: %v, %v; want the current 120", got, err)
	}
	if got, err := ZoneIntensity(context.Background(), stubProvider{current: 90, fallback: carbon.Stale}, "ES", 0); err != nil || got != 90 {
		t.Errorf("a stale value: %v, %v; want 90", got, err)
	}
}
