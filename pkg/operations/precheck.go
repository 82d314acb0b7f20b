// Package operations knows how each VMOperation type works against KubeVirt:
// what must hold before one is accepted (Prechecker, used by the API server)
// and how it is carried out and reported (Executor, run by the controller).
package operations

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/validation"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// Prechecker validates an operation against the cluster before it is
// accepted, so a request that cannot succeed is refused with a 4xx naming
// the problem and nothing is created.
type Prechecker struct {
	Kube     kubernetes.Interface
	KubeVirt kubevirt.Clientset
	// CDI tells how a storage class clones (its StorageProfile), for
	// linked clones.
	CDI kubevirt.CDIClientset
	// Cache, when set, is where the VM and its instance are read first.
	Cache ObjectCache
}

// ObjectCache holds the KubeVirt objects an API server watches.
type ObjectCache interface {
	// Objects returns the VM and its instance (nil when it has none); false
	// when the cache holds no such VM.
	Objects(namespace, name string) (*kvv1.VirtualMachine, *kvv1.VirtualMachineInstance, bool)
}

// Check returns nil when op may be created, else an API error. Who may ask
// for it is not its business: RequiredAccess and Authorize decide that.
//
// The VM and its instance come from the cache when there is one, so an
// operation POST costs kube-apiserver nothing in the common case. A cache
// lags behind by a moment, so what it would refuse (a VM just created, an
// instance that just started) is checked again on the live objects before
// the request is refused; what it lets through, the executor checks again
// when it acts.
func (p *Prechecker) Check(ctx context.Context, op *hypersdk.VMOperation) error {
	if p.Cache != nil {
		vm, vmi, ok := p.Cache.Objects(op.Namespace, op.Spec.VMName)
		if ok && p.check(ctx, op, vm, vmi) == nil {
			return nil
		}
	}
	vms := p.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace)
	vm, err := vms.Get(ctx, op.Spec.VMName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(hypersdk.Resource("virtualmachines"), op.Spec.VMName)
	}
	if err != nil {
		return err
	}
	vmi, err := p.KubeVirt.KubevirtV1().VirtualMachineInstances(op.Namespace).Get(ctx, op.Spec.VMName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		vmi = nil
	} else if err != nil {
		return err
	}
	return p.check(ctx, op, vm, vmi)
}

// ThroughSubresource marks ctx as a request made on a VM's operation
// subresource (POST virtualmachines/NAME/migrate), whose body is the options
// alone: the prechecks then name the options' kind and fields ("targetNode"),
// where a VMOperation's create is answered in its own terms
// ("spec.migrate.targetNode").
func ThroughSubresource(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKindKey{}, throughSubresource)
}

// ThroughVMUpdate marks ctx as an update of the VM itself (its spec.running,
// spec.cpus or spec.memory), admitted as the operation it amounts to: the
// prechecks then name the VM's fields ("spec.cpus").
func ThroughVMUpdate(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKindKey{}, throughVMUpdate)
}

// AskedDirectly reports whether ctx is a VMOperation's own create, neither
// a subresource's nor a VM update's.
func AskedDirectly(ctx context.Context) bool {
	_, marked := ctx.Value(requestKindKey{}).(int)
	return !marked
}

type requestKindKey struct{}

// How an operation was asked for, when not as a VMOperation.
const (
	throughSubresource = iota + 1
	throughVMUpdate
)

// refusal names what a precheck refuses as the caller wrote it.
type refusal struct {
	kind schema.GroupKind
	name string
	// root is the path of the operation's options: nil for a subresource's
	// body, spec.<type> in a VMOperation.
	root *field.Path
}

func refusalOf(ctx context.Context, op *hypersdk.VMOperation) refusal {
	switch through, _ := ctx.Value(requestKindKey{}).(int); through {
	case throughSubresource:
		return refusal{kind: hypersdk.Kind(optionsKind(op.Spec.Type)), name: op.Spec.VMName}
	case throughVMUpdate: // a resize's fields are the VM's own
		return refusal{kind: hypersdk.Kind("VirtualMachine"), name: op.Spec.VMName, root: field.NewPath("spec")}
	}
	block := string(op.Spec.Type)
	block = strings.ToLower(block[:1]) + block[1:] // AttachUSB: attachUSB
	return refusal{kind: hypersdk.Kind("VMOperation"), name: op.Name, root: field.NewPath("spec", block)}
}

