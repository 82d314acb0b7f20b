package operations

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// TestExecutorKeepsNamespaceBoundVMsHome: a VM that mounts a Secret, or
// reads a ServiceAccount's token, is not cloned into another namespace,
// where the clone would get that namespace's objects of those names made
// with the controller's rights; inline cloud-init and claims travel.
func TestExecutorKeepsNamespaceBoundVMsHome(t *testing.T) {
	source := testVM("vm", kvv1.RunStrategyAlways)
	source.Spec.Template.Spec.Volumes = []kvv1.Volume{
		{Name: "cloudinit", VolumeSource: kvv1.VolumeSource{CloudInitNoCloud: &kvv1.CloudInitNoCloudSource{UserData: "#cloud-config"}}},
		{Name: "token", VolumeSource: kvv1.VolumeSource{ServiceAccount: &kvv1.ServiceAccountVolumeSource{ServiceAccountName: "deployer"}}},
		{Name: "creds", VolumeSource: kvv1.VolumeSource{CloudInitConfigDrive: &kvv1.CloudInitConfigDriveSource{
			UserDataSecretRef: &corev1.LocalObjectReference{Name: "db-password"}}}},
		{Name: "root", VolumeSource: kvv1.VolumeSource{ContainerDisk: &kvv1.ContainerDiskSource{Image: "registry.example/os", ImagePullSecret: "regcred"}}},
	}
	source.Spec.Template.Spec.Domain.Firmware = &kvv1.Firmware{KernelBoot: &kvv1.KernelBoot{
		Container: &kvv1.KernelBootContainer{Image: "registry.example/kernel", ImagePullSecret: "kernelcred"}}}
	if got := namespaceBound(&source.Spec); fmt.Sprint(got) != "[volume token: ServiceAccount deployer volume creds: Secret db-password "+
		"volume root: image pull Secret regcred kernel boot: image pull Secret kernelcred]" {
		t.Errorf("namespace-bound parts %q", got)
	}
	h := newHarness(t, ExecutorConfig{}, source)
	key := h.create("clone", "vm", cloneSpec("copy", "other"))
	h.until(key, 5, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "waiting for snapshot hypersdk-clone" })
	h.readySnapshot("hypersdk-clone", source)
	op := h.until(key, 3, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "ServiceAccount deployer") {
		t.Fatalf("clone of a namespace-bound VM ended %s: %q, want Failed naming the ServiceAccount", op.Status.Phase, op.Status.Message)
	}
	if _, err := h.kv.KubevirtV1().VirtualMachines("other").Get(h.ctx, "copy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a clone was made in other: %v", err)
	}
}
