package validation

import (
	"fmt"
	"slices"
	"time"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// DashboardRanges are the windows a dashboard's charts may show, ending now.
var DashboardRanges = map[string]time.Duration{
	"1h": time.Hour, "6h": 6 * time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour,
}

// DashboardCharts are the twelve charts, in the order the UI offers them.
var DashboardCharts = []hypersdk.DashboardChartName{
	hypersdk.ChartVMsByPhase, hypersdk.ChartCPUUsage, hypersdk.ChartMemoryUsage, hypersdk.ChartCarbonIntensity,
	hypersdk.ChartClusterCarbon, hypersdk.ChartCost, hypersdk.ChartNodeUtilization, hypersdk.ChartTopVMs,
	hypersdk.ChartOperations, hypersdk.ChartMigrations, hypersdk.ChartPlacementsByZone, hypersdk.ChartVMResources,
}

const (
	maxDashboardWidgets = 64
	maxDashboardRows    = 1000
	maxWidgetHeight     = 48
	maxClusterName      = 253
	// A title is one line above the grid, a description a paragraph.
	maxDashboardTitle       = 256
	maxDashboardDescription = 4096
)

// ValidateDashboard checks a dashboard's layout: widgets that fit the grid
// without overlapping, and each with exactly what its type needs.
func ValidateDashboard(d *hypersdk.Dashboard) field.ErrorList {
	allErrs := validateName(d.Name, field.NewPath("metadata", "name"))
	spec, fldPath := &d.Spec, field.NewPath("spec")
	if len(spec.Title) > maxDashboardTitle {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("title"), spec.Title, maxDashboardTitle))
	}
	if len(spec.Description) > maxDashboardDescription {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("description"), spec.Description, maxDashboardDescription))
	}
	allErrs = append(allErrs, inRange(spec.Columns, 1, 24, fldPath.Child("columns"))...)
	allErrs = append(allErrs, validateTimeRange(&spec.TimeRange, fldPath.Child("timeRange"))...)
	widgets := fldPath.Child("widgets")
	if len(spec.Widgets) > maxDashboardWidgets {
		allErrs = append(allErrs, field.TooMany(widgets, len(spec.Widgets), maxDashboardWidgets))
	}
	names := sets.New[string]()
	for i := range spec.Widgets {
		w, p := &spec.Widgets[i], widgets.Index(i)
		allErrs = append(allErrs, validateWidget(w, spec.Columns, p)...)
		if names.Has(w.Name) {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), w.Name))
		}
		names.Insert(w.Name)
		for j := range i {
			if other := &spec.Widgets[j]; overlap(w, other) {
				allErrs = append(allErrs, field.Invalid(p, w.Name, fmt.Sprintf("overlaps widget %q (widgets[%d])", other.Name, j)))
			}
		}
	}
	return allErrs
}

func validateTimeRange(r *hypersdk.DashboardTimeRange, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	custom := r.Start != nil || r.End != nil
	switch {
	case r.Last != "" && custom:
		allErrs = append(allErrs, field.Invalid(fldPath, r.Last, "set either last or start and end, not both"))
	case r.Last != "":
		if _, ok := DashboardRanges[r.Last]; !ok {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("last"), r.Last, []string{"1h", "6h", "24h", "7d", "30d"}))
		}
	case r.Start == nil:
		allErrs = append(allErrs, field.Required(fldPath.Child("start"), "a custom range needs a start and an end, or set last"))
	case r.End == nil:
		allErrs = append(allErrs, field.Required(fldPath.Child("end"), "a custom range needs a start and an end, or set last"))
	case !r.End.After(r.Start.Time):
		allErrs = append(allErrs, field.Invalid(fldPath.Child("end"), r.End.UTC().Format(time.RFC3339), "must be after start"))
	case r.End.Sub(r.Start.Time) > DashboardRanges["30d"]:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("end"), r.End.UTC().Format(time.RFC3339),
			"the range may span at most 30 days, what VM history keeps"))
	}
	return allErrs
}

