package placement

import (
	"errors"

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
