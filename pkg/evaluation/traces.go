package evaluation

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// LoadTraces reads each zone's hourly Electricity Maps trace for the year of
// from, dir/<zone>_<year>_hourly.csv, with the direct (location-based)
// signal the data README asks for, and checks it covers [from, to).
// Windows across a new year are not supported: the files are per year and
// not every zone has the next one.
func LoadTraces(dir string, zones []string, from, to time.Time) (map[string]*carbon.Trace, error) {
	traces := make(map[string]*carbon.Trace, len(zones))
	for _, zone := range zones {
		path := filepath.Join(dir, fmt.Sprintf("%s_%d_hourly.csv", zone, from.Year()))
		tr, err := carbon.LoadTraceFile(path, carbon.Direct)
		if err != nil {
			return nil, fmt.Errorf("loading carbon trace of zone %s: %w", zone, err)
		}
		if tr.Zone != zone {
			return nil, fmt.Errorf("%s holds zone %q, not %q", path, tr.Zone, zone)
		}
		if tr.Start.After(from) || tr.End().Before(to) {
			return nil, fmt.Errorf("%s covers [%s, %s), the simulation needs [%s, %s)", path,
				tr.Start.Format(time.RFC3339), tr.End().Format(time.RFC3339), from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
		traces[zone] = tr
	}
	return traces, nil
}

// LoadAvailableTraces is LoadTraces over the zones that have a trace file
// for the year of from; missing lists the others, in the order of zones.
// A file that exists but cannot be read, or does not cover [from, to), is
// an error, as in LoadTraces: only a file that is not there is left out.
func LoadAvailableTraces(dir string, zones []string, from, to time.Time) (traces map[string]*carbon.Trace, missing []string, err error) {
	var present []string
	for _, zone := range zones {
		path := filepath.Join(dir, fmt.Sprintf("%s_%d_hourly.csv", zone, from.Year()))
		switch _, err := os.Stat(path); {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, zone)
		case err != nil:
			return nil, nil, fmt.Errorf("carbon trace of zone %s: %w", zone, err)
		default:
			present = append(present, zone)
		}
	}
	traces, err = LoadTraces(dir, present, from, to)
	return traces, missing, err
}

// sortedTraces lists traces by zone, for a provider built the same way on
// every run.
func sortedTraces(traces map[string]*carbon.Trace) []*carbon.Trace {
	out := make([]*carbon.Trace, 0, len(traces))
	for _, tr := range traces {
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Zone < out[j].Zone })
	return out
}
