package validation

import (
	"fmt"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// maxBands bounds a policy's bands: more steps than this cannot be told apart.
const maxBands = 10

// ValidateCarbonScalingPolicy checks a CarbonScalingPolicy on create and
// update (its spec; the status is the controller's).
func ValidateCarbonScalingPolicy(p *hypersdk.CarbonScalingPolicy) field.ErrorList {
	allErrs := validateName(p.Name, field.NewPath("metadata", "name"))
	return append(allErrs, validateCarbonScalingSpec(&p.Spec, field.NewPath("spec"))...)
}

func validateCarbonScalingSpec(spec *hypersdk.CarbonScalingPolicySpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	sel := fldPath.Child("hpaSelector")
	switch {
	case spec.HPASelector == nil || (len(spec.HPASelector.MatchLabels) == 0 && len(spec.HPASelector.MatchExpressions) == 0):
		allErrs = append(allErrs, field.Required(sel, "select the HorizontalPodAutoscalers to cap by label"))
	default:
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.HPASelector,
			metav1validation.LabelSelectorValidationOptions{}, sel)...)
	}
	if spec.Zone == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("zone"), "the grid zone whose intensity applies"))
	}
	bands := fldPath.Child("bands")
	if len(spec.Bands) == 0 {
		allErrs = append(allErrs, field.Required(bands, "at least one band"))
	}
	if len(spec.Bands) > maxBands {
		allErrs = append(allErrs, field.TooMany(bands, len(spec.Bands), maxBands))
	}
	for i, b := range spec.Bands {
		p := bands.Index(i)
		allErrs = append(allErrs, inRange(b.AboveGramsPerKWh, 1, 5000, p.Child("aboveGramsPerKWh"))...)
		allErrs = append(allErrs, inRange(b.MaxReplicasPercent, 1, 99, p.Child("maxReplicasPercent"))...)
		if i == 0 {
			continue
		}
		prev := spec.Bands[i-1]
		if b.AboveGramsPerKWh <= prev.AboveGramsPerKWh {
			allErrs = append(allErrs, field.Invalid(p.Child("aboveGramsPerKWh"), b.AboveGramsPerKWh,
				fmt.Sprintf("must be above the previous band's %d", prev.AboveGramsPerKWh)))
		}
		if b.MaxReplicasPercent >= prev.MaxReplicasPercent {
			allErrs = append(allErrs, field.Invalid(p.Child("maxReplicasPercent"), b.MaxReplicasPercent,
				fmt.Sprintf("must be below the previous band's %d: a dirtier grid caps harder", prev.MaxReplicasPercent)))
		}
	}
	return allErrs
}
