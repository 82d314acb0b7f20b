package carbon

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

var h10 = time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)

func TestHourly(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	for _, tc := range []struct {
		name string
		pts  []point
		want []Intensity // Zone "Z" implied
	}{
		{"none", nil, []Intensity{}},
		{"one point", []point{{h10.Add(5 * time.Minute), 100}}, []Intensity{{At: h10, GramsPerKWh: 100}}},
		{"mean within the hour", []point{{h10, 100}, {h10.Add(30 * time.Minute), 200}, {h10.Add(59 * time.Minute), 600}},
			[]Intensity{{At: h10, GramsPerKWh: 300}}},
		{"hour boundary starts a new hour", []point{{h10.Add(-time.Nanosecond), 50}, {h10, 70}},
			[]Intensity{{At: h10.Add(-time.Hour), GramsPerKWh: 50}, {At: h10, GramsPerKWh: 70}}},
		{"unsorted input, sorted output, gap kept as gap",
			[]point{{h10.Add(3 * time.Hour), 3}, {h10, 1}, {h10.Add(3*time.Hour + time.Minute), 5}},
			[]Intensity{{At: h10, GramsPerKWh: 1}, {At: h10.Add(3 * time.Hour), GramsPerKWh: 4}}},
		{"offset times become UTC hours", []point{{time.Date(2030, 6, 1, 12, 15, 0, 0, cest), 80}},
			[]Intensity{{At: h10, GramsPerKWh: 80}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hourly("Z", tc.pts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				tc.want[i].Zone = "Z"
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("hourly = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHourlyRejectsInvalidValues(t *testing.T) {
	for _, v := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, err := hourly("Z", []point{{h10, 10}, {h10, v}}); err == nil {
			t.Errorf("value %v accepted", v)
		}
	}
}

func TestForecastWindow(t *testing.T) {
	// Values at 09:00 (past), 10:00..13:00; now is 10:40.
	var pts []point
	for i := -1; i <= 3; i++ {
		pts = append(pts, point{h10.Add(time.Duration(i) * time.Hour), float64(100 + i)})
	}
	now := h10.Add(40 * time.Minute)
	for _, tc := range []struct {
		name string
		n    int
		want []float64 // values from 10:00 on
	}{
		{"one hour is the current hour", 1, []float64{100}},
		{"past hours dropped", 3, []float64{100, 101, 102}},
		{"shorter when the forecast ends", 10, []float64{100, 101, 102, 103}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := forecastWindow("Z", pts, now, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d values, want %d", len(got), len(tc.want))
			}
			for i, v := range got {
				if want := (Intensity{Zone: "Z", At: h10.Add(time.Duration(i) * time.Hour), GramsPerKWh: tc.want[i]}); v != want {
					t.Errorf("[%d] = %+v, want %+v", i, v, want)
				}
			}
		})
	}
	if _, err := forecastWindow("Z", pts, h10.Add(10*time.Hour), 3); !errors.Is(err, ErrNoData) {
		t.Errorf("forecast entirely in the past: err = %v, want ErrNoData", err)
	}
	if _, err := latestHour("Z", nil); !errors.Is(err, ErrNoData) {
		t.Errorf("latestHour of nothing: err = %v, want ErrNoData", err)
	}
}
