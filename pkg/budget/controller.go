// Package budget is hypersdk-controller's budget keeper: it reads each
// namespace's costreports/current, writes every Budget's month to date,
// projection and crossed thresholds to its status, announces each
// threshold once a month with an event, exports the figures as Prometheus
// metrics, and for an enforced, spent budget refuses new VMs in its scope
// with a ValidatingAdmissionPolicy of its own.
package budget

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/passloop"
)

// Conditions of a Budget.
const (
	ConditionReady    = "Ready"
	ConditionExceeded = "Exceeded"
	ConditionEnforced = "Enforced"
)

// Event reasons.
const (
	ReasonThresholdCrossed = "BudgetThresholdCrossed"
	ReasonEnforced         = "BudgetEnforced"
)

// Config is what the keeper needs.
type Config struct {
	Kube     kubernetes.Interface
	HyperSDK hypersdkclient.Interface
	// Registerer gets the budgets' metrics; nil registers none.
	Registerer prometheus.Registerer
	// Interval between passes.
	Interval time.Duration
	Clock    clock.Clock
}

// Keeper follows Budgets.
type Keeper struct {
	cfg      Config
	metrics  *metrics
	recorder record.EventRecorder
}

// New returns a keeper; Run starts it.
func New(cfg Config) (*Keeper, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Keeper{cfg: cfg, metrics: m}, nil
}

// Run makes a pass every interval until ctx ends.
func (k *Keeper) Run(ctx context.Context) error {
	return passloop.Run(ctx, k.cfg.Kube, "hypersdk-budget", k.cfg.Interval,
		func(r record.EventRecorder) { k.recorder = r }, k.Pass)
}

// Pass brings every budget up to date once, and lifts the refusals of
// budgets that are gone.
func (k *Keeper) Pass(ctx context.Context) error {
	list, err := k.cfg.HyperSDK.HypersdkV1alpha1().Budgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing budgets: %w", err)
	}
	reports := map[string]*v1alpha1.CostReport{}
	enforced := map[string]bool{}
	for i := range list.Items {
		b := &list.Items[i]
		on, err := k.sync(ctx, b, reports)
		if err != nil {
			klog.FromContext(ctx).Error(err, "Following budget", "budget", klog.KObj(b))
		}
		if on {
			enforced[policyName(b)] = true
		}
	}
	k.metrics.forget(list.Items)
	return k.sweep(ctx, enforced)
}

