package kubevirt

import (
	"reflect"
	"testing"
)

// TestFinalizersSplit: a write through the view keeps KubeVirt's
// finalizers whatever the view says, and sets the others as it says.
func TestFinalizersSplit(t *testing.T) {
	current := []string{"kubevirt.io/virtualMachineControllerFinalize", "example.com/old"}
	view := []string{"example.com/new", "kubevirt.io/forged"}
	got := append(kubeVirtFinalizers(current), userFinalizers(view)...)
	if want := []string{"kubevirt.io/virtualMachineControllerFinalize", "example.com/new"}; !reflect.DeepEqual(got, want) {
		t.Errorf("finalizers written: %v, want %v", got, want)
	}
}
