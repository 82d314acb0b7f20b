package validation

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

var (
	rebalanceModes    = sets.New(hypersdk.RebalanceDryRun, hypersdk.RebalanceAutomatic)
	rebalanceTriggers = sets.New(hypersdk.RebalancePressure, hypersdk.RebalanceCarbon, hypersdk.RebalanceCost,
		hypersdk.RebalanceMaintenance, hypersdk.RebalanceDrain)
)

// Bounds of a RebalancePolicy. The in-flight limits are the executor's
// own: more would only queue.
const (
	maxRebalanceTriggers   = 20
	maxRebalanceInFlight   = 5
	maxRebalancePerNode    = 2
	minRebalanceCooldown   = 10 * time.Second
	maxRebalanceCooldown   = 24 * time.Hour
	minMaintenanceDuration = time.Minute
	maxMaintenanceDuration = 7 * 24 * time.Hour
	maxRebalanceHorizon    = 48 * time.Hour
)

// ValidateRebalancePolicy checks a RebalancePolicy on create and update.
func ValidateRebalancePolicy(p *hypersdk.RebalancePolicy) field.ErrorList {
	allErrs := validateLabelledName(p.Name, field.NewPath("metadata", "name"))
	spec, fldPath := &p.Spec, field.NewPath("spec")
	if !rebalanceModes.Has(spec.Mode) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("mode"), spec.Mode, sets.List(rebalanceModes)))
	}
	if spec.VMSelector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.VMSelector, metav1validation.LabelSelectorValidationOptions{},
			fldPath.Child("vmSelector"))...)
	}
	if spec.NodeSelector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.NodeSelector, metav1validation.LabelSelectorValidationOptions{},
			fldPath.Child("nodeSelector"))...)
	}
	allErrs = append(allErrs, inRange(spec.MaxInFlight, 1, maxRebalanceInFlight, fldPath.Child("maxInFlight"))...)
	allErrs = append(allErrs, inRange(spec.MaxInFlightPerNode, 1, maxRebalancePerNode, fldPath.Child("maxInFlightPerNode"))...)
	allErrs = append(allErrs, durationAtLeast(spec.Cooldown, minRebalanceCooldown, fldPath.Child("cooldown"))...)
	if c := spec.Cooldown; c != nil && c.Duration > maxRebalanceCooldown {
		// The backoff stops doubling at a day: a longer cooldown would be cut.
		allErrs = append(allErrs, field.Invalid(fldPath.Child("cooldown"), c.Duration.String(), "must be at most "+maxRebalanceCooldown.String()))
	}
	if spec.CarbonPricePerTonne < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("carbonPricePerTonne"), spec.CarbonPricePerTonne, "must not be negative"))
	}
	if v := spec.CostBudgetPercent; v != nil {
		allErrs = append(allErrs, inRange(*v, 0, 1000, fldPath.Child("costBudgetPercent"))...)
		if spec.CarbonPricePerTonne != 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("costBudgetPercent"),
				"set either carbonPricePerTonne or costBudgetPercent, not both"))
		}
	}
	triggers := fldPath.Child("triggers")
	if len(spec.Triggers) == 0 {
		allErrs = append(allErrs, field.Required(triggers, fmt.Sprintf("at least one of %v", sets.List(rebalanceTriggers))))
	}
	if len(spec.Triggers) > maxRebalanceTriggers {
		allErrs = append(allErrs, field.TooMany(triggers, len(spec.Triggers), maxRebalanceTriggers))
	}
	seen, windows := sets.New[hypersdk.RebalanceTriggerType](), sets.New[string]()
	for i := range spec.Triggers {
		t, path := &spec.Triggers[i], triggers.Index(i)
		if !rebalanceTriggers.Has(t.Type) {
			allErrs = append(allErrs, field.NotSupported(path.Child("type"), t.Type, sets.List(rebalanceTriggers)))
			continue
		}
		if t.Type != hypersdk.RebalanceMaintenance && seen.Has(t.Type) {
			allErrs = append(allErrs, field.Duplicate(path.Child("type"), t.Type))
		}
		seen.Insert(t.Type)
		allErrs = append(allErrs, onlyMember(t, path)...)
		switch t.Type {
		case hypersdk.RebalancePressure:
			allErrs = append(allErrs, validatePressureTrigger(t.Pressure, path.Child("pressure"))...)
		case hypersdk.RebalanceCarbon:
			allErrs = append(allErrs, validateCarbonTrigger(t.Carbon, path.Child("carbon"))...)
		case hypersdk.RebalanceCost:
			if t.Cost != nil {
				allErrs = append(allErrs, inRange(t.Cost.ThresholdPercent, 1, 100, path.Child("cost", "thresholdPercent"))...)
			}
		case hypersdk.RebalanceMaintenance:
			allErrs = append(allErrs, validateMaintenanceTrigger(t.Maintenance, windows, path.Child("maintenance"))...)
		case hypersdk.RebalanceDrain:
			if t.Drain == nil {
				allErrs = append(allErrs, field.Required(path.Child("drain"), "the labels of the nodes to empty"))
			} else {
				allErrs = append(allErrs, requiredSelector(t.Drain.NodeSelector, path.Child("drain", "nodeSelector"))...)
			}
		}
	}
	return allErrs
}