// sync reads the spend in b's scope, writes the status, announces new
// thresholds, and refuses or allows new VMs. It reports whether b's
// refusal is to stay.
func (k *Keeper) sync(ctx context.Context, b *v1alpha1.Budget, reports map[string]*v1alpha1.CostReport) (bool, error) {
	r, err := k.spend(ctx, b, reports)
	now := k.cfg.Clock.Now().UTC()
	if err == nil && !r.at.IsZero() {
		// The month is the report's: one read before midnight and reused
		// after it (reports are read once a pass) holds last month's
		// figures.
		now = r.at.UTC()
	}
	st := b.Status.DeepCopy()
	st.ObservedGeneration = b.Generation
	month := now.Format("2006-01")
	if st.Month != month {
		// Nothing of the last month's figures is this month's, even when
		// this month's cannot be read yet.
		*st = v1alpha1.BudgetStatus{ObservedGeneration: b.Generation, Month: month, Conditions: st.Conditions}
	}
	var spent float64
	if err == nil {
		var since time.Duration
		if st.LastUpdateTime != nil {
			since = now.Sub(st.LastUpdateTime.Time)
		}
		// The VMs whose spend a reading of the budget's own carries: those
		// in scope at the last one, and those that left the scope since
		// the month began (ledger keeps their figure).
		counted := map[types.UID]bool{}
		for _, vm := range slices.Concat(st.VirtualMachines, st.OutOfScope) {
			counted[vm.UID] = carries(since)
		}
		spent = ledger(st, r.vms, r.existing, r.rates, since)
		for uid, from := range r.cut {
			// No reading of the budget's own carries the spend before the
			// store's horizon: the budget's first of the month, one after a
			// gap, or a VM new to the scope (relabelled into it).
			if !counted[uid] && (st.CountedFrom == nil || st.CountedFrom.Before(from)) {
				st.CountedFrom = from.DeepCopy()
			}
		}
	}
	// Events are announced once the status that records them (Crossed,
	// Enforced) is written: a write that fails is done again next pass,
	// and so would they be.
	var announce []func()
	ready := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "SpendRead",
		Message: "month to date read from costreports/current"}
	if st.CountedFrom != nil {
		ready.Reason = "SpendPartial"
		ready.Message += fmt.Sprintf("; spend before %s may be missing: the history store no longer kept it when the budget read the month's spend",
			st.CountedFrom.UTC().Format(time.RFC3339))
	}
	enforcing := false
	if err != nil {
		// Without a figure nothing changes: the month's last one stands in
		// status, and a refusal in place stays until the spend can be read
		// (also into a new month: a budget fails closed), unless the
		// budget no longer asks for one.
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, "SpendUnavailable", err.Error()
		// A refusal whose last update failed (RefusalFailed) is still in
		// place while the month's last figure says the budget is spent.
		enforcing = b.Spec.Enforce && (meta.IsStatusConditionTrue(b.Status.Conditions, ConditionEnforced) ||
			b.Status.Month == month && b.Status.Spent >= b.Spec.Amount.AsApproximateFloat64())
		if b.Status.Month != month {
			setCondition(st, b, metav1.Condition{Type: ConditionExceeded, Status: metav1.ConditionUnknown, Reason: "SpendUnavailable",
				Message: "the spend of " + month + " could not be read yet"}, now)
		}
	} else {
		amount := b.Spec.Amount.AsApproximateFloat64()
		for _, t := range account(st, b.Spec, spent, r.perHour, now) {
			announce = append(announce, func() {
				k.event(b, corev1.EventTypeWarning, ReasonThresholdCrossed, "%d%% of %s spent in %s: %s, projected %s at the month's end",
					t, b.Spec.Amount.String(), month, cost.FormatAmount(spent), cost.FormatAmount(st.Projected))
			})
		}
		k.metrics.set(b, st)
		exceeded := metav1.Condition{Type: ConditionExceeded, Status: metav1.ConditionFalse, Reason: "WithinBudget",
			Message: fmt.Sprintf("%s of %s spent in %s", cost.FormatAmount(spent), b.Spec.Amount.String(), month)}
		if spent >= amount {
			exceeded.Status, exceeded.Reason = metav1.ConditionTrue, "BudgetSpent"
		}
		setCondition(st, b, exceeded, now)
		enforcing = b.Spec.Enforce && spent >= amount
	}
	setCondition(st, b, ready, now)

	enforced := metav1.Condition{Type: ConditionEnforced, Status: metav1.ConditionFalse, Reason: "NotEnforced",
		Message: "new VMs are allowed"}
	var werr error
	if enforcing {
		werr = k.refuse(ctx, b, month)
		if werr == nil {
			enforced.Status, enforced.Reason = metav1.ConditionTrue, "NewVMsRefused"
			enforced.Message = fmt.Sprintf("new VMs in scope are refused until %s ends or the amount is raised", month)
			if !meta.IsStatusConditionTrue(b.Status.Conditions, ConditionEnforced) {
				announce = append(announce, func() {
					k.event(b, corev1.EventTypeWarning, ReasonEnforced, "%s spent in %s: new VMs in scope are refused", b.Spec.Amount.String(), month)
				})
			}
		} else {
			enforced.Reason, enforced.Message = "RefusalFailed", werr.Error()
		}
	}
	setCondition(st, b, enforced, now)
	out := b.DeepCopy()
	out.Status = *st
	// A refusal that could not be brought up to date is kept as it is, not
	// swept: a budget that should refuse never stops refusing on an error.
	if _, uerr := k.cfg.HyperSDK.HypersdkV1alpha1().Budgets(b.Namespace).UpdateStatus(ctx, out, metav1.UpdateOptions{}); uerr != nil {
		return enforcing, fmt.Errorf("writing the status of budget %s/%s: %w", b.Namespace, b.Name, uerr)
	}
	for _, a := range announce {
		a()
	}
	if err != nil {
		return enforcing, err
	}
	return enforcing, werr
}

