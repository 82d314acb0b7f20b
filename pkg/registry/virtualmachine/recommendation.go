package virtualmachine

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// RecommendationREST serves virtualmachines/recommendation: the VM's entry in
// the status of the VirtualMachineAutoscaler that sizes it, which
// hypersdk-controller keeps current.
type RecommendationREST struct {
	vms         *REST
	autoscalers rest.Lister
}

var _ rest.Getter = &RecommendationREST{}

// NewRecommendationREST returns the storage of virtualmachines/recommendation;
// autoscalers lists VirtualMachineAutoscalers.
func NewRecommendationREST(vms *REST, autoscalers rest.Lister) *RecommendationREST {
	return &RecommendationREST{vms: vms, autoscalers: autoscalers}
}

func (r *RecommendationREST) New() runtime.Object { return &hypersdk.VirtualMachineRecommendation{} }
func (r *RecommendationREST) Destroy()            {}

// Get answers the recommendation of the autoscaler that targets the VM
// itself, else of one that targets its pool; NotFound, saying how to get
// one, when no autoscaler has recommended for the VM.
func (r *RecommendationREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	if _, err := r.vms.Get(ctx, name, &metav1.GetOptions{}); err != nil {
		return nil, err
	}
	obj, err := r.autoscalers.List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing virtualmachineautoscalers in %s: %w", namespace, err)
	}
	list := obj.(*hypersdk.VirtualMachineAutoscalerList)
	// The VM's own autoscaler first, then by name: the same answer every time.
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := list.Items[i], list.Items[j]
		if (a.Spec.TargetRef.Kind == "VirtualMachine") != (b.Spec.TargetRef.Kind == "VirtualMachine") {
			return a.Spec.TargetRef.Kind == "VirtualMachine"
		}
		return a.Name < b.Name
	})
	for _, a := range list.Items {
		for _, vm := range a.Status.VirtualMachines {
			if vm.Name != name {
				continue
			}
			return &hypersdk.VirtualMachineRecommendation{
				ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: namespace},
				Autoscaler:     a.Name,
				UpdateMode:     a.Spec.UpdateMode,
				LastEvaluated:  a.Status.LastEvaluated,
				Recommendation: vm,
			}, nil
		}
	}
	err = apierrors.NewNotFound(hypersdk.Resource("virtualmachines/recommendation"), name)
	if st, ok := err.(*apierrors.StatusError); ok {
		st.ErrStatus.Message = fmt.Sprintf("no VirtualMachineAutoscaler has a recommendation for VM %s/%s yet: "+
			"create one with targetRef kind VirtualMachine (updateMode Off only recommends) and wait for its first pass", namespace, name)
	}
	return nil, err
}
