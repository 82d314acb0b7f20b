package carbon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"time"

	"k8s.io/utils/clock"
)

// FixedProvider is a Provider with one constant intensity per zone, for tests,
// for clusters without a live signal, and as a baseline in evaluations.
type FixedProvider struct {
	clock clock.PassiveClock
	table map[string]float64
}

var _ Provider = (*FixedProvider)(nil)

// NewFixedProvider returns a provider serving table (zone to g/kWh). The table
// is copied, so later changes by the caller have no effect.
func NewFixedProvider(clk clock.PassiveClock, table map[string]float64) (*FixedProvider, error) {
	if clk == nil {
		return nil, errors.New("fixed provider: nil clock")
	}
	for zone, v := range table {
		if zone == "" || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("fixed provider: invalid entry %q = %v", zone, v)
		}
	}
	return &FixedProvider{clock: clk, table: maps.Clone(table)}, nil
}

// Current returns the zone's value for the hour containing now.
func (p *FixedProvider) Current(ctx context.Context, zone string) (Intensity, error) {
	v, err := p.lookup(ctx, zone)
	if err != nil {
		return Intensity{}, err
	}
	return Intensity{Zone: zone, At: p.clock.Now().UTC().Truncate(resolution), GramsPerKWh: v}, nil
}

// Forecast returns the zone's value for each of the ceil(horizon/1h) hours
// starting with the hour containing now.
func (p *FixedProvider) Forecast(ctx context.Context, zone string, horizon time.Duration) ([]Intensity, error) {
	n, err := slots(horizon)
	if err != nil {
		return nil, fmt.Errorf("carbon forecast for zone %q: %w", zone, err)
	}
	v, err := p.lookup(ctx, zone)
	if err != nil {
		return nil, err
	}
	start := p.clock.Now().UTC().Truncate(resolution)
	out := make([]Intensity, n)
	for i := range out {
		out[i] = Intensity{Zone: zone, At: start.Add(time.Duration(i) * resolution), GramsPerKWh: v}
	}
	return out, nil
}

func (p *FixedProvider) lookup(ctx context.Context, zone string) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("carbon intensity for zone %q: %w", zone, err)
	}
	v, ok := p.table[zone]
	if !ok {
		return 0, fmt.Errorf("fixed provider: zone %q: %w", zone, ErrUnknownZone)
	}
	return v, nil
}
