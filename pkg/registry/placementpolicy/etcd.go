// Package placementpolicy stores hypersdk.io PlacementPolicies in etcd.
package placementpolicy

import (
	"context"
	"fmt"
	"strconv"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
	"github.com/hypersdk/hypersdk/pkg/registry/tables"
)

// REST is the etcd storage of placementpolicies.
type REST struct{ *genericregistry.Store }

// Categories puts placementpolicies in `kubectl get hypersdk` with every
// other kind of the group.
func (*REST) Categories() []string { return []string{"hypersdk"} }

var _ rest.CategoriesProvider = &REST{}

// NewREST returns the etcd storage of placementpolicies.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, error) {
	s := strategy{scheme, names.SimpleNameGenerator}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.PlacementPolicy{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.PlacementPolicyList{} },
		DefaultQualifiedResource:  hypersdk.Resource("placementpolicies"),
		SingularQualifiedResource: hypersdk.Resource("placementpolicy"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		TableConvertor:            tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter}); err != nil {
		return nil, fmt.Errorf("completing placementpolicies storage: %w", err)
	}
	return &REST{store}, nil
}

// strategy validates policies; they have no status.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

var (
	_ rest.RESTCreateStrategy = strategy{}
	_ rest.RESTUpdateStrategy = strategy{}
)

func (strategy) NamespaceScoped() bool { return false }

func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*hypersdk.PlacementPolicy).Generation = 1
}

// PrepareForUpdate bumps the generation when the spec changes, so the
// extender's decisions can say which version of a policy they used.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, prev := obj.(*hypersdk.PlacementPolicy), old.(*hypersdk.PlacementPolicy)
	p.Generation = prev.Generation
	if !apiequality.Semantic.DeepEqual(p.Spec, prev.Spec) {
		p.Generation++
	}
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidatePlacementPolicy(obj.(*hypersdk.PlacementPolicy))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }
func (strategy) AllowCreateOnUpdate(context.Context) bool                  { return false }
func (strategy) AllowUnconditionalUpdate(context.Context) bool             { return true }
func (strategy) Canonicalize(runtime.Object)                               {}

func (strategy) ValidateUpdate(_ context.Context, obj, _ runtime.Object) field.ErrorList {
	return validation.ValidatePlacementPolicy(obj.(*hypersdk.PlacementPolicy))
}

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// tableConvertor prints policies for kubectl.
type tableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Priority", Type: "integer"},
	{Name: "Carbon", Type: "string", Description: "Carbon weight"},
	{Name: "Cost", Type: "string", Description: "Cost weight"},
	{Name: "Pressure", Type: "string", Description: "Pressure weight"},
	{Name: "GPU", Type: "string", Description: "GPU policy"},
	{Name: "Age", Type: "string"},
	{Name: "Max-Carbon", Type: "string", Priority: 1, Description: "Zones above this intensity are filtered"},
	{Name: "Max-Util", Type: "string", Priority: 1, Description: "Nodes loaded above this are filtered"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Of(obj, columns, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		s := obj.(*hypersdk.PlacementPolicy).Spec
		gpu := string(s.GPUPolicy)
		if gpu == "" {
			gpu = "<default>"
		}
		return []interface{}{name, s.Priority, opt(s.CarbonWeight), opt(s.CostWeight), opt(s.PressureWeight), gpu, age,
			opt(s.MaxCarbonIntensity), opt(s.MaxNodeUtilization)}, nil
	})
}

func opt(v *int32) string {
	if v == nil {
		return "<default>"
	}
	return strconv.Itoa(int(*v))
}