func validateWidget(w *hypersdk.DashboardWidget, columns int32, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if w.Name == "" {
		allErrs = append(allErrs, field.Required(p.Child("name"), "a DNS label naming the widget within the dashboard"))
	}
	for _, msg := range validation.IsDNS1123Label(w.Name) {
		if w.Name != "" {
			allErrs = append(allErrs, field.Invalid(p.Child("name"), w.Name, msg))
		}
	}
	// An unknown type is reported once, without the fields it would forbid.
	needsVM, known := false, true
	switch w.Type {
	case hypersdk.DashboardChart:
		switch {
		case w.Chart == "":
			allErrs = append(allErrs, field.Required(p.Child("chart"), "which of the twelve charts to draw"))
		case !slices.Contains(DashboardCharts, w.Chart):
			allErrs = append(allErrs, field.NotSupported(p.Child("chart"), w.Chart, DashboardCharts))
		}
		needsVM = w.Chart == hypersdk.ChartVMResources
	case hypersdk.DashboardConsole, hypersdk.DashboardVNC:
		needsVM = true
	case hypersdk.DashboardVMList:
	case "":
		known = false
		allErrs = append(allErrs, field.Required(p.Child("type"), "Chart, VMList, Console or VNC"))
	default:
		known = false
		allErrs = append(allErrs, field.NotSupported(p.Child("type"), w.Type,
			[]hypersdk.DashboardWidgetType{hypersdk.DashboardChart, hypersdk.DashboardVMList, hypersdk.DashboardConsole, hypersdk.DashboardVNC}))
	}
	if !known {
		return append(allErrs, validateCells(w, columns, p)...)
	}
	if w.Chart != "" && w.Type != hypersdk.DashboardChart {
		allErrs = append(allErrs, field.Forbidden(p.Child("chart"), "only for type Chart"))
	}
	switch {
	case needsVM && (w.VM == nil || w.VM.Name == ""):
		allErrs = append(allErrs, field.Required(p.Child("vm", "name"), fmt.Sprintf("the VM a %s widget shows", widgetKind(w))))
	case needsVM:
		allErrs = append(allErrs, validateName(w.VM.Name, p.Child("vm", "name"))...)
		if w.Cluster == "*" {
			allErrs = append(allErrs, field.Invalid(p.Child("cluster"), w.Cluster,
				fmt.Sprintf("a %s widget shows one VM, which is in one cluster: name the cluster, or leave it empty for the primary", widgetKind(w))))
		}
		if w.VM.Namespace != "" {
			for _, msg := range apimachineryvalidation.ValidateNamespaceName(w.VM.Namespace, false) {
				allErrs = append(allErrs, field.Invalid(p.Child("vm", "namespace"), w.VM.Namespace, msg))
			}
		}
	case w.VM != nil:
		allErrs = append(allErrs, field.Forbidden(p.Child("vm"), "only for Console, VNC and the VMResources chart"))
	}
	if w.Type != hypersdk.DashboardVMList {
		if w.Namespace != "" {
			allErrs = append(allErrs, field.Forbidden(p.Child("namespace"), "only for type VMList"))
		}
		if w.VMSelector != nil {
			allErrs = append(allErrs, field.Forbidden(p.Child("vmSelector"), "only for type VMList"))
		}
	} else {
		if w.Namespace != "" {
			for _, msg := range apimachineryvalidation.ValidateNamespaceName(w.Namespace, false) {
				allErrs = append(allErrs, field.Invalid(p.Child("namespace"), w.Namespace, msg))
			}
		}
		if w.VMSelector != nil {
			allErrs = append(allErrs, metav1validation.ValidateLabelSelector(w.VMSelector, metav1validation.LabelSelectorValidationOptions{},
				p.Child("vmSelector"))...)
		}
	}
	if w.TimeRange != nil {
		if w.Type != hypersdk.DashboardChart {
			allErrs = append(allErrs, field.Forbidden(p.Child("timeRange"), "only for type Chart"))
		} else {
			allErrs = append(allErrs, validateTimeRange(w.TimeRange, p.Child("timeRange"))...)
		}
	}
	return append(allErrs, validateCells(w, columns, p)...)
}

// validateCells checks the cluster and the cells of a widget, whatever its type.
func validateCells(w *hypersdk.DashboardWidget, columns int32, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(w.Cluster) > maxClusterName {
		allErrs = append(allErrs, field.TooLong(p.Child("cluster"), w.Cluster, maxClusterName))
	}
	if w.Column < 0 || (columns > 0 && w.Column >= columns) {
		allErrs = append(allErrs, field.Invalid(p.Child("column"), w.Column, fmt.Sprintf("must be between 0 and %d (columns - 1)", columns-1)))
	}
	// Compared without adding, which could overflow int32 past the check.
	if w.Width < 1 || (columns > 0 && w.Column >= 0 && w.Width > columns-w.Column) {
		allErrs = append(allErrs, field.Invalid(p.Child("width"), w.Width, fmt.Sprintf("must be at least 1 and end within the %d columns", columns)))
	}
	allErrs = append(allErrs, inRange(w.Row, 0, maxDashboardRows, p.Child("row"))...)
	allErrs = append(allErrs, inRange(w.Height, 1, maxWidgetHeight, p.Child("height"))...)
	return allErrs
}

func widgetKind(w *hypersdk.DashboardWidget) string {
	if w.Type == hypersdk.DashboardChart {
		return string(w.Chart) + " chart"
	}
	return string(w.Type)
}

// overlap tells whether two widgets share a cell.
func overlap(a, b *hypersdk.DashboardWidget) bool {
	return a.Column < b.Column+b.Width && b.Column < a.Column+a.Width && a.Row < b.Row+b.Height && b.Row < a.Row+a.Height
}
