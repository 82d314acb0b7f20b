package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/pkg/sandbox/kubevirtsim"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestStartPaused: paused starts the VM with its CPUs stopped (KubeVirt's
// startStrategy Paused); a later start without it runs the VM.
func TestStartPaused(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-paused")
	vm := kubevirtVM("vm", 1, "1Gi", nil)
	vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	createKubeVirtVM(t, ns, vm)

	op := runOperation(t, ns, "vm", "start", map[string]bool{"paused": true})
	if op.Status.Message != "running, paused" {
		t.Errorf("paused start ended with %q", op.Status.Message)
	}
	vmi := runningVMI(t, ns, "vm", "")
	if !vmiHas(vmi, kvv1.VirtualMachineInstancePaused) || !vmi.ShouldStartPaused() {
		t.Fatalf("instance after a paused start: startStrategy %v, conditions %+v", vmi.Spec.StartStrategy, vmi.Status.Conditions)
	}
	framework.Eventually(t, "KubeVirt VM Paused", func(ctx context.Context) (bool, error) {
		got, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "vm", metav1.GetOptions{})
		return err == nil && got.Status.PrintableStatus == kvv1.VirtualMachineStatusPaused, err
	})

	runOperation(t, ns, "vm", "stop", map[string]interface{}{})
	runOperation(t, ns, "vm", "start", map[string]bool{})
	vmi = runningVMI(t, ns, "vm", vmi.UID)
	if vmiHas(vmi, kvv1.VirtualMachineInstancePaused) || vmi.ShouldStartPaused() {
		t.Fatalf("instance after a start without paused: startStrategy %v, conditions %+v", vmi.Spec.StartStrategy, vmi.Status.Conditions)
	}
	if got, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "vm", metav1.GetOptions{}); err != nil || got.Spec.Template.Spec.StartStrategy != nil {
		t.Fatalf("template after a start without paused: %v", err)
	}
}

// TestSnapshotQuiesce: quiesce is refused (422 naming it, both ways) for a
// running VM without a guest agent, leaving no snapshot; with an agent the
// snapshot is taken with the file systems frozen.
func TestSnapshotQuiesce(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-quiesce")
	createKubeVirtVM(t, ns, kubevirtVM("agent", 1, "1Gi", nil))
	bare := kubevirtVM("bare", 1, "1Gi", nil)
	bare.Spec.Template.ObjectMeta.Annotations = map[string]string{kubevirtsim.NoGuestAgentAnnotation: "true"}
	createKubeVirtVM(t, ns, bare)
	if vmi := runningVMI(t, ns, "agent", ""); !vmiHas(vmi, kvv1.VirtualMachineInstanceAgentConnected) {
		t.Fatalf("guest with an agent: conditions %+v", vmi.Status.Conditions)
	}
	if vmi := runningVMI(t, ns, "bare", ""); vmiHas(vmi, kvv1.VirtualMachineInstanceAgentConnected) {
		t.Fatalf("guest without an agent reports one: %+v", vmi.Status.Conditions)
	}

	runOperation(t, ns, "agent", "snapshot", map[string]interface{}{"name": "frozen", "quiesce": true})
	snap, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, "frozen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !snapshotIndicates(snap, snapshotv1.VMSnapshotGuestAgentIndication) || !snapshotIndicates(snap, snapshotv1.VMSnapshotOnlineSnapshotIndication) {
		t.Errorf("quiesced snapshot indications %v", snap.Status.Indications)
	}

	body := `{"name":"thawed","quiesce":true}`
	code, _, err := post(t, env.HyperSDK, ns, "bare", "snapshot", []byte(body), false)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("quiesced snapshot without an agent through the subresource: %d %v, want 422", code, err)
	}
	assertInvalid(t, err, "quiesce")
	code, err = createOperation(t, env.HyperSDK, ns, "bare", "snapshot", body)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("quiesced snapshot without an agent as a VMOperation: %d %v, want 422", code, err)
	}
	assertInvalid(t, err, "spec.snapshot.quiesce")

	// Without quiesce it is taken, crash-consistent, and says so.
	runOperation(t, ns, "bare", "snapshot", map[string]interface{}{"name": "crash"})
	snap, err = env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, "crash", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !snapshotIndicates(snap, snapshotv1.VMSnapshotNoGuestAgentIndication) {
		t.Errorf("snapshot without an agent indications %v", snap.Status.Indications)
	}
	if _, err := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, "thawed", metav1.GetOptions{}); err == nil {
		t.Errorf("a refused snapshot exists")
	}
}

