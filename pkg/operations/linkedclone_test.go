package operations

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	cdifake "kubevirt.io/client-go/containerizeddataimporter/fake"
	kvfake "kubevirt.io/client-go/kubevirt/fake"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// claimVM is a stopped VM in "ns" whose root disk is claim.
func claimVM(name, claim string) *kvv1.VirtualMachine {
	vm := testVM(name, kvv1.RunStrategyHalted)
	vm.Spec.Template.Spec.Volumes = []kvv1.Volume{{Name: "root", VolumeSource: kvv1.VolumeSource{PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
		PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}}
	return vm
}

func claimOf(name, class string) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}}
	if class != "" {
		pvc.Spec.StorageClassName = ptr.To(class)
	}
	return pvc
}

func profile(class string, strategy cdiv1.CDICloneStrategy) *cdiv1.StorageProfile {
	return &cdiv1.StorageProfile{ObjectMeta: metav1.ObjectMeta{Name: class},
		Status: cdiv1.StorageProfileStatus{StorageClass: ptr.To(class), CloneStrategy: ptr.To(strategy)}}
}

func TestPrecheckLinkedClone(t *testing.T) {
	containerDisk := testVM("image", kvv1.RunStrategyHalted)
	running := claimVM("running", "fast-root")
	objects := []runtime.Object{claimVM("fast", "fast-root"), claimVM("slow", "slow-root"), claimVM("plain", "plain-root"),
		claimVM("unknown", "unknown-root"), claimVM("missing", "gone"), containerDisk, running,
		testVMI("running", "node-a", "vmi-1")}
	p := &Prechecker{
		Kube: kubefake.NewClientset(claimOf("fast-root", "csi"), claimOf("slow-root", "nfs"), claimOf("plain-root", ""),
			claimOf("unknown-root", "mystery")),
		KubeVirt: kvfake.NewSimpleClientset(objects...),
		CDI:      cdifake.NewSimpleClientset(profile("csi", cdiv1.CloneStrategyCsiClone), profile("nfs", cdiv1.CloneStrategyHostAssisted)),
	}
	linked := func(vm string, mutate func(*hypersdk.CloneSpec)) *hypersdk.VMOperation {
		spec := &hypersdk.CloneSpec{TargetName: vm + "-copy", LinkedClone: true}
		if mutate != nil {
			mutate(spec)
		}
		return &hypersdk.VMOperation{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"},
			Spec: hypersdk.VMOperationSpec{VMName: vm, Type: hypersdk.VMOperationClone, Clone: spec}}
	}
	for _, tc := range []struct {
		name string
		op   *hypersdk.VMOperation
		want func(error) bool
		says string
	}{
		{"copy-on-write class", linked("fast", nil), func(err error) bool { return err == nil }, ""},
		{"class that copies", linked("slow", nil), apierrors.IsInvalid, `cloneStrategy is "copy"`},
		{"claim without class", linked("plain", nil), apierrors.IsInvalid, "no storage class"},
		{"class without profile", linked("unknown", nil), apierrors.IsInvalid, "no CDI StorageProfile"},
		{"missing claim", linked("missing", nil), apierrors.IsInvalid, "claim gone does not exist"},
		{"no claims", linked("image", nil), apierrors.IsInvalid, "no disks on volume claims"},
		{"other namespace", linked("fast", func(c *hypersdk.CloneSpec) { c.TargetNamespace = "elsewhere" }), apierrors.IsInvalid, "source's namespace"},
		{"from a snapshot", linked("fast", func(c *hypersdk.CloneSpec) { c.SnapshotRef = "s1" }), apierrors.IsInvalid, "not a snapshot's"},
		{"running source", linked("running", nil), apierrors.IsConflict, "stop the VM first"},
	} {
		err := p.Check(context.Background(), tc.op)
		if !tc.want(err) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if err == nil {
			continue
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want it to say %q", tc.name, err, tc.says)
		}
		if !apierrors.IsInvalid(err) {
			continue
		}
		// A VMOperation's create names its own field; the clone
		// subresource, whose body is the options alone, the options'.
		details := err.(apierrors.APIStatus).Status().Details
		if causes := details.Causes; details.Kind != "VMOperation" || len(causes) == 0 || causes[0].Field != "spec.clone.linkedClone" {
			t.Errorf("%s: %s causes %+v, want VMOperation's spec.clone.linkedClone named", tc.name, details.Kind, causes)
		}
		details = p.Check(ThroughSubresource(context.Background()), tc.op).(apierrors.APIStatus).Status().Details
		if causes := details.Causes; details.Kind != "VirtualMachineCloneOptions" || len(causes) == 0 || causes[0].Field != "linkedClone" {
			t.Errorf("%s through the subresource: %s causes %+v, want VirtualMachineCloneOptions's linkedClone named", tc.name, details.Kind, causes)
		}
	}
}

