package operations

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	clonev1 "kubevirt.io/api/clone/v1beta1"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// clone copies a VM (or one of its snapshots) to a new VM. Within a
// namespace KubeVirt's VirtualMachineClone does it; across namespaces, which
// KubeVirt's clone cannot, HyperSDK snapshots the source and creates the VM
// from the snapshot's content in the target namespace. Then, optionally, the
// clone starts.
func (e *Executor) clone(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	spec := op.Spec.Clone
	targetNS := cloneNamespace(op)
	if recorded(op, "VirtualMachine", "target") == nil {
		return e.reserveTarget(ctx, op, targetNS, spec.TargetName, "cloning")
	}
	if recorded(op, "VirtualMachine", "clone") == nil {
		var s step
		var err error
		switch {
		case spec.LinkedClone:
			s, err = e.cloneLinked(ctx, op)
		case targetNS == op.Namespace:
			s, err = e.cloneInNamespace(ctx, op)
		default:
			s, err = e.cloneAcross(ctx, op, targetNS)
		}
		if err != nil || !s.done || s.failed != nil {
			return s, err
		}
		vm, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(targetNS).Get(ctx, spec.TargetName, metav1.GetOptions{})
		if err != nil {
			return step{}, err
		}
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachine", APIVersion: kvv1.GroupVersion.String(),
			Namespace: targetNS, Name: spec.TargetName, UID: vm.UID, Role: "clone"})
		return step{progress: 80, message: "cloned to " + targetNS + "/" + spec.TargetName}, nil
	}
	if !spec.PowerOnAfter {
		return step{progress: 100, message: "cloned to " + targetNS + "/" + spec.TargetName, done: true}, nil
	}
	if err := e.setRunStrategy(ctx, targetNS, spec.TargetName, kvv1.RunStrategyAlways); err != nil {
		return vmGone(err)
	}
	vmi, err := e.getVMI(ctx, targetNS, spec.TargetName)
	if err != nil {
		return step{}, err
	}
	p, msg := instanceProgress(vmi)
	return step{progress: 80 + p/5, message: "clone " + msg, done: running(vmi)}, nil
}

// cloneNamespace is where a clone operation puts the new VM.
func cloneNamespace(op *v1alpha1.VMOperation) string {
	if ns := op.Spec.Clone.TargetNamespace; ns != "" {
		return ns
	}
	return op.Namespace
}

// reserveTarget claims the new VM's name for this operation (a clone, or a
// restore into a new VM: what says it is doing) before anything is made, so
// of two operations making one name exactly one goes on and the other fails
// with a conflict; the claim is recorded in the status, so it outlives an
// executor restart.
func (e *Executor) reserveTarget(ctx context.Context, op *v1alpha1.VMOperation, targetNS, name, what string) (step, error) {
	if holder, ok := e.reserved.target(cache.MetaObjectToName(op), targetNS, name); !ok {
		return step{failed: apierrors.NewConflict(kvv1.Resource("virtualmachines"), targetNS+"/"+name,
			fmt.Errorf("operation %s is already %s to that name", holder, what))}, nil
	}
	if _, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(targetNS).Get(ctx, name, metav1.GetOptions{}); err == nil {
		return step{failed: apierrors.NewAlreadyExists(kvv1.Resource("virtualmachines"), targetNS+"/"+name)}, nil
	} else if !apierrors.IsNotFound(err) {
		return step{}, err
	}
	record(op, v1alpha1.ResourceReference{Kind: "VirtualMachine", APIVersion: kvv1.GroupVersion.String(),
		Namespace: targetNS, Name: name, Role: "target"})
	return step{progress: 2, message: what + " to " + targetNS + "/" + name}, nil
}

