package evaluation

import (
	"fmt"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// ForecastHorizon is hypersdk-forecast's Policy.CarbonHorizon: a day covers
// the diurnal cycle of solar zones and the lifetime of most VMs.
const ForecastHorizon = 24 * time.Hour

// Contenders are the strategies of the evaluation, default-scheduler first
// as the baseline, the oracle last. Each is fresh: placers keep state.
func Contenders(traces map[string]*carbon.Trace, start, end time.Time, seed uint64) ([]Strategy, error) {
	carbonOnly := placement.Policy{CarbonWeight: 1}
	forecast := placement.DefaultPolicy()
	forecast.CarbonHorizon = ForecastHorizon
	out := []Strategy{{Name: "default-scheduler", Signal: "none", Placer: NewDefaultScheduler(seed)}}
	for _, h := range []struct {
		name, signal string
		policy       placement.Policy
	}{
		{"hypersdk", "current hour", placement.DefaultPolicy()},
		{"hypersdk-carbon", "current hour", carbonOnly},
		{"hypersdk-forecast", fmt.Sprintf("seasonal-naive %.0fh mean", ForecastHorizon.Hours()), forecast},
	} {
		p, err := NewHyperSDK(h.policy, sortedTraces(traces), start)
		if err != nil {
			return nil, fmt.Errorf("strategy %s: %w", h.name, err)
		}
		out = append(out, Strategy{Name: h.name, Signal: h.signal, Placer: p})
	}
	out = append(out, Strategy{Name: "oracle", Signal: "TRUE FUTURE (offline)", Placer: NewOracle(traces, end)})
	return out, nil
}
