package carbon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// wattTimeTokenTTL is how long a WattTime login token is used. The API's
// tokens are JWTs valid for 30 minutes; renewing a minute early keeps a
// request that is slow to reach the API from arriving with an expired one.
const wattTimeTokenTTL = 29 * time.Minute

// wattTimeAuth logs in to WattTime and caches the bearer token:
//
//	GET {base}/login with HTTP basic auth → {"token": "<JWT>"}
//
// Logins are serialised so concurrent callers with an expired token cause one
// login, not one each: the API allows only 100 logins per 5 minutes.
type wattTimeAuth struct {
	api                upstream
	username, password string

	// lock is a one-slot semaphore rather than a mutex so waiting for a
	// login in progress honours the caller's context.
	lock    chan struct{}
	token   string
	expires time.Time
}

func newWattTimeAuth(api upstream, username, password string) *wattTimeAuth {
	return &wattTimeAuth{api: api, username: username, password: password, lock: make(chan struct{}, 1)}
}

// get returns a valid token, logging in if there is none or it has expired.
func (a *wattTimeAuth) get(ctx context.Context) (string, error) {
	select {
	case a.lock <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("watttime login: %w", ctx.Err())
	}
	defer func() { <-a.lock }()
	if a.token != "" && a.api.clock.Now().Before(a.expires) {
		return a.token, nil
	}
	var resp struct {
		Token string `json:"token"`
	}
	if err := a.api.getJSON(ctx, "login", nil, func(r *http.Request) {
		r.SetBasicAuth(a.username, a.password)
	}, &resp); err != nil {
		return "", fmt.Errorf("watttime login: %w", err)
	}
	if resp.Token == "" {
		return "", errors.New("watttime login: answer has no token")
	}
	a.token, a.expires = resp.Token, a.api.clock.Now().Add(wattTimeTokenTTL)
	return a.token, nil
}

// invalidate drops token after the API rejected it, unless another caller
// has already replaced it, so the next get logs in again.
func (a *wattTimeAuth) invalidate(ctx context.Context, token string) error {
	select {
	case a.lock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("watttime login: %w", ctx.Err())
	}
	defer func() { <-a.lock }()
	if a.token == token {
		a.token = ""
	}
	return nil
}