// account writes the month's spend into st (whose month is now's) and
// returns the thresholds it reaches for the first time this month at this
// amount.
func account(st *v1alpha1.BudgetStatus, spec v1alpha1.BudgetSpec, spent, perHour float64, now time.Time) []int32 {
	nextMonth := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	st.Spent, st.CostPerHour = spent, perHour
	st.Projected = spent + perHour*nextMonth.Sub(now).Hours()
	st.Percent = 100 * spent / spec.Amount.AsApproximateFloat64()
	st.LastUpdateTime = &metav1.Time{Time: now}
	// A threshold the spend no longer reaches (the amount was raised) is
	// not crossed any more, and is announced again when it is.
	st.Crossed = slices.DeleteFunc(st.Crossed, func(t int32) bool { return st.Percent < float64(t) })
	var newly []int32
	for _, t := range spec.Thresholds {
		if st.Percent >= float64(t) && !slices.Contains(st.Crossed, t) {
			st.Crossed = append(st.Crossed, t)
			newly = append(newly, t)
		}
	}
	return newly
}

func setCondition(st *v1alpha1.BudgetStatus, b *v1alpha1.Budget, c metav1.Condition, now time.Time) {
	c.ObservedGeneration, c.LastTransitionTime = b.Generation, metav1.NewTime(now)
	meta.SetStatusCondition(&st.Conditions, c)
}

// reading is what the VMs of a budget's namespace had spent when its cost
// report was made.
type reading struct {
	// vms are the VMs in scope and their month to date.
	vms []v1alpha1.BudgetVMSpend
	// existing are the UIDs of the namespace's VMs, in scope or not.
	existing map[types.UID]bool
	// perHour is what the VMs in scope cost per hour; rates, each one's.
	perHour float64
	rates   map[types.UID]float64
	// at is when the report was made.
	at time.Time
	// cut are the VMs whose month to date the history store's retention
	// cut, and from when it counts.
	cut map[types.UID]*metav1.Time
}

// spend is what each VM in b's scope has spent this month and what they
// all cost per hour, from the namespace's cost report (read once per pass)
// joined by name with the VMs in scope, which say their UIDs.
func (k *Keeper) spend(ctx context.Context, b *v1alpha1.Budget, reports map[string]*v1alpha1.CostReport) (*reading, error) {
	report, ok := reports[b.Namespace]
	if !ok {
		report = &v1alpha1.CostReport{}
		if err := k.cfg.HyperSDK.HypersdkV1alpha1().RESTClient().Get().Namespace(b.Namespace).Resource("costreports").
			Name("current").Do(ctx).Into(report); err != nil {
			return nil, fmt.Errorf("reading the cost report of %s: %w", b.Namespace, err)
		}
		reports[b.Namespace] = report
	}
	selector := labels.Everything()
	if b.Spec.VMSelector != nil {
		var err error
		if selector, err = metav1.LabelSelectorAsSelector(b.Spec.VMSelector); err != nil {
			return nil, err
		}
	}
	// Every VM of the namespace, in scope or not: the ledger needs to know
	// which of those that left the scope still exist.
	list, err := k.cfg.HyperSDK.HypersdkV1alpha1().VirtualMachines(b.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the VMs of budget %s/%s: %w", b.Namespace, b.Name, err)
	}
	uids := map[string]types.UID{}
	r := &reading{existing: map[types.UID]bool{}, rates: map[types.UID]float64{}, at: report.GeneratedAt.Time, cut: map[types.UID]*metav1.Time{}}
	for _, vm := range list.Items {
		r.existing[vm.UID] = true
		if selector.Matches(labels.Set(vm.Labels)) {
			uids[vm.Name] = vm.UID
		}
	}
	for _, vm := range report.VirtualMachines {
		if uid, ok := uids[vm.Name]; ok {
			r.vms = append(r.vms, v1alpha1.BudgetVMSpend{Name: vm.Name, UID: uid, MonthToDate: vm.Amounts.MonthToDate})
			r.perHour += vm.Amounts.CostPerHour
			r.rates[uid] = vm.Amounts.CostPerHour
			if from := vm.Amounts.MonthToDateFrom; from != nil {
				r.cut[uid] = from
			}
		}
	}
	return r, nil
}