// temporary returns the recorded temporary object of a kind, recording it
// under name first when it is not yet: an object is created only once it is
// recorded, so it is never lost to a status write that failed, and
// cleanUp deletes it however the operation ends. The second result is true
// when the record is new and must be written before the object is made.
func temporary(op *v1alpha1.VMOperation, kind, apiVersion, name string) (*v1alpha1.ResourceReference, bool) {
	for i := range op.Status.Resources {
		if r := &op.Status.Resources[i]; r.Kind == kind && r.Role == roleTemporary {
			return r, false
		}
	}
	record(op, v1alpha1.ResourceReference{Kind: kind, APIVersion: apiVersion, Namespace: op.Namespace, Name: name, Role: roleTemporary})
	return &op.Status.Resources[len(op.Status.Resources)-1], true
}

// madeBy tells whether op made obj: obj carries op's UID, as an
// annotation or an owner reference, or is the object op recorded.
func madeBy(op *v1alpha1.VMOperation, obj metav1.Object, ref *v1alpha1.ResourceReference) bool {
	if obj.GetAnnotations()[ownerUIDAnnotation] == string(op.UID) || (ref != nil && ref.UID != "" && ref.UID == obj.GetUID()) {
		return true
	}
	for _, o := range obj.GetOwnerReferences() {
		if o.UID == op.UID {
			return true
		}
	}
	return false
}

// notMadeBy handles a temporary object of op's name that op did not make.
// One an earlier operation of the same name left goes, and the next pass
// makes op's own; anything else is someone's, which op neither uses nor
// deletes: op fails.
func notMadeBy(op *v1alpha1.VMOperation, obj metav1.Object, kind string, del func(metav1.DeleteOptions) error) (step, error) {
	if obj.GetAnnotations()[ownerAnnotation] != op.Name {
		return step{failed: fmt.Errorf("%s %s already exists and is not this operation's", kind, obj.GetName())}, nil
	}
	uid := obj.GetUID()
	if err := del(metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
		return step{}, fmt.Errorf("deleting the %s an earlier operation %s left: %w", kind, op.Name, err)
	}
	return step{progress: 5, message: "removing the " + kind + " an earlier operation of this name left"}, nil
}

// ownedBy makes op the owner of what it creates for itself, so the garbage
// collector removes it with the operation should cleanUp never run.
func ownedBy(op *v1alpha1.VMOperation) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "VMOperation", Name: op.Name, UID: op.UID}}
}

func (e *Executor) cloneInNamespace(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	spec := op.Spec.Clone
	clones := e.cfg.KubeVirt.CloneV1beta1().VirtualMachineClones(op.Namespace)
	ref, isNew := temporary(op, "VirtualMachineClone", clonev1.SchemeGroupVersion.String(), kubevirtName(op))
	if isNew {
		return step{progress: 5, message: "requesting the clone"}, nil
	}
	name := ref.Name
	c, err := clones.Get(ctx, name, metav1.GetOptions{})
	if err == nil && !madeBy(op, c, ref) {
		return notMadeBy(op, c, "VirtualMachineClone", func(o metav1.DeleteOptions) error { return clones.Delete(ctx, name, o) })
	}
	if apierrors.IsNotFound(err) {
		source := &corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: op.Spec.VMName}
		if spec.SnapshotRef != "" {
			if failed, err := e.snapshotOfVM(ctx, op, spec.SnapshotRef); failed != nil || err != nil {
				return step{failed: failed}, err
			}
			source = &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapshotv1.SchemeGroupVersion.Group), Kind: "VirtualMachineSnapshot", Name: spec.SnapshotRef}
		}
		_, err = clones.Create(ctx, &clonev1.VirtualMachineClone{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{ownerAnnotation: op.Name, ownerUIDAnnotation: string(op.UID)},
				OwnerReferences: ownedBy(op)},
			Spec: clonev1.VirtualMachineCloneSpec{
				Source:            source,
				Target:            &corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: spec.TargetName},
				LabelFilters:      spec.LabelFilters,
				AnnotationFilters: spec.AnnotationFilters,
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return step{}, fmt.Errorf("creating clone: %w", err)
		}
		return step{progress: 10, message: "clone requested"}, nil
	}
	if err != nil {
		return step{}, err
	}
	switch c.Status.Phase {
	case clonev1.Succeeded:
		return step{progress: 75, done: true}, nil
	case clonev1.Failed:
		msg := "clone failed"
		for _, cond := range c.Status.Conditions {
			if cond.Message != "" {
				msg = cond.Message
			}
		}
		return step{failed: fmt.Errorf("%s", msg)}, nil
	}
	progress := map[clonev1.VirtualMachineClonePhase]int32{
		clonev1.SnapshotInProgress: 25, clonev1.CreatingTargetVM: 45, clonev1.RestoreInProgress: 60,
	}[c.Status.Phase]
	return step{progress: progress, message: "clone " + string(c.Status.Phase)}, nil
}

