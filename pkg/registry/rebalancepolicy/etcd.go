// Package rebalancepolicy stores hypersdk.io RebalancePolicies in etcd:
// the spec from cluster administrators, the status (the plan) from
// hypersdk-controller.
package rebalancepolicy

import (
	"context"
	"strings"

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

func policy(obj runtime.Object) *hypersdk.RebalancePolicy { return obj.(*hypersdk.RebalancePolicy) }

// kind: whoever writes the spec becomes its requester, whose rights bound
// the migrations; the controller writes the status.
var kind = statusrest.Kind{
	ClearStatus: func(obj runtime.Object) { policy(obj).Status = hypersdk.RebalancePolicyStatus{} },
	Keep: func(to, from runtime.Object) {
		policy(to).Status, policy(to).Spec.Requester = policy(from).Status, policy(from).Spec.Requester
	},
	CopySpec: func(to, from runtime.Object) {
		policy(to).Spec, policy(to).ObjectMeta = policy(from).Spec, policy(from).ObjectMeta
	},
	Spec:     func(obj runtime.Object) any { return policy(obj).Spec },
	Validate: func(obj runtime.Object) field.ErrorList { return validation.ValidateRebalancePolicy(policy(obj)) },
	SpecWritten: func(ctx context.Context, obj runtime.Object) {
		policy(obj).Spec.Requester = vmoperation.RequesterFrom(ctx)
	},
}

// NewREST returns the storage of rebalancepolicies and of their status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*statusrest.Resource, *statusrest.REST, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.RebalancePolicy{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.RebalancePolicyList{} },
		DefaultQualifiedResource:  hypersdk.Resource("rebalancepolicies"),
		SingularQualifiedResource: hypersdk.Resource("rebalancepolicy"),
		TableConvertor:            tableConvertor{},
	}
	return statusrest.NewResource(store, scheme, kind, optsGetter)
}

// tableConvertor prints policies for kubectl.
type tableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Mode", Type: "string"},
	{Name: "Triggers", Type: "string"},
	{Name: "Planned", Type: "integer", Description: "Moves planned at the last pass"},
	{Name: "In-Flight", Type: "integer", Description: "Migrations still running"},
	{Name: "Age", Type: "string"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Of(obj, columns, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		p := policy(obj)
		types := make([]string, 0, len(p.Spec.Triggers))
		for _, t := range p.Spec.Triggers {
			types = append(types, string(t.Type))
		}
		return []interface{}{name, string(p.Spec.Mode), strings.Join(types, ","), len(p.Status.Plan), p.Status.InFlight, age}, nil
	})
}
