// Package virtualmachine serves the hypersdk.io VirtualMachine view from an
// in-memory watch cache fed by KubeVirt informers, and writes changes through
// to KubeVirt VirtualMachines.
package virtualmachine

import (
	"context"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
)

// strategy validates VMs written through the view.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

var (
	_ rest.RESTCreateStrategy = strategy{}
	_ rest.RESTUpdateStrategy = strategy{}
)

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate drops the status: it is computed from KubeVirt, never written.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*hypersdk.VirtualMachine).Status = hypersdk.VirtualMachineStatus{}
}

// PrepareForUpdate keeps the computed status.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*hypersdk.VirtualMachine).Status = old.(*hypersdk.VirtualMachine).Status
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateVirtualMachine(obj.(*hypersdk.VirtualMachine))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateVirtualMachineUpdate(obj.(*hypersdk.VirtualMachine), old.(*hypersdk.VirtualMachine))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func (strategy) Canonicalize(runtime.Object) {}

func (strategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// GetAttrs returns the labels and selectable fields of a VM view.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	vm, ok := obj.(*hypersdk.VirtualMachine)
	if !ok {
		return nil, nil, fmt.Errorf("not a VirtualMachine: %T", obj)
	}
	return vm.Labels, SelectableFields(vm), nil
}

// SelectableFields are the fields a client may select VMs by; the v1alpha1
// field label conversion accepts the same names.
func SelectableFields(vm *hypersdk.VirtualMachine) fields.Set {
	set := fields.Set{
		"status.phase":    string(vm.Status.Phase),
		"status.nodeName": vm.Status.NodeName,
		"spec.cpus":       strconv.Itoa(int(vm.Spec.CPUs)),
	}
	return generic.AddObjectMetaFieldsSet(set, &vm.ObjectMeta, true)
}
