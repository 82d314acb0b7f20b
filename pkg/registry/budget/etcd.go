// Package budget stores hypersdk.io Budgets in etcd: the spec from
// namespace admins, the status (the month's spend) from hypersdk-controller.
package budget

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
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/registry/statusrest"
	"github.com/hypersdk/hypersdk/pkg/registry/tables"
)

func budget(obj runtime.Object) *hypersdk.Budget { return obj.(*hypersdk.Budget) }

// kind: admins write the spec; the controller writes the status.
var kind = statusrest.Kind{
	Namespaced:  true,
	ClearStatus: func(obj runtime.Object) { budget(obj).Status = hypersdk.BudgetStatus{} },
	Keep:        func(to, from runtime.Object) { budget(to).Status = budget(from).Status },
	CopySpec: func(to, from runtime.Object) {
		budget(to).Spec, budget(to).ObjectMeta = budget(from).Spec, budget(from).ObjectMeta
	},
	Spec:     func(obj runtime.Object) any { return budget(obj).Spec },
	Validate: func(obj runtime.Object) field.ErrorList { return validation.ValidateBudget(budget(obj)) },
}

// NewREST returns the storage of budgets and of their status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*statusrest.Resource, *statusrest.REST, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.Budget{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.BudgetList{} },
		DefaultQualifiedResource:  hypersdk.Resource("budgets"),
		SingularQualifiedResource: hypersdk.Resource("budget"),
		TableConvertor:            tableConvertor{},
	}
	return statusrest.NewResource(store, scheme, kind, optsGetter)
}

// tableConvertor prints budgets for kubectl.
type tableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Amount", Type: "string"},
	{Name: "Spent", Type: "string", Description: "Month to date"},
	{Name: "Percent", Type: "string"},
	{Name: "Projected", Type: "string", Description: "At the month's end at today's rate"},
	{Name: "Enforce", Type: "boolean"},
	{Name: "Age", Type: "string"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Of(obj, columns, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		b := budget(obj)
		return []interface{}{name, b.Spec.Amount.String(), cost.FormatAmount(b.Status.Spent), fmt.Sprintf("%.0f%%", b.Status.Percent),
			cost.FormatAmount(b.Status.Projected), b.Spec.Enforce, age}, nil
	})
}