// cloneAcross snapshots the source (unless a snapshot is given) and creates
// the target VM, stopped, from the snapshot content in the other namespace.
func (e *Executor) cloneAcross(ctx context.Context, op *v1alpha1.VMOperation, targetNS string) (step, error) {
	spec := op.Spec.Clone
	snaps := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(op.Namespace)
	snapName := spec.SnapshotRef
	if snapName == "" {
		ref, isNew := temporary(op, "VirtualMachineSnapshot", snapshotv1.SchemeGroupVersion.String(), kubevirtName(op))
		if isNew {
			return step{progress: 5, message: "snapshotting the source"}, nil
		}
		snapName = ref.Name
		if snap, err := snaps.Get(ctx, snapName, metav1.GetOptions{}); err == nil && !madeBy(op, snap, ref) {
			return notMadeBy(op, snap, "VirtualMachineSnapshot", func(o metav1.DeleteOptions) error { return snaps.Delete(ctx, snapName, o) })
		} else if apierrors.IsNotFound(err) {
			_, err := snaps.Create(ctx, &snapshotv1.VirtualMachineSnapshot{
				ObjectMeta: metav1.ObjectMeta{Name: snapName, Annotations: map[string]string{ownerAnnotation: op.Name, ownerUIDAnnotation: string(op.UID)},
					OwnerReferences: ownedBy(op)},
				Spec: snapshotv1.VirtualMachineSnapshotSpec{Source: corev1.TypedLocalObjectReference{
					APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: op.Spec.VMName}},
			}, metav1.CreateOptions{})
			if err != nil {
				return step{}, fmt.Errorf("creating snapshot for the clone: %w", err)
			}
			return step{progress: 10, message: "snapshotting the source"}, nil
		} else if err != nil {
			return step{}, err
		}
	}
	snap, err := snaps.Get(ctx, snapName, metav1.GetOptions{})
	if err != nil {
		return step{}, err
	}
	if msg := notSnapshotOf(snap, op.Spec.VMName); msg != "" {
		return step{failed: fmt.Errorf("snapshot %s %s", snapName, msg)}, nil
	}
	if snap.Status == nil || snap.Status.ReadyToUse == nil || !*snap.Status.ReadyToUse || snap.Status.VirtualMachineSnapshotContentName == nil {
		if snap.Status != nil && snap.Status.Phase == snapshotv1.Failed {
			return step{failed: fmt.Errorf("snapshot %s failed", snapName)}, nil
		}
		return step{progress: 30, message: "waiting for snapshot " + snapName}, nil
	}
	content, err := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshotContents(op.Namespace).Get(ctx,
		*snap.Status.VirtualMachineSnapshotContentName, metav1.GetOptions{})
	if err != nil {
		return step{}, err
	}
	src := content.Spec.Source.VirtualMachine
	if bound := namespaceBound(&src.Spec); len(bound) > 0 {
		return step{failed: fmt.Errorf("the snapshot's VM names what a clone in %s would not get: %s", targetNS, strings.Join(bound, "; "))}, nil
	}
	vm := cloneOf(op, targetNS, src.ObjectMeta, src.Spec)
	if err := withRestoredDisks(vm, content, op.Namespace); err != nil {
		return step{failed: err}, nil
	}
	return e.createClone(ctx, op, vm)
}

