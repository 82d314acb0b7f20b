package carbon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"time"
)

// WattTimeOptions configures NewWattTimeProvider.
type WattTimeOptions struct {
	// HTTPOptions.BaseURL defaults to https://api.watttime.org; login is at
	// {base}/login and data under {base}/v3.
	HTTPOptions
	// Username and Password of the WattTime account; required.
	Username, Password string
	// Regions maps zones to WattTime region codes (e.g. "US-CAL-CISO" to
	// "CAISO_NORTH"), since WattTime has its own region names. Zones not in
	// the map are sent as they are.
	Regions map[string]string
}

// WattTimeProvider reads the co2_moer signal of the WattTime v3 API: the
// marginal operating emissions rate, i.e. the emissions of the generators
// that respond to a change in load. Note that it is a marginal signal, not
// the average mix Electricity Maps reports, so values from the two are not
// comparable.
//
//	GET {base}/v3/historical?region=R&signal_type=co2_moer&start=T0&end=T1
//	GET {base}/v3/forecast?region=R&signal_type=co2_moer&horizon_hours=N
//	  {"data":[{"point_time":"2024-02-27T16:40:00+00:00","value":208.6},...],
//	   "meta":{"region":"CAISO_NORTH","signal_type":"co2_moer","units":"lbs_co2_per_mwh",...}}
//
// /v3/signal-index is not used: it is a 0-100 percentile of the region's
// recent values, not an intensity.
type WattTimeProvider struct {
	api     upstream
	auth    *wattTimeAuth
	regions map[string]string
}

var _ Provider = (*WattTimeProvider)(nil)

const (
	wattTimeSignal = "co2_moer"
	wattTimeUnits  = "lbs_co2_per_mwh"
	// gramsPerKWhPerLbPerMWh converts WattTime's unit: a pound is exactly
	// 453.59237 g and a MWh is 1000 kWh, so 1 lb/MWh = 0.45359237 g/kWh.
	gramsPerKWhPerLbPerMWh = 0.45359237
	// wattTimeMaxHorizonHours is the most horizon_hours the forecast
	// endpoint accepts.
	wattTimeMaxHorizonHours = 72
	// currentLookback is how far back Current asks for values: far enough
	// to reach into the previous hour when the current one has no values yet.
	currentLookback = time.Hour
)

// NewWattTimeProvider returns a provider for the WattTime v3 API. It logs in
// on first use, not here, so it can be built without network access.
func NewWattTimeProvider(opts WattTimeOptions) (*WattTimeProvider, error) {
	if opts.Username == "" || opts.Password == "" {
		return nil, errors.New("watttime provider: username and password required")
	}
	api, err := newUpstream("watttime", "https://api.watttime.org", opts.HTTPOptions)
	if err != nil {
		return nil, err
	}
	return &WattTimeProvider{
		api:     api,
		auth:    newWattTimeAuth(api, opts.Username, opts.Password),
		regions: maps.Clone(opts.Regions),
	}, nil
}

type wtResponse struct {
	Data []struct {
		PointTime time.Time `json:"point_time"`
		Value     float64   `json:"value"`
	} `json:"data"`
	Meta struct {
		Region string `json:"region"`
		Units  string `json:"units"`
	} `json:"meta"`
}

// Current returns the mean of the MOER values measured so far in the latest
// hour that has any (normally the hour containing now), from /v3/historical.
// Measured values are preferred to the forecast's first point because they
// are what the grid actually did.
func (p *WattTimeProvider) Current(ctx context.Context, zone string) (Intensity, error) {
	now := p.api.clock.Now().UTC()
	q := p.query(zone)
	q.Set("start", now.Add(-currentLookback).Format(time.RFC3339))
	q.Set("end", now.Format(time.RFC3339))
	pts, err := p.fetch(ctx, "v3/historical", zone, q)
	if err != nil {
		return Intensity{}, err
	}
	v, err := latestHour(zone, pts)
	if err != nil {
		return Intensity{}, fmt.Errorf("watttime: %w", err)
	}
	return v, nil
}

// Forecast returns hourly means of WattTime's 5-minute forecast for the
// ceil(horizon/1h) hours starting with the hour containing now; the part of
// the current hour already past is not in the forecast, so its value is the
// mean of the rest. WattTime forecasts at most 72 hours, so longer horizons
// get a shorter result.
func (p *WattTimeProvider) Forecast(ctx context.Context, zone string, horizon time.Duration) ([]Intensity, error) {
	n, err := slots(horizon)
	if err != nil {
		return nil, fmt.Errorf("carbon forecast for zone %q: %w", zone, err)
	}
	q := p.query(zone)
	q.Set("horizon_hours", fmt.Sprint(min(n, wattTimeMaxHorizonHours)))
	pts, err := p.fetch(ctx, "v3/forecast", zone, q)
	if err != nil {
		return nil, err
	}
	out, err := forecastWindow(zone, pts, p.api.clock.Now(), n)
	if err != nil {
		return nil, fmt.Errorf("watttime: %w", err)
	}
	return out, nil
}

func (p *WattTimeProvider) region(zone string) string {
	if r, ok := p.regions[zone]; ok {
		return r
	}
	return zone
}

func (p *WattTimeProvider) query(zone string) url.Values {
	return url.Values{"region": {p.region(zone)}, "signal_type": {wattTimeSignal}}
}

// fetch GETs path with a bearer token, logging in again once if the API
// answers 401 (the token expired early or was revoked), and returns the data
// converted to g/kWh.
func (p *WattTimeProvider) fetch(ctx context.Context, path, zone string, q url.Values) ([]point, error) {
	var resp wtResponse
	err := p.authorized(ctx, path, q, &resp)
	if err != nil {
		return nil, fmt.Errorf("carbon intensity for zone %q: %w", zone, err)
	}
	region := p.region(zone)
	if resp.Meta.Region != "" && resp.Meta.Region != region {
		return nil, fmt.Errorf("watttime: asked for region %q, answer is for %q: %w", region, resp.Meta.Region, ErrUnknownZone)
	}
	if resp.Meta.Units != wattTimeUnits {
		return nil, fmt.Errorf("watttime: region %q: units %q, want %q", region, resp.Meta.Units, wattTimeUnits)
	}
	pts := make([]point, len(resp.Data))
	for i, d := range resp.Data {
		pts[i] = point{at: d.PointTime, grams: d.Value * gramsPerKWhPerLbPerMWh}
	}
	return pts, nil
}

func (p *WattTimeProvider) authorized(ctx context.Context, path string, q url.Values, out any) error {
	token, err := p.auth.get(ctx)
	if err != nil {
		return err
	}
	err = p.get(ctx, path, q, token, out)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		return err
	}
	if err := p.auth.invalidate(ctx, token); err != nil {
		return err
	}
	if token, err = p.auth.get(ctx); err != nil {
		return err
	}
	return p.get(ctx, path, q, token, out)
}

func (p *WattTimeProvider) get(ctx context.Context, path string, q url.Values, token string, out any) error {
	return p.api.getJSON(ctx, path, q, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+token)
	}, out)
}