func (r refusal) invalid(errs field.ErrorList) error {
	return apierrors.NewInvalid(r.kind, r.name, errs)
}

// check decides on op given its VM and instance (nil when stopped).
func (p *Prechecker) check(ctx context.Context, op *hypersdk.VMOperation, vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance) error {
	running := vmi != nil && vmi.Status.Phase == kvv1.Running && vmi.DeletionTimestamp == nil
	r := refusalOf(ctx, op)
	conflict := func(msg string) error {
		return apierrors.NewConflict(hypersdk.Resource("virtualmachines"), op.Spec.VMName, fmt.Errorf("%s", msg))
	}
	switch op.Spec.Type {
	case hypersdk.VMOperationStart:
		if kubevirt.WantsRunning(vm, vmi) {
			return conflict("VM is already running")
		}
	case hypersdk.VMOperationStop:
		if !kubevirt.WantsRunning(vm, vmi) && vmi == nil {
			return conflict("VM is not running")
		}
	case hypersdk.VMOperationRestart:
		if vmi == nil {
			return conflict("VM is not running")
		}
		if !kubevirt.RestartsWhenDeleted(vm) {
			return conflict(notRestartable(vm))
		}
	case hypersdk.VMOperationResize:
		if errs := resizeLimits(vm, op.Spec.Resize, r.root); len(errs) > 0 {
			return r.invalid(errs)
		}
		spec := op.Spec.Resize
		if spec.RestartPolicy == hypersdk.ResizeRestartNever && restartsToResize(vm, vmi, spec.CPUs, spec.Memory, string(spec.RestartPolicy)) {
			return r.invalid(field.ErrorList{field.Invalid(r.root.Child("restartPolicy"), spec.RestartPolicy,
				"the running VM cannot take this size live (it is beyond its maxSockets or maxGuest, or not a whole number of sockets), "+
					"and Never forbids the restart it needs")})
		}
		// A resize a VM update makes has no policy (the update writes the
		// spec, and KubeVirt applies it live or at the next restart, as
		// its own VM updates): only a resize that restarts needs a VM
		// that comes back.
		restarts := spec.RestartPolicy == hypersdk.ResizeRestartIfNeeded || spec.RestartPolicy == hypersdk.ResizeRestartAlways
		if restarts && restartsToResize(vm, vmi, spec.CPUs, spec.Memory, string(spec.RestartPolicy)) &&
			!kubevirt.RestartsWhenDeleted(vm) {
			return conflict(notRestartable(vm) + "; or resize it while it is stopped")
		}
	case hypersdk.VMOperationMigrate:
		if !running {
			return conflict("VM is not running: only a running VM migrates")
		}
		if errs := p.checkMigrate(ctx, vm, vmi, op.Spec.Migrate, r.root); len(errs) > 0 {
			return r.invalid(errs)
		}
	case hypersdk.VMOperationSnapshot:
		if op.Spec.Snapshot.Quiesce && running && !agentConnected(vmi) {
			return r.invalid(field.ErrorList{field.Invalid(r.root.Child("quiesce"), true,
				"the VM's guest agent is not connected, so its file systems cannot be frozen; install qemu-guest-agent in the guest, or omit quiesce for a crash-consistent snapshot")})
		}
		if name := op.Spec.Snapshot.Name; name != "" {
			if _, err := p.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(op.Namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
				return apierrors.NewAlreadyExists(snapshotResource, name)
			}
		}
	case hypersdk.VMOperationClone:
		if op.Spec.Clone.LinkedClone {
			if vmi != nil {
				return conflict("a linked clone shares the source's disks as they are: stop the VM first")
			}
			if errs := p.checkLinkedClone(ctx, op, vm, r.root); len(errs) > 0 {
				return r.invalid(errs)
			}
		}
		return p.checkClone(ctx, op, vm, r)
	case hypersdk.VMOperationRestore:
		return p.checkRestore(ctx, op, r)
	case hypersdk.VMOperationAttachUSB, hypersdk.VMOperationDetachUSB:
		return p.checkUSBHotplug(ctx, op, vmi, r)
	}
	return nil
}

