package e2e

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/hypersdk/hypersdk/pkg/sandbox/kubevirtsim"
)

// TestCloneWithDisksAcrossNamespaces: a running VM whose root disk is a
// claim, cloned into another namespace with powerOnAfter, runs there on its
// own copy of the disk (a DataVolume restored from a snapshot of the
// source's volume: another volume holding the same data); the source and its
// volume are untouched, and no snapshot of either kind is left.
func TestCloneWithDisksAcrossNamespaces(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-disks")
	target := env.Namespace(t, "ops-disks-target")
	createRWOVM(t, ns, "src")
	runningVMI(t, ns, "src", "")
	source := boundVolume(t, ns, "src-root")

	runOperation(t, ns, "src", "clone", map[string]interface{}{"targetName": "copy", "targetNamespace": target, "powerOnAfter": true})
	runningVMI(t, target, "copy", "")

	copyVM, err := env.KubeVirt.KubevirtV1().VirtualMachines(target).Get(ctx, "copy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vols := copyVM.Spec.Template.Spec.Volumes
	if len(vols) != 1 || vols[0].DataVolume == nil || vols[0].DataVolume.Name != "copy-rootdisk" {
		t.Fatalf("the copy's volumes %+v, want its root disk on DataVolume copy-rootdisk", vols)
	}
	dv, err := env.CDI.CdiV1beta1().DataVolumes(target).Get(ctx, "copy-rootdisk", metav1.GetOptions{})
	if err != nil || dv.Status.Phase != cdiv1.Succeeded || metav1.GetControllerOf(dv) == nil || metav1.GetControllerOf(dv).UID != copyVM.UID {
		t.Fatalf("the copy's DataVolume %+v %v, want one Succeeded and owned by the copy", dv, err)
	}
	copied := boundVolume(t, target, "copy-rootdisk")
	if copied.Name == source.Name || copied.Spec.CSI.VolumeHandle == source.Spec.CSI.VolumeHandle {
		t.Errorf("the copy uses the source's volume %s", source.Name)
	}
	if got, want := copied.Annotations[kubevirtsim.ContentAnnotation], source.Annotations[kubevirtsim.ContentAnnotation]; got != want || want == "" {
		t.Errorf("the copy's volume holds %q, want the source's data %q", got, want)
	}
	if from := copied.Annotations[kubevirtsim.RestoredFromAnnotation]; !strings.HasPrefix(from, ns+"/") {
		t.Errorf("the copy's volume was restored from %q, want a snapshot in %s", from, ns)
	}

	// The source is as it was: same VM spec, same claim on the same volume.
	src, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "src", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := src.Spec.Template.Spec.Volumes; len(v) != 1 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != "src-root" {
		t.Errorf("the source's volumes changed: %+v", v)
	}
	if again := boundVolume(t, ns, "src-root"); again.Name != source.Name || again.Annotations[kubevirtsim.ContentAnnotation] != source.Annotations[kubevirtsim.ContentAnnotation] {
		t.Errorf("the source's claim moved to %s", again.Name)
	}
	nothingTemporaryLeft(t, ns)
	nothingTemporaryLeft(t, target)
}

// TestCloneWithDisksInNamespace: KubeVirt's own clone (same namespace)
// gives the copy its own restored volume too.
func TestCloneWithDisksInNamespace(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-disks-local")
	createRWOVM(t, ns, "src")
	source := boundVolume(t, ns, "src-root")
	runOperation(t, ns, "src", "clone", map[string]interface{}{"targetName": "copy"})
	copyVM, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "copy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vols := copyVM.Spec.Template.Spec.Volumes
	if len(vols) != 1 || vols[0].PersistentVolumeClaim == nil || vols[0].PersistentVolumeClaim.ClaimName == "src-root" {
		t.Fatalf("the copy's volumes %+v, want its own claim", vols)
	}
	copied := boundVolume(t, ns, vols[0].PersistentVolumeClaim.ClaimName)
	if copied.Name == source.Name || copied.Annotations[kubevirtsim.ContentAnnotation] != source.Annotations[kubevirtsim.ContentAnnotation] {
		t.Errorf("the copy's volume %s (holding %q), want a new one holding the source's %q", copied.Name,
			copied.Annotations[kubevirtsim.ContentAnnotation], source.Annotations[kubevirtsim.ContentAnnotation])
	}
	nothingTemporaryLeft(t, ns)
}
