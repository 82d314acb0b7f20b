package validation

import (
	"time"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// Bounds of an IdleVMPolicy's window: a few recorder samples at least,
// and no more than history keeps.
const (
	minIdleWindow = 10 * time.Second
	maxIdleWindow = 30 * 24 * time.Hour
)

// ValidateIdleVMPolicy checks an IdleVMPolicy on create and update.
func ValidateIdleVMPolicy(p *hypersdk.IdleVMPolicy) field.ErrorList {
	allErrs := validateLabelledName(p.Name, field.NewPath("metadata", "name"))
	spec, fldPath := &p.Spec, field.NewPath("spec")
	if spec.VMSelector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.VMSelector, metav1validation.LabelSelectorValidationOptions{},
			fldPath.Child("vmSelector"))...)
	}
	allErrs = append(allErrs, inRange(spec.CPUThresholdPercent, 1, 100, fldPath.Child("cpuThresholdPercent"))...)
	if w := spec.Window; w == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("window"), ""))
	} else if w.Duration < minIdleWindow || w.Duration > maxIdleWindow {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("window"), w.Duration.String(), "must be between 10s and 720h"))
	}
	switch spec.Action {
	case hypersdk.IdleActionReport, hypersdk.IdleActionStop:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("action"), spec.Action,
			[]hypersdk.IdleAction{hypersdk.IdleActionReport, hypersdk.IdleActionStop}))
	}
	if g := spec.GracePeriod; g == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("gracePeriod"), ""))
	} else if g.Duration < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("gracePeriod"), g.Duration.String(), "must not be negative"))
	}
	return allErrs
}
