package carbon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// Answers in the format of the Electricity Maps v3 API documentation.
const (
	emLatestJSON = `{
  "zone": "DE",
  "carbonIntensity": 302,
  "datetime": "2030-06-01T10:00:00.000Z",
  "updatedAt": "2030-06-01T10:07:01.000Z",
  "createdAt": "2030-05-29T10:07:01.000Z",
  "emissionFactorType": "lifecycle",
  "isEstimated": false,
  "estimationMethod": null
}`
	emForecastJSON = `{
  "zone": "DE",
  "forecast": [
    {"carbonIntensity": 290, "datetime": "2030-06-01T09:00:00.000Z"},
    {"carbonIntensity": 306, "datetime": "2030-06-01T10:00:00.000Z"},
    {"carbonIntensity": 311, "datetime": "2030-06-01T11:00:00.000Z"},
    {"carbonIntensity": null, "datetime": "2030-06-01T12:00:00.000Z"},
    {"carbonIntensity": 280, "datetime": "2030-06-01T13:00:00.000Z"}
  ],
  "updatedAt": "2030-06-01T09:45:00.000Z"
}`
)

// emServer answers like the Electricity Maps API, after checking the token
// and the zone parameter.
func emServer(t *testing.T, latest, forecast string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("auth-token") != "secret" {
			http.Error(w, `{"message":"Invalid authentication credentials"}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("zone") != "DE" {
			http.Error(w, "wrong zone", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/v3/carbon-intensity/latest":
			fmt.Fprint(w, latest)
		case "/v3/carbon-intensity/forecast":
			fmt.Fprint(w, forecast)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newEM(t *testing.T, srv *httptest.Server, token string) *ElectricityMapsProvider {
	t.Helper()
	p, err := NewElectricityMapsProvider(ElectricityMapsOptions{
		HTTPOptions: HTTPOptions{BaseURL: srv.URL, Clock: clocktesting.NewFakePassiveClock(h10.Add(40 * time.Minute))},
		Token:       token,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestElectricityMaps(t *testing.T) {
	p := newEM(t, emServer(t, emLatestJSON, emForecastJSON), "secret")

	got, err := p.Current(context.Background(), "DE")
	if want := (Intensity{Zone: "DE", At: h10, GramsPerKWh: 302}); err != nil || got != want {
		t.Fatalf("Current = %+v, %v; want %+v", got, err, want)
	}

	f, err := p.Forecast(context.Background(), "DE", 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// 09:00 is before the current hour and 12:00 has no value.
	want := []Intensity{
		{Zone: "DE", At: h10, GramsPerKWh: 306},
		{Zone: "DE", At: h10.Add(time.Hour), GramsPerKWh: 311},
		{Zone: "DE", At: h10.Add(3 * time.Hour), GramsPerKWh: 280},
	}
	if fmt.Sprint(f) != fmt.Sprint(want) {
		t.Fatalf("Forecast = %+v, want %+v", f, want)
	}

	if _, err := p.Forecast(context.Background(), "DE", 0); err == nil {
		t.Error("zero horizon accepted")
	}
}

func TestElectricityMapsErrors(t *testing.T) {
	for _, tc := range []struct {
		name             string
		token            string
		latest, forecast string
		want             error
		latestFails      bool // whether Current fails too
	}{
		{"bad token", "wrong", emLatestJSON, emForecastJSON, ErrUnauthorized, true},
		{"answer for another zone", "secret", strings.Replace(emLatestJSON, `"DE"`, `"FR"`, 1),
			strings.Replace(emForecastJSON, `"DE"`, `"FR"`, 1), ErrUnknownZone, true},
		{"null values", "secret", strings.Replace(emLatestJSON, "302", "null", 1),
			`{"zone":"DE","forecast":[{"carbonIntensity":null,"datetime":"2030-06-01T10:00:00Z"}]}`, ErrNoData, true},
		{"empty forecast", "secret", emLatestJSON, `{"zone":"DE","forecast":[]}`, ErrNoData, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newEM(t, emServer(t, tc.latest, tc.forecast), tc.token)
			if _, err := p.Forecast(context.Background(), "DE", time.Hour); !errors.Is(err, tc.want) {
				t.Errorf("Forecast: err = %v, want %v", err, tc.want)
			}
			_, err := p.Current(context.Background(), "DE")
			if (err != nil) != tc.latestFails || (tc.latestFails && !errors.Is(err, tc.want)) {
				t.Errorf("Current: err = %v, want failure %v with %v", err, tc.latestFails, tc.want)
			}
		})
	}
	if _, err := NewElectricityMapsProvider(ElectricityMapsOptions{}); err == nil {
		t.Error("missing token accepted")
	}
}

func TestElectricityMapsHonoursContext(t *testing.T) {
	p := newEM(t, emServer(t, emLatestJSON, emForecastJSON), "secret")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Current(ctx, "DE"); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
