package carbon

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Signal selects which carbon intensity column of a trace is used.
type Signal int

const (
	// Direct is the location-based average of direct (combustion) emissions.
	// It is the zero value because the data README makes it the default.
	Direct Signal = iota
	// LCA is the life-cycle signal, which adds upstream emissions
	// (construction, fuel extraction) of each generation source.
	LCA
)

func (s Signal) String() string {
	switch s {
	case Direct:
		return "direct"
	case LCA:
		return "LCA"
	}
	return fmt.Sprintf("Signal(%d)", int(s))
}

// Header names, normalised by normHeader. Columns are found by name rather
// than position because Electricity Maps has reordered and renamed columns
// between exports (e.g. "Zone Id" vs "Zone id", "(LCA)" vs "(Life cycle)").
const (
	colTime   = "datetime (utc)"
	colZone   = "zone id"
	colDirect = "carbon intensity gco2eq/kwh (direct)"
)

var colLCA = []string{"carbon intensity gco2eq/kwh (lca)", "carbon intensity gco2eq/kwh (life cycle)"}

func normHeader(h string) string {
	h = strings.TrimPrefix(h, "\uFEFF") // a BOM some spreadsheet tools prepend
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(h), "₂", "2"))
}

// timeLayouts are the timestamp formats Electricity Maps has used for
// "Datetime (UTC)"; both are read as UTC.
var timeLayouts = []string{"2006-01-02 15:04:05", time.RFC3339}

// Trace is one zone's hourly carbon intensity series, contiguous from Start.
// Traces are read-only once handed to a provider.
type Trace struct {
	Zone   string
	Signal Signal
	// Start is the first hour of the trace, in UTC.
	Start time.Time
	// Values holds one value per hour: Values[i] is for Start + i hours.
	Values []float64
}

// End returns the end (exclusive) of the time the trace covers.
func (t *Trace) End() time.Time {
	return t.Start.Add(time.Duration(len(t.Values)) * resolution)
}

// At returns the true recorded value for the hour containing at.
//
// It reads the trace directly, future included, so it is for offline oracle
// evaluations only and its results must be labelled as oracle values; online
// consumers must use a Provider, which never reads ahead of simulated now.
// The second result is false if the trace does not cover at.
func (t *Trace) At(at time.Time) (float64, bool) {
	i := floorDiv(at.Sub(t.Start), resolution)
	if i < 0 || i >= int64(len(t.Values)) {
		return 0, false
	}
	return t.Values[i], true
}

// LoadTraceFile reads an Electricity Maps hourly CSV file; see LoadTrace.
func LoadTraceFile(path string, signal Signal) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load carbon trace: %w", err)
	}
	defer f.Close()
	tr, err := LoadTrace(f, signal)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tr, nil
}

// LoadTrace parses an Electricity Maps hourly CSV export for one zone, taking
// the intensity column selected by signal.
//
// Rows must be strictly hourly with no gaps or duplicates, and every value
// must be present: silently filling holes would make replays and evaluations
// disagree with the published data, so a malformed file is an error instead.
func LoadTrace(r io.Reader, signal Signal) (*Trace, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read carbon trace header: %w", err)
	}
	idx := make(map[string]int, len(header))
	for i, h := range header {
		idx[normHeader(h)] = i
	}
	want := []string{colDirect}
	if signal == LCA {
		want = colLCA
	} else if signal != Direct {
		return nil, fmt.Errorf("load carbon trace: unsupported signal %v", signal)
	}
	valCol := -1
	for _, name := range want {
		if i, ok := idx[name]; ok {
			valCol = i
			break
		}
	}
	timeCol, okTime := idx[colTime]
	zoneCol, okZone := idx[colZone]
	if !okTime || !okZone || valCol < 0 {
		return nil, fmt.Errorf("carbon trace header lacks one of %q, %q, %q (signal %v)", colTime, colZone, want[0], signal)
	}

	tr := &Trace{Signal: signal}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read carbon trace: %w", err)
		}
		line, _ := cr.FieldPos(0)
		at, err := parseTime(rec[timeCol])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(tr.Values) == 0 {
			tr.Zone, tr.Start = rec[zoneCol], at
			if tr.Zone == "" {
				return nil, fmt.Errorf("line %d: empty zone id", line)
			}
		} else if rec[zoneCol] != tr.Zone {
			return nil, fmt.Errorf("line %d: zone %q in a trace for zone %q", line, rec[zoneCol], tr.Zone)
		} else if next := tr.End(); !at.Equal(next) {
			return nil, fmt.Errorf("line %d: time %s, want %s (traces must be hourly without gaps)", line, at.Format(time.RFC3339), next.Format(time.RFC3339))
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[valCol]), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("line %d: invalid %v intensity %q", line, signal, rec[valCol])
		}
		tr.Values = append(tr.Values, v)
	}
	if len(tr.Values) == 0 {
		return nil, errors.New("carbon trace has no rows")
	}
	return tr, nil
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q", s)
}

// floorDiv is d/unit rounded towards negative infinity, so that times before
// a trace's start map to negative hour indexes rather than to hour 0.
func floorDiv(d, unit time.Duration) int64 {
	q := d / unit
	if d%unit != 0 && d < 0 {
		q--
	}
	return int64(q)
}
