// Package vmautoscaler stores hypersdk.io VirtualMachineAutoscalers in etcd:
// the spec from users, the status (the recommendations) from
// hypersdk-controller.
package vmautoscaler

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

func autoscaler(obj runtime.Object) *hypersdk.VirtualMachineAutoscaler {
	return obj.(*hypersdk.VirtualMachineAutoscaler)
}

// kind: users write the spec, the controller the status. Whoever writes the
// spec becomes its requester: the controller acts for an autoscaler only as
// far as its author may act.
var kind = statusrest.Kind{
	Namespaced:  true,
	ClearStatus: func(obj runtime.Object) { autoscaler(obj).Status = hypersdk.VirtualMachineAutoscalerStatus{} },
	Keep: func(to, from runtime.Object) {
		autoscaler(to).Status, autoscaler(to).Spec.Requester = autoscaler(from).Status, autoscaler(from).Spec.Requester
	},
	CopySpec: func(to, from runtime.Object) {
		autoscaler(to).Spec, autoscaler(to).ObjectMeta = autoscaler(from).Spec, autoscaler(from).ObjectMeta
	},
	Spec: func(obj runtime.Object) any { return autoscaler(obj).Spec },
	Validate: func(obj runtime.Object) field.ErrorList {
		return validation.ValidateVirtualMachineAutoscaler(autoscaler(obj))
	},
	SpecWritten: func(ctx context.Context, obj runtime.Object) {
		autoscaler(obj).Spec.Requester = vmoperation.RequesterFrom(ctx)
	},
}

// NewREST returns the storage of virtualmachineautoscalers (kubectl short name vma) and of
// their status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*statusrest.Resource, *statusrest.REST, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.VirtualMachineAutoscaler{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.VirtualMachineAutoscalerList{} },
		DefaultQualifiedResource:  hypersdk.Resource("virtualmachineautoscalers"),
		SingularQualifiedResource: hypersdk.Resource("virtualmachineautoscaler"),
		TableConvertor:            tableConvertor{},
	}
	return statusrest.NewResource(store, scheme, kind, optsGetter, "vma")
}

// tableConvertor prints autoscalers for kubectl.
type tableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Target", Type: "string", Description: "The VM or pool sized"},
	{Name: "Mode", Type: "string", Description: "updateMode"},
	{Name: "VMs", Type: "integer", Description: "VMs with a recommendation"},
	{Name: "Age", Type: "string"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Of(obj, columns, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		a := autoscaler(obj)
		n := 0
		for _, vm := range a.Status.VirtualMachines {
			if vm.Target != nil {
				n++
			}
		}
		return []interface{}{name, a.Spec.TargetRef.Kind + "/" + a.Spec.TargetRef.Name, string(a.Spec.UpdateMode), n, age}, nil
	})
}
