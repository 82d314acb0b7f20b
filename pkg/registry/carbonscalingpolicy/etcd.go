// Package carbonscalingpolicy stores hypersdk.io CarbonScalingPolicies in
// etcd: the spec from users, the status from hypersdk-controller.
package carbonscalingpolicy

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
	"github.com/hypersdk/hypersdk/pkg/registry/statusrest"
	"github.com/hypersdk/hypersdk/pkg/registry/tables"
	"github.com/hypersdk/hypersdk/pkg/registry/vmoperation"
)

func policy(obj runtime.Object) *hypersdk.CarbonScalingPolicy {
	return obj.(*hypersdk.CarbonScalingPolicy)
}

// kind: whoever writes the spec becomes its requester, whose rights bound
// the HPAs it caps; the controller writes the status.
var kind = statusrest.Kind{
	ClearStatus: func(obj runtime.Object) { policy(obj).Status = hypersdk.CarbonScalingPolicyStatus{} },
	Keep: func(to, from runtime.Object) {
		policy(to).Status, policy(to).Spec.Requester = policy(from).Status, policy(from).Spec.Requester
	},
	SpecWritten: func(ctx context.Context, obj runtime.Object) {
		policy(obj).Spec.Requester = vmoperation.RequesterFrom(ctx)
	},
	CopySpec: func(to, from runtime.Object) {
		policy(to).Spec, policy(to).ObjectMeta = policy(from).Spec, policy(from).ObjectMeta
	},
	Spec: func(obj runtime.Object) any { return policy(obj).Spec },
	Validate: func(obj runtime.Object) field.ErrorList {
		return validation.ValidateCarbonScalingPolicy(policy(obj))
	},
}

// NewREST returns the storage of carbonscalingpolicies (kubectl short name csp) and of
// their status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*statusrest.Resource, *statusrest.REST, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.CarbonScalingPolicy{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.CarbonScalingPolicyList{} },
		DefaultQualifiedResource:  hypersdk.Resource("carbonscalingpolicies"),
		SingularQualifiedResource: hypersdk.Resource("carbonscalingpolicy"),
		TableConvertor:            tableConvertor{},
	}
	return statusrest.NewResource(store, scheme, kind, optsGetter, "csp")
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
	return tables.Of(obj, columns, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		p := obj.(*hypersdk.CarbonScalingPolicy)
		intensity, band := "<unknown>", "<none>"
		if g := p.Status.GramsPerKWh; g != nil {
			intensity = fmt.Sprint(*g)
		}
		if b := p.Status.ActiveBand; b != nil && *b >= 0 && int(*b) < len(p.Spec.Bands) {
			band = fmt.Sprintf(">=%d: %d%%", p.Spec.Bands[*b].AboveGramsPerKWh, p.Spec.Bands[*b].MaxReplicasPercent)
		}
		return []interface{}{name, p.Spec.Zone, intensity, band, len(p.Status.HPAs), age}, nil
	})
}
