package history

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// MaxPoints is the default limit on evaluation times per query: Prometheus'
// own limit on a range query, so a query the SQLite backend accepts is never
// refused by the Prometheus backend.
const MaxPoints = 11000

// QueryError is a query a caller got wrong; Field names the offending query
// parameter so an API server can answer 400 pointing at it.
type QueryError struct {
	Field string
	Msg   string
}

func (e *QueryError) Error() string { return e.Field + ": " + e.Msg }

// ErrUnsupported is wrapped by errors for queries a backend cannot answer at
// all, such as cluster history from KubeVirt's metrics.
var ErrUnsupported = errors.New("not supported by this history backend")

// ErrUnavailable wraps the error of a store that cannot answer now (its file
// or server is missing): an error, never an empty answer.
var ErrUnavailable = errors.New("history store unavailable")

// ErrNotRecorded is wrapped, with ErrUnavailable, by a store that answers
// but holds nothing of the recorder over the range asked: it did not run
// then (installed later, or down). A read over several ranges takes such a
// range as empty when another one holds the recorder's series.
var ErrNotRecorded = errors.New("nothing recorded")

// AsStatus is err as an API server answers it: 503 Service Unavailable for
// a store that cannot answer now, so clients retry and operators see why,
// 400 Bad Request for what this store cannot answer at all, rather than a
// bare 500; any other error as it is.
func AsStatus(err error) error {
	switch {
	case errors.Is(err, ErrUnavailable):
		return apierrors.NewServiceUnavailable(err.Error())
	case errors.Is(err, ErrUnsupported):
		return apierrors.NewBadRequest(err.Error())
	}
	return err
}

// maxAhead bounds how far after now a query may end, however long its step.
const maxAhead = 24 * time.Hour

// Validate checks q as an API server should before querying a store with
// that retention, at time now: a range that ends after it starts, does not
// reach before now-retention and ends no later than a step (or, for clocks
// that disagree, a minute; a day at most) after now, a step of whole seconds (the times a
// point carries), at most maxPoints evaluation times (MaxPoints when
// maxPoints <= 0), and known fields. A query with an empty Name is a
// cluster query and its fields are cluster fields; otherwise it is a VM
// query. Errors are *QueryError.
func Validate(q Query, retention time.Duration, now time.Time, maxPoints int) error {
	kind := vmKind
	if q.Name == "" {
		kind = clusterKind
	}
	if err := checkQuery(q, kind); err != nil {
		return err
	}
	if q.Step%time.Second != 0 {
		return &QueryError{Field: "step", Msg: fmt.Sprintf("%s is not a whole number of seconds, the precision of a point's time", q.Step)}
	}
	// Nothing is recorded after now, and a far end would make a month-to-date
	// cost read every minute up to it: at most a step (a day at most) ahead.
	if latest := now.Add(min(max(q.Step, time.Minute), maxAhead)); q.End.After(latest) {
		return &QueryError{Field: "end", Msg: fmt.Sprintf("%s is in the future (latest %s)",
			q.End.UTC().Format(time.RFC3339), latest.UTC().Format(time.RFC3339))}
	}
	if horizon := now.Add(-retention); q.Start.Before(horizon) {
		return &QueryError{Field: "start", Msg: fmt.Sprintf("%s is older than the retention of %s (earliest %s)",
			q.Start.UTC().Format(time.RFC3339), retention, horizon.UTC().Format(time.RFC3339))}
	}
	if maxPoints <= 0 {
		maxPoints = MaxPoints
	}
	if n := q.End.Sub(q.Start)/q.Step + 1; n > time.Duration(maxPoints) {
		return &QueryError{Field: "step", Msg: fmt.Sprintf("%s over %s gives %d points, more than %d; use a larger step",
			q.Step, q.End.Sub(q.Start), n, maxPoints)}
	}
	return nil
}

type queryKind int

const (
	vmKind queryKind = iota
	clusterKind
)

// checkQuery is the part of Validate that every store needs in order to
// evaluate a query at all; retention and size limits are the caller's policy.
func checkQuery(q Query, kind queryKind) error {
	switch {
	case kind == vmKind && q.Namespace == "":
		return &QueryError{Field: "namespace", Msg: "required for a VM query"}
	case kind == vmKind && q.Name == "":
		return &QueryError{Field: "name", Msg: "required for a VM query"}
	case kind == clusterKind && (q.Namespace != "" || q.Name != ""):
		return &QueryError{Field: "name", Msg: "a cluster query names no VM"}
	case q.Step <= 0 || q.Step%time.Millisecond != 0:
		return &QueryError{Field: "step", Msg: fmt.Sprintf("%s is not a positive whole number of milliseconds", q.Step)}
	case q.End.Before(q.Start):
		return &QueryError{Field: "end", Msg: fmt.Sprintf("%s is before start %s",
			q.End.UTC().Format(time.RFC3339), q.Start.UTC().Format(time.RFC3339))}
	}
	valid, all := ValidVMField, VMFields
	if kind == clusterKind {
		valid, all = ValidClusterField, slices.Concat(ClusterFields, DerivedClusterFields)
	}
	seen := map[string]bool{}
	for _, f := range q.Fields {
		if !valid(f) {
			return &QueryError{Field: "fields", Msg: fmt.Sprintf("unknown field %q (known: %s)", f, strings.Join(all, ", "))}
		}
		if seen[f] {
			return &QueryError{Field: "fields", Msg: fmt.Sprintf("field %q requested twice", f)}
		}
		seen[f] = true
	}
	return nil
}
