// Package carbon gives grid carbon intensity (grams CO2eq per kWh) per zone
// behind one Provider interface, so the scheduler extender and the simulation
// sandbox do not care whether values come from a replayed trace, a fixed
// table or, later, a live API such as Electricity Maps, WattTime or the
// Carbon Aware SDK.
package carbon

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Intensity is grams CO2eq per kWh at a time.
type Intensity struct {
	Zone string
	// At is the start of the hour (or of the provider's interval) the value is for.
	At          time.Time
	GramsPerKWh float64
	// Freshness says whether the value is a current upstream answer or a
	// fallback; only CachedProvider serves anything but Fresh.
	Freshness Freshness
}

// Provider gives current intensity and a forecast per zone.
//
// Implementations may do I/O (live APIs), which is why every call takes a
// context and returns an error; callers must treat an error as "no signal"
// rather than as zero intensity.
type Provider interface {
	// Current returns the value for the interval containing now.
	Current(ctx context.Context, zone string) (Intensity, error)
	// Forecast returns values for [from, from+horizon) at the provider's
	// resolution, oldest first. Which values count as a forecast, and what
	// "from" is, is documented by each implementation.
	Forecast(ctx context.Context, zone string, horizon time.Duration) ([]Intensity, error)
}

var (
	// ErrUnknownZone is wrapped by providers asked about a zone they have no data for.
	ErrUnknownZone = errors.New("unknown carbon zone")
	// ErrNoData is wrapped when a known zone has no value for the requested
	// time, for example before a replay starts or after a trace ends.
	ErrNoData = errors.New("no carbon intensity data")
)

// resolution is the interval of every provider in this package. Electricity
// Maps publishes hourly values, so hourly slots are what a forecast can honestly offer.
const resolution = time.Hour

// maxHorizon bounds Forecast so a bad argument from a caller cannot make a
// provider allocate without limit; a year covers any sensible planning window.
const maxHorizon = 366 * 24 * time.Hour

// slots returns how many resolution-sized intervals a forecast of horizon
// covers, rounding a partial interval up.
func slots(horizon time.Duration) (int, error) {
	if horizon <= 0 || horizon > maxHorizon {
		return 0, fmt.Errorf("forecast horizon %s must be in (0, %s]", horizon, maxHorizon)
	}
	return int((horizon + resolution - 1) / resolution), nil
}

// Node keys ZoneOf reads.
const (
	// ZoneKey names a node's carbon zone explicitly (as an annotation or a
	// label), for when the cloud region is not the grid zone, e.g. on-premises
	// clusters or regions spanning several grid zones.
	ZoneKey = "hypersdk.io/carbon-zone"
	// RegionLabel is the well-known Kubernetes region label, used as a fallback.
	RegionLabel = "topology.kubernetes.io/region"
)

// ZoneOf returns the carbon zone of a node from its labels and annotations:
// the ZoneKey annotation, then the ZoneKey label, then the RegionLabel label.
// The explicit key wins because an operator set it on purpose, whereas the
// region label is set by the cloud provider and only approximates a grid zone.
// Empty values count as unset.
func ZoneOf(labels, annotations map[string]string) (string, bool) {
	for _, v := range []string{annotations[ZoneKey], labels[ZoneKey], labels[RegionLabel]} {
		if v != "" {
			return v, true
		}
	}
	return "", false
}