// checkLinkedClone: a linked clone stays in the source's namespace (CSI
// volume cloning does not cross namespaces), starts from the VM, not a
// snapshot, and every disk is on a claim whose storage class clones
// copy-on-write (its CDI StorageProfile's cloneStrategy is csi-clone);
// anything else would be a full copy, which is not what was asked.
func (p *Prechecker) checkLinkedClone(ctx context.Context, op *hypersdk.VMOperation, vm *kvv1.VirtualMachine, root *field.Path) field.ErrorList {
	spec := op.Spec.Clone
	path := root.Child("linkedClone")
	if spec.TargetNamespace != "" && spec.TargetNamespace != op.Namespace {
		return field.ErrorList{field.Invalid(path, true, "a linked clone stays in the source's namespace: CSI volume cloning does not cross namespaces; omit linkedClone for a full copy")}
	}
	if spec.SnapshotRef != "" {
		return field.ErrorList{field.Invalid(path, true, "a linked clone shares the VM's volumes, not a snapshot's; omit linkedClone to clone from the snapshot")}
	}
	var errs field.ErrorList
	claims := 0
	var volumes []kvv1.Volume
	if vm.Spec.Template != nil {
		volumes = vm.Spec.Template.Spec.Volumes
	}
	for _, v := range volumes {
		claim, ok := kubevirt.ClaimOf(v)
		if !ok {
			continue
		}
		claims++
		if msg, err := p.copyOnWrite(ctx, op.Namespace, claim); err != nil {
			errs = append(errs, field.InternalError(path, err))
		} else if msg != "" {
			errs = append(errs, field.Invalid(path, true, fmt.Sprintf("volume %s: %s; omit linkedClone for a full copy", v.Name, msg)))
		}
	}
	if claims == 0 {
		errs = append(errs, field.Invalid(path, true, "the VM has no disks on volume claims to share; omit linkedClone"))
	}
	return errs
}

// copyOnWrite says why a claim cannot be cloned copy-on-write, or "".
func (p *Prechecker) copyOnWrite(ctx context.Context, namespace, claim string) (string, error) {
	pvc, err := p.Kube.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, claim, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("claim %s does not exist", claim), nil
	}
	if err != nil {
		return "", err
	}
	class := ptr.Deref(pvc.Spec.StorageClassName, "")
	if class == "" {
		return fmt.Sprintf("claim %s has no storage class, so how it clones is unknown", claim), nil
	}
	if p.CDI == nil {
		return "CDI is not reachable, so how storage clones is unknown", nil
	}
	profile, err := p.CDI.CdiV1beta1().StorageProfiles().Get(ctx, class, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("storage class %s has no CDI StorageProfile, so how it clones is unknown", class), nil
	}
	if err != nil {
		return "", err
	}
	if s := ptr.Deref(profile.Status.CloneStrategy, ""); s != cdiv1.CloneStrategyCsiClone {
		return fmt.Sprintf("storage class %s does not clone volumes copy-on-write (its CDI StorageProfile's cloneStrategy is %q, not %q)",
			class, s, cdiv1.CloneStrategyCsiClone), nil
	}
	return "", nil
}

