package carbon

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const header = "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,Data Estimated,Data Estimation Method\n"

const smallCSV = header +
	"2022-01-01 00:00:00,Spain,Spain,ES,133.64,175.54,76.35,42.94,entsoe.eu,false,\n" +
	"2022-01-01 01:00:00,Spain,Spain,ES,139.1,181.54,75.69,41.62,entsoe.eu,false,\n" +
	"2022-01-01 02:00:00,Spain,Spain,ES,141.5,183.2,75.1,40.8,entsoe.eu,true,TIME_SLICER_AVERAGE\n"

var jan1 = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLoadTrace(t *testing.T) {
	// Same data with the columns reordered: parsing must go by header name.
	reordered := "Zone Id,Carbon Intensity gCO₂eq/kWh (LCA),Datetime (UTC),Carbon Intensity gCO₂eq/kWh (direct)\n" +
		"ES,175.54,2022-01-01 00:00:00,133.64\n" +
		"ES,181.54,2022-01-01 01:00:00,139.1\n" +
		"ES,183.2,2022-01-01 02:00:00,141.5\n"
	for _, tc := range []struct {
		name   string
		csv    string
		signal Signal
		want   []float64
	}{
		{"direct", smallCSV, Direct, []float64{133.64, 139.1, 141.5}},
		{"lca", smallCSV, LCA, []float64{175.54, 181.54, 183.2}},
		{"reordered direct", reordered, Direct, []float64{133.64, 139.1, 141.5}},
		{"reordered lca", reordered, LCA, []float64{175.54, 181.54, 183.2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := LoadTrace(strings.NewReader(tc.csv), tc.signal)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Zone != "ES" || !tr.Start.Equal(jan1) || tr.Signal != tc.signal {
				t.Errorf("got zone %q start %s signal %v", tr.Zone, tr.Start, tr.Signal)
			}
			if !slices.Equal(tr.Values, tc.want) {
				t.Errorf("values %v, want %v", tr.Values, tc.want)
			}
			if want := jan1.Add(3 * time.Hour); !tr.End().Equal(want) {
				t.Errorf("end %s, want %s", tr.End(), want)
			}
		})
	}
}

func TestLoadTraceErrors(t *testing.T) {
	row := func(ts, zone, direct string) string {
		return ts + ",Spain,Spain," + zone + "," + direct + ",1,1,1,x,false,\n"
	}
	for _, tc := range []struct {
		name, csv, wantErr string
	}{
		{"empty", "", "header"},
		{"header only", header, "no rows"},
		{"missing column", "Datetime (UTC),Zone Id\n2022-01-01 00:00:00,ES\n", "header lacks"},
		{"gap", header + row("2022-01-01 00:00:00", "ES", "1") + row("2022-01-01 02:00:00", "ES", "2"), "line 3"},
		{"duplicate", header + row("2022-01-01 00:00:00", "ES", "1") + row("2022-01-01 00:00:00", "ES", "2"), "without gaps"},
		{"two zones", header + row("2022-01-01 00:00:00", "ES", "1") + row("2022-01-01 01:00:00", "FR", "2"), "zone \"FR\""},
		{"empty value", header + row("2022-01-01 00:00:00", "ES", ""), "invalid direct intensity"},
		{"negative value", header + row("2022-01-01 00:00:00", "ES", "-3"), "invalid"},
		{"bad time", header + row("01/01/2022 00:00", "ES", "1"), "invalid time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadTrace(strings.NewReader(tc.csv), Direct)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestTraceAt(t *testing.T) {
	tr, err := LoadTrace(strings.NewReader(smallCSV), Direct)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at     time.Time
		want   float64
		wantOK bool
	}{
		{jan1.Add(-time.Nanosecond), 0, false},
		{jan1, 133.64, true},
		{jan1.Add(59 * time.Minute), 133.64, true},
		{jan1.Add(2*time.Hour + 59*time.Minute), 141.5, true},
		{jan1.Add(3 * time.Hour), 0, false},
	} {
		got, ok := tr.At(tc.at)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("At(%s) = %v, %v; want %v, %v", tc.at, got, ok, tc.want, tc.wantOK)
		}
	}
}

// TestRealTrace checks the parser against a real Electricity Maps file, which
// CI provides beside the repository.
func TestRealTrace(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "data", "carbon", "ES_2022_hourly.csv")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("real trace missing (expected the shared data checkout beside the repo): %v", err)
	}
	tr, err := LoadTraceFile(path, Direct)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Zone != "ES" || len(tr.Values) != 8760 || tr.Values[0] != 133.64 || !tr.Start.Equal(jan1) {
		t.Fatalf("got zone %q, %d values, first %v at %s; want ES, 8760, 133.64 at %s",
			tr.Zone, len(tr.Values), tr.Values[0], tr.Start, jan1)
	}
	lca, err := LoadTraceFile(path, LCA)
	if err != nil {
		t.Fatal(err)
	}
	if lca.Values[0] != 175.54 {
		t.Errorf("first LCA value %v, want 175.54", lca.Values[0])
	}
}
