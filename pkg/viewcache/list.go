package viewcache

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ListOptions say what a list returns.
type ListOptions struct {
	// Match selects the views; nil selects all.
	Match Predicate
	// ResourceVersion is "" or "0" for the current state, else a position
	// the answer must have reached (or be exactly at, with Exact).
	ResourceVersion string
	// Exact answers at exactly ResourceVersion (resourceVersionMatch=Exact).
	Exact bool
	// Limit, when above zero, pages the answer: at most Limit views, in key
	// order, and a continue token for the rest.
	Limit int64
	// Continue is the token of the previous page; the pages of one list are
	// all at the position of its first, on any replica whose history still
	// covers it.
	Continue string
}

// ListResult is one answer to List.
type ListResult struct {
	// Items are copies of the views, in key order.
	Items []Object
	// ResourceVersion is the position the answer is consistent at.
	ResourceVersion string
	// Continue is the token of the next page, empty on the last.
	Continue string
}

// continueToken is what a continue token carries: where the list is and the
// last key sent.
type continueToken struct {
	Position string `json:"rv"`
	Key      string `json:"start"`
}

// List returns the views that match at the position the options ask for.
func (c *Cache) List(ctx context.Context, opts ListOptions) (*ListResult, error) {
	var at Position
	after := ""
	switch {
	case opts.Continue != "":
		tok, err := c.decodeContinue(opts.Continue)
		if err != nil {
			return nil, err
		}
		at, after = tok.at, tok.key
	case opts.ResourceVersion != "" && opts.ResourceVersion != "0":
		p, err := c.parse(opts.ResourceVersion)
		if err != nil {
			return nil, err
		}
		if err := c.waitFor(ctx, p); err != nil {
			return nil, err
		}
		if opts.Exact {
			at = p
		}
	}
	if at != nil {
		if err := c.waitFor(ctx, at); err != nil {
			return nil, err
		}
	}

	c.mu.RLock()
	defer c.mu.RUnlock()
	if at == nil {
		at = c.pos.clone()
	}
	if !c.pos.Equal(at) {
		if err := c.covered(at); err != nil {
			if opts.Continue != "" {
				return nil, apierrors.NewResourceExpired(fmt.Sprintf(
					"the provided continue parameter is too old to display a consistent list result: %v; relist", err))
			}
			return nil, err
		}
	}
	type item struct {
		key  string
		view Object
	}
	var items []item
	add := func(key string, v Object) {
		if v != nil && key > after && (opts.Match == nil || opts.Match(v)) {
			items = append(items, item{key, v})
		}
	}
	if c.pos.Equal(at) {
		items = make([]item, 0, len(c.entries))
		for key, e := range c.entries {
			add(key, e.view)
		}
	} else {
		for key, v := range c.snapshotAt(at) {
			add(key, v)
		}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	res := &ListResult{ResourceVersion: at.String()}
	if opts.Limit > 0 && int64(len(items)) > opts.Limit {
		items = items[:opts.Limit]
		res.Continue = encodeContinue(at, items[len(items)-1].key)
	}
	res.Items = make([]Object, len(items))
	for i, it := range items {
		res.Items[i] = it.view.DeepCopyObject().(Object)
	}
	return res, nil
}

func encodeContinue(at Position, key string) string {
	data, _ := json.Marshal(continueToken{Position: at.String(), Key: key})
	return base64.RawURLEncoding.EncodeToString(data)
}

type decodedToken struct {
	at  Position
	key string
}

func (c *Cache) decodeContinue(s string) (decodedToken, error) {
	bad := func(err error) (decodedToken, error) {
		return decodedToken{}, apierrors.NewBadRequest(fmt.Sprintf("invalid continue token: %v", err))
	}
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad(err)
	}
	var tok continueToken
	if err := json.Unmarshal(data, &tok); err != nil {
		return bad(err)
	}
	at, err := ParsePosition(tok.Position, c.cfg.Sources)
	if err != nil {
		return bad(err)
	}
	return decodedToken{at: at, key: tok.Key}, nil
}
