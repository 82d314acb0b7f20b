package validation

import (
	"fmt"
	"time"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// maxForecastHorizon bounds carbonForecastHorizon: forecasts past three days
// are too uncertain to place by.
const maxForecastHorizon = 72 * time.Hour

// ValidatePlacementPolicy checks a PlacementPolicy on create and update.
func ValidatePlacementPolicy(p *hypersdk.PlacementPolicy) field.ErrorList {
	allErrs := validateName(p.Name, field.NewPath("metadata", "name"))
	return append(allErrs, ValidatePlacementPolicySpec(&p.Spec, field.NewPath("spec"))...)
}

// ValidatePlacementPolicySpec checks weights, limits and the selector.
func ValidatePlacementPolicySpec(spec *hypersdk.PlacementPolicySpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.VMSelector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.VMSelector,
			metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("vmSelector"))...)
	}
	weights := []struct {
		name  string
		value *int32
	}{{"carbonWeight", spec.CarbonWeight}, {"costWeight", spec.CostWeight}, {"pressureWeight", spec.PressureWeight}, {"gpuWeight", spec.GPUWeight}}
	set, positive := 0, 0
	for _, w := range weights {
		if w.value == nil {
			continue
		}
		set++
		if *w.value > 0 {
			positive++
		}
		allErrs = append(allErrs, inRange(*w.value, 0, 100, fldPath.Child(w.name))...)
	}
	if set == len(weights) && positive == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("carbonWeight"), 0, "at least one weight must be positive"))
	}
	switch spec.GPUPolicy {
	case "", hypersdk.GPUPolicyBinpack, hypersdk.GPUPolicySpread:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("gpuPolicy"), spec.GPUPolicy,
			[]string{string(hypersdk.GPUPolicyBinpack), string(hypersdk.GPUPolicySpread)}))
	}
	if v := spec.CarbonPricePerTonne; v != nil {
		allErrs = append(allErrs, inRange(*v, 0, 100000, fldPath.Child("carbonPricePerTonne"))...)
	}
	if v := spec.CostBudgetPercent; v != nil {
		allErrs = append(allErrs, inRange(*v, 0, 1000, fldPath.Child("costBudgetPercent"))...)
		if spec.CarbonPricePerTonne != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("costBudgetPercent"),
				"set either carbonPricePerTonne or costBudgetPercent, not both"))
		}
	}
	if v := spec.MaxCarbonIntensity; v != nil {
		allErrs = append(allErrs, inRange(*v, 1, 5000, fldPath.Child("maxCarbonIntensity"))...)
	}
	if v := spec.MaxNodeUtilization; v != nil {
		allErrs = append(allErrs, inRange(*v, 1, 100, fldPath.Child("maxNodeUtilization"))...)
	}
	if v := spec.TargetUtilization; v != nil {
		allErrs = append(allErrs, inRange(*v, 1, 99, fldPath.Child("targetUtilization"))...)
	}
	if h := spec.CarbonForecastHorizon; h != nil && (h.Duration < time.Hour || h.Duration > maxForecastHorizon) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("carbonForecastHorizon"), h.Duration.String(),
			"must be between 1h and 72h"))
	}
	return allErrs
}

func inRange(v, lo, hi int32, fldPath *field.Path) field.ErrorList {
	if v < lo || v > hi {
		return field.ErrorList{field.Invalid(fldPath, v, fmt.Sprintf("must be between %d and %d", lo, hi))}
	}
	return nil
}
