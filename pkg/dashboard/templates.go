// Package dashboard holds what kubectl hyper dashboard and its command line
// share: the templates new saved views start from.
package dashboard

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// Templates names the templates a dashboard can be created from.
var Templates = []string{"overview", "carbon", "cost", "vm"}

// chart places one of the twelve charts.
func chart(name string, c v1alpha1.DashboardChartName, column, row, w, h int32) v1alpha1.DashboardWidget {
	return v1alpha1.DashboardWidget{Name: name, Type: v1alpha1.DashboardChart, Chart: c, Column: column, Row: row, Width: w, Height: h}
}

// FromTemplate returns the spec of a new dashboard made from template; vm
// names the VM of the "vm" template (and is refused by the others).
func FromTemplate(template string, vm *v1alpha1.DashboardVMReference) (v1alpha1.DashboardSpec, error) {
	if !slices.Contains(Templates, template) {
		return v1alpha1.DashboardSpec{}, fmt.Errorf("unknown dashboard template %q: want one of %s", template, strings.Join(Templates, ", "))
	}
	if (template == "vm") != (vm != nil) {
		if vm == nil {
			return v1alpha1.DashboardSpec{}, fmt.Errorf("the vm template needs the VM it shows")
		}
		return v1alpha1.DashboardSpec{}, fmt.Errorf("only the vm template shows one VM; %s shows the cluster", template)
	}
	spec := v1alpha1.DashboardSpec{Columns: 12, TimeRange: v1alpha1.DashboardTimeRange{Last: "24h"}}
	switch template {
	case "overview":
		spec.Title = "Overview"
		spec.Widgets = []v1alpha1.DashboardWidget{
			chart("phases", v1alpha1.ChartVMsByPhase, 0, 0, 4, 4),
			chart("cpu", v1alpha1.ChartCPUUsage, 4, 0, 4, 4),
			chart("memory", v1alpha1.ChartMemoryUsage, 8, 0, 4, 4),
			chart("operations", v1alpha1.ChartOperations, 0, 4, 6, 4),
			chart("migrations", v1alpha1.ChartMigrations, 6, 4, 6, 4),
			{Name: "vms", Type: v1alpha1.DashboardVMList, Column: 0, Row: 8, Width: 12, Height: 6},
		}
	case "carbon":
		spec.Title, spec.TimeRange.Last = "Carbon", "7d"
		spec.Widgets = []v1alpha1.DashboardWidget{
			chart("intensity", v1alpha1.ChartCarbonIntensity, 0, 0, 8, 4),
			chart("emissions", v1alpha1.ChartClusterCarbon, 8, 0, 4, 4),
			chart("placements", v1alpha1.ChartPlacementsByZone, 0, 4, 6, 4),
			chart("top", v1alpha1.ChartTopVMs, 6, 4, 6, 4),
			chart("migrations", v1alpha1.ChartMigrations, 0, 8, 12, 4),
		}
	case "cost":
		spec.Title, spec.TimeRange.Last = "Cost", "30d"
		spec.Widgets = []v1alpha1.DashboardWidget{
			chart("cost", v1alpha1.ChartCost, 0, 0, 8, 4),
			chart("top", v1alpha1.ChartTopVMs, 8, 0, 4, 4),
			chart("utilization", v1alpha1.ChartNodeUtilization, 0, 4, 12, 5),
			{Name: "vms", Type: v1alpha1.DashboardVMList, Column: 0, Row: 9, Width: 12, Height: 6},
		}
	case "vm":
		spec.Title = "VM " + vm.Name
		resources := chart("resources", v1alpha1.ChartVMResources, 0, 0, 7, 5)
		resources.VM = vm
		spec.Widgets = []v1alpha1.DashboardWidget{resources,
			{Name: "console", Type: v1alpha1.DashboardConsole, VM: vm, Column: 7, Row: 0, Width: 5, Height: 5},
			{Name: "vnc", Type: v1alpha1.DashboardVNC, VM: vm, Column: 0, Row: 5, Width: 7, Height: 6},
		}
	}
	return spec, nil
}
