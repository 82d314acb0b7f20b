package validation

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

func TestValidateDashboard(t *testing.T) {
	at := func(h int) *metav1.Time { return &metav1.Time{Time: time.Date(2026, 11, 1, h, 0, 0, 0, time.UTC)} }
	for _, tc := range []struct {
		name   string
		change func(*hypersdk.DashboardSpec)
		want   string
	}{
		{"valid", func(*hypersdk.DashboardSpec) {}, ""},
		{"custom range", func(s *hypersdk.DashboardSpec) { s.TimeRange = hypersdk.DashboardTimeRange{Start: at(1), End: at(5)} }, ""},
		{"no columns, unknown range", func(s *hypersdk.DashboardSpec) { s.Columns, s.TimeRange.Last = 0, "2w" }, "spec.columns,spec.timeRange.last"},
		{"both kinds of range", func(s *hypersdk.DashboardSpec) { s.TimeRange.Start = at(1) }, "spec.timeRange"},
		{"range ends before it starts", func(s *hypersdk.DashboardSpec) {
			s.TimeRange = hypersdk.DashboardTimeRange{Start: at(5), End: at(1)}
		}, "spec.timeRange.end"},
		{"range without an end", func(s *hypersdk.DashboardSpec) { s.TimeRange = hypersdk.DashboardTimeRange{Start: at(1)} }, "spec.timeRange.end"},
		{"range beyond history", func(s *hypersdk.DashboardSpec) {
			s.TimeRange = hypersdk.DashboardTimeRange{Start: at(1), End: &metav1.Time{Time: at(1).AddDate(0, 0, 31)}}
		}, "spec.timeRange.end"},
		{"overlapping widgets", func(s *hypersdk.DashboardSpec) { s.Widgets[1].Column = 3 }, "spec.widgets[1]"},
		{"past the last column", func(s *hypersdk.DashboardSpec) { s.Widgets[2].Width = 13 }, "spec.widgets[2].width"},
		// column + width would wrap to a negative number past the check.
		{"width that overflows", func(s *hypersdk.DashboardSpec) { s.Widgets[2].Column, s.Widgets[2].Width = 1, 2147483647 },
			"spec.widgets[2].width"},
		{"negative position, no height", func(s *hypersdk.DashboardSpec) { s.Widgets[2].Row, s.Widgets[2].Height = -1, 0 },
			"spec.widgets[2].row,spec.widgets[2].height"},
		{"duplicate and bad names", func(s *hypersdk.DashboardSpec) { s.Widgets[1].Name, s.Widgets[2].Name = "cpu", "Big Console" },
			"spec.widgets[1].name,spec.widgets[2].name"},
		{"unknown chart and type", func(s *hypersdk.DashboardSpec) { s.Widgets[0].Chart, s.Widgets[3].Type = "Weather", "Map" },
			"spec.widgets[0].chart,spec.widgets[3].type"},
		{"console without a VM", func(s *hypersdk.DashboardSpec) { s.Widgets[2].VM = nil }, "spec.widgets[2].vm.name"},
		{"VM on a cluster chart", func(s *hypersdk.DashboardSpec) { s.Widgets[0].VM = &hypersdk.DashboardVMReference{Name: "web"} },
			"spec.widgets[0].vm"},
		{"filter on a chart, bad selector", func(s *hypersdk.DashboardSpec) {
			s.Widgets[0].VMSelector = &metav1.LabelSelector{}
			s.Widgets[3].VMSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "no spaces"}}
		}, "spec.widgets[0].vmSelector,spec.widgets[3].vmSelector.matchLabels"},
		{"chart range on a list", func(s *hypersdk.DashboardSpec) { s.Widgets[3].TimeRange = &hypersdk.DashboardTimeRange{Last: "1h"} },
			"spec.widgets[3].timeRange"},
		{"one VM from every cluster", func(s *hypersdk.DashboardSpec) { s.Widgets[1].Cluster, s.Widgets[2].Cluster = "*", "*" },
			"spec.widgets[1].cluster,spec.widgets[2].cluster"},
		{"a VM of a named cluster", func(s *hypersdk.DashboardSpec) { s.Widgets[2].Cluster = "east" }, ""},
		{"title and description too long", func(s *hypersdk.DashboardSpec) {
			s.Title, s.Description = strings.Repeat("t", 257), strings.Repeat("d", 4097)
		}, "spec.title,spec.description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &hypersdk.Dashboard{ObjectMeta: metav1.ObjectMeta{Name: "ops", Namespace: "team"}, Spec: hypersdk.DashboardSpec{
				Columns: 12, TimeRange: hypersdk.DashboardTimeRange{Last: "24h"},
				Widgets: []hypersdk.DashboardWidget{
					{Name: "cpu", Type: hypersdk.DashboardChart, Chart: hypersdk.ChartCPUUsage, Width: 6, Height: 4},
					{Name: "vm", Type: hypersdk.DashboardChart, Chart: hypersdk.ChartVMResources, VM: &hypersdk.DashboardVMReference{Name: "web"},
						Column: 6, Width: 6, Height: 4, TimeRange: &hypersdk.DashboardTimeRange{Last: "7d"}},
					{Name: "console", Type: hypersdk.DashboardConsole, VM: &hypersdk.DashboardVMReference{Namespace: "other", Name: "db"},
						Row: 4, Width: 12, Height: 6},
					{Name: "list", Type: hypersdk.DashboardVMList, Namespace: "team", Cluster: "*", Row: 10, Width: 12, Height: 6,
						VMSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
				}}}
			tc.change(&d.Spec)
			if got := fields(ValidateDashboard(d)); got != tc.want {
				t.Errorf("failing fields = %q, want %q (%v)", got, tc.want, ValidateDashboard(d))
			}
		})
	}
}
