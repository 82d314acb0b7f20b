// Package dashboard stores hypersdk.io Dashboards, the saved views of
// `kubectl hyper dashboard`, in etcd. A dashboard is all spec: users write
// it, nothing else does.
package dashboard

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
)

func dashboard(obj runtime.Object) *hypersdk.Dashboard { return obj.(*hypersdk.Dashboard) }

// kind has no status: there is nothing to clear or keep.
var kind = statusrest.Kind{
	Namespaced:  true,
	ClearStatus: func(runtime.Object) {},
	Keep:        func(to, from runtime.Object) {},
	CopySpec: func(to, from runtime.Object) {
		dashboard(to).Spec, dashboard(to).ObjectMeta = dashboard(from).Spec, dashboard(from).ObjectMeta
	},
	Spec:     func(obj runtime.Object) any { return dashboard(obj).Spec },
	Validate: func(obj runtime.Object) field.ErrorList { return validation.ValidateDashboard(dashboard(obj)) },
}

// NewREST returns the storage of dashboards (kubectl short name dash).
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*statusrest.Resource, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.Dashboard{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.DashboardList{} },
		DefaultQualifiedResource:  hypersdk.Resource("dashboards"),
		SingularQualifiedResource: hypersdk.Resource("dashboard"),
		TableConvertor:            tableConvertor{},
	}
	resource, _, err := statusrest.NewResource(store, scheme, kind, optsGetter, "dash")
	return resource, err
}

// tableConvertor prints dashboards for kubectl.
type tableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Title", Type: "string"},
	{Name: "Widgets", Type: "integer"},
	{Name: "Range", Type: "string", Description: "What the charts show unless a widget sets its own"},
	{Name: "Age", Type: "string"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Of(obj, columns, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		d := dashboard(obj)
		span := d.Spec.TimeRange.Last
		if r := d.Spec.TimeRange; span == "" && r.Start != nil && r.End != nil {
			span = r.End.Sub(r.Start.Time).String() + " from " + r.Start.UTC().Format("2006-01-02T15:04Z")
		}
		return []interface{}{name, d.Spec.Title, len(d.Spec.Widgets), span, age}, nil
	})
}
