// Package placementpolicy maps hypersdk.io PlacementPolicies onto the
// placement model, and picks the one that governs a VM: the scheduler
// extender places a new VM with it and the rebalancer moves a running one
// with it, so that the two weigh a VM's nodes alike. (The rebalancer ranks
// on its Carbon trigger's intensities, not the policy's forecast horizon:
// docs/rebalancing.md.)
package placementpolicy

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// Select returns the policy for a VM with these labels (its instance's, as
// on its virt-launcher pod) and the policy's name: among the policies whose
// selector matches, the highest priority, then the first name. No match
// gives placement's default and an empty name.
func Select(policies []*v1alpha1.PlacementPolicy, vmLabels map[string]string) (placement.Policy, string) {
	var best *v1alpha1.PlacementPolicy
	for _, p := range policies {
		if p.Spec.VMSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.VMSelector)
			if err != nil || !sel.Matches(labels.Set(vmLabels)) {
				continue
			}
		}
		if best == nil || p.Spec.Priority > best.Spec.Priority ||
			(p.Spec.Priority == best.Spec.Priority && p.Name < best.Name) {
			best = p
		}
	}
	if best == nil {
		return placement.DefaultPolicy(), ""
	}
	pol := ToPolicy(&best.Spec)
	if err := pol.Validate(); err != nil {
		// The API server validated it; this only guards against skew.
		klog.V(2).InfoS("Ignoring invalid placement policy", "policy", best.Name, "err", err)
		return placement.DefaultPolicy(), ""
	}
	return pol, best.Name
}

// ToPolicy maps the API's policy onto the scoring model's; unset fields keep
// the default policy's values. A policy that states the carbon/cost
// trade-off itself (a carbon or cost weight, a carbon price or a budget)
// does not get the default cost budget: its weights or price decide.
func ToPolicy(spec *v1alpha1.PlacementPolicySpec) placement.Policy {
	p := placement.DefaultPolicy()
	if spec.CarbonWeight != nil || spec.CostWeight != nil || spec.CarbonPricePerTonne != nil {
		p = placement.WeightedPolicy()
	}
	set := func(dst *float64, v *int32) {
		if v != nil {
			*dst = float64(*v)
		}
	}
	set(&p.CarbonWeight, spec.CarbonWeight)
	set(&p.CostWeight, spec.CostWeight)
	set(&p.PressureWeight, spec.PressureWeight)
	set(&p.GPUWeight, spec.GPUWeight)
	set(&p.MaxCarbonIntensity, spec.MaxCarbonIntensity)
	set(&p.MaxNodeUtilization, spec.MaxNodeUtilization)
	set(&p.TargetUtilization, spec.TargetUtilization)
	set(&p.CarbonPricePerTonne, spec.CarbonPricePerTonne)
	if v := spec.CostBudgetPercent; v != nil {
		b := float64(*v)
		p.CostBudgetPercent = &b
	}
	switch spec.GPUPolicy {
	case v1alpha1.GPUPolicySpread:
		p.GPUPolicy = placement.GPUSpread
	case v1alpha1.GPUPolicyBinpack:
		p.GPUPolicy = placement.GPUBinpack
	}
	if spec.CarbonForecastHorizon != nil {
		p.CarbonHorizon = spec.CarbonForecastHorizon.Duration
	}
	return p
}
