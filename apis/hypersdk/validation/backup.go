package validation

import (
	"errors"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// backupParser reads backup schedules: five fields or a descriptor
// (@hourly, @every 10m, ...).
var backupParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseBackupSchedule parses a schedule in its time zone ("" is UTC) as the
// controller runs it.
func ParseBackupSchedule(schedule, timeZone string) (cron.Schedule, error) {
	if timeZone == "" {
		timeZone = "UTC"
	}
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		return nil, err
	}
	s, err := parseBackupSchedule(schedule)
	if err != nil {
		return nil, err
	}
	if spec, ok := s.(*cron.SpecSchedule); ok {
		spec.Location = loc
	}
	return s, nil
}

// parseBackupSchedule parses a schedule without its time zone. A
// CRON_TZ= or TZ= prefix is refused: the controller runs the schedule in
// spec.timeZone, which would silently override it.
func parseBackupSchedule(schedule string) (cron.Schedule, error) {
	if strings.HasPrefix(schedule, "CRON_TZ=") || strings.HasPrefix(schedule, "TZ=") {
		return nil, errors.New("a time zone prefix is not read here: set spec.timeZone")
	}
	return firing(backupParser.Parse(schedule))
}

// everyAtLeastASecond reads the duration of an @every schedule itself:
// robfig/cron raises anything under a second, zero and negative included,
// to one second, which would snapshot every VM every second.
func everyAtLeastASecond(schedule string) bool {
	d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(schedule, "@every")))
	return err == nil && d >= time.Second
}

// ValidateBackupSchedule checks a BackupSchedule on create and update.
func ValidateBackupSchedule(b *hypersdk.BackupSchedule) field.ErrorList {
	allErrs := validateLabelledName(b.Name, field.NewPath("metadata", "name"))
	spec, fldPath := &b.Spec, field.NewPath("spec")
	sel := fldPath.Child("vmSelector")
	switch {
	case spec.VMSelector == nil || (len(spec.VMSelector.MatchLabels) == 0 && len(spec.VMSelector.MatchExpressions) == 0):
		allErrs = append(allErrs, field.Required(sel, "select the VMs to back up by label"))
	default:
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.VMSelector, metav1validation.LabelSelectorValidationOptions{}, sel)...)
	}
	if spec.Schedule == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("schedule"), "a five-field cron expression such as \"0 2 * * *\" or @every 6h"))
	} else if s, err := parseBackupSchedule(spec.Schedule); err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("schedule"), spec.Schedule, err.Error()))
	} else if _, ok := s.(cron.ConstantDelaySchedule); ok && !everyAtLeastASecond(spec.Schedule) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("schedule"), spec.Schedule, "@every must be at least 1s"))
	}
	if spec.TimeZone != "" {
		// Local is the controller's own zone, which the user neither sees
		// nor chooses.
		if _, err := time.LoadLocation(spec.TimeZone); err != nil || spec.TimeZone == "Local" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("timeZone"), spec.TimeZone, "not an IANA time zone such as Europe/Madrid"))
		}
	}
	ret := fldPath.Child("retention")
	r := spec.Retention
	counts := []struct {
		name string
		n    *int32
	}{{"keepLast", r.KeepLast}, {"keepHourly", r.KeepHourly}, {"keepDaily", r.KeepDaily}, {"keepWeekly", r.KeepWeekly}, {"keepMonthly", r.KeepMonthly}}
	keeps := r.MaxAge != nil && r.MaxAge.Duration != 0
	for _, c := range counts {
		if c.n != nil && *c.n != 0 {
			keeps = true
			allErrs = append(allErrs, inRange(*c.n, 1, 1000, ret.Child(c.name))...)
		}
	}
	if !keeps {
		allErrs = append(allErrs, field.Required(ret, "keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly or maxAge: a schedule that keeps nothing would delete every snapshot it makes"))
	}
	if r.MaxAge != nil && r.MaxAge.Duration < 0 {
		allErrs = append(allErrs, field.Invalid(ret.Child("maxAge"), r.MaxAge.Duration.String(), "must not be negative"))
	}
	if n := spec.MaxConcurrent; n == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("maxConcurrent"), ""))
	} else {
		allErrs = append(allErrs, inRange(*n, 1, 100, fldPath.Child("maxConcurrent"))...)
	}
	if v := spec.Verification; v != nil {
		vp := fldPath.Child("verification")
		allErrs = append(allErrs, inRange(v.Every, 1, 100, vp.Child("every"))...)
		if d := v.Timeout.Duration; d < time.Minute || d > time.Hour {
			allErrs = append(allErrs, field.Invalid(vp.Child("timeout"), d.String(), "must be between 1m and 1h"))
		}
		if v.Command != "" && v.Username == "" {
			allErrs = append(allErrs, field.Required(vp.Child("username"), "the command is typed at a shell: give the user to log in as"))
		}
		if v.ExpectedOutput == "" {
			allErrs = append(allErrs, field.Required(vp.Child("expectedOutput"), "what the console must show for the backup to count as good"))
		}
		for _, f := range []struct{ name, value string }{{"command", v.Command}, {"username", v.Username}, {"expectedOutput", v.ExpectedOutput}} {
			if len(f.value) > 256 || strings.ContainsAny(f.value, "\r\n") {
				allErrs = append(allErrs, field.Invalid(vp.Child(f.name), f.value, "one line of at most 256 characters"))
			}
		}
	}
	if r := spec.Replication; r != nil {
		rp := fldPath.Child("replication")
		if r.KubeconfigSecret == "" {
			allErrs = append(allErrs, field.Required(rp.Child("kubeconfigSecret"), "a Secret of this namespace with the other cluster's kubeconfig"))
		} else {
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(r.KubeconfigSecret, false) {
				allErrs = append(allErrs, field.Invalid(rp.Child("kubeconfigSecret"), r.KubeconfigSecret, msg))
			}
		}
		if r.Namespace != "" {
			for _, msg := range apimachineryvalidation.ValidateNamespaceName(r.Namespace, false) {
				allErrs = append(allErrs, field.Invalid(rp.Child("namespace"), r.Namespace, msg))
			}
		}
	}
	if w := spec.CarbonWindow; w != nil {
		if d := w.Within.Duration; d < time.Hour || d > 168*time.Hour {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("carbonWindow", "within"), d.String(),
				"must be between 1h and 168h: carbon intensity is forecast by the hour, at most a week ahead"))
		}
	}
	return allErrs
}