// namespaceBound lists what in a VM's spec stays behind when it is cloned
// into another namespace, besides its disks on claims (restored from the
// snapshot): Secrets, ConfigMaps and ServiceAccounts it mounts or reads
// credentials from, claims it uses otherwise, and host paths. In the target
// namespace the clone would name that namespace's objects of those names,
// made with hypersdk-controller's rights rather than the requester's (a
// ServiceAccount's token, another team's Secret), or keep a path on the
// nodes; so such a VM is not cloned across namespaces.
func namespaceBound(spec *kvv1.VirtualMachineSpec) []string {
	if spec.Template == nil {
		return nil
	}
	var out []string
	ref := func(volume, kind string, r *corev1.LocalObjectReference) {
		if r != nil && r.Name != "" {
			out = append(out, fmt.Sprintf("volume %s: %s %s", volume, kind, r.Name))
		}
	}
	for _, v := range spec.Template.Spec.Volumes {
		switch {
		case v.Secret != nil:
			out = append(out, fmt.Sprintf("volume %s: Secret %s", v.Name, v.Secret.SecretName))
		case v.ConfigMap != nil:
			out = append(out, fmt.Sprintf("volume %s: ConfigMap %s", v.Name, v.ConfigMap.Name))
		case v.ContainerDisk != nil && v.ContainerDisk.ImagePullSecret != "":
			out = append(out, fmt.Sprintf("volume %s: image pull Secret %s", v.Name, v.ContainerDisk.ImagePullSecret))
		case v.ServiceAccount != nil:
			out = append(out, fmt.Sprintf("volume %s: ServiceAccount %s", v.Name, v.ServiceAccount.ServiceAccountName))
		case v.HostDisk != nil:
			out = append(out, fmt.Sprintf("volume %s: host path %s", v.Name, v.HostDisk.Path))
		case v.Ephemeral != nil && v.Ephemeral.PersistentVolumeClaim != nil:
			out = append(out, fmt.Sprintf("volume %s: PersistentVolumeClaim %s", v.Name, v.Ephemeral.PersistentVolumeClaim.ClaimName))
		case v.MemoryDump != nil:
			out = append(out, fmt.Sprintf("volume %s: PersistentVolumeClaim %s", v.Name, v.MemoryDump.ClaimName))
		case v.CloudInitNoCloud != nil:
			ref(v.Name, "Secret", v.CloudInitNoCloud.UserDataSecretRef)
			ref(v.Name, "Secret", v.CloudInitNoCloud.NetworkDataSecretRef)
		case v.CloudInitConfigDrive != nil:
			ref(v.Name, "Secret", v.CloudInitConfigDrive.UserDataSecretRef)
			ref(v.Name, "Secret", v.CloudInitConfigDrive.NetworkDataSecretRef)
		case v.Sysprep != nil:
			ref(v.Name, "Secret", v.Sysprep.Secret)
			ref(v.Name, "ConfigMap", v.Sysprep.ConfigMap)
		}
	}
	if fw := spec.Template.Spec.Domain.Firmware; fw != nil && fw.KernelBoot != nil && fw.KernelBoot.Container != nil &&
		fw.KernelBoot.Container.ImagePullSecret != "" {
		out = append(out, "kernel boot: image pull Secret "+fw.KernelBoot.Container.ImagePullSecret)
	}
	for _, c := range spec.Template.Spec.AccessCredentials {
		switch {
		case c.SSHPublicKey != nil && c.SSHPublicKey.Source.Secret != nil:
			out = append(out, "access credential: Secret "+c.SSHPublicKey.Source.Secret.SecretName)
		case c.UserPassword != nil && c.UserPassword.Source.Secret != nil:
			out = append(out, "access credential: Secret "+c.UserPassword.Source.Secret.SecretName)
		}
	}
	return out
}

