package operations

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	kvfake "kubevirt.io/client-go/kubevirt/fake"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

func vmWith(cpu *kvv1.CPU, mem *kvv1.Memory) *kvv1.VirtualMachine {
	return &kvv1.VirtualMachine{Spec: kvv1.VirtualMachineSpec{Template: &kvv1.VirtualMachineInstanceTemplateSpec{
		Spec: kvv1.VirtualMachineInstanceSpec{Domain: kvv1.DomainSpec{CPU: cpu, Memory: mem}},
	}}}
}

func TestHotpluggable(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	bounded := vmWith(&kvv1.CPU{Sockets: 2, Cores: 2, MaxSockets: 8}, &kvv1.Memory{Guest: q("2Gi"), MaxGuest: q("8Gi")})
	for _, tc := range []struct {
		name string
		vm   *kvv1.VirtualMachine
		spec v1alpha1.ResizeSpec
		want bool
	}{
		{"within sockets", bounded, v1alpha1.ResizeSpec{CPUs: ptr.To[int32](8)}, true},
		{"not a whole socket", bounded, v1alpha1.ResizeSpec{CPUs: ptr.To[int32](7)}, false},
		{"above maxSockets", bounded, v1alpha1.ResizeSpec{CPUs: ptr.To[int32](18)}, false},
		{"memory within maxGuest", bounded, v1alpha1.ResizeSpec{Memory: q("8Gi")}, true},
		{"memory above maxGuest", bounded, v1alpha1.ResizeSpec{Memory: q("9Gi")}, false},
		{"no bounds", vmWith(&kvv1.CPU{Sockets: 2}, nil), v1alpha1.ResizeSpec{CPUs: ptr.To[int32](3)}, false},
		{"no memory bound", vmWith(nil, &kvv1.Memory{Guest: q("2Gi")}), v1alpha1.ResizeSpec{Memory: q("3Gi")}, false},
	} {
		if got := hotpluggable(tc.vm, tc.spec.CPUs, tc.spec.Memory); got != tc.want {
			t.Errorf("%s: hotpluggable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestResizeLimits(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	bounded := vmWith(&kvv1.CPU{Sockets: 2, Cores: 2, MaxSockets: 4}, &kvv1.Memory{Guest: q("2Gi"), MaxGuest: q("8Gi")})
	limited := vmWith(nil, &kvv1.Memory{Guest: q("2Gi"), MaxGuest: q("8Gi")})
	limited.Spec.Template.Spec.Domain.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("4Gi")}
	for _, tc := range []struct {
		name string
		vm   *kvv1.VirtualMachine
		spec hypersdk.ResizeSpec
		want string
	}{
		{"at the bound", bounded, hypersdk.ResizeSpec{CPUs: ptr.To[int32](8), Memory: q("8Gi")}, ""},
		{"above the bound", bounded, hypersdk.ResizeSpec{CPUs: ptr.To[int32](9), Memory: q("9Gi")}, "cpus,memory"},
		{"not a whole socket", bounded, hypersdk.ResizeSpec{CPUs: ptr.To[int32](5)}, "cpus"},
		{"no bound, sane", vmWith(nil, nil), hypersdk.ResizeSpec{CPUs: ptr.To[int32](64)}, ""},
		{"no bound, absurd", vmWith(nil, nil), hypersdk.ResizeSpec{CPUs: ptr.To[int32](100000), Memory: q("10Ti")}, "cpus,memory"},
		{"within the memory limit", limited, hypersdk.ResizeSpec{Memory: q("4Gi")}, ""},
		{"above the memory limit", limited, hypersdk.ResizeSpec{Memory: q("5Gi")}, "memory"},
	} {
		var fields []string
		for _, e := range resizeLimits(tc.vm, &tc.spec, nil) {
			fields = append(fields, e.Field)
		}
		if got := strings.Join(fields, ","); got != tc.want {
			t.Errorf("%s: failing fields %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestResizePrecheckOfAVMThatWouldNotComeBack: a resize of a running
// Manual VM that needs a restart is refused (409) through the subresource,
// whose restart would leave the VM stopped; the same change by a VM update
// (no policy: KubeVirt flags RestartRequired, nothing restarts) is not.
func TestResizePrecheckOfAVMThatWouldNotComeBack(t *testing.T) {
	p := &Prechecker{Kube: kubefake.NewClientset(),
		KubeVirt: kvfake.NewSimpleClientset(testVM("vm", kvv1.RunStrategyManual), testVMI("vm", "node-a", "vmi-1"))}
	resize := func(policy hypersdk.ResizeRestartPolicy) *hypersdk.VMOperation {
		return &hypersdk.VMOperation{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: hypersdk.VMOperationSpec{VMName: "vm",
			Type: hypersdk.VMOperationResize, Resize: &hypersdk.ResizeSpec{CPUs: ptr.To[int32](4), RestartPolicy: policy}}}
	}
	if err := p.Check(context.Background(), resize(hypersdk.ResizeRestartIfNeeded)); !apierrors.IsConflict(err) {
		t.Errorf("resize by restart of a running Manual VM: %v, want 409", err)
	}
	if err := p.Check(context.Background(), resize("")); err != nil {
		t.Errorf("the same change by a VM update: %v, want it admitted", err)
	}
}
