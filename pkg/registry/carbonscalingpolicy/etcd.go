// Package carbonscalingpolicy stores hypersdk.io CarbonScalingPolicies in
// etcd: the spec from users, the status from hypersdk-controller.
package carbonscalingpolicy

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metatable "k8s.io/apimachinery/pkg/api/meta/table"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
	"github.com/hypersdk/hypersdk/pkg/registry/statusrest"
)

var (
	_ rest.RESTCreateStrategy  = strategy{}
	_ rest.RESTUpdateStrategy  = strategy{}
	_ rest.ResetFieldsStrategy = statusStrategy{}
	_ rest.ShortNamesProvider  = &REST{}
	_ rest.CategoriesProvider  = &REST{}
)

// REST is the storage of carbonscalingpolicies.
type REST struct {
	*genericregistry.Store
}

// ShortNames lets kubectl say csp.
func (*REST) ShortNames() []string { return []string{"csp"} }

// Categories puts the kind among HyperSDK's.
func (*REST) Categories() []string { return []string{"hypersdk"} }

// NewREST returns the storage of carbonscalingpolicies and of their status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *statusrest.REST, error) {
	s := strategy{scheme, names.SimpleNameGenerator}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.CarbonScalingPolicy{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.CarbonScalingPolicyList{} },
		DefaultQualifiedResource:  hypersdk.Resource("carbonscalingpolicies"),
		SingularQualifiedResource: hypersdk.Resource("carbonscalingpolicy"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter}); err != nil {
		return nil, nil, fmt.Errorf("completing carbonscalingpolicies storage: %w", err)
	}
	statusStore := *store
	status := statusStrategy{s}
	statusStore.UpdateStrategy = status
	statusStore.ResetFieldsStrategy = status
	return &REST{store}, statusrest.New(&statusStore), nil
}

// strategy keeps users to the spec: the status is the controller's.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func (strategy) NamespaceScoped() bool { return false }

func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	p := obj.(*hypersdk.CarbonScalingPolicy)
	p.Status = hypersdk.CarbonScalingPolicyStatus{}
	p.Generation = 1
}

// PrepareForUpdate keeps the status and bumps the generation when the spec
// changes, so the status can say which spec it is about.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, prev := obj.(*hypersdk.CarbonScalingPolicy), old.(*hypersdk.CarbonScalingPolicy)
	p.Status = prev.Status
	p.Generation = prev.Generation
	if !apiequality.Semantic.DeepEqual(p.Spec, prev.Spec) {
		p.Generation++
	}
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateCarbonScalingPolicy(obj.(*hypersdk.CarbonScalingPolicy))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }
func (strategy) AllowCreateOnUpdate(context.Context) bool                  { return false }
func (strategy) AllowUnconditionalUpdate(context.Context) bool             { return true }
func (strategy) Canonicalize(runtime.Object)                               {}

func (strategy) ValidateUpdate(_ context.Context, obj, _ runtime.Object) field.ErrorList {
	return validation.ValidateCarbonScalingPolicy(obj.(*hypersdk.CarbonScalingPolicy))
}

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetResetFields: server-side apply of the main resource leaves the status.
func (strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"hypersdk.io/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// statusStrategy lets the controller write the status and nothing else.
type statusStrategy struct{ strategy }

func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, prev := obj.(*hypersdk.CarbonScalingPolicy), old.(*hypersdk.CarbonScalingPolicy)
	p.Spec = prev.Spec
	p.ObjectMeta = prev.ObjectMeta
}

func (statusStrategy) ValidateUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"hypersdk.io/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata")),
	}
}

// tableConvertor prints policies for kubectl.
type tableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Zone", Type: "string"},
	{Name: "Intensity", Type: "string", Description: "gCO2eq/kWh last read"},
	{Name: "Band", Type: "string", Description: "The band in force"},
	{Name: "HPAs", Type: "integer", Description: "Autoscalers selected"},
	{Name: "Age", Type: "string"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	var err error
	table.Rows, err = metatable.MetaToTableRow(obj, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		p := obj.(*hypersdk.CarbonScalingPolicy)
		intensity, band := "<unknown>", "<none>"
		if g := p.Status.GramsPerKWh; g != nil {
			intensity = fmt.Sprint(*g)
		}
		if b := p.Status.ActiveBand; b != nil && int(*b) < len(p.Spec.Bands) {
			band = fmt.Sprintf(">=%d: %d%%", p.Spec.Bands[*b].AboveGramsPerKWh, p.Spec.Bands[*b].MaxReplicasPercent)
		}
		return []interface{}{name, p.Spec.Zone, intensity, band, len(p.Status.HPAs), age}, nil
	})
	return table, err
}
