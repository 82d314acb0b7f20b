package carbon

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"time"
)

// CarbonAwareSDKOptions configures NewCarbonAwareSDKProvider.
type CarbonAwareSDKOptions struct {
	// HTTPOptions.BaseURL is required: the SDK's web API is self-hosted, so
	// there is no public default. The API has no authentication of its own.
	HTTPOptions
	// Locations maps zones to the SDK's location names (e.g. "eastus"). Zones
	// not in the map are sent as they are.
	Locations map[string]string
}

// CarbonAwareSDKProvider reads the Green Software Foundation Carbon Aware
// SDK web API, which fronts WattTime or Electricity Maps and reports g/kWh:
//
//	GET {base}/emissions/bylocation?location=L&time=T0&toTime=T1
//	  [{"location":"eastus","time":"2022-05-17T20:45:11+00:00","rating":70,"duration":"00:05:00"},...]
//	  (204 No Content when there is no data)
//	GET {base}/emissions/forecasts/current?location=L
//	  [{"location":"eastus","generatedAt":"...","forecastData":
//	    [{"location":"IE","timestamp":"2022-07-19T14:00:00+00:00","duration":5,"value":532.0},...],...}]
type CarbonAwareSDKProvider struct {
	api       upstream
	locations map[string]string
}

var _ Provider = (*CarbonAwareSDKProvider)(nil)

// NewCarbonAwareSDKProvider returns a provider for a Carbon Aware SDK web API.
func NewCarbonAwareSDKProvider(opts CarbonAwareSDKOptions) (*CarbonAwareSDKProvider, error) {
	api, err := newUpstream("carbonawaresdk", "", opts.HTTPOptions)
	if err != nil {
		return nil, err
	}
	return &CarbonAwareSDKProvider{api: api, locations: maps.Clone(opts.Locations)}, nil
}

type casdkEmissions struct {
	Time   time.Time `json:"time"`
	Rating float64   `json:"rating"`
}

type casdkForecast struct {
	ForecastData []struct {
		Timestamp time.Time `json:"timestamp"`
		Value     float64   `json:"value"`
	} `json:"forecastData"`
}

// Current returns the mean of the values observed in the latest hour that
// has any within the past hour (normally the hour containing now).
func (p *CarbonAwareSDKProvider) Current(ctx context.Context, zone string) (Intensity, error) {
	now := p.api.clock.Now().UTC()
	q := url.Values{
		"location": {p.location(zone)},
		"time":     {now.Add(-currentLookback).Format(time.RFC3339)},
		"toTime":   {now.Format(time.RFC3339)},
	}
	var resp []casdkEmissions
	if err := p.api.getJSON(ctx, "emissions/bylocation", q, nil, &resp); err != nil {
		return Intensity{}, fmt.Errorf("carbon intensity for zone %q: %w", zone, err)
	}
	pts := make([]point, len(resp))
	for i, e := range resp {
		pts[i] = point{at: e.Time, grams: e.Rating}
	}
	v, err := latestHour(zone, pts)
	if err != nil {
		return Intensity{}, fmt.Errorf("carbonawaresdk: %w", err)
	}
	return v, nil
}

// Forecast returns hourly means of the SDK's current forecast for the
// ceil(horizon/1h) hours starting with the hour containing now. How far the
// forecast reaches depends on the SDK's data source, so the result is
// shorter when the horizon goes beyond it.
func (p *CarbonAwareSDKProvider) Forecast(ctx context.Context, zone string, horizon time.Duration) ([]Intensity, error) {
	n, err := slots(horizon)
	if err != nil {
		return nil, fmt.Errorf("carbon forecast for zone %q: %w", zone, err)
	}
	// dataStartAt/dataEndAt are not sent: the API rejects bounds outside
	// the forecast's timestamps, and forecastWindow trims anyway.
	var resp []casdkForecast
	if err := p.api.getJSON(ctx, "emissions/forecasts/current", url.Values{"location": {p.location(zone)}}, nil, &resp); err != nil {
		return nil, fmt.Errorf("carbon forecast for zone %q: %w", zone, err)
	}
	// One location was asked for, so the answer has at most one forecast.
	var pts []point
	if len(resp) > 0 {
		for _, d := range resp[0].ForecastData {
			pts = append(pts, point{at: d.Timestamp, grams: d.Value})
		}
	}
	out, err := forecastWindow(zone, pts, p.api.clock.Now(), n)
	if err != nil {
		return nil, fmt.Errorf("carbonawaresdk: %w", err)
	}
	return out, nil
}

func (p *CarbonAwareSDKProvider) location(zone string) string {
	if l, ok := p.locations[zone]; ok {
		return l
	}
	return zone
}
