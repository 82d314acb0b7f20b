package carbon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Freshness tells consumers how far to trust an Intensity: a scheduler may
// weigh a stale or neutral value less than a fresh one, and operators can see
// from metrics how often decisions ran on fallbacks.
//
// Its numeric values are exported as the hypersdk_carbon_signal_state gauge.
type Freshness int

const (
	// Fresh is a value the upstream source just gave. It is the zero value so
	// providers that know nothing of fallbacks report Fresh without change.
	Fresh Freshness = iota
	// Stale is the last value the upstream gave before it started failing.
	// Its At is the hour it was for, which may be well before now.
	Stale
	// Neutral is a placeholder served when there is no usable value: it
	// neither favours nor penalises the zone.
	Neutral
)

func (f Freshness) String() string {
	switch f {
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	case Neutral:
		return "neutral"
	}
	return fmt.Sprintf("Freshness(%d)", int(f))
}

// ErrNoReading is returned by Read and ReadForecast when the provider has
// only its neutral placeholder for a zone: a world average served while
// its source has not answered is no measurement, and whatever acts on a
// zone's intensity (scales, waits, records) must not act on it.
var ErrNoReading = errors.New("the carbon provider has had no reading from its source")

// Read is p.Current, with a neutral placeholder an error wrapping
// ErrNoReading.
func Read(ctx context.Context, p Provider, zone string) (Intensity, error) {
	in, err := p.Current(ctx, zone)
	if err == nil && in.Freshness == Neutral {
		return Intensity{}, fmt.Errorf("zone %s: %w", zone, ErrNoReading)
	}
	return in, err
}

// ReadForecast is p.Forecast, with a forecast holding a neutral
// placeholder an error wrapping ErrNoReading.
func ReadForecast(ctx context.Context, p Provider, zone string, horizon time.Duration) ([]Intensity, error) {
	f, err := p.Forecast(ctx, zone, horizon)
	if err == nil && slices.ContainsFunc(f, func(in Intensity) bool { return in.Freshness == Neutral }) {
		return nil, fmt.Errorf("zone %s forecast: %w", zone, ErrNoReading)
	}
	return f, err
}
