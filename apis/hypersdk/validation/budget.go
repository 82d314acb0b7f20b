package validation

import (
	"fmt"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// ValidateBudget checks a Budget on create and update.
func ValidateBudget(b *hypersdk.Budget) field.ErrorList {
	allErrs := validateLabelledName(b.Name, field.NewPath("metadata", "name"))
	spec, fldPath := &b.Spec, field.NewPath("spec")
	if spec.Amount.Sign() <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("amount"), spec.Amount.String(), "must be above 0"))
	}
	if spec.VMSelector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.VMSelector, metav1validation.LabelSelectorValidationOptions{},
			fldPath.Child("vmSelector"))...)
	}
	thresholds := fldPath.Child("thresholds")
	if len(spec.Thresholds) == 0 {
		allErrs = append(allErrs, field.Required(thresholds, "percentages of the amount, such as 50, 80, 100"))
	}
	if len(spec.Thresholds) > 20 {
		allErrs = append(allErrs, field.TooMany(thresholds, len(spec.Thresholds), 20))
	}
	for i, v := range spec.Thresholds {
		allErrs = append(allErrs, inRange(v, 1, 1000, thresholds.Index(i))...)
		if i > 0 && v <= spec.Thresholds[i-1] {
			allErrs = append(allErrs, field.Invalid(thresholds.Index(i), v,
				fmt.Sprintf("thresholds must increase: %d follows %d", v, spec.Thresholds[i-1])))
		}
	}
	return allErrs
}
