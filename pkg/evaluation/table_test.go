package evaluation

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

var tableResults = []Result{
	{Strategy: "base", Signal: "none", Placed: 10, Rejected: 1, Usage: Usage{CPUHours: 100, EnergyKWh: 2000, Grams: 400_000, Dollars: 50},
		ZoneCPUHours: map[string]float64{"B": 100}},
	{Strategy: "better", Signal: "TRUE FUTURE", Placed: 10, Rejected: 1, RejectedWithRoom: 1, Usage: Usage{CPUHours: 100, EnergyKWh: 2000, Grams: 300_000, Dollars: 55},
		ZoneCPUHours: map[string]float64{"A": 25, "B": 75}},
}

func TestWriteTable(t *testing.T) {
	var out bytes.Buffer
	if err := WriteTable(&out, tableResults); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 7 {
		t.Fatalf("got %d lines, want a header and 2 rows, a blank line, a header and 2 rows:\n%s", len(lines), out.String())
	}
	for i, want := range [][]string{
		{"strategy", "with room", "vs base", "avg g/kWh"},
		{"base", "400.0", "+0.0%", "50.00", "200.0"},
		// 300 kg is 25% less than 400; $55 is 10% more than $50.
		{"better", "TRUE FUTURE", "300.0", "-25.0%", "55.00", "+10.0%", "150.0"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
	// Zones sorted; a zone a strategy did not use is 0%.
	for i, want := range map[int]string{4: "CPU-hours by zone A B", 5: "base 0.0% 100.0%", 6: "better 25.0% 75.0%"} {
		if got := strings.Join(strings.Fields(lines[i]), " "); got != want {
			t.Errorf("line %d = %q, want %q", i, got, want)
		}
	}
}

func TestPercentOfZero(t *testing.T) {
	if got := percent(5, 0); got != "n/a" {
		t.Errorf("percent(5, 0) = %q, want n/a", got)
	}
}

func TestWriteCSV(t *testing.T) {
	var out bytes.Buffer
	if err := WriteCSV(&out, tableResults); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want a header and 2", len(rows))
	}
	header := map[string]int{}
	for i, h := range rows[0] {
		header[h] = i
	}
	for col, want := range map[string]string{"strategy": "better", "kg_co2eq": "300", "cost_usd": "55", "avg_g_per_kwh": "150",
		"rejected": "1", "rejected_with_room": "1", "cpu_hours_A": "25", "cpu_hours_B": "75"} {
		i, ok := header[col]
		if !ok {
			t.Errorf("no column %s in %v", col, rows[0])
			continue
		}
		if rows[2][i] != want {
			t.Errorf("%s = %q, want %q", col, rows[2][i], want)
		}
	}
}