// ledger records in st (whose month is the current one, and whose VMs are
// of it) the VMs now in scope, and returns the month's spend: theirs, and
// what the VMs that have left the scope since the last reading had spent
// then, which counts until the month ends. A VM in scope counts its whole
// month to date, so one that comes back has what it had spent when it
// left taken out of the departed spend; existing (the namespace's VMs, in
// scope or not) says which of those that left can still come back. A VM
// is known by its UID, so one made again under a deleted one's name is
// another.
//
// Once the history store no longer keeps the month's first days
// (Prometheus keeps 15 by default), a VM's month to date is read over what
// it keeps: a reading that slides with the days, and stays flat for a VM
// that costs the same every day. So a VM in scope at the last reading, a
// little while ago (since, at most maxExtrapolation), is taken to have
// spent at least its last figure plus its cost per hour now (rates) since
// then; a reading above that is taken as it is. A budget's spend never
// falls back mid-month, and keeps growing with what its VMs cost.
func ledger(st *v1alpha1.BudgetStatus, current []v1alpha1.BudgetVMSpend, existing map[types.UID]bool,
	rates map[types.UID]float64, since time.Duration) float64 {
	out := map[types.UID]v1alpha1.BudgetVMSpend{}
	for _, vm := range st.OutOfScope {
		out[vm.UID] = vm
	}
	last := map[types.UID]float64{}
	for _, vm := range slices.Concat(st.OutOfScope, st.VirtualMachines) {
		last[vm.UID] = vm.MonthToDate
	}
	inScope := map[types.UID]bool{}
	for _, vm := range st.VirtualMachines {
		inScope[vm.UID] = true
	}
	if !carries(since) {
		since = 0
	}
	current = slices.Clone(current)
	now := map[types.UID]bool{}
	for i, vm := range current {
		now[vm.UID] = true
		least := last[vm.UID]
		if inScope[vm.UID] {
			least += rates[vm.UID] * since.Hours()
		}
		current[i].MonthToDate = max(vm.MonthToDate, least)
	}
	for _, vm := range st.VirtualMachines {
		if !now[vm.UID] {
			st.DepartedSpent += vm.MonthToDate
			out[vm.UID] = vm
		}
	}
	for _, vm := range current {
		if left, ok := out[vm.UID]; ok {
			st.DepartedSpent = max(0, st.DepartedSpent-left.MonthToDate) // no rounding below nothing
		}
	}
	st.OutOfScope = nil
	for uid, vm := range out {
		if existing[uid] && !now[uid] {
			st.OutOfScope = append(st.OutOfScope, vm)
		}
	}
	slices.SortFunc(st.OutOfScope, func(a, b v1alpha1.BudgetVMSpend) int { return strings.Compare(string(a.UID), string(b.UID)) })
	st.VirtualMachines = current
	spent := st.DepartedSpent
	for _, vm := range current {
		spent += vm.MonthToDate
	}
	return spent
}

// carries reports whether the last reading, since ago, carries a VM's spend
// forward to now (see ledger).
func carries(since time.Duration) bool { return since > 0 && since <= maxExtrapolation }

