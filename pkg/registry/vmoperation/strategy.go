// Package vmoperation stores hypersdk.io VMOperations in etcd.
package vmoperation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
	"github.com/hypersdk/hypersdk/pkg/operations"
)

// strategy is the create, update and delete behaviour of the main resource:
// clients own the spec, the executor owns the status.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns the strategy of vmoperations.
func NewStrategy(typer runtime.ObjectTyper) strategy {
	return strategy{typer, names.SimpleNameGenerator}
}

var (
	_ rest.RESTCreateStrategy = strategy{}
	_ rest.RESTUpdateStrategy = strategy{}
	_ rest.RESTDeleteStrategy = strategy{}
)

func (strategy) NamespaceScoped() bool { return true }

// Labels every VMOperation carries, however it was created, so clients can
// list the operations of a VM or of a type.
const (
	VMLabel   = "hypersdk.io/vm"
	TypeLabel = "hypersdk.io/operation"
)

// PrepareForCreate starts every operation Pending, whatever the client sent,
// records the authenticated user as its requester (a client cannot name
// someone else) and labels it with its VM and type.
func (strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	op := obj.(*hypersdk.VMOperation)
	op.Status = hypersdk.VMOperationStatus{Phase: hypersdk.VMOperationPending}
	op.Generation = 1
	op.Spec.Requester = RequesterFrom(ctx)
	if op.Labels == nil {
		op.Labels = map[string]string{}
	}
	op.Labels[VMLabel], op.Labels[TypeLabel] = op.Spec.VMName, string(op.Spec.Type)
	if op.Annotations == nil {
		op.Annotations = map[string]string{}
	}
	op.Annotations[operations.CreatedAtAnnotation] = time.Now().UTC().Format(time.RFC3339Nano)
	if !slices.Contains(op.Finalizers, operations.Finalizer) {
		op.Finalizers = append(op.Finalizers, operations.Finalizer)
	}
}

// RequesterFrom is the authenticated user of a request as a requester, nil
// without one.
func RequesterFrom(ctx context.Context) *hypersdk.VMOperationRequester {
	if caller, ok := genericapirequest.UserFrom(ctx); ok && caller.GetName() != "" {
		return RequesterOf(caller)
	}
	return nil
}

// RequesterOf records an authenticated user as the requester of an object.
func RequesterOf(u user.Info) *hypersdk.VMOperationRequester {
	r := &hypersdk.VMOperationRequester{Username: u.GetName(), UID: u.GetUID(), Groups: slices.Clone(u.GetGroups())}
	for k, v := range u.GetExtra() {
		if r.Extra == nil {
			r.Extra = map[string]hypersdk.ExtraValue{}
		}
		r.Extra[k] = slices.Clone(v)
	}
	return r
}

// PrepareForUpdate keeps the status (it changes only through
// vmoperations/status), the requester and the labels the server set.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	op, prev := obj.(*hypersdk.VMOperation), old.(*hypersdk.VMOperation)
	op.Status = prev.Status
	op.Spec.Requester = prev.Spec.Requester
	if op.Labels == nil {
		op.Labels = map[string]string{}
	}
	op.Labels[VMLabel], op.Labels[TypeLabel] = prev.Labels[VMLabel], prev.Labels[TypeLabel]
	if at, ok := prev.Annotations[operations.CreatedAtAnnotation]; ok {
		if op.Annotations == nil {
			op.Annotations = map[string]string{}
		}
		op.Annotations[operations.CreatedAtAnnotation] = at
	}
	if op.Spec.Cancel != prev.Spec.Cancel {
		op.Generation = prev.Generation + 1
	}
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateVMOperation(obj.(*hypersdk.VMOperation))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (strategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (strategy) Canonicalize(runtime.Object) {}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateVMOperationUpdate(obj.(*hypersdk.VMOperation), old.(*hypersdk.VMOperation))
}

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetResetFields says which fields each writer may not set, for server-side apply.
func (strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"hypersdk.io/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("status"), fieldpath.MakePathOrDie("spec", "requester")),
	}
}

// statusStrategy lets the executor write the status and nothing else.
type statusStrategy struct{ strategy }

// NewStatusStrategy returns the strategy of vmoperations/status.
func NewStatusStrategy(typer runtime.ObjectTyper) statusStrategy {
	return statusStrategy{strategy{typer, names.SimpleNameGenerator}}
}

// PrepareForUpdate keeps the spec and all the metadata: a status write
// that could drop the finalizer would let an operation go before its
// clean-up. The field manager's entry for the status writer stays, as
// CustomResourceDefinitions' status strategy keeps it.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	op, prev := obj.(*hypersdk.VMOperation), old.(*hypersdk.VMOperation)
	managed := op.ManagedFields
	op.Spec = prev.Spec
	op.ObjectMeta = *prev.ObjectMeta.DeepCopy()
	op.ManagedFields = managed
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateVMOperationStatusUpdate(obj.(*hypersdk.VMOperation), old.(*hypersdk.VMOperation))
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"hypersdk.io/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata")),
	}
}

// GetAttrs returns the labels and selectable fields of a VMOperation.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	op, ok := obj.(*hypersdk.VMOperation)
	if !ok {
		return nil, nil, fmt.Errorf("not a VMOperation: %T", obj)
	}
	return op.Labels, SelectableFields(op), nil
}

// SelectableFields are the fields a client may select VMOperations by.
func SelectableFields(op *hypersdk.VMOperation) fields.Set {
	set := fields.Set{
		"spec.vmName":  op.Spec.VMName,
		"spec.type":    string(op.Spec.Type),
		"status.phase": string(op.Status.Phase),
	}
	return generic.AddObjectMetaFieldsSet(set, &op.ObjectMeta, true)
}

// Match is the storage predicate for label and field selectors.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
