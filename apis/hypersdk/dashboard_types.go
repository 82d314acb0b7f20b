package hypersdk

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Dashboard is a saved view of `kubectl hyper dashboard`: widgets laid out
// on a grid. It is an ordinary namespaced object so that RBAC decides who
// may read or change a saved view and `kubectl apply` can ship one.
type Dashboard struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec DashboardSpec
}

// DashboardSpec is the layout and what each widget shows.
type DashboardSpec struct {
	// Title is shown above the grid; the object's name when empty. At
	// most 256 characters.
	Title string
	// Description says what the dashboard is for, in at most 4096
	// characters.
	Description string
	// Columns is the width of the grid in cells: 1 to 24, 12 by default.
	Columns int32
	// TimeRange is what the charts show unless a widget sets its own.
	TimeRange DashboardTimeRange
	// Widgets are placed on the grid; no two overlap.
	Widgets []DashboardWidget
}

// DashboardTimeRange is either a window ending now (Last) or a fixed range
// (Start and End), at most 30 days: what VM history keeps.
type DashboardTimeRange struct {
	// Last is 1h, 6h, 24h, 7d or 30d.
	Last  string
	Start *metav1.Time
	End   *metav1.Time
}

// DashboardWidgetType is what a widget is.
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
	Name string
	Type DashboardWidgetType
	// Chart is which chart a Chart widget draws.
	Chart DashboardChartName
	// VM is the VM of a VMResources chart, a Console or a VNC widget.
	VM *DashboardVMReference
	// Namespace limits a VMList to one namespace; all the user may list
	// when empty.
	Namespace string
	// VMSelector filters a VMList by label.
	VMSelector *metav1.LabelSelector
	// Cluster is the cluster the widget shows: the primary cluster when
	// empty, every cluster (with per-cluster and aggregated totals) for "*",
	// which a widget showing one VM (Console, VNC, the VMResources chart)
	// may not take.
	Cluster string
	// TimeRange overrides the dashboard's for a chart.
	TimeRange *DashboardTimeRange
	// Column and Row are the widget's top-left cell (from 0), Width and
	// Height its size in cells. (Not x and y: YAML 1.1 reads a bare y as
	// true, and kubectl's YAML does.)
	Column, Row, Width, Height int32
}

// DashboardVMReference names a VM; the dashboard's namespace when
// Namespace is empty.
type DashboardVMReference struct {
	Namespace string
	Name      string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DashboardList is a list of Dashboards.
type DashboardList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Dashboard
}
