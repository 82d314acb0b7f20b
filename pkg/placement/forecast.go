package placement

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// MeanIntensity averages a forecast (carbon.Provider.Forecast over
// Policy.CarbonHorizon) into the value for NodeSnapshot.CarbonIntensity:
//
//	intensity = Σ GramsPerKWh / len(forecast)
func MeanIntensity(forecast []carbon.Intensity) (float64, error) {
	if len(forecast) == 0 {
		return 0, errors.New("averaging carbon intensity: empty forecast")
	}
	var sum float64
	for _, v := range forecast {
		sum += v.GramsPerKWh
	}
	return sum / float64(len(forecast)), nil
}

// ZoneIntensity is the intensity a placement scores a zone by: the mean of
// the forecast over horizon when horizon is set and the provider has a
// forecast, else the current value. The extender and the evaluation both
// fill NodeSnapshot.CarbonIntensity with it. A neutral placeholder (the
// cached provider's answer when it has nothing from upstream) is no
// measurement, so it is an error here: the zone's intensity is unknown,
// which placement neither filters on nor takes for clean, and which the
// callers report, rather than a world average competing with measured
// zones (and tripping a policy's maxCarbonIntensity).
func ZoneIntensity(ctx context.Context, p carbon.Provider, zone string, horizon time.Duration) (float64, error) {
	in, err := ZoneReading(ctx, p, zone, horizon)
	return in.GramsPerKWh, err
}

// ZoneReading is ZoneIntensity with how far to trust it: Stale when the
// value, or a forecast point it averages, is the last answer a cached
// provider kept after its source stopped answering; At is the hour of the
// current value, or of the forecast's first point.
func ZoneReading(ctx context.Context, p carbon.Provider, zone string, horizon time.Duration) (carbon.Intensity, error) {
	if horizon > 0 {
		if f, err := carbon.ReadForecast(ctx, p, zone, horizon); err == nil {
			if mean, err := MeanIntensity(f); err == nil {
				out := carbon.Intensity{Zone: zone, At: f[0].At, GramsPerKWh: mean}
				if slices.ContainsFunc(f, func(in carbon.Intensity) bool { return in.Freshness == carbon.Stale }) {
					out.Freshness = carbon.Stale
				}
				return out, nil
			}
		}
	}
	in, err := carbon.Read(ctx, p, zone)
	if err != nil {
		return carbon.Intensity{}, err
	}
	return in, nil
}
