package extender

import (
	"k8s.io/apimachinery/pkg/labels"

	listers "github.com/hypersdk/hypersdk/generated/listers/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/placementpolicy"
)

// selectPolicy returns the policy for a VM with these labels and its name
// (placementpolicy.Select over the informer's policies).
func selectPolicy(lister listers.PlacementPolicyLister, vmLabels map[string]string) (placement.Policy, string) {
	all, err := lister.List(labels.Everything())
	if err != nil {
		return placement.DefaultPolicy(), ""
	}
	return placementpolicy.Select(all, vmLabels)
}