// TestLinkedClone: a linked clone of a stopped VM whose disk is on a class
// that clones copy-on-write (its StorageProfile says csi-clone) gets a CSI
// clone of the source's volume; on a class that copies, or of a running
// VM, it is refused both ways, naming linkedClone, and nothing is made.
func TestLinkedClone(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-linked")
	cow, copying := ns+"-csi", ns+"-nfs"
	storageClassWithProfile(t, cow, kubevirtsim.StorageDriver)
	storageClassWithProfile(t, copying, "nfs.example.com")
	onClass := func(name, class string) {
		vm := withClaimDiskOf(t, ns, kubevirtVM(name, 1, "1Gi", nil), class)
		vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
		createKubeVirtVM(t, ns, vm)
	}
	onClass("fast", cow)
	onClass("slow", copying)
	source := boundVolume(t, ns, "fast-root")

	op := runOperation(t, ns, "fast", "clone", map[string]interface{}{"targetName": "fast-linked", "linkedClone": true})
	if op.Status.Message != "cloned to "+ns+"/fast-linked" {
		t.Errorf("linked clone ended with %q", op.Status.Message)
	}
	linked := boundVolume(t, ns, "fast-linked-rootdisk")
	if linked.Name == source.Name || linked.Annotations[kubevirtsim.ClonedFromAnnotation] != source.Name {
		t.Errorf("the linked clone's volume %s is cloned from %q, want a CSI clone of %s", linked.Name,
			linked.Annotations[kubevirtsim.ClonedFromAnnotation], source.Name)
	}
	if got, want := linked.Annotations[kubevirtsim.ContentAnnotation], source.Annotations[kubevirtsim.ContentAnnotation]; got != want {
		t.Errorf("the linked clone holds %q, want the source's %q", got, want)
	}
	nothingTemporaryLeft(t, ns)

	body := `{"targetName":"slow-linked","linkedClone":true}`
	code, _, err := post(t, env.HyperSDK, ns, "slow", "clone", []byte(body), false)
	if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(err), "does not clone volumes copy-on-write") {
		t.Fatalf("linked clone on a copying class through the subresource: %d %v, want 422", code, err)
	}
	assertInvalid(t, err, "linkedClone")
	code, err = createOperation(t, env.HyperSDK, ns, "slow", "clone", body)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("linked clone on a copying class as a VMOperation: %d %v, want 422", code, err)
	}
	assertInvalid(t, err, "spec.clone.linkedClone")

	runOperation(t, ns, "fast", "start", map[string]bool{})
	code, _, err = post(t, env.HyperSDK, ns, "fast", "clone", []byte(`{"targetName":"hot-linked","linkedClone":true}`), false)
	if code != http.StatusConflict {
		t.Fatalf("linked clone of a running VM: %d %v, want 409", code, err)
	}
	for _, name := range []string{"slow-linked", "hot-linked"} {
		if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a refused linked clone made %s: %v", name, err)
		}
	}
}

// TestOperationFieldDocs: the OpenAPI published through kube-apiserver says
// what paused, quiesce and linkedClone do.
func TestOperationFieldDocs(t *testing.T) {
	raw, err := env.Kube.Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/hypersdk.io/v1alpha1").Do(context.Background()).Raw()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ schema, field, says string }{
		{"StartSpec", "paused", "startStrategy"},
		{"SnapshotSpec", "quiesce", "refused (422 naming quiesce)"},
		{"CloneSpec", "linkedClone", "refused (422 naming linkedClone)"},
	} {
		found := false
		for name, s := range doc.Components.Schemas {
			if !strings.HasSuffix(name, ".v1alpha1."+tc.schema) {
				continue
			}
			found = true
			if d := s.Properties[tc.field].Description; !strings.Contains(d, tc.says) {
				t.Errorf("%s.%s is documented as %q, want it to say %q", tc.schema, tc.field, d, tc.says)
			}
		}
		if !found {
			t.Errorf("no %s schema in the published OpenAPI", tc.schema)
		}
	}
}

func vmiHas(vmi *kvv1.VirtualMachineInstance, typ kvv1.VirtualMachineInstanceConditionType) bool {
	for _, c := range vmi.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func snapshotIndicates(snap *snapshotv1.VirtualMachineSnapshot, ind snapshotv1.Indication) bool {
	if snap.Status == nil {
		return false
	}
	for _, i := range snap.Status.Indications {
		if i == ind {
			return true
		}
	}
	return false
}

// storageClassWithProfile makes a storage class of a provisioner and waits
// for CDI's StorageProfile of it, which says how its volumes clone.
func storageClassWithProfile(t *testing.T, class, provisioner string) {
	t.Helper()
	if _, err := env.Kube.StorageV1().StorageClasses().Create(context.Background(), &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: class}, Provisioner: provisioner,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Kube.StorageV1().StorageClasses().Delete(context.Background(), class, metav1.DeleteOptions{})
	})
	framework.Eventually(t, "CDI's profile of "+class, func(ctx context.Context) (bool, error) {
		p, err := env.CDI.CdiV1beta1().StorageProfiles().Get(ctx, class, metav1.GetOptions{})
		return err == nil && p.Status.CloneStrategy != nil, nil
	})
}
