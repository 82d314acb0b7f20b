package evaluation

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeTrace writes an Electricity Maps hourly export of zone with hours
// values from start into dir, named as LoadTraces looks for it.
func writeTrace(t *testing.T, dir, zone string, start time.Time, hours int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA)\n")
	for h := range hours {
		at := start.Add(time.Duration(h) * time.Hour).Format("2006-01-02 15:04:05")
		b.WriteString(at + ",X," + zone + "," + zone + ",100,120\n")
	}
	name := filepath.Join(dir, zone+"_"+start.Format("2006")+"_hourly.csv")
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// LoadAvailableTraces leaves out the zones without a file and reports them;
// a file that does not cover the window is still an error.
func TestLoadAvailableTraces(t *testing.T) {
	dir := t.TempDir()
	writeTrace(t, dir, "A", t0, 48)
	writeTrace(t, dir, "C", t0, 48)
	traces, missing, err := LoadAvailableTraces(dir, []string{"A", "B", "C"}, t0, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := traces["B"]; ok || len(traces) != 2 || traces["A"] == nil || traces["C"] == nil {
		t.Errorf("traces of zones %v, want A and C", slices.Sorted(maps.Keys(traces)))
	}
	if !reflect.DeepEqual(missing, []string{"B"}) {
		t.Errorf("missing = %v, want [B]", missing)
	}
	if _, _, err := LoadAvailableTraces(dir, []string{"A", "C"}, t0, t0.Add(72*time.Hour)); err == nil {
		t.Error("a trace shorter than the window: no error")
	}
}
