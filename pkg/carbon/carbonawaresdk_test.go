package carbon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// Answers in the format of the Carbon Aware SDK web API documentation.
const (
	casdkEmissionsJSON = `[
  {"location": "eastus", "time": "2030-06-01T09:50:00+00:00", "rating": 400, "duration": "00:05:00"},
  {"location": "eastus", "time": "2030-06-01T10:00:00+00:00", "rating": 100, "duration": "00:05:00"},
  {"location": "eastus", "time": "2030-06-01T10:05:00+00:00", "rating": 150.5, "duration": "00:05:00"}
]`
	casdkForecastJSON = `[{
  "generatedAt": "2030-06-01T10:05:00+00:00",
  "requestedAt": "2030-06-01T10:07:49+00:00",
  "location": "eastus",
  "dataStartAt": "2030-06-01T10:05:00+00:00",
  "dataEndAt": "2030-06-01T12:00:00+00:00",
  "windowSize": 5,
  "optimalDataPoint": {"location": "PJM_ROANOKE", "timestamp": "2030-06-01T11:00:00+00:00", "duration": 5, "value": 90},
  "forecastData": [
    {"location": "PJM_ROANOKE", "timestamp": "2030-06-01T10:30:00+00:00", "duration": 30, "value": 300},
    {"location": "PJM_ROANOKE", "timestamp": "2030-06-01T11:00:00+00:00", "duration": 30, "value": 90},
    {"location": "PJM_ROANOKE", "timestamp": "2030-06-01T11:30:00+00:00", "duration": 30, "value": 110},
    {"location": "PJM_ROANOKE", "timestamp": "2030-06-01T12:00:00+00:00", "duration": 30, "value": 500}
  ]
}]`
)

type casdkServer struct {
	mu     sync.Mutex
	status int // 0 means 200 with the documented bodies
	reqs   []string
}

func (s *casdkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r.URL.Path+"?"+r.URL.Query().Encode())
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	switch r.URL.Path {
	case "/casdk/emissions/bylocation":
		fmt.Fprint(w, casdkEmissionsJSON)
	case "/casdk/emissions/forecasts/current":
		fmt.Fprint(w, casdkForecastJSON)
	default:
		http.NotFound(w, r)
	}
}

func (s *casdkServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

func newCASDK(t *testing.T, status int) (*CarbonAwareSDKProvider, *casdkServer) {
	t.Helper()
	fake := &casdkServer{status: status}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	p, err := NewCarbonAwareSDKProvider(CarbonAwareSDKOptions{
		// The path prefix stands for a gateway in front of the SDK.
		HTTPOptions: HTTPOptions{BaseURL: srv.URL + "/casdk", Clock: clocktesting.NewFakePassiveClock(h10.Add(7 * time.Minute))},
		Locations:   map[string]string{"US-MIDA-PJM": "eastus"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, fake
}

func TestCarbonAwareSDK(t *testing.T) {
	p, srv := newCASDK(t, 0)

	got, err := p.Current(context.Background(), "US-MIDA-PJM")
	// The latest hour with values is 10:00, with 100 and 150.5.
	if want := (Intensity{Zone: "US-MIDA-PJM", At: h10, GramsPerKWh: 125.25}); err != nil || got != want {
		t.Fatalf("Current = %+v, %v; want %+v", got, err, want)
	}

	f, err := p.Forecast(context.Background(), "US-MIDA-PJM", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Half-hourly values averaged per hour; 12:00 is beyond two hours.
	want := []Intensity{
		{Zone: "US-MIDA-PJM", At: h10, GramsPerKWh: 300},
		{Zone: "US-MIDA-PJM", At: h10.Add(time.Hour), GramsPerKWh: 100},
	}
	if fmt.Sprint(f) != fmt.Sprint(want) {
		t.Fatalf("Forecast = %+v, want %+v", f, want)
	}

	wantReqs := []string{
		"/casdk/emissions/bylocation?location=eastus&time=2030-06-01T09%3A07%3A00Z&toTime=2030-06-01T10%3A07%3A00Z",
		"/casdk/emissions/forecasts/current?location=eastus",
	}
	if got := srv.requests(); strings.Join(got, "\n") != strings.Join(wantReqs, "\n") {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantReqs, "\n"))
	}
}

func TestCarbonAwareSDKErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   error
	}{
		// The SDK answers 204 when its data source has nothing for the window.
		{http.StatusNoContent, ErrNoData},
		{http.StatusNotFound, ErrUnknownZone},
		{http.StatusInternalServerError, ErrUnavailable},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			p, _ := newCASDK(t, tc.status)
			if _, err := p.Current(context.Background(), "westus"); !errors.Is(err, tc.want) {
				t.Errorf("Current: err = %v, want %v", err, tc.want)
			}
			if _, err := p.Forecast(context.Background(), "westus", time.Hour); !errors.Is(err, tc.want) {
				t.Errorf("Forecast: err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := NewCarbonAwareSDKProvider(CarbonAwareSDKOptions{}); err == nil {
		t.Error("missing base URL accepted")
	}
}
