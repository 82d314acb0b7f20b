package carbon

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestUpstream(t *testing.T, h http.HandlerFunc, o HTTPOptions) upstream {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if o.BaseURL == "" {
		o.BaseURL = srv.URL
	} else {
		o.BaseURL = srv.URL + o.BaseURL
	}
	u, err := newUpstream("test", "", o)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestGetJSONStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		code int
		want error // nil: a *StatusError that wraps none of the sentinels
	}{
		{http.StatusUnauthorized, ErrUnauthorized},
		{http.StatusForbidden, ErrUnauthorized},
		{http.StatusNotFound, ErrUnknownZone},
		{http.StatusTooManyRequests, ErrRateLimited},
		{http.StatusInternalServerError, ErrUnavailable},
		{http.StatusBadGateway, ErrUnavailable},
		{http.StatusServiceUnavailable, ErrUnavailable},
		{http.StatusBadRequest, nil},
	} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			u := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				http.Error(w, `{"error":"nope"}`, tc.code)
			}, HTTPOptions{})
			var out any
			err := u.getJSON(context.Background(), "x", nil, nil, &out)
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tc.code || se.Body != `{"error":"nope"}` || se.RetryAfter != "30" {
				t.Fatalf("err = %#v, want *StatusError with code %d, body and Retry-After", err, tc.code)
			}
			for _, sentinel := range []error{ErrUnauthorized, ErrUnknownZone, ErrRateLimited, ErrUnavailable} {
				if got := errors.Is(err, sentinel); got != (sentinel == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, sentinel, got)
				}
			}
			if msg := err.Error(); !strings.Contains(msg, "retry after 30") || !strings.Contains(msg, "nope") {
				t.Errorf("message %q lacks Retry-After or body", msg)
			}
		})
	}
}

func TestGetJSONBodyHandling(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    error // nil: any non-nil error
	}{
		{"no content", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, ErrNoData},
		{"empty body", func(w http.ResponseWriter, r *http.Request) {}, ErrNoData},
		{"malformed JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"a":`)) }, nil},
		{"huge error body is truncated", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, strings.Repeat("x", 10000), http.StatusBadRequest)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newTestUpstream(t, tc.handler, HTTPOptions{})
			var out map[string]any
			err := u.getJSON(context.Background(), "x", nil, nil, &out)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var se *StatusError
			if errors.As(err, &se) && len(se.Body) > maxErrorBody {
				t.Errorf("error body is %d bytes, want at most %d", len(se.Body), maxErrorBody)
			}
		})
	}
}

func TestGetJSONKeepsBasePathAndEncodesQuery(t *testing.T) {
	var gotPath, gotZone string
	u := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotZone = r.URL.Path, r.URL.Query().Get("zone")
		w.Write([]byte(`{}`))
	}, HTTPOptions{BaseURL: "/gateway/carbon"})
	var out map[string]any
	if err := u.getJSON(context.Background(), "v3/latest", map[string][]string{"zone": {"US-CAL-CISO&x=1"}}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if gotPath != "/gateway/carbon/v3/latest" || gotZone != "US-CAL-CISO&x=1" {
		t.Fatalf("path %q zone %q", gotPath, gotZone)
	}
}

func TestGetJSONHonoursContextAndTimeout(t *testing.T) {
	// The handler answers only when the client gives up, so the test ends
	// as soon as the context or timeout fires.
	block := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

	u := newTestUpstream(t, block, HTTPOptions{Timeout: 20 * time.Millisecond})
	var out any
	if err := u.getJSON(context.Background(), "x", nil, nil, &out); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: err = %v, want context.DeadlineExceeded", err)
	}

	u = newTestUpstream(t, block, HTTPOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := u.getJSON(ctx, "x", nil, nil, &out); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestNewUpstreamValidation(t *testing.T) {
	for _, tc := range []struct {
		name, def string
		o         HTTPOptions
		ok        bool
	}{
		{"default base", "https://api.example.org", HTTPOptions{}, true},
		{"no base at all", "", HTTPOptions{}, false},
		{"not http", "", HTTPOptions{BaseURL: "ftp://example.org"}, false},
		{"no host", "", HTTPOptions{BaseURL: "https:///v3"}, false},
		{"negative timeout", "https://api.example.org", HTTPOptions{Timeout: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := newUpstream("test", tc.def, tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (u.timeout != defaultTimeout || u.client == nil || u.clock == nil) {
				t.Errorf("defaults not applied: %+v", u)
			}
		})
	}
}