// A linked clone makes the new VM beside the source with each disk a
// DataVolume cloning the source's claim, and nothing temporary.
func TestExecutorLinkedClone(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, claimVM("vm", "vm-root"))
	if _, err := h.kube.CoreV1().PersistentVolumeClaims("ns").Create(h.ctx, claimOf("vm-root", "csi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	spec := cloneSpec("copy", "")
	spec.Clone.LinkedClone = true
	key := h.create("clone", "vm", spec)
	h.until(key, 4, func(op *v1alpha1.VMOperation) bool { return op.Status.Message == "copying disks: 0 of 1 done" })
	vm, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "copy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := vm.Spec.Template.Spec.Volumes; len(v) != 1 || v[0].DataVolume == nil || v[0].DataVolume.Name != "copy-root" {
		t.Fatalf("linked clone volumes %+v", v)
	}
	if d := vm.Spec.DataVolumeTemplates; len(d) != 1 || d[0].Spec.Source == nil || d[0].Spec.Source.PVC == nil ||
		d[0].Spec.Source.PVC.Name != "vm-root" || ptr.Deref(d[0].Spec.Storage.StorageClassName, "") != "csi" ||
		d[0].Annotations[bindImmediatelyAnnotation] != "true" {
		t.Fatalf("linked clone DataVolume templates %+v", d)
	}
	if vm.Annotations[linkedCloneAnnotation] != "ns/vm" || ptr.Deref(vm.Spec.RunStrategy, "") != kvv1.RunStrategyHalted {
		t.Fatalf("linked clone %+v", vm.ObjectMeta)
	}
	if _, err := h.cdi.CdiV1beta1().DataVolumes("ns").Create(h.ctx, &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "copy-root", Namespace: "ns"}, Status: cdiv1.DataVolumeStatus{Phase: cdiv1.Succeeded},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if op := h.until(key, 3, ended); op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Message != "cloned to ns/copy" {
		t.Fatalf("linked clone ended %+v", op.Status)
	}
	snaps, _ := h.kv.SnapshotV1beta1().VirtualMachineSnapshots("ns").List(h.ctx, metav1.ListOptions{})
	clones, _ := h.kv.CloneV1beta1().VirtualMachineClones("ns").List(h.ctx, metav1.ListOptions{})
	if len(snaps.Items)+len(clones.Items) != 0 {
		t.Fatalf("a linked clone made %d snapshots and %d clones", len(snaps.Items), len(clones.Items))
	}
}

// A source started after the POST is not cloned: the operation fails.
func TestExecutorLinkedCloneOfStartedSource(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, claimVM("vm", "vm-root"))
	spec := cloneSpec("copy", "")
	spec.Clone.LinkedClone = true
	key := h.create("clone", "vm", spec)
	h.setVMI(testVMI("vm", "node-a", "vmi-1"))
	op := h.until(key, 4, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "needs it stopped") {
		t.Fatalf("linked clone of a started VM ended %+v", op.Status)
	}
	if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "copy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("clone made: %v", err)
	}
}

// A clone whose disk would have the name of a DataVolume already in the
// namespace (another's) fails before it makes anything: KubeVirt would
// adopt that DataVolume, and the clone would boot, or its rollback delete,
// another's disk.
func TestExecutorCloneDoesNotTakeAnothersDisk(t *testing.T) {
	h := newHarness(t, ExecutorConfig{}, claimVM("vm", "vm-root"))
	if _, err := h.kube.CoreV1().PersistentVolumeClaims("ns").Create(h.ctx, claimOf("vm-root", "csi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cdi.CdiV1beta1().DataVolumes("ns").Create(h.ctx, &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "copy-root", Namespace: "ns"}, Status: cdiv1.DataVolumeStatus{Phase: cdiv1.Succeeded},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	spec := cloneSpec("copy", "")
	spec.Clone.LinkedClone = true
	key := h.create("clone", "vm", spec)
	op := h.until(key, 4, ended)
	if op.Status.Phase != v1alpha1.VMOperationFailed || !strings.Contains(op.Status.Message, "DataVolume ns/copy-root already exists") {
		t.Errorf("clone onto another's DataVolume ended %s %q, want Failed naming it", op.Status.Phase, op.Status.Message)
	}
	if _, err := h.kv.KubevirtV1().VirtualMachines("ns").Get(h.ctx, "copy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the clone's VM: %v, want none made", err)
	}
	h.cleanUp(key)
	if _, err := h.cdi.CdiV1beta1().DataVolumes("ns").Get(h.ctx, "copy-root", metav1.GetOptions{}); err != nil {
		t.Errorf("the other DataVolume after the clean-up: %v, want it kept", err)
	}
}