// cloneOf is the VM a clone makes from a source's metadata and spec:
// stopped, with the label and annotation filters applied, new MAC addresses
// if asked, and marked as made by op.
func cloneOf(op *v1alpha1.VMOperation, targetNS string, src metav1.ObjectMeta, spec kvv1.VirtualMachineSpec) *kvv1.VirtualMachine {
	c := op.Spec.Clone
	vm := &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{
			Name: c.TargetName, Namespace: targetNS,
			Labels:      kubevirt.FilterKeys(src.Labels, c.LabelFilters),
			Annotations: kubevirt.FilterKeys(src.Annotations, c.AnnotationFilters),
		},
		Spec: *spec.DeepCopy(),
	}
	vm.Spec.Running, vm.Spec.RunStrategy = nil, ptr.To(kvv1.RunStrategyHalted)
	if c.NewMACAddresses && vm.Spec.Template != nil {
		for i := range vm.Spec.Template.Spec.Domain.Devices.Interfaces {
			vm.Spec.Template.Spec.Domain.Devices.Interfaces[i].MacAddress = ""
		}
	}
	if vm.Annotations == nil {
		vm.Annotations = map[string]string{}
	}
	vm.Annotations[ownerAnnotation] = op.Namespace + "/" + op.Name
	return vm
}

// createClone creates the clone's VM (or finds the one op made before) and
// waits for its disks.
func (e *Executor) createClone(ctx context.Context, op *v1alpha1.VMOperation, vm *kvv1.VirtualMachine) (step, error) {
	vms := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(vm.Namespace)
	if _, err := vms.Get(ctx, vm.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if taken, err := e.disksTaken(ctx, vm); err != nil || taken != "" {
			if err != nil {
				return step{}, err
			}
			return step{failed: fmt.Errorf("the clone's disk %s already exists: it is not this clone's to use", taken)}, nil
		}
	} else if err != nil {
		return step{}, fmt.Errorf("reading the clone %s/%s: %w", vm.Namespace, vm.Name, err)
	}
	created, err := vms.Create(ctx, vm, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return step{}, fmt.Errorf("creating the clone in %s: %w", vm.Namespace, err)
		}
		existing, getErr := vms.Get(ctx, vm.Name, metav1.GetOptions{})
		if getErr != nil || existing.Annotations[ownerAnnotation] != op.Namespace+"/"+op.Name {
			return step{failed: fmt.Errorf("target VM %s/%s already exists", vm.Namespace, vm.Name)}, nil
		}
		created = existing
	}
	return e.disksCopied(ctx, created)
}

// disksTaken names a DataVolume or claim in the clone's namespace that has
// the name of one of its disk templates, or is "". KubeVirt adopts a
// DataVolume of a template's name, so the clone would run on (and a
// rollback would delete) another's disk.
func (e *Executor) disksTaken(ctx context.Context, vm *kvv1.VirtualMachine) (string, error) {
	for _, t := range vm.Spec.DataVolumeTemplates {
		_, err := e.cfg.CDI.CdiV1beta1().DataVolumes(vm.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
		if err == nil {
			return "DataVolume " + vm.Namespace + "/" + t.Name, nil
		}
		if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("reading DataVolume %s/%s: %w", vm.Namespace, t.Name, err)
		}
		_, err = e.cfg.Kube.CoreV1().PersistentVolumeClaims(vm.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
		if err == nil {
			return "PersistentVolumeClaim " + vm.Namespace + "/" + t.Name, nil
		}
		if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("reading PersistentVolumeClaim %s/%s: %w", vm.Namespace, t.Name, err)
		}
	}
	return "", nil
}

