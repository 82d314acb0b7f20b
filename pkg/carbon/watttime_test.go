package carbon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// wtMeta is the meta object of a WattTime v3 data answer, as documented.
const wtMeta = `"meta": {"data_point_period_seconds": 300, "region": %q, "signal_type": "co2_moer",
  "units": %q, "warnings": [], "model": {"date": "2023-03-01", "type": "binned_regression"},
  "generated_at_period_seconds": 300, "generated_at": "2030-06-01T10:05:00+00:00"}`

// wtBody returns a WattTime v3 answer with one 5-minute point per value,
// starting at start.
func wtBody(region, units string, start time.Time, values ...float64) string {
	var b strings.Builder
	b.WriteString(`{"data": [`)
	for i, v := range values {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"point_time": %q, "value": %v}`, start.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02T15:04:05-07:00"), v)
	}
	fmt.Fprintf(&b, "], "+wtMeta+"}", region, units)
	return b.String()
}

// wattTimeServer fakes the WattTime API: basic-auth login handing out
// numbered tokens, and bearer-authenticated data endpoints.
type wattTimeServer struct {
	mu                         sync.Mutex
	logins, dataRequests, n401 int
	valid                      map[string]bool
	rejectAll                  bool // answer 401 to every data request
	body                       string
	path                       string     // of the last data request
	query                      url.Values // of the last data request
}

func (s *wattTimeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/login" {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "hunter2" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		s.logins++
		tok := fmt.Sprintf("tok-%d", s.logins)
		s.valid[tok] = true
		fmt.Fprintf(w, `{"token": %q}`, tok)
		return
	}
	s.dataRequests++
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); !ok || !s.valid[tok] || s.rejectAll {
		s.n401++
		http.Error(w, `{"error": "invalid token"}`, http.StatusUnauthorized)
		return
	}
	s.path, s.query = r.URL.Path, r.URL.Query()
	fmt.Fprint(w, s.body)
}

// last returns the path and query of the last data request.
func (s *wattTimeServer) last() (string, url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path, s.query
}

// counts returns the logins, data requests and 401 answers so far.
func (s *wattTimeServer) counts() (logins, data, n401 int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins, s.dataRequests, s.n401
}

func (s *wattTimeServer) revokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.valid)
}

func newWattTime(t *testing.T, user, body string) (*WattTimeProvider, *wattTimeServer, *clocktesting.FakePassiveClock) {
	t.Helper()
	fake := &wattTimeServer{valid: map[string]bool{}, body: body}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	clk := clocktesting.NewFakePassiveClock(h10.Add(7*time.Minute + 30*time.Second))
	p, err := NewWattTimeProvider(WattTimeOptions{
		HTTPOptions: HTTPOptions{BaseURL: srv.URL, Clock: clk},
		Username:    user,
		Password:    "hunter2",
		Regions:     map[string]string{"US-CAL-CISO": "CAISO_NORTH"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, fake, clk
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestWattTimeCurrent(t *testing.T) {
	// Now is 10:07:30; the last hour of values ends with 10:00 and 10:05
	// at 1000 and 2000 lbs/MWh, so the current hour is 1500 lbs/MWh:
	// 1500 lb/MWh * 453.59237 g/lb / 1000 kWh/MWh = 680.388555 g/kWh.
	body := wtBody("CAISO_NORTH", "lbs_co2_per_mwh", h10.Add(-20*time.Minute), 100, 100, 100, 100, 1000, 2000)
	p, srv, _ := newWattTime(t, "alice", body)
	got, err := p.Current(context.Background(), "US-CAL-CISO")
	if err != nil {
		t.Fatal(err)
	}
	if got.Zone != "US-CAL-CISO" || !got.At.Equal(h10) || !approx(got.GramsPerKWh, 680.388555) || got.Freshness != Fresh {
		t.Fatalf("Current = %+v, want 680.388555 g/kWh for US-CAL-CISO at %s", got, h10)
	}
	want := url.Values{
		"region": {"CAISO_NORTH"}, "signal_type": {"co2_moer"},
		"start": {"2030-06-01T09:07:30Z"}, "end": {"2030-06-01T10:07:30Z"},
	}
	if path, q := srv.last(); path != "/v3/historical" || q.Encode() != want.Encode() {
		t.Errorf("request %s?%s, want /v3/historical?%s", path, q.Encode(), want.Encode())
	}
}

func TestWattTimeForecast(t *testing.T) {
	// From 10:05, eleven points of 200 lbs/MWh finish hour 10, then hour 11
	// alternates 300 and 500 (mean 400) and hour 12 is 1000 throughout.
	var vals []float64
	for range 11 {
		vals = append(vals, 200)
	}
	for i := range 12 {
		vals = append(vals, float64(300+200*(i%2)))
	}
	for range 12 {
		vals = append(vals, 1000)
	}
	p, srv, _ := newWattTime(t, "alice", wtBody("CAISO_NORTH", "lbs_co2_per_mwh", h10.Add(5*time.Minute), vals...))

	got, err := p.Forecast(context.Background(), "US-CAL-CISO", 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{90.718474, 181.436948, 453.59237} // 200, 400, 1000 lbs/MWh
	if len(got) != len(want) {
		t.Fatalf("Forecast = %+v, want %d hours", got, len(want))
	}
	for i, v := range got {
		if !v.At.Equal(h10.Add(time.Duration(i)*time.Hour)) || !approx(v.GramsPerKWh, want[i]) {
			t.Errorf("[%d] = %+v, want %v g/kWh at %s", i, v, want[i], h10.Add(time.Duration(i)*time.Hour))
		}
	}
	if path, q := srv.last(); path != "/v3/forecast" || q.Get("horizon_hours") != "3" || q.Get("region") != "CAISO_NORTH" {
		t.Errorf("request %s?%s, want /v3/forecast for 3 hours of CAISO_NORTH", path, q.Encode())
	}

	// WattTime forecasts at most 72 hours; a longer horizon asks for 72.
	if _, err := p.Forecast(context.Background(), "US-CAL-CISO", 100*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, q := srv.last(); q.Get("horizon_hours") != "72" {
		t.Errorf("horizon_hours = %s, want 72", q.Get("horizon_hours"))
	}
}

func TestWattTimeTokenRefresh(t *testing.T) {
	body := wtBody("CAISO_NORTH", "lbs_co2_per_mwh", h10, 1000)
	for _, tc := range []struct {
		name       string
		between    func(*wattTimeServer, *clocktesting.FakePassiveClock) // between the first and second call
		wantErr    error
		logins     int // in total, both calls
		data, n401 int
	}{
		{"token reused", func(*wattTimeServer, *clocktesting.FakePassiveClock) {}, nil, 1, 2, 0},
		{"revoked token: 401, login, retry", func(s *wattTimeServer, _ *clocktesting.FakePassiveClock) { s.revokeTokens() },
			nil, 2, 3, 1},
		{"expired by age: login without a 401", func(_ *wattTimeServer, c *clocktesting.FakePassiveClock) {
			c.SetTime(c.Now().Add(29 * time.Minute))
		}, nil, 2, 2, 0},
		{"still rejected after login: one retry only", func(s *wattTimeServer, _ *clocktesting.FakePassiveClock) {
			s.mu.Lock()
			s.rejectAll = true
			s.mu.Unlock()
		}, ErrUnauthorized, 2, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, srv, clk := newWattTime(t, "alice", body)
			if _, err := p.Current(context.Background(), "CAISO_NORTH"); err != nil {
				t.Fatal(err)
			}
			tc.between(srv, clk)
			_, err := p.Current(context.Background(), "CAISO_NORTH")
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("second call: err = %v, want %v", err, tc.wantErr)
			}
			if logins, data, n401 := srv.counts(); logins != tc.logins || data != tc.data || n401 != tc.n401 {
				t.Errorf("logins %d, data requests %d, 401s %d; want %d, %d, %d",
					logins, data, n401, tc.logins, tc.data, tc.n401)
			}
		})
	}
}

func TestWattTimeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		user string
		want error // nil: any error
	}{
		{"bad credentials", wtBody("CAISO_NORTH", "lbs_co2_per_mwh", h10, 1), "mallory", ErrUnauthorized},
		{"unexpected units", wtBody("CAISO_NORTH", "kg_co2_per_mwh", h10, 1), "alice", nil},
		{"answer for another region", wtBody("PJM_DC", "lbs_co2_per_mwh", h10, 1), "alice", ErrUnknownZone},
		{"no values", wtBody("CAISO_NORTH", "lbs_co2_per_mwh", h10), "alice", ErrNoData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, _ := newWattTime(t, tc.user, tc.body)
			_, err := p.Current(context.Background(), "US-CAL-CISO")
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := NewWattTimeProvider(WattTimeOptions{Username: "alice"}); err == nil {
		t.Error("missing password accepted")
	}
}
