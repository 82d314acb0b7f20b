package carbon

import "fmt"

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
