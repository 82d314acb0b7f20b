package carbon

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors wrapped by the live providers, so callers and the cache can react to
// the class of failure without parsing messages.
var (
	// ErrUnauthorized means the upstream rejected the credentials (401) or
	// they do not cover the zone or endpoint (403, e.g. a plan limited to
	// some regions).
	ErrUnauthorized = errors.New("carbon data source rejected credentials")
	// ErrRateLimited means the upstream answered 429 Too Many Requests.
	ErrRateLimited = errors.New("carbon data source rate limit exceeded")
	// ErrUnavailable means the upstream failed on its side (5xx).
	ErrUnavailable = errors.New("carbon data source unavailable")
)

// maxErrorBody bounds how much of an error response is kept for the message:
// enough for an API's error JSON, not enough to flood logs with an HTML page.
const maxErrorBody = 512

// StatusError is a non-2xx answer from a live provider's upstream. It
// unwraps to ErrUnauthorized, ErrUnknownZone (404), ErrRateLimited or
// ErrUnavailable where the status says which; other statuses (e.g. 400)
// unwrap to nothing.
type StatusError struct {
	// Provider names the upstream, e.g. "electricitymaps".
	Provider string
	// Code is the HTTP status code.
	Code int
	// Body is the start of the response body, for diagnostics.
	Body string
	// RetryAfter is the Retry-After header of a 429 or 503, if any.
	RetryAfter string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d %s", e.Provider, e.Code, http.StatusText(e.Code))
	if e.RetryAfter != "" {
		msg += " (retry after " + e.RetryAfter + ")"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func (e *StatusError) Unwrap() error {
	switch {
	case e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden:
		return ErrUnauthorized
	case e.Code == http.StatusNotFound:
		return ErrUnknownZone
	case e.Code == http.StatusTooManyRequests:
		return ErrRateLimited
	case e.Code >= 500:
		return ErrUnavailable
	}
	return nil
}
