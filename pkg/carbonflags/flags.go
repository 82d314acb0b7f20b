// Package carbonflags gives every HyperSDK binary the same command-line
// options for choosing a carbon intensity provider, including the sandbox's
// replay of recorded traces on simulated time.
package carbonflags

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"k8s.io/utils/clock"

	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// None disables carbon intensity.
const None = "none"

// Options choose and configure a provider.
type Options struct {
	Kind string
	// TraceDir holds Electricity Maps hourly CSV exports named
	// <zone>_<year>_hourly.csv; the year is SimStart's.
	TraceDir string
	// SimEpoch, SimStart and Speed map real time onto trace time:
	// simulated now = SimStart + (now - SimEpoch) x Speed.
	SimEpoch, SimStart string
	Speed              float64
	Fixed              map[string]string
	BaseURL            string
	Token              string
	Username, Password string
	// TokenFile and PasswordFile hold Token and Password instead (a
	// mounted Secret), so that the credential is not in the pod spec or
	// the process's command line.
	TokenFile, PasswordFile string
	Regions                 map[string]string
	TTL, MaxStale           time.Duration
}

// AddFlags adds the options to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kind, "carbon-provider", None, "Carbon intensity source: none, trace, fixed, electricitymaps, watttime or carbonawaresdk.")
	fs.StringVar(&o.TraceDir, "carbon-data", "", "Directory of Electricity Maps hourly traces (<zone>_<year>_hourly.csv), for --carbon-provider=trace.")
	fs.StringVar(&o.SimEpoch, "sim-epoch", "", "Real time (RFC3339) at which trace time is --sim-start; now when empty.")
	fs.StringVar(&o.SimStart, "sim-start", "2022-06-01T00:00:00Z", "Trace time (RFC3339) at --sim-epoch.")
	fs.Float64Var(&o.Speed, "speed", 1, "Trace seconds per real second.")
	fs.StringToStringVar(&o.Fixed, "carbon-fixed", nil, "Zone=g/kWh pairs, for --carbon-provider=fixed.")
	fs.StringVar(&o.BaseURL, "carbon-api-url", "", "Base URL of the live provider's API; its public endpoint when empty.")
	fs.StringVar(&o.Token, "carbon-api-token", "", "Electricity Maps auth token.")
	fs.StringVar(&o.Username, "carbon-api-username", "", "WattTime user name.")
	fs.StringVar(&o.Password, "carbon-api-password", "", "WattTime password.")
	fs.StringVar(&o.TokenFile, "carbon-api-token-file", "", "File holding --carbon-api-token (a mounted Secret); read at start.")
	fs.StringVar(&o.PasswordFile, "carbon-api-password-file", "", "File holding --carbon-api-password (a mounted Secret); read at start.")
	fs.StringToStringVar(&o.Regions, "carbon-regions", nil, "Zone=region pairs for WattTime regions or Carbon Aware SDK locations.")
	fs.DurationVar(&o.TTL, "carbon-cache-ttl", 0, "How long a live answer is reused; the cache's default when zero.")
	fs.DurationVar(&o.MaxStale, "carbon-max-stale", 0, "How long the last good answer stands in for a failing provider; the cache's default when zero.")
}

// Provider builds the chosen provider: nil for none, live providers behind a
// cache with the stale-data policy, whose metrics go to reg.
func (o *Options) Provider(reg prometheus.Registerer) (carbon.Provider, error) {
	switch o.Kind {
	case None, "":
		return nil, nil
	case carbon.KindTrace:
		return o.replay()
	}
	spec, err := o.spec()
	if err != nil {
		return nil, err
	}
	if o.Kind == carbon.KindFixed {
		spec.Fixed = map[string]float64{}
		for zone, v := range o.Fixed {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("--carbon-fixed %s=%s: %w", zone, v, err)
			}
			spec.Fixed[zone] = f
		}
		return carbon.NewProvider(spec)
	}
	inner, err := carbon.NewProvider(spec)
	if err != nil {
		return nil, err
	}
	cached, err := carbon.NewCachedProvider(inner, carbon.CacheOptions{TTL: o.TTL, MaxStale: o.MaxStale, Registerer: reg, Name: o.Kind})
	if err != nil {
		return nil, err
	}
	return cached, nil
}

// spec is the live or fixed provider's specification, with the
// credentials read from their files when given there.
func (o *Options) spec() (carbon.ProviderSpec, error) {
	spec := carbon.ProviderSpec{Kind: o.Kind, BaseURL: o.BaseURL, Token: o.Token, Username: o.Username,
		Password: o.Password, Regions: o.Regions}
	for _, c := range []struct {
		flag, file string
		into       *string
	}{{"--carbon-api-token", o.TokenFile, &spec.Token}, {"--carbon-api-password", o.PasswordFile, &spec.Password}} {
		if c.file == "" {
			continue
		}
		if *c.into != "" {
			return spec, fmt.Errorf("%s and %s-file: give one", c.flag, c.flag)
		}
		raw, err := os.ReadFile(c.file)
		if err != nil {
			return spec, fmt.Errorf("%s-file: %w", c.flag, err)
		}
		if *c.into = strings.TrimSpace(string(raw)); *c.into == "" {
			return spec, fmt.Errorf("%s-file: %s is empty", c.flag, c.file)
		}
	}
	return spec, nil
}

// replay loads every trace of SimStart's year from TraceDir and replays them
// on simulated time, looping at the end.
func (o *Options) replay() (carbon.Provider, error) {
	start, err := time.Parse(time.RFC3339, o.SimStart)
	if err != nil {
		return nil, fmt.Errorf("--sim-start: %w", err)
	}
	epoch := time.Now()
	if o.SimEpoch != "" {
		if epoch, err = time.Parse(time.RFC3339Nano, o.SimEpoch); err != nil {
			return nil, fmt.Errorf("--sim-epoch: %w", err)
		}
	}
	return TraceReplay(o.TraceDir, start, epoch, o.Speed)
}

// TraceReplay replays the traces of start's year (in UTC, as the traces
// are) found in dir.
func TraceReplay(dir string, start, epoch time.Time, speed float64) (*carbon.TraceProvider, error) {
	start = start.UTC()
	paths, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("*_%d_hourly.csv", start.Year())))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no carbon traces for %d in %q", start.Year(), dir)
	}
	sort.Strings(paths)
	traces := make([]*carbon.Trace, 0, len(paths))
	for _, path := range paths {
		if strings.HasPrefix(filepath.Base(path), ".") {
			continue
		}
		tr, err := carbon.LoadTraceFile(path, carbon.Direct)
		if err != nil {
			return nil, err
		}
		traces = append(traces, tr)
	}
	return carbon.NewTraceProviderWithConfig(carbon.TraceProviderConfig{
		Clock: clock.RealClock{}, Start: start, Epoch: epoch, Speed: speed, Loop: true,
	}, traces...)
}
