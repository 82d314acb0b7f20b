// Package idlevmpolicy stores hypersdk.io IdleVMPolicies in etcd: the spec
// from editors, the status (the idle VMs) from hypersdk-controller.
package idlevmpolicy

import (
	"context"

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

func policy(obj runtime.Object) *hypersdk.IdleVMPolicy { return obj.(*hypersdk.IdleVMPolicy) }

// kind: editors write the spec and become its requester; the controller
// writes the status.
var kind = statusrest.Kind{
	Namespaced:  true,
	ClearStatus: func(obj runtime.Object) { policy(obj).Status = hypersdk.IdleVMPolicyStatus{} },
	Keep: func(to, from runtime.Object) {
		policy(to).Status, policy(to).Spec.Requester = policy(from).Status, policy(from).Spec.Requester
	},
	CopySpec: func(to, from runtime.Object) {
		policy(to).Spec, policy(to).ObjectMeta = policy(from).Spec, policy(from).ObjectMeta
	},
	Spec:     func(obj runtime.Object) any { return policy(obj).Spec },
	Validate: func(obj runtime.Object) field.ErrorList { return validation.ValidateIdleVMPolicy(policy(obj)) },
	SpecWritten: func(ctx context.Context, obj runtime.Object) {
		policy(obj).Spec.Requester = vmoperation.RequesterFrom(ctx)
	},
}

// NewREST returns the storage of idlevmpolicies and of their status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*statusrest.Resource, *statusrest.REST, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.IdleVMPolicy{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.IdleVMPolicyList{} },
		DefaultQualifiedResource:  hypersdk.Resource("idlevmpolicies"),
		SingularQualifiedResource: hypersdk.Resource("idlevmpolicy"),
		TableConvertor:            tableConvertor{},
	}
	return statusrest.NewResource(store, scheme, kind, optsGetter)
}

// tableConvertor prints policies for kubectl.
type tableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Action", Type: "string"},
	{Name: "Threshold", Type: "string", Description: "CPU, percent of vCPUs"},
	{Name: "Window", Type: "string"},
	{Name: "Idle", Type: "integer", Description: "Idle VMs at the last check"},
	{Name: "Age", Type: "string"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Of(obj, columns, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		p := policy(obj)
		window := ""
		if p.Spec.Window != nil {
			window = p.Spec.Window.Duration.String()
		}
		return []interface{}{name, string(p.Spec.Action), p.Spec.CPUThresholdPercent, window, len(p.Status.IdleVMs), age}, nil
	})
}
