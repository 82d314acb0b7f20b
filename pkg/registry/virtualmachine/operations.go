package virtualmachine

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
	ops "github.com/hypersdk/hypersdk/pkg/operations"
)

// OperationREST serves one operation subresource of virtualmachines (clone,
// migrate, resize, snapshot, restore, start, stop, restart, attachusb,
// detachusb): a POST of its typed options is validated and becomes a
// VMOperation, answered with 201. The
// operation is created through the vmoperations storage with the admission
// of a VMOperation create, so it meets exactly the checks of one posted
// directly: admission plugins and policies on vmoperations, the requester's
// access and the prechecks; and one posted directly meets the validating
// admission of this subresource (SubresourceAdmission).
type OperationREST struct {
	name       string // of the subresource: migrate
	typ        hypersdk.VMOperationType
	newOptions func() runtime.Object
	toSpec     func(runtime.Object, *hypersdk.VMOperationSpec)
	fromSpec   func(*hypersdk.VMOperationSpec) runtime.Object
	validate   func(runtime.Object) field.ErrorList
	operations rest.Creater
	admit      admission.Interface
	objects    admission.ObjectInterfaces
}

var (
	_ rest.NamedCreater = &OperationREST{}
	_ rest.Storage      = &OperationREST{}
)

// NewOperationRESTs returns the storage of every operation subresource,
// keyed by subresource name. operations is the vmoperations storage; admit
// is the server's admission chain (nil admits everything), objects its
// conversions.
func NewOperationRESTs(operations rest.Creater, admit admission.Interface, objects admission.ObjectInterfaces) map[string]*OperationREST {
	subs := map[string]*OperationREST{
		"clone": subresource(hypersdk.VMOperationClone, func(o *hypersdk.VirtualMachineCloneOptions) *hypersdk.CloneSpec { return &o.CloneSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.CloneSpec { return &s.Clone }, validation.ValidateCloneSpec),
		"migrate": subresource(hypersdk.VMOperationMigrate, func(o *hypersdk.VirtualMachineMigrateOptions) *hypersdk.MigrateSpec { return &o.MigrateSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.MigrateSpec { return &s.Migrate }, validation.ValidateMigrateSpec),
		"resize": subresource(hypersdk.VMOperationResize, func(o *hypersdk.VirtualMachineResizeOptions) *hypersdk.ResizeSpec { return &o.ResizeSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.ResizeSpec { return &s.Resize }, validation.ValidateResizeSpec),
		"snapshot": subresource(hypersdk.VMOperationSnapshot, func(o *hypersdk.VirtualMachineSnapshotOptions) *hypersdk.SnapshotSpec { return &o.SnapshotSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.SnapshotSpec { return &s.Snapshot }, validation.ValidateSnapshotSpec),
		"restore": subresource(hypersdk.VMOperationRestore, func(o *hypersdk.VirtualMachineRestoreOptions) *hypersdk.RestoreSpec { return &o.RestoreSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.RestoreSpec { return &s.Restore }, validation.ValidateRestoreSpec),
		"start": subresource(hypersdk.VMOperationStart, func(o *hypersdk.VirtualMachineStartOptions) *hypersdk.StartSpec { return &o.StartSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.StartSpec { return &s.Start }, nil),
		"stop": subresource(hypersdk.VMOperationStop, func(o *hypersdk.VirtualMachineStopOptions) *hypersdk.StopSpec { return &o.StopSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.StopSpec { return &s.Stop }, validation.ValidateStopSpec),
		"restart": subresource(hypersdk.VMOperationRestart, func(o *hypersdk.VirtualMachineRestartOptions) *hypersdk.RestartSpec { return &o.RestartSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.RestartSpec { return &s.Restart }, validation.ValidateRestartSpec),
		"attachusb": subresource(hypersdk.VMOperationAttachUSB, func(o *hypersdk.VirtualMachineAttachUSBOptions) *hypersdk.AttachUSBSpec { return &o.AttachUSBSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.AttachUSBSpec { return &s.AttachUSB }, validation.ValidateAttachUSBSpec),
		"detachusb": subresource(hypersdk.VMOperationDetachUSB, func(o *hypersdk.VirtualMachineDetachUSBOptions) *hypersdk.DetachUSBSpec { return &o.DetachUSBSpec },
			func(s *hypersdk.VMOperationSpec) **hypersdk.DetachUSBSpec { return &s.DetachUSB }, validation.ValidateDetachUSBSpec),
	}
	for name, sub := range subs {
		sub.name, sub.operations, sub.admit, sub.objects = name, operations, admit, objects
	}
	return subs
}

// subresource is the storage of one operation subresource whose options O
// carry the spec S that the VMOperation holds in its field of the type.
func subresource[O any, S any, PO interface {
	*O
	runtime.Object
}](typ hypersdk.VMOperationType, optionsSpec func(PO) *S, operationSpec func(*hypersdk.VMOperationSpec) **S,
	validate func(*S, *field.Path) field.ErrorList) *OperationREST {
	return &OperationREST{
		typ:        typ,
		newOptions: func() runtime.Object { return PO(new(O)) },
		toSpec: func(o runtime.Object, s *hypersdk.VMOperationSpec) {
			spec := *optionsSpec(o.(PO))
			*operationSpec(s) = &spec
		},
		fromSpec: func(s *hypersdk.VMOperationSpec) runtime.Object {
			o := PO(new(O))
			if spec := *operationSpec(s); spec != nil {
				*optionsSpec(o) = *spec
			}
			return o
		},
		validate: func(o runtime.Object) field.ErrorList {
			if validate == nil {
				return nil
			}
			return validate(optionsSpec(o.(PO)), nil)
		},
	}
}

// SubresourceAdmission returns the validating admission that a VMOperation
// created directly meets as the POST of its virtualmachines/<type>
// subresource would, with the options its spec holds: admission policies
// and webhooks written for a subresource hold however the operation is
// asked for. (The subresource meets vmoperations' admission too, so
// either way meets both.)
func SubresourceAdmission(subs map[string]*OperationREST) func(ctx context.Context, op *hypersdk.VMOperation, dryRun bool) error {
	byType := map[hypersdk.VMOperationType]*OperationREST{}
	for _, sub := range subs {
		byType[sub.typ] = sub
	}
	return func(ctx context.Context, op *hypersdk.VMOperation, dryRun bool) error {
		sub, ok := byType[op.Spec.Type]
		if !ok || sub.admit == nil {
			return nil
		}
		validating, ok := sub.admit.(admission.ValidationInterface)
		if !ok || !validating.Handles(admission.Create) {
			return nil
		}
		caller, _ := genericapirequest.UserFrom(ctx)
		createOptions := &metav1.CreateOptions{}
		if dryRun {
			createOptions.DryRun = []string{metav1.DryRunAll}
		}
		attrs := admission.NewAttributesRecord(sub.fromSpec(&op.Spec), nil,
			v1alpha1.SchemeGroupVersion.WithKind(fmt.Sprintf("VirtualMachine%sOptions", sub.typ)), op.Namespace, op.Spec.VMName,
			v1alpha1.SchemeGroupVersion.WithResource("virtualmachines"), sub.name, admission.Create, createOptions, dryRun, caller)
		return validating.Validate(ctx, attrs, sub.objects)
	}
}

// OperationAdmission is the validating admission of a VMOperation create,
// for an operation a VM update amounts to: a policy written for
// vmoperations holds on that route too. It sees the operation as a create
// of the subresource's would (named after the VM and its type, then
// prepared by the vmoperations strategy: labels, requester, phase).
// Mutating admission has no part there (the update writes the VM, not the
// operation).
func OperationAdmission(admit admission.Interface, objects admission.ObjectInterfaces, prepare rest.RESTCreateStrategy) func(ctx context.Context, op *hypersdk.VMOperation, dryRun bool) error {
	return func(ctx context.Context, op *hypersdk.VMOperation, dryRun bool) error {
		validating, ok := admit.(admission.ValidationInterface)
		if !ok || !validating.Handles(admission.Create) {
			return nil
		}
		op = op.DeepCopy()
		op.GenerateName = fmt.Sprintf("%s-%s-", op.Spec.VMName, strings.ToLower(string(op.Spec.Type)))
		prepare.PrepareForCreate(ctx, op)
		if op.Name == "" {
			op.Name = prepare.GenerateName(op.GenerateName)
		}
		caller, _ := genericapirequest.UserFrom(ctx)
		createOptions := &metav1.CreateOptions{}
		if dryRun {
			createOptions.DryRun = []string{metav1.DryRunAll}
		}
		attrs := admission.NewAttributesRecord(op, nil, v1alpha1.SchemeGroupVersion.WithKind("VMOperation"), op.Namespace, op.Name,
			v1alpha1.SchemeGroupVersion.WithResource("vmoperations"), "", admission.Create, createOptions, dryRun, caller)
		return validating.Validate(ctx, attrs, objects)
	}
}

// New returns an empty options object of this subresource's kind.
func (r *OperationREST) New() runtime.Object { return r.newOptions() }

// Destroy releases nothing.
func (r *OperationREST) Destroy() {}

// Create turns options for VM name into a VMOperation.
func (r *OperationREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	kind := hypersdk.Kind(fmt.Sprintf("VirtualMachine%sOptions", r.typ))
	if errs := r.validate(obj); len(errs) > 0 {
		return nil, apierrors.NewInvalid(kind, name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	ctx = ops.ThroughSubresource(ctx)
	op := &hypersdk.VMOperation{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: fmt.Sprintf("%s-%s-", name, strings.ToLower(string(r.typ))),
			Namespace:    ns,
		},
		Spec: hypersdk.VMOperationSpec{VMName: name, Type: r.typ},
	}
	r.toSpec(obj, &op.Spec)
	createOptions := &metav1.CreateOptions{DryRun: options.DryRun, FieldManager: options.FieldManager}
	if r.admit == nil {
		return r.operations.Create(ctx, op, nil, createOptions)
	}
	// What the endpoint of a VMOperation create would do: mutating
	// admission first, validating admission inside the storage's Create.
	caller, _ := genericapirequest.UserFrom(ctx)
	attrs := admission.NewAttributesRecord(op, nil, v1alpha1.SchemeGroupVersion.WithKind("VMOperation"), ns, "",
		v1alpha1.SchemeGroupVersion.WithResource("vmoperations"), "", admission.Create, createOptions, len(options.DryRun) > 0, caller)
	if mutating, ok := r.admit.(admission.MutationInterface); ok && mutating.Handles(admission.Create) {
		if err := mutating.Admit(ctx, attrs, r.objects); err != nil {
			return nil, err
		}
	}
	return r.operations.Create(ctx, op, rest.AdmissionToValidateObjectFunc(r.admit, attrs, r.objects), createOptions)
}
