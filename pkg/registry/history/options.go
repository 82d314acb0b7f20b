// Package history serves the history of VMs (virtualmachines/history) and
// of the cluster (clusterhistories/cluster) from a history.Store.
package history

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/history"
)

// timeRanges are the named windows a client may ask for, ending now.
var timeRanges = map[string]time.Duration{
	"1h":  time.Hour,
	"6h":  6 * time.Hour,
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour,
}

// defaultPoints is how many points a window is split into when no step is
// given: enough for a chart, few enough to read.
const defaultPoints = 120

// minStep is the smallest default step; a client may still ask for less.
const minStep = 10 * time.Second

// request is a parsed history request.
type request struct {
	query history.Query
	csv   bool
}

// parseOptions turns the query parameters into a store query, with errors
// that name the offending parameter. valid says which field names exist.
func parseOptions(opts *hypersdk.VirtualMachineHistoryOptions, valid func(string) bool, now time.Time, gr schema.GroupResource, name string) (request, error) {
	var req request
	bad := func(field, format string, args ...any) error {
		return BadRequest(gr, name, field, fmt.Sprintf(format, args...))
	}
	end := now
	var window time.Duration // of timeRange, or the default
	switch {
	case opts.TimeRange != "" && (opts.Start != "" || opts.End != ""):
		return req, bad("timeRange", "timeRange and start/end are exclusive")
	case opts.TimeRange != "":
		d, ok := timeRanges[opts.TimeRange]
		if !ok {
			return req, bad("timeRange", "unsupported value %q: supported values: 1h, 6h, 24h, 7d, 30d", opts.TimeRange)
		}
		window = d
	case opts.Start != "":
		// Whole seconds: points are stamped and shown to the second, so a
		// fraction would shift every bucket away from its stamp.
		start, err := time.Parse(time.RFC3339, opts.Start)
		if err != nil || start.Nanosecond() != 0 {
			return req, bad("start", "%q is not an RFC3339 time in whole seconds", opts.Start)
		}
		req.query.Start = start
		if opts.End != "" {
			if end, err = time.Parse(time.RFC3339, opts.End); err != nil || end.Nanosecond() != 0 {
				return req, bad("end", "%q is not an RFC3339 time in whole seconds", opts.End)
			}
		}
	case opts.End != "":
		return req, bad("start", "required when end is given")
	default:
		window = time.Hour
	}
	if opts.Step != "" {
		step, err := time.ParseDuration(opts.Step)
		if err != nil {
			return req, bad("step", "%q is not a duration such as 5m", opts.Step)
		}
		if window > 0 && step > window {
			// The window ends on the first step boundary after now, so a
			// step longer than it would leave the whole window in the future.
			return req, bad("step", "%s is longer than the range of %s", opts.Step, strings.TrimSuffix(window.String(), "0m0s"))
		}
		req.query.Step = step
	} else {
		span := window
		if span == 0 {
			span = end.Sub(req.query.Start)
		}
		req.query.Step = max(span/defaultPoints, minStep).Truncate(time.Second)
	}
	if window > 0 && req.query.Step > 0 {
		// A named window ends at the first step boundary at or after now, so
		// points sit on whole steps and every recorded sample is included.
		end = end.Truncate(req.query.Step)
		if end.Before(now) {
			end = end.Add(req.query.Step)
		}
		req.query.Start = end.Add(-window)
	}
	req.query.End = end
	for _, f := range opts.Fields {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			if !valid(name) {
				return req, bad("fields", "unknown field %q", name)
			}
			req.query.Fields = append(req.query.Fields, name)
		}
	}
	switch opts.Format {
	case "", "json":
	case "csv":
		req.csv = true
	default:
		return req, bad("format", "unsupported value %q: supported values: json, csv", opts.Format)
	}
	return req, nil
}

// BadRequest is a 400 Status that names the parameter at fault.
func BadRequest(gr schema.GroupResource, name, field, msg string) error {
	err := apierrors.NewBadRequest(fmt.Sprintf("%s: %s", field, msg))
	err.ErrStatus.Details = &metav1.StatusDetails{
		Group: gr.Group, Kind: gr.Resource, Name: name,
		Causes: []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: field, Message: msg}},
	}
	return err
}

// WantsCSV reports whether the client asked for CSV by Accept header.
func WantsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mediaType, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if mediaType == "text/csv" {
			return true
		}
	}
	return false
}