func agentConnected(vmi *kvv1.VirtualMachineInstance) bool {
	for _, c := range vmi.Status.Conditions {
		if c.Type == kvv1.VirtualMachineInstanceAgentConnected && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

var snapshotResource = snapshotv1.SchemeGroupVersion.WithResource("virtualmachinesnapshots").GroupResource()

func optionsKind(t hypersdk.VMOperationType) string {
	return "VirtualMachine" + string(t) + "Options"
}

// resizeLimits refuses sizes above what the VM can ever have: its maxSockets
// and maxGuest when set (hotplug bounds), and a hard ceiling otherwise; and
// memory above the memory limit its author set.
func resizeLimits(vm *kvv1.VirtualMachine, spec *hypersdk.ResizeSpec, root *field.Path) field.ErrorList {
	var errs field.ErrorList
	dom := vm.Spec.Template.Spec.Domain
	if spec.CPUs != nil {
		limit := int32(validation.MaxCPUs)
		if cpu := dom.CPU; cpu != nil && cpu.MaxSockets > 0 {
			limit = int32(cpu.MaxSockets * max(cpu.Cores, 1) * max(cpu.Threads, 1))
		}
		if *spec.CPUs > limit {
			errs = append(errs, field.Invalid(root.Child("cpus"), *spec.CPUs, fmt.Sprintf("above the VM's maximum of %d", limit)))
		} else if cpu := dom.CPU; cpu != nil && cpu.MaxSockets > 0 {
			// CPUs are hot-plugged, and counted against maxSockets, a socket
			// of cores × threads at a time.
			if per := int32(max(cpu.Cores, 1) * max(cpu.Threads, 1)); *spec.CPUs%per != 0 {
				errs = append(errs, field.Invalid(root.Child("cpus"), *spec.CPUs,
					fmt.Sprintf("not a whole number of the VM's sockets of %d CPUs (cores × threads)", per)))
			}
		}
	}
	if spec.Memory != nil {
		limit := validation.MaxMemory
		if m := dom.Memory; m != nil && m.MaxGuest != nil {
			limit = *m.MaxGuest
		}
		if spec.Memory.Cmp(limit) > 0 {
			errs = append(errs, field.Invalid(root.Child("memory"), spec.Memory.String(), "above the VM's maximum of "+limit.String()))
		} else if ceiling, ok := dom.Resources.Limits[corev1.ResourceMemory]; ok && spec.Memory.Cmp(ceiling) > 0 {
			// KubeVirt refuses a guest larger than the memory limit its
			// author set; raising the limit is the author's call.
			errs = append(errs, field.Invalid(root.Child("memory"), spec.Memory.String(),
				"above the VM's memory limit of "+ceiling.String()+" (spec.template.spec.domain.resources.limits.memory)"))
		}
	}
	return errs
}

// checkMigrate: the VMI must be LiveMigratable unless cold migration is
// allowed, and a named target node must exist, be schedulable and fit the
// VM's pod.
func (p *Prechecker) checkMigrate(ctx context.Context, vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance, spec *hypersdk.MigrateSpec, root *field.Path) field.ErrorList {
	var errs field.ErrorList
	if reason, msg := NotMigratable(vmi); reason != "" && !spec.AllowColdMigration {
		errs = append(errs, field.Forbidden(root.Child("allowColdMigration"),
			fmt.Sprintf("cannot migrate live: %s: %s; set allowColdMigration to stop, move and start the VM", reason, msg)))
	}
	if spec.TargetNode == "" {
		return errs
	}
	path := root.Child("targetNode")
	node, err := p.Kube.CoreV1().Nodes().Get(ctx, spec.TargetNode, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return append(errs, field.NotFound(path, spec.TargetNode))
	}
	if err != nil {
		return append(errs, field.InternalError(path, err))
	}
	if spec.TargetNode == vmi.Status.NodeName {
		return append(errs, field.Invalid(path, spec.TargetNode, "the VM already runs there"))
	}
	if node.Spec.Unschedulable || !nodeReady(node) {
		return append(errs, field.Invalid(path, spec.TargetNode, "node is not schedulable"))
	}
	if node.Labels[schedulableLabel] != "true" {
		// KubeVirt's every launcher pod selects it: no virt-handler there.
		return append(errs, field.Invalid(path, spec.TargetNode, "KubeVirt does not run VMs on the node (no "+schedulableLabel+"=true)"))
	}
	for k, v := range spec.NodeSelector {
		if node.Labels[k] != v {
			errs = append(errs, field.Invalid(path, spec.TargetNode, fmt.Sprintf("node does not match nodeSelector %s=%s", k, v)))
		}
	}
	from, cold := MigrationSpec(vmi, vm)
	target, err := p.targetPod(ctx, vmi, from, cold)
	if err != nil {
		return append(errs, field.InternalError(path, err))
	}
	if msg := admits(node, target); msg != "" {
		errs = append(errs, field.Invalid(path, spec.TargetNode, msg))
	}
	if msg := p.fits(ctx, node, vmi, target); msg != "" {
		errs = append(errs, field.Invalid(path, spec.TargetNode, msg))
	}
	return errs
}

// MigrationSpec is the spec a migration's target pod is built from: the
// instance's for a live migration, the VM's template for a cold one (cold),
// which the move pins itself.
func MigrationSpec(vmi *kvv1.VirtualMachineInstance, vm *kvv1.VirtualMachine) (spec *kvv1.VirtualMachineInstanceSpec, cold bool) {
	if reason, _ := NotMigratable(vmi); reason != "" && vm != nil && vm.Spec.Template != nil {
		return &vm.Spec.Template.Spec, true
	}
	return &vmi.Spec, false
}

// TargetPod is what the VM's pod on another node must fit: the
// nodeSelector and required node affinity of spec (the instance's for a
// live migration, the template's for a cold one, cold, whose node pin the
// move sets itself), and the tolerations of launcher, the running launcher
// pod (the spec's while none runs). Not the launcher pod's selectors: they
// carry the node an earlier migration was sent to (KubeVirt's target pods
// take the migration's node selector) and KubeVirt's per-launch CPU
// selectors. A live migration keeps the instance's own pin: KubeVirt keeps
// the instance's selectors over the migration's. Its requests are the
// launcher pod's extended resources.
func TargetPod(spec *kvv1.VirtualMachineInstanceSpec, cold bool, launcher *corev1.Pod) *corev1.Pod {
	pod := &corev1.Pod{Spec: corev1.PodSpec{NodeSelector: maps.Clone(spec.NodeSelector), Affinity: spec.Affinity, Tolerations: spec.Tolerations}}
	if cold {
		delete(pod.Spec.NodeSelector, hostnameLabel)
	}
	if launcher != nil {
		pod.Spec.Tolerations = launcher.Spec.Tolerations
		// KubeVirt's device plugins' resources (devices.kubevirt.io/kvm,
		// tun, ...) the target pod asks for again: a node without them
		// would keep it pending.
		extended := corev1.ResourceList{}
		for _, c := range launcher.Spec.Containers {
			for name, q := range c.Resources.Requests {
				if !ExtendedResource(name) {
					continue
				}
				sum := extended[name]
				sum.Add(q)
				extended[name] = sum
			}
		}
		if len(extended) > 0 {
			pod.Spec.Containers = []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: extended}}}
		}
	}
	return pod
}

