package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigValidate: a configuration the sandbox would fail on later (a
// negative fleet panics once the control plane is up; a zone without a
// trace for the year has no carbon intensity all along) is refused before
// anything starts.
func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"ES_2022_hourly.csv", "US-CAL-CISO_2022_hourly.csv", "NO_2022_hourly.csv",
		"ES_2023_hourly.csv", "US-CAL-CISO_2023_hourly.csv"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{Nodes: 6, VMs: 8, Speed: 60, CarbonDir: dir}, ""},
		{Config{Nodes: 6}, ""}, // frozen time, no traces: the benchmarks'
		{Config{Nodes: -1}, "negative"},
		{Config{Nodes: 6, Speed: -1}, "backwards"},
		{Config{Nodes: 6, Speed: 60, CarbonDir: dir, SimStart: time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)}, "zone NO for 2023"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
