package carbon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// HTTPOptions are the settings every live provider shares.
type HTTPOptions struct {
	// BaseURL of the API; each provider documents its default. A path in it
	// is kept, so an API behind a path-routing gateway works.
	BaseURL string
	// HTTPClient sends the requests; nil means a new client with Go's default
	// transport.
	HTTPClient *http.Client
	// Timeout bounds each request, on top of the caller's context; zero means
	// defaultTimeout. It is per request rather than on the client so a shared
	// client keeps its own settings.
	Timeout time.Duration
	// Clock supplies "now" for query windows and forecasts; nil means the
	// real clock.
	Clock clock.PassiveClock
}

// defaultTimeout is long enough for a slow API answer, short enough that a
// scheduler waiting on it (through the cache, at most once per TTL) does not stall.
const defaultTimeout = 10 * time.Second

// maxBody bounds a decoded response. The largest expected answer, a 72-hour
// WattTime forecast at 5-minute resolution, is under 100 KiB.
const maxBody = 4 << 20

// upstream is the HTTP plumbing shared by the live providers: URL building,
// timeouts, status mapping and JSON decoding.
type upstream struct {
	name    string
	base    *url.URL
	client  *http.Client
	timeout time.Duration
	clock   clock.PassiveClock
}

func newUpstream(name, defaultBase string, o HTTPOptions) (upstream, error) {
	raw := o.BaseURL
	if raw == "" {
		raw = defaultBase
	}
	if raw == "" {
		return upstream{}, fmt.Errorf("%s provider: base URL required", name)
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return upstream{}, fmt.Errorf("%s provider: invalid base URL %q", name, raw)
	}
	if o.Timeout < 0 {
		return upstream{}, fmt.Errorf("%s provider: negative timeout %s", name, o.Timeout)
	}
	u := upstream{name: name, base: base, client: o.HTTPClient, timeout: o.Timeout, clock: o.Clock}
	if u.client == nil {
		u.client = &http.Client{}
	}
	if u.timeout == 0 {
		u.timeout = defaultTimeout
	}
	if u.clock == nil {
		u.clock = clock.RealClock{}
	}
	return u, nil
}

// getJSON sends GET base/path?query, with authorize (if not nil) adding
// credentials, and decodes a 2xx JSON answer into out. A non-2xx answer is a
// *StatusError; 204 No Content wraps ErrNoData.
func (u upstream) getJSON(ctx context.Context, path string, query url.Values, authorize func(*http.Request), out any) error {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	target := u.base.JoinPath(path)
	target.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return fmt.Errorf("%s: build request for %s: %w", u.name, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if authorize != nil {
		authorize(req)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		// The *url.Error carries the URL, which holds only the zone: tokens
		// travel in headers.
		return fmt.Errorf("%s: %w", u.name, err)
	}
	defer func() {
		// Draining lets the transport reuse the connection.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return &StatusError{
			Provider:   u.name,
			Code:       resp.StatusCode,
			Body:       strings.TrimSpace(string(body)),
			RetryAfter: resp.Header.Get("Retry-After"),
		}
	}
	if resp.StatusCode == http.StatusNoContent {
		return fmt.Errorf("%s: %s answered 204 No Content: %w", u.name, path, ErrNoData)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %s: empty response: %w", u.name, path, ErrNoData)
		}
		return fmt.Errorf("%s: decode %s response: %w", u.name, path, err)
	}
	return nil
}
