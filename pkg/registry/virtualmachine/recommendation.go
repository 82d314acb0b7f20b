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
	"k8s.io/client-go/kubernetes"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/apistatus"
	"github.com/hypersdk/hypersdk/pkg/cost"
)

// RecommendationREST serves virtualmachines/recommendation: the VM's entry in
// the status of the VirtualMachineAutoscaler that sizes it, which
// hypersdk-controller keeps current.
type RecommendationREST struct {
	vms         *REST
	autoscalers rest.Lister
	pricer      *Pricer
}

// Pricer prices a VM's sizes on the node it runs on: the sample gives the
// node and the usage, the node its prices.
type Pricer struct {
	Sampler VMSampler
	Kube    kubernetes.Interface
	Prices  cost.Model
}

var _ rest.Getter = &RecommendationREST{}

// NewRecommendationREST returns the storage of virtualmachines/recommendation;
// autoscalers lists VirtualMachineAutoscalers, pricer prices the sizes.
func NewRecommendationREST(vms *REST, autoscalers rest.Lister, pricer *Pricer) *RecommendationREST {
	return &RecommendationREST{vms: vms, autoscalers: autoscalers, pricer: pricer}
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
		return nil, apistatus.Wrapf(err, "listing virtualmachineautoscalers in %s", namespace)
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
			savings, err := r.pricer.savings(ctx, namespace, name, vm)
			if err != nil {
				return nil, err
			}
			return &hypersdk.VirtualMachineRecommendation{
				ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: namespace},
				Autoscaler:     a.Name,
				UpdateMode:     a.Spec.UpdateMode,
				LastEvaluated:  a.Status.LastEvaluated,
				Recommendation: vm,
				Savings:        savings,
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

// hoursPerMonth is the average month, for monthly figures.
const hoursPerMonth = 730

// savings prices rec's current size and target on the VM's node; nil when
// there is no target or the VM does not run (no sample), an error when the
// node or its prices cannot be read.
func (p *Pricer) savings(ctx context.Context, namespace, name string, rec hypersdk.VirtualMachineRecommendationStatus) (*hypersdk.RecommendationSavings, error) {
	if rec.Target == nil {
		return nil, nil
	}
	s, _, err := p.Sampler.VMSample(ctx, namespace, name)
	if apierrors.IsNotFound(err) || (err == nil && s.Node == "") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	node, err := p.Kube.CoreV1().Nodes().Get(ctx, s.Node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// The VM's sample is older than its node: not this VM's 404.
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s, where VM %s/%s ran at its last sample, is gone", s.Node, namespace, name))
	}
	if err != nil {
		return nil, apistatus.Wrapf(err, "reading node %s to price VM %s/%s", s.Node, namespace, name)
	}
	prices, err := p.Prices.NodePrices(node)
	if err != nil {
		// As virtualmachines/cost answers it: unknown, not a server fault.
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s has no price: %v", s.Node, err))
	}
	perHour := func(size hypersdk.AutoscalerResources) float64 {
		cpus, mem := s.CPUAllocatedCores, s.MemoryAllocatedBytes
		if size.CPUs != nil {
			cpus = float64(*size.CPUs)
		}
		if size.Memory != nil {
			mem = size.Memory.AsApproximateFloat64()
		}
		return cost.VMCostPerHour(prices, cpus, mem, nil, s.CPUUsageCores, s.MemoryUsageBytes)
	}
	out := &hypersdk.RecommendationSavings{Node: s.Node, CurrentCostPerHour: perHour(rec.Current), TargetCostPerHour: perHour(*rec.Target)}
	out.MonthlySaving = (out.CurrentCostPerHour - out.TargetCostPerHour) * hoursPerMonth
	return out, nil
}