// ExtendedResource: a resource of a device plugin's domain, neither a
// native one (no domain) nor one of kubernetes.io's.
func ExtendedResource(name corev1.ResourceName) bool {
	n := string(name)
	return strings.Contains(n, "/") && !strings.Contains(n, "kubernetes.io/")
}

// targetPod is TargetPod with the VM's launcher pod on its node.
func (p *Prechecker) targetPod(ctx context.Context, vmi *kvv1.VirtualMachineInstance, spec *kvv1.VirtualMachineInstanceSpec, cold bool) (*corev1.Pod, error) {
	pods, err := p.Kube.CoreV1().Pods(vmi.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: kubevirt.VMNameLabel + "=" + vmi.Name,
	})
	if err != nil {
		return nil, fmt.Errorf("listing the VM's launcher pods: %w", err)
	}
	var launcher *corev1.Pod
	for i := range pods.Items {
		if l := &pods.Items[i]; l.Status.Phase == corev1.PodRunning && l.Spec.NodeName == vmi.Status.NodeName {
			launcher = l
		}
	}
	return TargetPod(spec, cold, launcher), nil
}

// admits reports why node would not take pod, for a NoSchedule or
// NoExecute taint it does not tolerate or its nodeSelector and required
// node affinity, or "". A VM pinned to such a node would wait there.
func admits(node *corev1.Node, pod *corev1.Pod) string {
	keepsOff := func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}
	if t, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations, keepsOff, true); untolerated {
		return fmt.Sprintf("the VM does not tolerate the node's taint %s", t.ToString())
	}
	if match, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); err != nil || !match {
		return "the node does not match the VM's nodeSelector or required node affinity"
	}
	return ""
}

