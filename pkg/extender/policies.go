package extender

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	listers "github.com/hypersdk/hypersdk/generated/listers/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// selectPolicy returns the policy for a VM with these labels and its name:
// among the policies whose selector matches, the highest priority, then the
// first name. No match gives placement's default and an empty name.
func selectPolicy(lister listers.PlacementPolicyLister, vmLabels map[string]string) (placement.Policy, string) {
	all, err := lister.List(labels.Everything())
	if err != nil {
		return placement.DefaultPolicy(), ""
	}
	var best *v1alpha1.PlacementPolicy
	for _, p := range all {
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
	pol := toPolicy(&best.Spec)
	if err := pol.Validate(); err != nil {
		// The API server validated it; this only guards against skew.
		klog.V(2).InfoS("Ignoring invalid placement policy", "policy", best.Name, "err", err)
		return placement.DefaultPolicy(), ""
	}
	return pol, best.Name
}

// toPolicy maps the API's policy onto the scoring model's; unset fields keep
// the default policy's values.
func toPolicy(spec *v1alpha1.PlacementPolicySpec) placement.Policy {
	p := placement.DefaultPolicy()
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
