package statusrest

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Kind is what differs between the kinds whose spec is their users' and
// whose status is hypersdk-controller's.
type Kind struct {
	Namespaced bool
	// ClearStatus empties an object's status. Keep copies what only the
	// server writes (the status, fields the server sets in the spec) from
	// the stored object to an update; CopySpec copies the spec and the
	// metadata (a status write changes neither).
	ClearStatus    func(obj runtime.Object)
	Keep, CopySpec func(to, from runtime.Object)
	// Spec returns an object's spec, to tell whether an update changes it.
	Spec     func(obj runtime.Object) any
	Validate func(obj runtime.Object) field.ErrorList
	// SpecWritten, when set, runs on create and on every update that
	// changes the spec, with the request's context (to record who wrote it).
	SpecWritten func(ctx context.Context, obj runtime.Object)
}

var (
	_ rest.RESTCreateStrategy  = strategy{}
	_ rest.RESTUpdateStrategy  = strategy{}
	_ rest.ResetFieldsStrategy = statusStrategy{}
)

// Resource is the storage of such a kind, listed among HyperSDK's.
type Resource struct {
	*genericregistry.Store
	shortNames []string
}

var (
	_ rest.ShortNamesProvider = &Resource{}
	_ rest.CategoriesProvider = &Resource{}
)

// ShortNames are what kubectl also accepts for the resource.
func (r *Resource) ShortNames() []string { return r.shortNames }

// Categories puts the kind among HyperSDK's.
func (*Resource) Categories() []string { return []string{"hypersdk"} }

// NewResource gives store the strategies of kind, completes it, and returns
// the storage of the resource (with its kubectl short names) and of its
// status subresource.
func NewResource(store *genericregistry.Store, typer runtime.ObjectTyper, kind Kind, optsGetter generic.RESTOptionsGetter,
	shortNames ...string) (*Resource, *REST, error) {
	status, err := complete(store, typer, kind, optsGetter)
	if err != nil {
		return nil, nil, err
	}
	return &Resource{Store: store, shortNames: shortNames}, status, nil
}

// complete gives store the strategies of kind, completes it, and returns the
// storage of its status subresource.
func complete(store *genericregistry.Store, typer runtime.ObjectTyper, kind Kind, optsGetter generic.RESTOptionsGetter) (*REST, error) {
	s := strategy{typer, names.SimpleNameGenerator, kind}
	store.CreateStrategy, store.UpdateStrategy, store.DeleteStrategy, store.ResetFieldsStrategy = s, s, s, s
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter}); err != nil {
		return nil, fmt.Errorf("completing %s storage: %w", store.DefaultQualifiedResource, err)
	}
	statusStore := *store
	status := statusStrategy{s}
	statusStore.UpdateStrategy, statusStore.ResetFieldsStrategy = status, status
	return New(&statusStore), nil
}

// strategy keeps users to the spec.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	kind Kind
}

func (s strategy) NamespaceScoped() bool { return s.kind.Namespaced }

// PrepareForCreate starts without a status, at generation 1.
func (s strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	s.kind.ClearStatus(obj)
	if m, err := meta.Accessor(obj); err == nil {
		m.SetGeneration(1)
	}
	if s.kind.SpecWritten != nil {
		s.kind.SpecWritten(ctx, obj)
	}
}

// PrepareForUpdate keeps what the server wrote and bumps the generation when the spec
// changes, so the status can say which spec it is about.
func (s strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	s.kind.Keep(obj, old)
	m, err1 := meta.Accessor(obj)
	prev, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return
	}
	m.SetGeneration(prev.GetGeneration())
	if !apiequality.Semantic.DeepEqual(s.kind.Spec(obj), s.kind.Spec(old)) {
		m.SetGeneration(prev.GetGeneration() + 1)
		if s.kind.SpecWritten != nil {
			s.kind.SpecWritten(ctx, obj)
		}
	}
}

func (s strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return s.kind.Validate(obj)
}

// ValidateUpdate validates obj's spec when the update changes it: a spec
// stored under rules since made stricter (a window's time zone prefix)
// stays writable for metadata, labels and finalizers (the garbage
// collector's too), and is judged by the new rules once edited.
func (s strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	if apiequality.Semantic.DeepEqual(s.kind.Spec(obj), s.kind.Spec(old)) {
		return nil
	}
	return s.kind.Validate(obj)
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }
func (strategy) AllowCreateOnUpdate(context.Context) bool                  { return false }
func (strategy) AllowUnconditionalUpdate(context.Context) bool             { return true }
func (strategy) Canonicalize(runtime.Object)                               {}

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

func (s statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	m := obj.(metav1.Object) // every hypersdk.io kind has ObjectMeta
	// The field manager has already added the status writer's entry: it
	// stays, as CustomResourceDefinitions' status strategy keeps it.
	managed := m.GetManagedFields()
	s.kind.CopySpec(obj, old)
	m.SetManagedFields(managed)
}

func (statusStrategy) ValidateUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"hypersdk.io/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata")),
	}
}
