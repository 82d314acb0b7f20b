// Package statusrest is the storage of the hypersdk.io kinds whose spec is
// their users' and whose status is hypersdk-controller's: one create and
// update strategy for all of them (Kind says what differs), and the status
// subresource over the etcd store: reads of the object, writes through the
// status strategy, never a create.
package statusrest

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// REST serves <resource>/status from a copy of the resource's store whose
// update strategy is the status strategy.
type REST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher        = &REST{}
	_ rest.TableConvertor = &REST{}
)

// New returns the status storage over store, which must already carry the
// status update and reset-fields strategies.
func New(store *genericregistry.Store) *REST { return &REST{store: store} }

// New returns an empty object of the resource's kind.
func (r *REST) New() runtime.Object { return r.store.New() }

// Destroy does nothing: the main resource owns the store.
func (r *REST) Destroy() {}

// Get returns the object, for patches of its status.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the status of an object; status updates never create one.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields says which fields a status writer may not set.
func (r *REST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints the status subresource like the main resource.
func (r *REST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