// cloneLinked makes the new VM beside a stopped source with each disk a CSI
// clone of the source's claim: a DataVolume template with the claim as its
// source, which CDI clones copy-on-write on a class whose StorageProfile
// says csi-clone (the precheck refused any other). Until the VM exists the
// source must stay stopped: a clone of a volume a guest is writing is not
// a consistent disk.
func (e *Executor) cloneLinked(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	vms := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace)
	if existing, err := vms.Get(ctx, op.Spec.Clone.TargetName, metav1.GetOptions{}); err == nil {
		if existing.Annotations[ownerAnnotation] != op.Namespace+"/"+op.Name {
			return step{failed: fmt.Errorf("target VM %s/%s already exists", existing.Namespace, existing.Name)}, nil
		}
		return e.disksCopied(ctx, existing)
	} else if !apierrors.IsNotFound(err) {
		return step{}, err
	}
	src, err := vms.Get(ctx, op.Spec.VMName, metav1.GetOptions{})
	if err != nil {
		return vmGone(err)
	}
	if vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName); err != nil {
		return step{}, err
	} else if vmi != nil {
		return step{failed: fmt.Errorf("linkedClone: the source VM was started; a linked clone needs it stopped")}, nil
	}
	vm := cloneOf(op, op.Namespace, src.ObjectMeta, src.Spec)
	if err := e.withLinkedDisks(ctx, vm); err != nil {
		return step{}, err
	}
	vm.Annotations[linkedCloneAnnotation] = op.Namespace + "/" + op.Spec.VMName
	return e.createClone(ctx, op, vm)
}

// withLinkedDisks turns each disk of vm on a claim or DataVolume into a
// DataVolume template, named after vm, cloning that claim.
func (e *Executor) withLinkedDisks(ctx context.Context, vm *kvv1.VirtualMachine) error {
	if vm.Spec.Template == nil {
		return nil
	}
	replaced := map[string]bool{}
	var linked []kvv1.DataVolumeTemplateSpec
	for i := range vm.Spec.Template.Spec.Volumes {
		v := &vm.Spec.Template.Spec.Volumes[i]
		claimName, ok := kubevirt.ClaimOf(*v)
		if !ok {
			continue
		}
		if v.DataVolume != nil {
			replaced[claimName] = true
		}
		claim, err := e.cfg.Kube.CoreV1().PersistentVolumeClaims(vm.Namespace).Get(ctx, claimName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		name := vm.Name + "-" + v.Name
		linked = append(linked, kvv1.DataVolumeTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: claim.Labels, Annotations: bindImmediately()},
			Spec: cdiv1.DataVolumeSpec{
				Source: &cdiv1.DataVolumeSource{PVC: &cdiv1.DataVolumeSourcePVC{Namespace: vm.Namespace, Name: claimName}},
				Storage: &cdiv1.StorageSpec{AccessModes: claim.Spec.AccessModes, Resources: claim.Spec.Resources,
					StorageClassName: claim.Spec.StorageClassName, VolumeMode: claim.Spec.VolumeMode},
			},
		})
		v.VolumeSource = kvv1.VolumeSource{DataVolume: &kvv1.DataVolumeSource{Name: name}}
	}
	vm.Spec.DataVolumeTemplates = keepTemplates(linked, vm.Spec.DataVolumeTemplates, replaced)
	return nil
}

// keepTemplates is the new templates and those of the source not replaced,
// each to be bound immediately: the clone waits for them all.
func keepTemplates(added, source []kvv1.DataVolumeTemplateSpec, replaced map[string]bool) []kvv1.DataVolumeTemplateSpec {
	for _, t := range source {
		if !replaced[t.Name] {
			t = *t.DeepCopy()
			if t.Annotations == nil {
				t.Annotations = map[string]string{}
			}
			t.Annotations[bindImmediatelyAnnotation] = "true"
			added = append(added, t)
		}
	}
	return added
}