// maxExtrapolation bounds how long ago the last reading may be for a VM's
// cost per hour now to stand for what it spent since: after a longer gap
// (the keeper was down) only the reading counts, which may miss what the
// history store no longer keeps of that gap.
const maxExtrapolation = time.Hour

func (k *Keeper) event(b *v1alpha1.Budget, eventType, reason, format string, args ...any) {
	ref := &corev1.ObjectReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Budget",
		Namespace: b.Namespace, Name: b.Name, UID: b.UID}
	k.recorder.Eventf(ref, eventType, reason, format, args...)
}

// Labels on the admission policies and bindings the keeper owns.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	managedBy       = "hypersdk-budget"
	LabelNamespace  = "hypersdk.io/budget-namespace"
	LabelBudgetName = "hypersdk.io/budget-name"
)

// policyName names the admission policy and binding of a budget.
func policyName(b *v1alpha1.Budget) string {
	return "hypersdk-budget." + b.Namespace + "." + b.Name
}

// refuse puts in place the admission policy that denies creating VMs in
// b's scope: KubeVirt VirtualMachines in its namespace with its selector's
// labels (hypersdk.io's VMs are created as KubeVirt's, so the same policy
// refuses them).
func (k *Keeper) refuse(ctx context.Context, b *v1alpha1.Budget, month string) error {
	name := policyName(b)
	objectMeta := metav1.ObjectMeta{Name: name, Labels: map[string]string{
		LabelManagedBy: managedBy, LabelNamespace: b.Namespace, LabelBudgetName: b.Name}}
	message := fmt.Sprintf("budget %s of namespace %s is spent for %s (%s): new VMs are refused until the month ends or spec.amount is raised",
		b.Name, b.Namespace, month, b.Spec.Amount.String())
	fail := admissionregistrationv1.Fail
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: objectMeta,
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: b.Namespace}},
				ObjectSelector:    b.Spec.VMSelector,
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule: admissionregistrationv1.Rule{APIGroups: []string{"kubevirt.io"}, APIVersions: []string{"*"},
						Resources: []string{"virtualmachines"}},
				}}},
			},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: message}},
		}}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: objectMeta,
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}}}
	policies := k.cfg.Kube.AdmissionregistrationV1().ValidatingAdmissionPolicies()
	if err := apply(ctx, policy, policies.Get, policies.Create, policies.Update, func(got, want *admissionregistrationv1.ValidatingAdmissionPolicy) {
		got.Labels, got.Spec = want.Labels, want.Spec
	}); err != nil {
		return fmt.Errorf("admission policy %s: %w", name, err)
	}
	bindings := k.cfg.Kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings()
	if err := apply(ctx, binding, bindings.Get, bindings.Create, bindings.Update, func(got, want *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
		got.Labels, got.Spec = want.Labels, want.Spec
	}); err != nil {
		return fmt.Errorf("admission policy binding %s: %w", name, err)
	}
	return nil
}

// sweep deletes the keeper's admission policies and bindings that no
// enforced, spent budget asks for.
func (k *Keeper) sweep(ctx context.Context, keep map[string]bool) error {
	opts := metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{LabelManagedBy: managedBy}).String()}
	api := k.cfg.Kube.AdmissionregistrationV1()
	bindings, err := api.ValidatingAdmissionPolicyBindings().List(ctx, opts)
	if err != nil {
		return fmt.Errorf("listing budget admission policy bindings: %w", err)
	}
	for _, b := range bindings.Items {
		if !keep[b.Name] {
			if err := api.ValidatingAdmissionPolicyBindings().Delete(ctx, b.Name, metav1.DeleteOptions{}); ignoreNotFound(err) != nil {
				return err
			}
		}
	}
	policies, err := api.ValidatingAdmissionPolicies().List(ctx, opts)
	if err != nil {
		return fmt.Errorf("listing budget admission policies: %w", err)
	}
	for _, p := range policies.Items {
		if !keep[p.Name] {
			if err := api.ValidatingAdmissionPolicies().Delete(ctx, p.Name, metav1.DeleteOptions{}); ignoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
}
