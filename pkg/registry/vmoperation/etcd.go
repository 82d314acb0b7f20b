package vmoperation

import (
	"context"
	"fmt"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
	ops "github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/registry/statusrest"
	"github.com/hypersdk/hypersdk/pkg/registry/tables"
)

// Admitter decides whether the caller may have an operation carried out
// and whether it can be, before it is stored. Every way an operation is
// created passes it: a POST of a VMOperation, server-side apply, and the
// operation subresources of virtualmachines, which create through this REST.
// AdmitCancel decides whether the caller may cancel one (set spec.cancel):
// whoever may ask for it, as the executor then undoes it with its own rights.
type Admitter interface {
	Admit(ctx context.Context, op *hypersdk.VMOperation) error
	AdmitCancel(ctx context.Context, op *hypersdk.VMOperation) error
}

// REST is the etcd storage of vmoperations.
type REST struct {
	*genericregistry.Store
	admitter      Admitter
	asSubresource func(ctx context.Context, op *hypersdk.VMOperation, dryRun bool) error
}

var (
	_ rest.ShortNamesProvider  = &REST{}
	_ rest.Creater             = &REST{}
	_ rest.Updater             = &REST{}
	_ rest.CategoriesProvider  = &REST{}
	_ rest.ResetFieldsStrategy = strategy{}
)

// NewREST returns the storage of vmoperations and of their status
// subresource. admitter checks every operation about to be created.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, admitter Admitter) (*REST, *statusrest.REST, error) {
	s := NewStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &hypersdk.VMOperation{} },
		NewListFunc:               func() runtime.Object { return &hypersdk.VMOperationList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  hypersdk.Resource("vmoperations"),
		SingularQualifiedResource: hypersdk.Resource("vmoperation"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, fmt.Errorf("completing vmoperations storage: %w", err)
	}
	statusStore := *store
	status := NewStatusStrategy(scheme)
	statusStore.UpdateStrategy = status
	statusStore.ResetFieldsStrategy = status
	return &REST{Store: store, admitter: admitter}, statusrest.New(&statusStore), nil
}

// Create stores a new operation once the caller's admission and the
// admitter accept it. The strategy has set its requester by then.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	return r.Store.Create(ctx, obj, r.admitting(createValidation, len(options.DryRun) > 0), options)
}

// Update changes an operation; when it creates one (server-side apply of a
// new object), the admitter checks it as Create does.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.Store.Update(ctx, name, objInfo, r.admitting(createValidation, len(options.DryRun) > 0), r.cancelling(updateValidation), forceAllowCreate, options)
}

// cancelling runs the request's own update validation and, for an update
// that cancels an operation not ended, the admitter's check of the caller:
// a cancel (kubectl hyper op cancel, a patch of spec.cancel) needs what
// asking for the operation needs, not only the right to update
// vmoperations.
func (r *REST) cancelling(validate rest.ValidateObjectUpdateFunc) rest.ValidateObjectUpdateFunc {
	return func(ctx context.Context, obj, old runtime.Object) error {
		if validate != nil {
			if err := validate(ctx, obj, old); err != nil {
				return err
			}
		}
		op, prev := obj.(*hypersdk.VMOperation), old.(*hypersdk.VMOperation)
		if !op.Spec.Cancel || prev.Spec.Cancel || validation.IsFinal(prev.Status.Phase) {
			return nil
		}
		return r.admitter.AdmitCancel(ctx, prev)
	}
}

// AdmitAsSubresource, when set, runs on an operation created directly the
// validating admission of the virtualmachines/<type> POST that asks for the
// same (virtualmachine.SubresourceAdmission): a policy on either resource
// holds both ways.
func (r *REST) AdmitAsSubresource(admit func(ctx context.Context, op *hypersdk.VMOperation, dryRun bool) error) {
	r.asSubresource = admit
}

// admitting runs the request's own create validation (validating
// admission), that of the subresource for an operation created directly,
// and then the admitter.
func (r *REST) admitting(validate rest.ValidateObjectFunc, dryRun bool) rest.ValidateObjectFunc {
	return func(ctx context.Context, obj runtime.Object) error {
		if validate != nil {
			if err := validate(ctx, obj); err != nil {
				return err
			}
		}
		op := obj.(*hypersdk.VMOperation)
		if r.asSubresource != nil && ops.AskedDirectly(ctx) {
			if err := r.asSubresource(ctx, op, dryRun); err != nil {
				return err
			}
		}
		return r.admitter.Admit(ctx, op)
	}
}

// UnderWay returns an operation on VM vm of namespace that has not ended,
// the oldest, or nil: read from storage, not as any caller.
func (r *REST) UnderWay(ctx context.Context, namespace, vm string) (*hypersdk.VMOperation, error) {
	sel, err := labels.ValidatedSelectorFromSet(labels.Set{VMLabel: vm})
	if err != nil {
		return nil, nil // a name no label holds: no operation could be on it
	}
	obj, err := r.Store.List(genericapirequest.WithNamespace(ctx, namespace), &metainternalversion.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing the operations of VM %s/%s: %w", namespace, vm, err)
	}
	var oldest *hypersdk.VMOperation
	for i, op := range obj.(*hypersdk.VMOperationList).Items {
		if op.Spec.VMName != vm || op.Status.Phase == hypersdk.VMOperationSucceeded || op.Status.Phase == hypersdk.VMOperationFailed ||
			op.Status.Phase == hypersdk.VMOperationCancelled {
			continue
		}
		if oldest == nil || op.CreationTimestamp.Before(&oldest.CreationTimestamp) {
			oldest = &obj.(*hypersdk.VMOperationList).Items[i]
		}
	}
	return oldest, nil
}

// ShortNames lets `kubectl get vmop` work.
func (*REST) ShortNames() []string { return []string{"vmop"} }

// Categories puts operations in `kubectl get hypersdk`.
func (*REST) Categories() []string { return []string{"hypersdk"} }

// tableConvertor prints operations for kubectl.
type tableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the operation"},
	{Name: "VM", Type: "string", Description: "The virtual machine operated on"},
	{Name: "Type", Type: "string", Description: "What the operation does"},
	{Name: "Phase", Type: "string", Description: "Where the operation is in its life"},
	{Name: "Progress", Type: "string", Description: "Percentage done"},
	{Name: "Age", Type: "string", Description: "Time since creation"},
	{Name: "Message", Type: "string", Priority: 1, Description: "What the operation does now, or why it ended"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Of(obj, columns, func(obj runtime.Object, m metav1.Object, name, age string) ([]interface{}, error) {
		op := obj.(*hypersdk.VMOperation)
		return []interface{}{name, op.Spec.VMName, string(op.Spec.Type), string(op.Status.Phase),
			fmt.Sprintf("%d%%", op.Status.Progress), age, op.Status.Message}, nil
	})
}
