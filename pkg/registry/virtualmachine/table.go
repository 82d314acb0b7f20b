package virtualmachine

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/registry/tables"
)

// tableConvertor prints VMs for `kubectl get` (and `-o wide`).
type tableConvertor struct{}

var _ rest.TableConvertor = tableConvertor{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the virtual machine"},
	{Name: "Phase", Type: "string", Description: "Where the VM is in its life"},
	{Name: "Node", Type: "string", Description: "Node the VM runs on"},
	{Name: "CPUs", Type: "integer", Description: "Virtual CPUs"},
	{Name: "Memory", Type: "string", Description: "Guest memory"},
	{Name: "Age", Type: "string", Description: "Time since the VM was created"},
	{Name: "IP", Type: "string", Priority: 1, Description: "Guest addresses"},
	{Name: "GPUs", Type: "string", Priority: 1, Description: "Passthrough GPUs"},
	{Name: "Image", Type: "string", Priority: 1, Description: "Boot image or disk"},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Of(obj, columns, func(obj runtime.Object, _ metav1.Object, name, age string) ([]interface{}, error) {
		vm := obj.(*hypersdk.VirtualMachine)
		return []interface{}{name, string(vm.Status.Phase), orNone(vm.Status.NodeName), int64(vm.Spec.CPUs),
			memory(vm), age, orNone(strings.Join(vm.Status.IPs, ",")), gpus(vm), image(vm)}, nil
	})
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func memory(vm *hypersdk.VirtualMachine) string {
	if vm.Spec.Memory == nil {
		return "<none>"
	}
	return vm.Spec.Memory.String()
}

func gpus(vm *hypersdk.VirtualMachine) string {
	var parts []string
	for _, g := range vm.Spec.GPUs {
		parts = append(parts, fmt.Sprintf("%dx%s", g.Count, g.DeviceName))
	}
	return orNone(strings.Join(parts, ","))
}

func image(vm *hypersdk.VirtualMachine) string {
	switch {
	case vm.Spec.Image != "":
		return vm.Spec.Image
	case vm.Spec.Source != nil && vm.Spec.Source.PersistentVolumeClaim != "":
		return "pvc/" + vm.Spec.Source.PersistentVolumeClaim
	case vm.Spec.Source != nil && vm.Spec.Source.DataVolume != "":
		return "dv/" + vm.Spec.Source.DataVolume
	}
	return "<none>"
}
