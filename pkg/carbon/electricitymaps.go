package carbon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ElectricityMapsOptions configures NewElectricityMapsProvider.
type ElectricityMapsOptions struct {
	// HTTPOptions.BaseURL defaults to https://api.electricitymap.org.
	HTTPOptions
	// Token is the API key, sent in the auth-token header; required.
	Token string
}

// ElectricityMapsProvider reads the Electricity Maps v3 API:
//
//	GET {base}/v3/carbon-intensity/latest?zone=Z
//	  {"zone":"DE","carbonIntensity":302,"datetime":"2018-04-25T18:00:00.000Z","updatedAt":"...",...}
//	GET {base}/v3/carbon-intensity/forecast?zone=Z
//	  {"zone":"DE","forecast":[{"carbonIntensity":306,"datetime":"..."},...],"updatedAt":"..."}
//
// Values are gCO2eq/kWh, life-cycle by default (the API's
// emissionFactorType); zones are Electricity Maps zone keys such as "DE" or
// "US-CAL-CISO", so they are used as they are.
type ElectricityMapsProvider struct {
	api   upstream
	token string
}

var _ Provider = (*ElectricityMapsProvider)(nil)

// NewElectricityMapsProvider returns a provider for the Electricity Maps API.
func NewElectricityMapsProvider(opts ElectricityMapsOptions) (*ElectricityMapsProvider, error) {
	if opts.Token == "" {
		return nil, errors.New("electricitymaps provider: token required")
	}
	api, err := newUpstream("electricitymaps", "https://api.electricitymap.org", opts.HTTPOptions)
	if err != nil {
		return nil, err
	}
	return &ElectricityMapsProvider{api: api, token: opts.Token}, nil
}

// emValue is one intensity in an Electricity Maps answer. carbonIntensity is
// a pointer because the API sends null for hours it has no value for.
type emValue struct {
	CarbonIntensity *float64  `json:"carbonIntensity"`
	Datetime        time.Time `json:"datetime"`
}

type emLatest struct {
	Zone string `json:"zone"`
	emValue
}

type emForecast struct {
	Zone     string    `json:"zone"`
	Forecast []emValue `json:"forecast"`
}

// Current returns the latest value, for the hour in its datetime (normally
// the hour containing now).
func (p *ElectricityMapsProvider) Current(ctx context.Context, zone string) (Intensity, error) {
	var resp emLatest
	if err := p.get(ctx, "v3/carbon-intensity/latest", zone, &resp); err != nil {
		return Intensity{}, err
	}
	pts, err := emPoints(zone, resp.Zone, []emValue{resp.emValue})
	if err != nil {
		return Intensity{}, err
	}
	v, err := latestHour(zone, pts)
	if err != nil {
		return Intensity{}, fmt.Errorf("electricitymaps: %w", err)
	}
	return v, nil
}

// Forecast returns the API's forecast for the ceil(horizon/1h) hours
// starting with the hour containing now. The API decides how far its
// forecast reaches (a day by default), so the result is shorter when the
// horizon goes beyond it.
func (p *ElectricityMapsProvider) Forecast(ctx context.Context, zone string, horizon time.Duration) ([]Intensity, error) {
	n, err := slots(horizon)
	if err != nil {
		return nil, fmt.Errorf("carbon forecast for zone %q: %w", zone, err)
	}
	var resp emForecast
	if err := p.get(ctx, "v3/carbon-intensity/forecast", zone, &resp); err != nil {
		return nil, err
	}
	pts, err := emPoints(zone, resp.Zone, resp.Forecast)
	if err != nil {
		return nil, err
	}
	out, err := forecastWindow(zone, pts, p.api.clock.Now(), n)
	if err != nil {
		return nil, fmt.Errorf("electricitymaps: %w", err)
	}
	return out, nil
}

func (p *ElectricityMapsProvider) get(ctx context.Context, path, zone string, out any) error {
	err := p.api.getJSON(ctx, path, url.Values{"zone": {zone}}, func(r *http.Request) {
		r.Header.Set("auth-token", p.token)
	}, out)
	if err != nil {
		return fmt.Errorf("carbon intensity for zone %q: %w", zone, err)
	}
	return nil
}

// emPoints checks that an answer is for the zone asked about and turns its
// non-null values into points. The zone check matters because the API falls
// back to the caller's IP location when it does not recognise a zone, which
// would otherwise pass off another grid's values as this zone's.
func emPoints(zone, answered string, vals []emValue) ([]point, error) {
	if answered != "" && answered != zone {
		return nil, fmt.Errorf("electricitymaps: asked for zone %q, answer is for %q: %w", zone, answered, ErrUnknownZone)
	}
	pts := make([]point, 0, len(vals))
	for _, v := range vals {
		if v.CarbonIntensity != nil {
			pts = append(pts, point{at: v.Datetime, grams: *v.CarbonIntensity})
		}
	}
	return pts, nil
}
