package carbon

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/utils/clock"
)

// Provider kinds NewProvider accepts.
const (
	KindElectricityMaps = "electricitymaps"
	KindWattTime        = "watttime"
	KindCarbonAwareSDK  = "carbonawaresdk"
	KindTrace           = "trace"
	KindFixed           = "fixed"
)

// ProviderSpec selects and configures a provider from flat settings, so a
// binary can choose one with flags. Fields a kind does not use are ignored.
type ProviderSpec struct {
	// Kind is one of the Kind* constants.
	Kind string

	// BaseURL, HTTPClient and Timeout configure the live kinds; see HTTPOptions.
	BaseURL    string
	HTTPClient *http.Client
	Timeout    time.Duration
	// Token is the Electricity Maps API key.
	Token string
	// Username and Password are the WattTime account.
	Username, Password string
	// Regions maps zones to WattTime regions or Carbon Aware SDK locations.
	Regions map[string]string

	// TraceFiles are Electricity Maps hourly CSV exports, one per zone,
	// replayed in real time from their earliest start (see NewTraceProvider).
	TraceFiles []string
	// TraceSignal selects the traces' intensity column.
	TraceSignal Signal
	// Fixed maps zones to constant g/kWh.
	Fixed map[string]float64

	// Clock supplies "now" to every kind; nil means the real clock.
	Clock clock.PassiveClock
}

// NewProvider builds the provider spec describes. Live kinds are returned
// uncached: wrap them with NewCachedProvider before putting them on a
// scheduling path.
func NewProvider(spec ProviderSpec) (Provider, error) {
	clk := spec.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	httpOpts := HTTPOptions{BaseURL: spec.BaseURL, HTTPClient: spec.HTTPClient, Timeout: spec.Timeout, Clock: clk}
	switch spec.Kind {
	case KindElectricityMaps:
		return asProvider(NewElectricityMapsProvider(ElectricityMapsOptions{HTTPOptions: httpOpts, Token: spec.Token}))
	case KindWattTime:
		return asProvider(NewWattTimeProvider(WattTimeOptions{
			HTTPOptions: httpOpts, Username: spec.Username, Password: spec.Password, Regions: spec.Regions,
		}))
	case KindCarbonAwareSDK:
		return asProvider(NewCarbonAwareSDKProvider(CarbonAwareSDKOptions{HTTPOptions: httpOpts, Locations: spec.Regions}))
	case KindTrace:
		if len(spec.TraceFiles) == 0 {
			return nil, errors.New("trace provider: no trace files")
		}
		traces := make([]*Trace, len(spec.TraceFiles))
		for i, path := range spec.TraceFiles {
			tr, err := LoadTraceFile(path, spec.TraceSignal)
			if err != nil {
				return nil, err
			}
			traces[i] = tr
		}
		return asProvider(NewTraceProvider(clk, traces...))
	case KindFixed:
		return asProvider(NewFixedProvider(clk, spec.Fixed))
	}
	return nil, fmt.Errorf("unknown carbon provider kind %q (want %s, %s, %s, %s or %s)", spec.Kind,
		KindElectricityMaps, KindWattTime, KindCarbonAwareSDK, KindTrace, KindFixed)
}

// asProvider returns a constructor's result as a Provider, with a nil
// interface rather than one holding a nil pointer when it failed.
func asProvider[P Provider](p P, err error) (Provider, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}