// NotMigratable returns why a VMI cannot migrate live: KubeVirt's reason,
// or USB devices hot-plugged into it. KubeVirt would move those VMs (it
// takes lent devices for a client's), the list of devices with them, and
// the target node's agent would lend that node's device, another one than
// the one asked for. A cold migration ends the instance, and its devices
// with it.
func NotMigratable(vmi *kvv1.VirtualMachineInstance) (reason, message string) {
	for _, c := range vmi.Status.Conditions {
		if c.Type == kvv1.VirtualMachineInstanceIsMigratable && c.Status != corev1.ConditionTrue {
			return c.Reason, c.Message
		}
	}
	if usb := kubevirt.HotpluggedUSB(vmi.Annotations); len(usb) > 0 {
		names := make([]string, len(usb))
		for i, d := range usb {
			names[i] = d.Name
		}
		return "USBHotplugged", fmt.Sprintf("the USB devices %s are lent by its node; detach them first (a cold migration leaves them behind)",
			strings.Join(names, ", "))
	}
	return "", ""
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// fits reports why node lacks room for the VM's launcher pod (its CPU and
// memory, and the extended resources target asks for), or "".
func (p *Prechecker) fits(ctx context.Context, node *corev1.Node, vmi *kvv1.VirtualMachineInstance, target *corev1.Pod) string {
	pods, err := p.Kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node.Name).String(),
	})
	if err != nil {
		return fmt.Sprintf("listing its pods: %v", err)
	}
	used := corev1.ResourceList{}
	for _, pod := range pods.Items {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, c := range pod.Spec.Containers {
			for name, q := range c.Resources.Requests {
				sum := used[name]
				sum.Add(q)
				used[name] = sum
			}
		}
	}
	for _, c := range target.Spec.Containers {
		for _, name := range slices.Sorted(maps.Keys(c.Resources.Requests)) {
			free := node.Status.Allocatable[name].DeepCopy()
			free.Sub(used[name])
			if need := c.Resources.Requests[name]; free.Cmp(need) < 0 {
				return fmt.Sprintf("not enough %s: %s free, the VM needs %s", name, free.String(), need.String())
			}
		}
	}
	cpu := resource.NewQuantity(int64(kubevirt.CPUCount(vmi.Spec.Domain.CPU)), resource.DecimalSI)
	if req, ok := vmi.Spec.Domain.Resources.Requests[corev1.ResourceCPU]; ok {
		cpu = &req
	}
	mem := resource.MustParse("1Gi")
	if m := kubevirt.GuestMemory(&vmi.Spec); m != nil {
		mem = *m
	}
	for name, need := range map[corev1.ResourceName]resource.Quantity{corev1.ResourceCPU: *cpu, corev1.ResourceMemory: mem} {
		free := node.Status.Allocatable[name].DeepCopy()
		free.Sub(used[name])
		if free.Cmp(need) < 0 {
			return fmt.Sprintf("not enough %s: %s free, the VM needs %s", name, free.String(), need.String())
		}
	}
	return ""
}

// checkClone: the target namespace must exist, the target must not, and a
// snapshot source must; a VM naming objects of its namespace other than its
// disks stays in it (namespaceBound).
func (p *Prechecker) checkClone(ctx context.Context, op *hypersdk.VMOperation, vm *kvv1.VirtualMachine, r refusal) error {
	spec := op.Spec.Clone
	targetNS := spec.TargetNamespace
	if targetNS == "" {
		targetNS = op.Namespace
	}
	if targetNS != op.Namespace {
		if _, err := p.Kube.CoreV1().Namespaces().Get(ctx, targetNS, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return r.invalid(field.ErrorList{field.NotFound(r.root.Child("targetNamespace"), targetNS)})
		} else if err != nil {
			return err
		}
		if bound := namespaceBound(&vm.Spec); len(bound) > 0 {
			return r.invalid(field.ErrorList{field.Invalid(r.root.Child("targetNamespace"), targetNS, fmt.Sprintf(
				"the VM names objects of namespace %s that a clone in %s would not get, but that namespace's of the same names: %s; "+
					"clone it within %s, or take them out of the VM first", op.Namespace, targetNS, strings.Join(bound, "; "), op.Namespace))})
		}
	}
	if spec.SnapshotRef != "" {
		snap, err := p.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(op.Namespace).Get(ctx, spec.SnapshotRef, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return apierrors.NewNotFound(snapshotResource, spec.SnapshotRef)
		} else if err != nil {
			return err
		}
		if msg := notSnapshotOf(snap, op.Spec.VMName); msg != "" {
			return r.invalid(field.ErrorList{field.Invalid(r.root.Child("snapshotRef"), spec.SnapshotRef, msg)})
		}
	}
	if _, err := p.KubeVirt.KubevirtV1().VirtualMachines(targetNS).Get(ctx, spec.TargetName, metav1.GetOptions{}); err == nil {
		return apierrors.NewAlreadyExists(hypersdk.Resource("virtualmachines"), targetNS+"/"+spec.TargetName)
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
