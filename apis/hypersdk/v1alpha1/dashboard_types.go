package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Dashboard is a saved view of `kubectl hyper dashboard`: widgets laid out
// on a grid. It is an ordinary namespaced object so that RBAC decides who
// may read or change a saved view and `kubectl apply` can ship one.
type Dashboard struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the grid, its time range, and what each widget shows.
	Spec DashboardSpec `json:"spec"`
}

// DashboardSpec is the layout and what each widget shows.
type DashboardSpec struct {
	// Title is shown above the grid; the object's name when empty. At
	// most 256 characters.
	// +optional
	Title string `json:"title,omitempty"`
	// Description says what the dashboard is for, in at most 4096
	// characters.
	// +optional
	Description string `json:"description,omitempty"`
	// Columns is the width of the grid in cells: 1 to 24, 12 by default.
	// +optional
	Columns int32 `json:"columns,omitempty"`
	// TimeRange is what the charts show unless a widget sets its own; the
	// last 24 hours by default.
	// +optional
	TimeRange DashboardTimeRange `json:"timeRange,omitempty"`
	// Widgets are placed on the grid; no two overlap.
	// +optional
	// +listType=map
	// +listMapKey=name
	Widgets []DashboardWidget `json:"widgets,omitempty"`
}

// DashboardTimeRange is either a window ending now (last) or a fixed range
// (start and end), at most 30 days: what VM history keeps.
type DashboardTimeRange struct {
	// Last is 1h, 6h, 24h, 7d or 30d.
	// +optional
	Last string `json:"last,omitempty"`
	// Start begins a fixed range; set with end, not with last.
	// +optional
	Start *metav1.Time `json:"start,omitempty"`
	// End ends a fixed range: after start, and at most 30 days after it.
	// +optional
	End *metav1.Time `json:"end,omitempty"`
}

// DashboardWidgetType is what a widget is: Chart, VMList, Console or VNC.
type DashboardWidgetType string

const (
	// DashboardChart is one of the twelve charts.
	DashboardChart DashboardWidgetType = "Chart"
	// DashboardVMList is a live list of VMs, filtered by namespace and labels.
	DashboardVMList DashboardWidgetType = "VMList"
	// DashboardConsole is a VM's serial console.
	DashboardConsole DashboardWidgetType = "Console"
	// DashboardVNC is a VM's graphical console.
	DashboardVNC DashboardWidgetType = "VNC"
)

// DashboardChartName names one of the twelve charts.
type DashboardChartName string

// The twelve charts; each reads history, cluster history or the metrics APIs.
const (
	ChartVMsByPhase       DashboardChartName = "VMsByPhase"
	ChartCPUUsage         DashboardChartName = "CPUUsedVsAllocated"
	ChartMemoryUsage      DashboardChartName = "MemoryUsedVsAllocated"
	ChartCarbonIntensity  DashboardChartName = "CarbonIntensity"
	ChartClusterCarbon    DashboardChartName = "ClusterCarbon"
	ChartCost             DashboardChartName = "Cost"
	ChartNodeUtilization  DashboardChartName = "NodeUtilization"
	ChartTopVMs           DashboardChartName = "TopVMs"
	ChartOperations       DashboardChartName = "Operations"
	ChartMigrations       DashboardChartName = "Migrations"
	ChartPlacementsByZone DashboardChartName = "PlacementsByZone"
	ChartVMResources      DashboardChartName = "VMResources"
)

// DashboardWidget is one cell range of the grid and what it shows.
type DashboardWidget struct {
	// Name identifies the widget within the dashboard (a DNS label).
	Name string `json:"name"`
	// Type is Chart, VMList, Console or VNC.
	Type DashboardWidgetType `json:"type"`
	// Chart is which chart a Chart widget draws.
	// +optional
	Chart DashboardChartName `json:"chart,omitempty"`
	// VM is the VM of a VMResources chart, a Console or a VNC widget.
	// +optional
	VM *DashboardVMReference `json:"vm,omitempty"`
	// Namespace limits a VMList to one namespace; all the user may list
	// when empty.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// VMSelector filters a VMList by label.
	// +optional
	VMSelector *metav1.LabelSelector `json:"vmSelector,omitempty"`
	// Cluster is the cluster the widget shows: the primary cluster when
	// empty, every cluster (with per-cluster and aggregated totals) for "*",
	// which a widget showing one VM (Console, VNC, the VMResources chart)
	// may not take.
	// +optional
	Cluster string `json:"cluster,omitempty"`
	// TimeRange overrides the dashboard's for a chart.
	// +optional
	TimeRange *DashboardTimeRange `json:"timeRange,omitempty"`
	// Column and Row are the widget's top-left cell (from 0), Width and
	// Height its size in cells. (Not x and y: YAML 1.1 reads a bare y as
	// true, and kubectl's YAML does.)
	Column int32 `json:"column"`
	// Row is the widget's top row, from 0: at most 1000.
	Row int32 `json:"row"`
	// Width is how many columns the widget spans: at least 1, and column +
	// width at most the dashboard's columns.
	Width int32 `json:"width"`
	// Height is how many rows the widget spans: 1 to 48.
	Height int32 `json:"height"`
}

// DashboardVMReference names a VM; in the dashboard's namespace when
// namespace is empty.
type DashboardVMReference struct {
	// Namespace of the VM; the dashboard's when empty.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name of the VM.
	Name string `json:"name"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DashboardList is a list of Dashboards.
type DashboardList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of Dashboards.
	Items []Dashboard `json:"items"`
}
