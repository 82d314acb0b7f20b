package validation

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

var (
	autoscalerTargetKinds = sets.New("VirtualMachine", "VirtualMachinePool")
	autoscalerModes       = sets.New(string(hypersdk.AutoscalerUpdateOff), string(hypersdk.AutoscalerUpdateInitial),
		string(hypersdk.AutoscalerUpdateLive), string(hypersdk.AutoscalerUpdateLiveOrRestart))
	autoscalerResources = sets.New(hypersdk.AutoscalerResourceCPU, hypersdk.AutoscalerResourceMemory)
)

// maxWindows bounds an autoscaler's maintenance windows.
const maxWindows = 20

// cronParser reads the five-field schedules the controller runs.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// ParseWindowSchedule parses a maintenance window's schedule as the
// controller does, in UTC. A CRON_TZ= or TZ= prefix is refused: robfig/cron
// would run it in that zone, skipping or repeating windows at its daylight
// saving changes (and panics on one without a schedule after it).
func ParseWindowSchedule(s string) (cron.Schedule, error) {
	if strings.HasPrefix(s, "CRON_TZ=") || strings.HasPrefix(s, "TZ=") {
		return nil, errors.New("a time zone prefix is not read here: windows are in UTC")
	}
	return firing(cronParser.Parse(s))
}

// ParseStoredWindowSchedule parses a schedule already stored, as the
// controllers run it: one stored with a time zone prefix, before
// ParseWindowSchedule refused them, keeps running in its zone rather than
// stop its policy's every pass (a stored one always has a schedule after
// the prefix: one without made the parser panic, and was never stored).
func ParseStoredWindowSchedule(s string) (cron.Schedule, error) {
	if zone, rest, ok := strings.Cut(s, " "); ok && (strings.HasPrefix(zone, "CRON_TZ=") || strings.HasPrefix(zone, "TZ=")) && rest != "" {
		return firing(cronParser.Parse(s))
	}
	return ParseWindowSchedule(s)
}

// firing passes a parsed schedule on unless no date matches it ("0 2 30 2
// *"): robfig/cron's Next then answers the zero time, which every caller
// would take for a time long past, so a maintenance window would count as
// open for ever and a backup's next run as overdue.
func firing(s cron.Schedule, err error) (cron.Schedule, error) {
	if err != nil {
		return nil, err
	}
	// Any reference time will do: robfig/cron searches five years ahead,
	// and every date a five-field schedule can name comes within four.
	if s.Next(time.Unix(0, 0).UTC()).IsZero() {
		return nil, errors.New("no date matches it, so it would never fire")
	}
	return s, nil
}

// ValidateVirtualMachineAutoscaler checks an autoscaler on create and update
// (its spec; the status is the controller's).
func ValidateVirtualMachineAutoscaler(a *hypersdk.VirtualMachineAutoscaler) field.ErrorList {
	allErrs := validateLabelledName(a.Name, field.NewPath("metadata", "name"))
	return append(allErrs, validateAutoscalerSpec(&a.Spec, field.NewPath("spec"))...)
}

func validateAutoscalerSpec(spec *hypersdk.VirtualMachineAutoscalerSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	ref := fldPath.Child("targetRef")
	if !autoscalerTargetKinds.Has(spec.TargetRef.Kind) {
		allErrs = append(allErrs, field.NotSupported(ref.Child("kind"), spec.TargetRef.Kind, sets.List(autoscalerTargetKinds)))
	}
	if spec.TargetRef.Name == "" {
		allErrs = append(allErrs, field.Required(ref.Child("name"), "the VM or pool to size"))
	} else {
		allErrs = append(allErrs, validateName(spec.TargetRef.Name, ref.Child("name"))...)
	}
	if !autoscalerModes.Has(string(spec.UpdateMode)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("updateMode"), spec.UpdateMode, sets.List(autoscalerModes)))
	}
	resources := fldPath.Child("controlledResources")
	if len(spec.ControlledResources) == 0 {
		allErrs = append(allErrs, field.Required(resources, "cpu, memory or both"))
	}
	seen := sets.New[string]()
	for i, r := range spec.ControlledResources {
		switch {
		case !autoscalerResources.Has(r):
			allErrs = append(allErrs, field.NotSupported(resources.Index(i), r, sets.List(autoscalerResources)))
		case seen.Has(r):
			allErrs = append(allErrs, field.Duplicate(resources.Index(i), r))
		}
		seen.Insert(r)
	}
	allErrs = append(allErrs, validateAutoscalerResources(spec.MinAllowed, fldPath.Child("minAllowed"))...)
	allErrs = append(allErrs, validateAutoscalerResources(spec.MaxAllowed, fldPath.Child("maxAllowed"))...)
	if lo, hi := spec.MinAllowed, spec.MaxAllowed; lo != nil && hi != nil {
		if lo.CPUs != nil && hi.CPUs != nil && *lo.CPUs > *hi.CPUs {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("minAllowed", "cpus"), *lo.CPUs,
				fmt.Sprintf("must not be above maxAllowed.cpus (%d)", *hi.CPUs)))
		}
		if lo.Memory != nil && hi.Memory != nil && lo.Memory.Cmp(*hi.Memory) > 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("minAllowed", "memory"), lo.Memory.String(),
				fmt.Sprintf("must not be above maxAllowed.memory (%s)", hi.Memory)))
		}
	}
	windows := fldPath.Child("maintenanceWindows")
	if len(spec.MaintenanceWindows) > maxWindows {
		allErrs = append(allErrs, field.TooMany(windows, len(spec.MaintenanceWindows), maxWindows))
	}
	for i, w := range spec.MaintenanceWindows {
		p := windows.Index(i)
		if w.Schedule == "" {
			allErrs = append(allErrs, field.Required(p.Child("schedule"), "a five-field cron expression such as \"0 2 * * 6\""))
		} else if _, err := ParseWindowSchedule(w.Schedule); err != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("schedule"), w.Schedule, err.Error()))
		}
		if w.Duration.Duration < time.Minute {
			allErrs = append(allErrs, field.Invalid(p.Child("duration"), w.Duration.Duration.String(), "must be at least 1m: an empty window never opens"))
		}
	}
	if spec.UpdateMode == hypersdk.AutoscalerUpdateLiveOrRestart && len(spec.MaintenanceWindows) == 0 {
		allErrs = append(allErrs, field.Required(windows, "LiveOrRestart restarts only inside a maintenance window"))
	}
	if n := spec.MaxChangesPerDay; n == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("maxChangesPerDay"), ""))
	} else {
		allErrs = append(allErrs, inRange(*n, 1, 96, fldPath.Child("maxChangesPerDay"))...)
	}
	if c := spec.Cooldown; c == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("cooldown"), ""))
	} else if c.Duration < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("cooldown"), c.Duration.String(), "must not be negative"))
	}
	return allErrs
}

func validateAutoscalerResources(r *hypersdk.AutoscalerResources, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if r == nil {
		return nil
	}
	// Within what a resize accepts: beyond it every resize the autoscaler
	// made would be refused.
	if r.CPUs != nil && (*r.CPUs < 1 || *r.CPUs > MaxCPUs) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("cpus"), *r.CPUs, fmt.Sprintf("must be between 1 and %d", MaxCPUs)))
	}
	if r.Memory != nil && (r.Memory.Cmp(minMemory) < 0 || r.Memory.Cmp(MaxMemory) > 0) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("memory"), r.Memory.String(), "must be between "+minMemory.String()+" and "+MaxMemory.String()))
	}
	return allErrs
}