// withRestoredDisks gives a VM made from a snapshot of another namespace's
// VM its own disks: each volume the source kept on a claim or DataVolume
// becomes a DataVolume template restored from that volume's backup in the
// snapshot (CDI restores a VolumeSnapshot across namespaces), named after
// the new VM, so nothing in the target namespace is shared or clobbered and
// KubeVirt makes the disks with the VM and starts it only once they are
// populated. The source's templates for those volumes are dropped.
func withRestoredDisks(vm *kvv1.VirtualMachine, content *snapshotv1.VirtualMachineSnapshotContent, sourceNS string) error {
	if vm.Spec.Template == nil {
		return nil
	}
	backups := map[string]snapshotv1.VolumeBackup{}
	for _, b := range content.Spec.VolumeBackups {
		backups[b.VolumeName] = b
	}
	replaced := map[string]bool{}
	var restored []kvv1.DataVolumeTemplateSpec
	for i := range vm.Spec.Template.Spec.Volumes {
		v := &vm.Spec.Template.Spec.Volumes[i]
		source, ok := kubevirt.ClaimOf(*v)
		if !ok {
			continue // container disks and the like travel in the spec
		}
		if v.DataVolume != nil {
			replaced[source] = true
		}
		b, ok := backups[v.Name]
		if !ok || b.VolumeSnapshotName == nil {
			return fmt.Errorf("volume %s has no backup in snapshot content %s, so it cannot be copied to another namespace", v.Name, content.Name)
		}
		claim := b.PersistentVolumeClaim.Spec
		name := vm.Name + "-" + v.Name
		restored = append(restored, kvv1.DataVolumeTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: b.PersistentVolumeClaim.Labels, Annotations: bindImmediately()},
			Spec: cdiv1.DataVolumeSpec{
				Source: &cdiv1.DataVolumeSource{Snapshot: &cdiv1.DataVolumeSourceSnapshot{Namespace: sourceNS, Name: *b.VolumeSnapshotName}},
				Storage: &cdiv1.StorageSpec{AccessModes: claim.AccessModes, Resources: claim.Resources,
					StorageClassName: claim.StorageClassName, VolumeMode: claim.VolumeMode},
			},
		})
		v.VolumeSource = kvv1.VolumeSource{DataVolume: &kvv1.DataVolumeSource{Name: name}}
	}
	vm.Spec.DataVolumeTemplates = keepTemplates(restored, vm.Spec.DataVolumeTemplates, replaced)
	return nil
}

// bindImmediatelyAnnotation asks CDI to populate a DataVolume whose storage
// class binds on first consumer before any pod consumes it.
const bindImmediatelyAnnotation = "cdi.kubevirt.io/storage.bind.immediate.requested"

// bindImmediately are the annotations of the DataVolumes a clone copies its
// disks into. The clone waits for them before it powers the new VM on (the
// snapshot they come from must stay until then), so on a storage class that
// binds on first consumer nothing would ever consume them and the clone
// would wait for ever.
func bindImmediately() map[string]string {
	return map[string]string{bindImmediatelyAnnotation: "true"}
}

// disksCopied waits for the DataVolumes of a cloned VM to be populated:
// until then the snapshot they are restored from must stay.
func (e *Executor) disksCopied(ctx context.Context, vm *kvv1.VirtualMachine) (step, error) {
	done := 0
	for _, t := range vm.Spec.DataVolumeTemplates {
		dv, err := e.cfg.CDI.CdiV1beta1().DataVolumes(vm.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return step{}, err
		}
		switch dv.Status.Phase {
		case cdiv1.Succeeded:
			done++
		case cdiv1.Failed:
			return step{failed: fmt.Errorf("copying disk %s/%s failed", vm.Namespace, t.Name)}, nil
		}
	}
	if n := len(vm.Spec.DataVolumeTemplates); done < n {
		return step{progress: 60 + int32(15*done/n), message: fmt.Sprintf("copying disks: %d of %d done", done, n)}, nil
	}
	return step{progress: 75, done: true}, nil
}