// onlyMember rejects members other than the one Type names.
func onlyMember(t *hypersdk.RebalanceTrigger, path *field.Path) field.ErrorList {
	set := map[hypersdk.RebalanceTriggerType]bool{
		hypersdk.RebalancePressure: t.Pressure != nil, hypersdk.RebalanceCarbon: t.Carbon != nil,
		hypersdk.RebalanceCost: t.Cost != nil, hypersdk.RebalanceMaintenance: t.Maintenance != nil,
		hypersdk.RebalanceDrain: t.Drain != nil,
	}
	var allErrs field.ErrorList
	for _, typ := range sets.List(rebalanceTriggers) {
		if set[typ] && typ != t.Type {
			allErrs = append(allErrs, field.Forbidden(path.Child(lowerFirst(string(typ))), "only the member named by type may be set"))
		}
	}
	return allErrs
}

func validatePressureTrigger(p *hypersdk.PressureTrigger, path *field.Path) field.ErrorList {
	if p == nil {
		return field.ErrorList{field.Required(path, "lowThresholdPercent and highThresholdPercent")}
	}
	allErrs := inRange(p.LowThresholdPercent, 1, 99, path.Child("lowThresholdPercent"))
	allErrs = append(allErrs, inRange(p.HighThresholdPercent, 2, 100, path.Child("highThresholdPercent"))...)
	if p.LowThresholdPercent >= p.HighThresholdPercent {
		allErrs = append(allErrs, field.Invalid(path.Child("lowThresholdPercent"), p.LowThresholdPercent,
			"must be below highThresholdPercent: nodes between the two neither give nor take VMs"))
	}
	return append(allErrs, durationAtLeast(p.For, 0, path.Child("for"))...)
}

func validateCarbonTrigger(c *hypersdk.CarbonTrigger, path *field.Path) field.ErrorList {
	if c == nil {
		return field.ErrorList{field.Required(path, "thresholdPercent")}
	}
	allErrs := inRange(c.ThresholdPercent, 1, 100, path.Child("thresholdPercent"))
	allErrs = append(allErrs, durationAtLeast(c.For, 0, path.Child("for"))...)
	allErrs = append(allErrs, durationAtLeast(c.ForecastHorizon, time.Hour, path.Child("forecastHorizon"))...)
	if h := c.ForecastHorizon; h != nil && h.Duration > maxRebalanceHorizon {
		allErrs = append(allErrs, field.Invalid(path.Child("forecastHorizon"), h.Duration.String(), "must be at most 48h"))
	}
	return allErrs
}

func validateMaintenanceTrigger(m *hypersdk.MaintenanceTrigger, names sets.Set[string], path *field.Path) field.ErrorList {
	if m == nil {
		return field.ErrorList{field.Required(path, "name, schedule, duration and nodeSelector")}
	}
	var allErrs field.ErrorList
	switch {
	case m.Name == "":
		allErrs = append(allErrs, field.Required(path.Child("name"), ""))
	case names.Has(m.Name):
		allErrs = append(allErrs, field.Duplicate(path.Child("name"), m.Name))
	default:
		allErrs = append(allErrs, validateName(m.Name, path.Child("name"))...)
	}
	names.Insert(m.Name)
	if _, err := ParseWindowSchedule(m.Schedule); err != nil {
		allErrs = append(allErrs, field.Invalid(path.Child("schedule"), m.Schedule, err.Error()))
	}
	if d := m.Duration.Duration; d < minMaintenanceDuration || d > maxMaintenanceDuration {
		allErrs = append(allErrs, field.Invalid(path.Child("duration"), d.String(), "must be between 1m and 168h"))
	}
	allErrs = append(allErrs, durationAtLeast(m.DrainBefore, 0, path.Child("drainBefore"))...)
	return append(allErrs, requiredSelector(m.NodeSelector, path.Child("nodeSelector"))...)
}

// requiredSelector rejects a missing or empty selector: an empty one would
// select every node of the cluster.
func requiredSelector(s *metav1.LabelSelector, path *field.Path) field.ErrorList {
	if s == nil || (len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0) {
		return field.ErrorList{field.Required(path, "an empty selector would select every node")}
	}
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, path)
}

// durationAtLeast rejects a duration below least (defaults fill unset ones).
func durationAtLeast(d *metav1.Duration, least time.Duration, path *field.Path) field.ErrorList {
	if d == nil {
		return field.ErrorList{field.Required(path, "")}
	}
	if d.Duration < least {
		return field.ErrorList{field.Invalid(path, d.Duration.String(), "must be at least "+least.String())}
	}
	return nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}
