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
// access and the prechecks.
type OperationREST struct {
	typ        hypersdk.VMOperationType
	newOptions func() runtime.Object
	toSpec     func(runtime.Object, *hypersdk.VMOperationSpec)
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
	mk := func(typ hypersdk.VMOperationType, newOptions func() runtime.Object,
		toSpec func(runtime.Object, *hypersdk.VMOperationSpec), validate func(runtime.Object) field.ErrorList) *OperationREST {
		return &OperationREST{typ: typ, newOptions: newOptions, toSpec: toSpec, validate: validate,
			operations: operations, admit: admit, objects: objects}
	}
	return map[string]*OperationREST{
		"clone": mk(hypersdk.VMOperationClone, func() runtime.Object { return &hypersdk.VirtualMachineCloneOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineCloneOptions).CloneSpec
				s.Clone = &spec
			},
			func(o runtime.Object) field.ErrorList {
				return validation.ValidateCloneSpec(&o.(*hypersdk.VirtualMachineCloneOptions).CloneSpec, nil)
			}),
		"migrate": mk(hypersdk.VMOperationMigrate, func() runtime.Object { return &hypersdk.VirtualMachineMigrateOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineMigrateOptions).MigrateSpec
				s.Migrate = &spec
			},
			func(o runtime.Object) field.ErrorList {
				return validation.ValidateMigrateSpec(&o.(*hypersdk.VirtualMachineMigrateOptions).MigrateSpec, nil)
			}),
		"resize": mk(hypersdk.VMOperationResize, func() runtime.Object { return &hypersdk.VirtualMachineResizeOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineResizeOptions).ResizeSpec
				s.Resize = &spec
			},
			func(o runtime.Object) field.ErrorList {
				return validation.ValidateResizeSpec(&o.(*hypersdk.VirtualMachineResizeOptions).ResizeSpec, nil)
			}),
		"snapshot": mk(hypersdk.VMOperationSnapshot, func() runtime.Object { return &hypersdk.VirtualMachineSnapshotOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineSnapshotOptions).SnapshotSpec
				s.Snapshot = &spec
			},
			func(o runtime.Object) field.ErrorList {
				return validation.ValidateSnapshotSpec(&o.(*hypersdk.VirtualMachineSnapshotOptions).SnapshotSpec, nil)
			}),
		"restore": mk(hypersdk.VMOperationRestore, func() runtime.Object { return &hypersdk.VirtualMachineRestoreOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineRestoreOptions).RestoreSpec
				s.Restore = &spec
			},
			func(o runtime.Object) field.ErrorList {
				return validation.ValidateRestoreSpec(&o.(*hypersdk.VirtualMachineRestoreOptions).RestoreSpec, nil)
			}),
		"start": mk(hypersdk.VMOperationStart, func() runtime.Object { return &hypersdk.VirtualMachineStartOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineStartOptions).StartSpec
				s.Start = &spec
			},
			func(runtime.Object) field.ErrorList { return nil }),
		"stop": mk(hypersdk.VMOperationStop, func() runtime.Object { return &hypersdk.VirtualMachineStopOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineStopOptions).StopSpec
				s.Stop = &spec
			},
			func(o runtime.Object) field.ErrorList {
				return validation.ValidateStopSpec(&o.(*hypersdk.VirtualMachineStopOptions).StopSpec, nil)
			}),
		"restart": mk(hypersdk.VMOperationRestart, func() runtime.Object { return &hypersdk.VirtualMachineRestartOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineRestartOptions).RestartSpec
				s.Restart = &spec
			},
			func(o runtime.Object) field.ErrorList {
				return validation.ValidateRestartSpec(&o.(*hypersdk.VirtualMachineRestartOptions).RestartSpec, nil)
			}),
		"attachusb": mk(hypersdk.VMOperationAttachUSB, func() runtime.Object { return &hypersdk.VirtualMachineAttachUSBOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineAttachUSBOptions).AttachUSBSpec
				s.AttachUSB = &spec
			},
			func(o runtime.Object) field.ErrorList {
				return validation.ValidateAttachUSBSpec(&o.(*hypersdk.VirtualMachineAttachUSBOptions).AttachUSBSpec, nil)
			}),
		"detachusb": mk(hypersdk.VMOperationDetachUSB, func() runtime.Object { return &hypersdk.VirtualMachineDetachUSBOptions{} },
			func(o runtime.Object, s *hypersdk.VMOperationSpec) {
				spec := o.(*hypersdk.VirtualMachineDetachUSBOptions).DetachUSBSpec
				s.DetachUSB = &spec
			},
			func(o runtime.Object) field.ErrorList {
				return validation.ValidateDetachUSBSpec(&o.(*hypersdk.VirtualMachineDetachUSBOptions).DetachUSBSpec, nil)
			}),
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
