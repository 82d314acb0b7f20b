package history

import (
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/history"
)

func TestParseOptions(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 34, 56, 0, time.UTC)
	gr := schema.GroupResource{Group: "hypersdk.io", Resource: "virtualmachines"}
	for _, tc := range []struct {
		name       string
		opts       hypersdk.VirtualMachineHistoryOptions
		start, end time.Time
		step       time.Duration
		fields     []string
		csv        bool
		badField   string
	}{
		{name: "default is the last hour at 30s, ending on a step",
			start: time.Date(2026, 11, 25, 11, 35, 0, 0, time.UTC), end: time.Date(2026, 11, 25, 12, 35, 0, 0, time.UTC), step: 30 * time.Second},
		{name: "named range with step", opts: hypersdk.VirtualMachineHistoryOptions{TimeRange: "24h", Step: "1h"},
			start: time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC), end: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC), step: time.Hour},
		// 84m boundaries count from Go's zero time, as time.Truncate does.
		{name: "7d default step is 84m", opts: hypersdk.VirtualMachineHistoryOptions{TimeRange: "7d"},
			step: 84 * time.Minute, start: time.Date(2026, 11, 18, 13, 36, 0, 0, time.UTC), end: time.Date(2026, 11, 25, 13, 36, 0, 0, time.UTC)},
		{name: "explicit window kept as given", opts: hypersdk.VirtualMachineHistoryOptions{Start: "2026-11-25T10:00:00Z", End: "2026-11-25T11:00:00Z", Step: "5m"},
			start: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), end: time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC), step: 5 * time.Minute},
		{name: "fields comma separated and repeated, csv", opts: hypersdk.VirtualMachineHistoryOptions{Fields: []string{"cpuUsage, memoryUsage", "costPerHour"}, Format: "csv", Step: "1m"},
			start: time.Date(2026, 11, 25, 11, 35, 0, 0, time.UTC), end: time.Date(2026, 11, 25, 12, 35, 0, 0, time.UTC), step: time.Minute,
			fields: []string{"cpuUsage", "memoryUsage", "costPerHour"}, csv: true},
		{name: "unknown range", opts: hypersdk.VirtualMachineHistoryOptions{TimeRange: "2h"}, badField: "timeRange"},
		{name: "range and start", opts: hypersdk.VirtualMachineHistoryOptions{TimeRange: "1h", Start: "2026-11-25T10:00:00Z"}, badField: "timeRange"},
		{name: "bad start", opts: hypersdk.VirtualMachineHistoryOptions{Start: "yesterday"}, badField: "start"},
		{name: "start between seconds", opts: hypersdk.VirtualMachineHistoryOptions{Start: "2026-11-25T10:00:00.5Z"}, badField: "start"},
		{name: "end between seconds", opts: hypersdk.VirtualMachineHistoryOptions{Start: "2026-11-25T10:00:00Z", End: "2026-11-25T11:00:00.25Z"}, badField: "end"},
		{name: "end without start", opts: hypersdk.VirtualMachineHistoryOptions{End: "2026-11-25T10:00:00Z"}, badField: "start"},
		{name: "bad step", opts: hypersdk.VirtualMachineHistoryOptions{Step: "often"}, badField: "step"},
		{name: "step longer than the range", opts: hypersdk.VirtualMachineHistoryOptions{TimeRange: "1h", Step: "24h"}, badField: "step"},
		{name: "step longer than the default range", opts: hypersdk.VirtualMachineHistoryOptions{Step: "2h"}, badField: "step"},
		{name: "unknown field", opts: hypersdk.VirtualMachineHistoryOptions{Fields: []string{"cpuUsage,vms"}}, badField: "fields"},
		{name: "unknown format", opts: hypersdk.VirtualMachineHistoryOptions{Format: "xml"}, badField: "format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseOptions(&tc.opts, history.ValidVMField, now, gr, "vm")
			if tc.badField != "" {
				var status *apierrors.StatusError
				if !errors.As(err, &status) || status.ErrStatus.Code != 400 || status.ErrStatus.Details.Causes[0].Field != tc.badField ||
					!strings.HasPrefix(status.ErrStatus.Message, tc.badField+":") {
					t.Fatalf("want a 400 naming %s, got %v", tc.badField, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			q := req.query
			if !q.Start.Equal(tc.start) || !q.End.Equal(tc.end) || q.Step != tc.step || req.csv != tc.csv {
				t.Fatalf("got %v..%v step %v csv %v, want %v..%v step %v csv %v", q.Start, q.End, q.Step, req.csv, tc.start, tc.end, tc.step, tc.csv)
			}
			if strings.Join(q.Fields, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields %v, want %v", q.Fields, tc.fields)
			}
		})
	}
}
