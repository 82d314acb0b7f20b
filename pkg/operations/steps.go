package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

const hostnameLabel = "kubernetes.io/hostname"

// rolePreviousPin records the node a VM moved cold was pinned to by its
// author (its template's kubernetes.io/hostname), which the move replaces.
const rolePreviousPin = "previous-pin"

// schedulableLabel marks the nodes KubeVirt runs VMs on (virt-handler's).
const schedulableLabel = "kubevirt.io/schedulable"

// coldMigrationTimeout bounds how long a cold migration keeps its VM down:
// a VM pinned to a node it cannot start on would otherwise stay stopped,
// and hold a migration slot, for ever.
const coldMigrationTimeout = 15 * time.Minute

// instanceProgress maps a VMI's phase to progress towards Running.
func instanceProgress(vmi *kvv1.VirtualMachineInstance) (int32, string) {
	if vmi == nil {
		return 10, "waiting for the instance"
	}
	switch vmi.Status.Phase {
	case kvv1.Pending:
		return 20, "instance pending"
	case kvv1.Scheduling:
		return 40, "scheduling the instance"
	case kvv1.Scheduled:
		return 70, "instance scheduled on " + vmi.Status.NodeName
	case kvv1.Running:
		return 100, "running on " + vmi.Status.NodeName
	}
	return 10, "instance " + string(vmi.Status.Phase)
}

func (e *Executor) getVMI(ctx context.Context, ns, name string) (*kvv1.VirtualMachineInstance, error) {
	vmi, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return vmi, err
}

func (e *Executor) setRunStrategy(ctx context.Context, ns, name string, s kvv1.VirtualMachineRunStrategy) error {
	patch := fmt.Sprintf(`{"spec":{"running":null,"runStrategy":%q}}`, s)
	_, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

func running(vmi *kvv1.VirtualMachineInstance) bool {
	return vmi != nil && vmi.Status.Phase == kvv1.Running && vmi.DeletionTimestamp == nil
}

// start runs the VM, paused or not as asked: KubeVirt's startStrategy on the
// template is set to match before the instance is made (the VM is stopped,
// so nothing waits for a restart), and stays for later starts as KubeVirt's
// own field does.
func (e *Executor) start(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	paused := op.Spec.Start != nil && op.Spec.Start.Paused
	strategy := "null"
	if paused {
		strategy = fmt.Sprintf("%q", kvv1.StartStrategyPaused)
	}
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return step{}, err
	}
	p, msg := instanceProgress(vmi)
	if vmi == nil || vmi.DeletionTimestamp != nil || vmi.IsFinal() {
		// The next instance is made from this template.
		patch := fmt.Sprintf(`{"spec":{"running":null,"runStrategy":%q,"template":{"spec":{"startStrategy":%s}}}}`, kvv1.RunStrategyAlways, strategy)
		if _, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace).Patch(ctx, op.Spec.VMName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return vmGone(err)
		}
		return step{progress: p, message: msg}, nil
	}
	if err := e.setRunStrategy(ctx, op.Namespace, op.Spec.VMName, kvv1.RunStrategyAlways); err != nil {
		return vmGone(err)
	}
	if !running(vmi) {
		return step{progress: p, message: msg}, nil
	}
	switch {
	case paused && !vmiCondition(vmi, kvv1.VirtualMachineInstancePaused):
		if !vmi.ShouldStartPaused() {
			return step{failed: fmt.Errorf("the VM was started by something else, not paused")}, nil
		}
		return step{progress: 90, message: "running, waiting for it to report paused"}, nil
	case paused:
		return step{progress: 100, message: "running, paused", done: true}, nil
	}
	return step{progress: p, message: msg, done: true}, nil
}

func vmiCondition(vmi *kvv1.VirtualMachineInstance, typ kvv1.VirtualMachineInstanceConditionType) bool {
	for _, c := range vmi.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (e *Executor) stop(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return step{}, err
	}
	if g := op.Spec.Stop.GracePeriodSeconds; g != nil && vmi != nil && vmi.DeletionTimestamp == nil {
		// The grace period applies to this stop only, as virtctl stop's does.
		if err := e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(op.Namespace).Delete(ctx, vmi.Name,
			metav1.DeleteOptions{GracePeriodSeconds: g}); err != nil && !apierrors.IsNotFound(err) {
			return step{}, err
		}
	}
	if err := e.setRunStrategy(ctx, op.Namespace, op.Spec.VMName, kvv1.RunStrategyHalted); err != nil {
		return vmGone(err)
	}
	if vmi == nil {
		return step{progress: 100, message: "stopped", done: true}, nil
	}
	return step{progress: 50, message: "stopping the instance"}, nil
}

// restart replaces the instance, as KubeVirt's restart does, and waits for
// the new one to run. The replaced instance's UID is recorded first, so a
// restarted executor does not restart twice.
func (e *Executor) restart(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return step{}, err
	}
	old := recorded(op, "VirtualMachineInstance", "replaced")
	// The VM is read only where its run strategy decides, not on every
	// pass of the wait for the new instance.
	getVM := func() (*kvv1.VirtualMachine, error) {
		return e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace).Get(ctx, op.Spec.VMName, metav1.GetOptions{})
	}
	if old == nil {
		if vmi == nil {
			return step{failed: fmt.Errorf("VM %s is not running", op.Spec.VMName)}, nil
		}
		vm, err := getVM()
		if err != nil {
			return vmGone(err)
		}
		if !kubevirt.RestartsWhenDeleted(vm) {
			return step{failed: errors.New(notRestartable(vm))}, nil
		}
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachineInstance", APIVersion: kvv1.GroupVersion.String(),
			Namespace: vmi.Namespace, Name: vmi.Name, UID: vmi.UID, Role: "replaced"})
		return step{progress: 5, message: "restarting"}, nil // persist the record before acting
	}
	if vmi != nil && vmi.UID == old.UID {
		if vmi.DeletionTimestamp == nil {
			opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &old.UID}}
			if op.Spec.Restart != nil && op.Spec.Restart.GracePeriodSeconds != nil {
				opts.GracePeriodSeconds = op.Spec.Restart.GracePeriodSeconds
			}
			if err := e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(op.Namespace).Delete(ctx, vmi.Name, opts); err != nil &&
				!apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return step{}, err
			}
		}
		return step{progress: 20, message: "stopping the old instance"}, nil
	}
	if vmi == nil {
		vm, err := getVM()
		if err != nil {
			return vmGone(err)
		}
		if !kubevirt.WantsRunning(vm, nil) {
			return step{failed: fmt.Errorf("VM %s was stopped while it restarted (it runs under %s)", op.Spec.VMName, kubevirt.RunStrategyOf(vm))}, nil
		}
	}
	p, msg := instanceProgress(vmi)
	return step{progress: 20 + p*8/10, message: msg, done: running(vmi)}, nil
}

// migrate moves the VM live through a VirtualMachineInstanceMigration, or,
// when its disks cannot move live and cold migration is allowed, stops it,
// pins it to the target and starts it there.
func (e *Executor) migrate(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return step{}, err
	}
	if recorded(op, "Node", "source") == nil {
		// migrationSlot records it when it grants the slot.
		return step{failed: fmt.Errorf("the migration holds no slot: it records no source node")}, nil
	}
	if recorded(op, "VirtualMachine", "cold") != nil {
		return e.coldMigrate(ctx, op, vmi)
	}
	if vmi == nil {
		// Stopped by someone else while it was to move: there is nothing
		// left to move live, and starting it is not this operation's call.
		return step{failed: errors.New("the VM stopped before its live migration ended: it has no instance to move")}, nil
	}
	if reason, msg := NotMigratable(vmi); reason != "" && recorded(op, "VirtualMachineInstanceMigration", "migration") == nil {
		if !op.Spec.Migrate.AllowColdMigration {
			return step{failed: fmt.Errorf("cannot migrate live: %s: %s", reason, msg)}, nil
		}
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachine", Namespace: op.Namespace, Name: op.Spec.VMName, Role: "cold"})
		return step{progress: 5, message: "cannot migrate live (" + reason + "): migrating cold"}, nil
	}
	migs := e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(op.Namespace)
	name := kubevirtName(op)
	made := recorded(op, "VirtualMachineInstanceMigration", "migration")
	if made != nil {
		name = made.Name // as recorded: one made before names were cut keeps its own
	}
	if made == nil {
		// Recorded before it is made, so a cancel always finds it, even
		// when the status write after the create would have failed.
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachineInstanceMigration", APIVersion: kvv1.GroupVersion.String(),
			Namespace: op.Namespace, Name: name, Role: "migration"})
		return step{progress: 5, message: "requesting the migration"}, nil
	}
	mig, err := migs.Get(ctx, name, metav1.GetOptions{})
	if err == nil && mig.Annotations[ownerUIDAnnotation] != "" && mig.Annotations[ownerUIDAnnotation] != string(op.UID) {
		// Left by an earlier operation of the same name: its result is not
		// this one's. It goes, and the next pass makes this one's.
		uid := mig.UID
		if err := migs.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
			return step{}, fmt.Errorf("deleting the migration an earlier operation %s left: %w", op.Name, err)
		}
		return step{progress: 5, message: "requesting the migration"}, nil
	}
	if apierrors.IsNotFound(err) {
		if made.UID != "" {
			// Deleted after it was made: deleting a migration is how
			// KubeVirt's users abort one, so it is not made again.
			if ms := vmi.Status.MigrationState; ms != nil && string(ms.MigrationUID) == string(made.UID) && ms.Completed && !ms.Failed {
				return step{progress: 100, message: "migrated to " + ms.TargetNode, done: true}, nil
			}
			return step{failed: fmt.Errorf("VirtualMachineInstanceMigration %s was deleted before it completed", name)}, nil
		}
		selector := map[string]string{}
		for k, v := range op.Spec.Migrate.NodeSelector {
			selector[k] = v
		}
		if op.Spec.Migrate.TargetNode != "" {
			selector[hostnameLabel] = op.Spec.Migrate.TargetNode
		}
		created, err := migs.Create(ctx, &kvv1.VirtualMachineInstanceMigration{
			ObjectMeta: metav1.ObjectMeta{Name: name,
				Annotations: map[string]string{ownerAnnotation: op.Name, ownerUIDAnnotation: string(op.UID)}},
			Spec: kvv1.VirtualMachineInstanceMigrationSpec{VMIName: op.Spec.VMName, AddedNodeSelector: selector},
		}, metav1.CreateOptions{})
		if err != nil {
			return step{}, fmt.Errorf("creating migration: %w", err)
		}
		made.UID = created.UID
		return step{progress: 5, message: "migration created"}, nil
	}
	if err != nil {
		return step{}, err
	}
	if made.UID == "" {
		made.UID = mig.UID // made on a pass whose status write was lost
	}
	progress := map[kvv1.VirtualMachineInstanceMigrationPhase]int32{
		kvv1.MigrationPending: 10, kvv1.MigrationScheduling: 20, kvv1.MigrationScheduled: 35, kvv1.MigrationPreparingTarget: 50,
		kvv1.MigrationTargetReady: 65, kvv1.MigrationRunning: 80, kvv1.MigrationSucceeded: 100,
	}[mig.Status.Phase]
	switch mig.Status.Phase {
	case kvv1.MigrationSucceeded:
		target := ""
		if mig.Status.MigrationState != nil {
			target = mig.Status.MigrationState.TargetNode
		}
		return step{progress: 100, message: "migrated to " + target, done: true}, nil
	case kvv1.MigrationFailed:
		msg := "migration failed"
		for _, c := range mig.Status.Conditions {
			if c.Message != "" {
				msg = c.Message
			}
		}
		return step{failed: fmt.Errorf("%s", msg)}, nil
	}
	return step{progress: progress, message: "migration " + string(mig.Status.Phase)}, nil
}

// coldMigrate: choose the target while the VM still runs, stop it, pin it
// to the target and start it there, then take the pin off. Each pass reads
// where the VM is and whether it is pinned, so a restarted executor picks up
// at the right step.
func (e *Executor) coldMigrate(ctx context.Context, op *v1alpha1.VMOperation, vmi *kvv1.VirtualMachineInstance) (step, error) {
	vms := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace)
	pin := recorded(op, "Node", "target")
	if pin == nil {
		target := op.Spec.Migrate.TargetNode
		if target == "" {
			var err error
			if target, err = e.pickNode(ctx, op, vmi, recorded(op, "Node", "source").Name); err != nil {
				return step{failed: err}, nil
			}
		}
		record(op, v1alpha1.ResourceReference{Kind: "Node", Name: target, Role: "target"})
		return step{progress: 10, message: "moving cold to " + target}, nil
	}
	vm, err := vms.Get(ctx, op.Spec.VMName, metav1.GetOptions{})
	if err != nil {
		return vmGone(err)
	}
	pinned := vm.Spec.Template.Spec.NodeSelector[hostnameLabel] == pin.Name
	switch {
	case running(vmi) && vmi.Status.NodeName == pin.Name:
		if pinned && recorded(op, "Node", rolePreviousPin) == nil {
			// Take the pin off again, so the VM may move later. A VM its
			// author had pinned stays pinned, to the node it moved to.
			patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"nodeSelector":{%q:null}}}}}`, hostnameLabel)
			if _, err := vms.Patch(ctx, op.Spec.VMName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				return vmGone(err)
			}
		}
		if err := e.giveRunStrategyBack(ctx, op); err != nil {
			return vmGone(err)
		}
		return step{progress: 100, message: "migrated cold to " + pin.Name, done: true}, nil
	case pinned:
		p, msg := instanceProgress(vmi)
		if start := op.Status.StartTime; start != nil && e.cfg.Clock.Since(start.Time) > coldMigrationTimeout {
			// The clean-up unpins the VM and starts it wherever it fits.
			return step{failed: fmt.Errorf("VM %s did not start on %s within %s (%s)", op.Spec.VMName, pin.Name, coldMigrationTimeout, msg)}, nil
		}
		return step{progress: 50 + p*4/10, message: msg}, nil
	case recorded(op, "VirtualMachine", roleRestart) == nil && !running(vmi):
		// Stopped (by its user, or its guest shut down) before the
		// migration stopped it: starting it elsewhere is not this
		// operation's call, as for a live migration.
		return step{failed: errors.New("the VM stopped before its cold migration began: it is not started elsewhere")}, nil
	case vmi != nil:
		if recorded(op, "VirtualMachine", roleRestart) == nil {
			recordRestart(op, vm)
			return step{progress: 15, message: "stopping for a cold migration"}, nil // persist the record before acting
		}
		if failed := e.stoppedInTime(op, vmi); failed != nil {
			return step{failed: failed}, nil
		}
		if err := e.setRunStrategy(ctx, op.Namespace, op.Spec.VMName, kvv1.RunStrategyHalted); err != nil {
			return vmGone(err)
		}
		return step{progress: 20, message: "stopping for a cold migration"}, nil
	}
	if own := vm.Spec.Template.Spec.NodeSelector[hostnameLabel]; own != "" && recorded(op, "Node", rolePreviousPin) == nil {
		// The pin the VM's author set, which the move replaces: given back
		// should the move fail or be cancelled. Persisted before the VM
		// changes.
		record(op, v1alpha1.ResourceReference{Kind: "Node", Name: own, Role: rolePreviousPin})
		return step{progress: 45, message: "starting on " + pin.Name}, nil
	}
	patch, _ := json.Marshal(map[string]interface{}{"spec": map[string]interface{}{
		"runStrategy": kvv1.RunStrategyAlways,
		"template":    map[string]interface{}{"spec": map[string]interface{}{"nodeSelector": map[string]string{hostnameLabel: pin.Name}}},
	}})
	if _, err := vms.Patch(ctx, op.Spec.VMName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return vmGone(err)
	}
	return step{progress: 50, message: "starting on " + pin.Name}, nil
}

// stoppedInTime fails an operation that stops its VM first (a restore in
// place, a cold migration) when the instance has not ended within
// runTimeout of the operation's start: an instance stuck on a node that is
// gone would keep it, and every later operation on the VM, waiting for
// ever. The clean-up starts the VM again.
func (e *Executor) stoppedInTime(op *v1alpha1.VMOperation, vmi *kvv1.VirtualMachineInstance) error {
	// A guest given longer to shut down is given it.
	timeout := runTimeout + time.Duration(ptr.Deref(vmi.Spec.TerminationGracePeriodSeconds, 0))*time.Second
	start := op.Status.StartTime
	if start == nil || e.cfg.Clock.Since(start.Time) <= timeout {
		return nil
	}
	return fmt.Errorf("VM %s did not stop within %s (instance %s); it is started again", op.Spec.VMName, timeout, vmi.Status.Phase)
}

// pickNode chooses a schedulable node other than source, with the labels
// of the operation's nodeSelector, that the VM's pod tolerates and may run
// on, with room for the VM.
func (e *Executor) pickNode(ctx context.Context, op *v1alpha1.VMOperation, vmi *kvv1.VirtualMachineInstance, source string) (string, error) {
	if vmi == nil {
		return "", fmt.Errorf("VM %s stopped before a target was chosen", op.Spec.VMName)
	}
	want := labels.Set{schedulableLabel: "true"}
	for k, v := range op.Spec.Migrate.NodeSelector {
		want[k] = v
	}
	nodes, err := e.cfg.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: want.String()})
	if err != nil {
		return "", err
	}
	p := &Prechecker{Kube: e.cfg.Kube, KubeVirt: e.cfg.KubeVirt}
	vm, err := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace).Get(ctx, op.Spec.VMName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading VM %s: %w", op.Spec.VMName, err)
	}
	from := &vmi.Spec
	if vm.Spec.Template != nil {
		from = &vm.Spec.Template.Spec // it starts again from its template
	}
	target, err := p.targetPod(ctx, vmi, from, true)
	if err != nil {
		return "", err
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Name != source && !n.Spec.Unschedulable && nodeReady(n) && admits(n, target) == "" && p.fits(ctx, n, vmi, target) == "" {
			return n.Name, nil
		}
	}
	if len(op.Spec.Migrate.NodeSelector) > 0 {
		return "", fmt.Errorf("no other node with labels %s that VM %s may run on (its tolerations, nodeSelector and affinity) has room for it", labels.Set(op.Spec.Migrate.NodeSelector), op.Spec.VMName)
	}
	return "", fmt.Errorf("no other node that VM %s may run on (its tolerations, nodeSelector and affinity) has room for it", op.Spec.VMName)
}

// resize changes CPUs and memory: live when the VM's hotplug bounds allow,
// else by restart as restartPolicy allows. Nothing changes when the policy
// forbids the restart the change needs.
func (e *Executor) resize(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	spec := op.Spec.Resize
	vms := e.cfg.KubeVirt.KubevirtV1().VirtualMachines(op.Namespace)
	vm, err := vms.Get(ctx, op.Spec.VMName, metav1.GetOptions{})
	if err != nil {
		return vmGone(err)
	}
	vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
	if err != nil {
		return step{}, err
	}
	applied := recorded(op, "VirtualMachine", "resized")
	if applied == nil {
		needsRestart := restartsToResize(vm, vmi, spec.CPUs, spec.Memory, string(spec.RestartPolicy))
		if needsRestart && spec.RestartPolicy == v1alpha1.ResizeRestartNever {
			return step{failed: fmt.Errorf("the change cannot be applied live (maxSockets/maxGuest) and restartPolicy is Never")}, nil
		}
		if needsRestart && !kubevirt.RestartsWhenDeleted(vm) {
			return step{failed: errors.New(notRestartable(vm))}, nil
		}
		dom := &vm.Spec.Template.Spec.Domain
		if recorded(op, "Size", "previous") == nil {
			// The size to go back to should the resize fail or be
			// cancelled, persisted before the VM changes.
			record(op, v1alpha1.ResourceReference{Kind: "Size", Name: formatSize(dom), Role: "previous"})
			return step{progress: 10, message: "resizing"}, nil
		}
		if spec.CPUs != nil {
			kubevirt.SetCPUCount(dom, uint32(*spec.CPUs))
		}
		if spec.Memory != nil {
			if dom.Memory == nil {
				dom.Memory = &kvv1.Memory{}
			}
			m := spec.Memory.DeepCopy()
			dom.Memory.Guest = &m
			if _, ok := dom.Resources.Requests[corev1.ResourceMemory]; ok {
				dom.Resources.Requests[corev1.ResourceMemory] = m.DeepCopy()
			}
		}
		_, err := vms.Update(ctx, vm, metav1.UpdateOptions{})
		if err != nil {
			return step{}, err
		}
		role := "live"
		if needsRestart {
			role = "restart"
		}
		if hasVMCondition(vm, kvv1.VirtualMachineRestartRequired) {
			// Flagged already, for another change: the flag does not say
			// this one was refused live.
			record(op, v1alpha1.ResourceReference{Kind: "Condition", Name: string(kvv1.VirtualMachineRestartRequired), Role: "before"})
		}
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachine", Namespace: vm.Namespace, Name: vm.Name, UID: vm.UID,
			Role: "resized"})
		record(op, v1alpha1.ResourceReference{Kind: "Plan", Name: role, Role: "plan"})
		if needsRestart && vmi != nil {
			record(op, v1alpha1.ResourceReference{Kind: "VirtualMachineInstance", Namespace: vmi.Namespace, Name: vmi.Name, UID: vmi.UID, Role: "replaced"})
		}
		return step{progress: 20, message: "VM spec changed (" + role + ")"}, nil
	}
	plan := recorded(op, "Plan", "plan")
	if vmi == nil {
		if plan != nil && plan.Name == "restart" && recorded(op, "VirtualMachineInstance", "replaced") != nil && kubevirt.WantsRunning(vm, nil) {
			// Between the old instance and the new one.
			return step{progress: 40, message: "restarting to apply the new size"}, nil
		}
		return step{progress: 100, message: "resized; applies when the VM starts", done: true}, nil
	}
	if plan != nil && plan.Name == "restart" {
		return e.restartForResize(ctx, op, vmi)
	}
	if hasVMCondition(vm, kvv1.VirtualMachineRestartRequired) && recorded(op, "Condition", "before") == nil {
		// The cluster could not hotplug after all.
		if spec.RestartPolicy == v1alpha1.ResizeRestartNever {
			return step{failed: fmt.Errorf("the cluster could not apply the change live and restartPolicy is Never; the VM is flagged RestartRequired")}, nil
		}
		if !kubevirt.RestartsWhenDeleted(vm) {
			return step{failed: fmt.Errorf("the cluster could not apply the change live: %s; the VM is flagged RestartRequired", notRestartable(vm))}, nil
		}
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachineInstance", Namespace: vmi.Namespace, Name: vmi.Name, UID: vmi.UID, Role: "replaced"})
		plan.Name = "restart"
		return step{progress: 40, message: "live update refused: restarting"}, nil
	}
	if sized(vmi, spec) {
		return step{progress: 100, message: "resized live", done: true}, nil
	}
	return step{progress: 50, message: "hotplugging"}, nil
}

func (e *Executor) restartForResize(ctx context.Context, op *v1alpha1.VMOperation, vmi *kvv1.VirtualMachineInstance) (step, error) {
	old := recorded(op, "VirtualMachineInstance", "replaced")
	if old != nil && vmi.UID == old.UID {
		if vmi.DeletionTimestamp == nil {
			err := e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(op.Namespace).Delete(ctx, vmi.Name,
				metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &old.UID}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return step{}, err
			}
		}
		return step{progress: 40, message: "restarting to apply the new size"}, nil
	}
	p, msg := instanceProgress(vmi)
	if running(vmi) && sized(vmi, op.Spec.Resize) {
		return step{progress: 100, message: "resized with a restart", done: true}, nil
	}
	return step{progress: 40 + p/2, message: msg}, nil
}

// formatSize writes down a domain's CPU topology, guest memory and memory
// request, as "sockets/cores/threads/guest/request" (empty when unset), for
// rollBackResize.
func formatSize(dom *kvv1.DomainSpec) string {
	var cpu kvv1.CPU
	if dom.CPU != nil {
		cpu = *dom.CPU
	}
	guest, request := "", ""
	if dom.Memory != nil && dom.Memory.Guest != nil {
		guest = dom.Memory.Guest.String()
	}
	if q, ok := dom.Resources.Requests[corev1.ResourceMemory]; ok {
		request = q.String()
	}
	return fmt.Sprintf("%d/%d/%d/%s/%s", cpu.Sockets, cpu.Cores, cpu.Threads, guest, request)
}

// applySize sets a size formatSize wrote down on dom.
func applySize(dom *kvv1.DomainSpec, size string) error {
	var sockets, cores, threads uint32
	parts := strings.Split(size, "/")
	if len(parts) != 5 {
		return fmt.Errorf("recorded size %q: want sockets/cores/threads/guest/request", size)
	}
	if _, err := fmt.Sscanf(strings.Join(parts[:3], " "), "%d %d %d", &sockets, &cores, &threads); err != nil {
		return fmt.Errorf("recorded size %q: %w", size, err)
	}
	if dom.CPU != nil || sockets+cores+threads > 0 {
		if dom.CPU == nil {
			dom.CPU = &kvv1.CPU{}
		}
		dom.CPU.Sockets, dom.CPU.Cores, dom.CPU.Threads = sockets, cores, threads
	}
	if parts[3] != "" {
		q, err := resource.ParseQuantity(parts[3])
		if err != nil {
			return fmt.Errorf("recorded size %q: %w", size, err)
		}
		if dom.Memory == nil {
			dom.Memory = &kvv1.Memory{}
		}
		dom.Memory.Guest = &q
	} else if dom.Memory != nil {
		dom.Memory.Guest = nil
	}
	if parts[4] != "" {
		q, err := resource.ParseQuantity(parts[4])
		if err != nil {
			return fmt.Errorf("recorded size %q: %w", size, err)
		}
		if dom.Resources.Requests == nil {
			dom.Resources.Requests = corev1.ResourceList{}
		}
		dom.Resources.Requests[corev1.ResourceMemory] = q
	}
	return nil
}

// restartsToResize: a running VM restarts for a resize its hotplug bounds
// do not allow, or when the policy says Always.
func restartsToResize(vm *kvv1.VirtualMachine, vmi *kvv1.VirtualMachineInstance, cpus *int32, memory *resource.Quantity, policy string) bool {
	return vmi != nil && (!hotpluggable(vm, cpus, memory) || policy == string(v1alpha1.ResizeRestartAlways))
}

// notRestartable says why a VM's instance is not restarted by deleting it.
func notRestartable(vm *kvv1.VirtualMachine) string {
	return fmt.Sprintf("VM %s runs under %s, so KubeVirt does not start it again once its instance is deleted and a restart would leave it stopped; stop and start it instead",
		vm.Name, kubevirt.RunStrategyOf(vm))
}

// hotpluggable: within maxSockets (same cores and threads) and maxGuest.
func hotpluggable(vm *kvv1.VirtualMachine, cpus *int32, memory *resource.Quantity) bool {
	dom := vm.Spec.Template.Spec.Domain
	if cpus != nil {
		c := dom.CPU
		if c == nil || c.MaxSockets == 0 {
			return false
		}
		per := max(c.Cores, 1) * max(c.Threads, 1)
		if uint32(*cpus)%per != 0 || uint32(*cpus)/per > c.MaxSockets {
			return false
		}
	}
	if memory != nil {
		m := dom.Memory
		if m == nil || m.MaxGuest == nil || memory.Cmp(*m.MaxGuest) > 0 {
			return false
		}
	}
	return true
}

// sized reports whether the running guest has the asked-for size.
func sized(vmi *kvv1.VirtualMachineInstance, spec *v1alpha1.ResizeSpec) bool {
	if spec.CPUs != nil {
		cpus := kubevirt.CPUCount(vmi.Spec.Domain.CPU)
		if t := vmi.Status.CurrentCPUTopology; t != nil {
			cpus = int32(max(t.Sockets, 1) * max(t.Cores, 1) * max(t.Threads, 1))
		}
		if cpus != *spec.CPUs {
			return false
		}
	}
	if spec.Memory != nil {
		m := kubevirt.GuestMemory(&vmi.Spec)
		if vmi.Status.Memory != nil && vmi.Status.Memory.GuestCurrent != nil {
			m = vmi.Status.Memory.GuestCurrent
		}
		if m == nil || m.Cmp(*spec.Memory) != 0 {
			return false
		}
	}
	return true
}

func hasVMCondition(vm *kvv1.VirtualMachine, typ kvv1.VirtualMachineConditionType) bool {
	for _, c := range vm.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// snapshot takes a VirtualMachineSnapshot and waits until it is ready.
func (e *Executor) snapshot(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	spec := op.Spec.Snapshot
	name := spec.Name
	if name == "" {
		name = kubevirtName(op)
	}
	if made := recorded(op, "VirtualMachineSnapshot", "snapshot"); made != nil {
		name = made.Name // as recorded: one made before names were cut keeps its own
	}
	snaps := e.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(op.Namespace)
	snap, err := snaps.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		annotations := map[string]string{ownerAnnotation: op.Name, ownerUIDAnnotation: string(op.UID)}
		if spec.Description != "" {
			annotations[snapshotDescriptionAnnot] = spec.Description
		}
		snap, err = snaps.Create(ctx, &snapshotv1.VirtualMachineSnapshot{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
			Spec: snapshotv1.VirtualMachineSnapshotSpec{
				Source:          corev1.TypedLocalObjectReference{APIGroup: ptr.To(kvv1.GroupVersion.Group), Kind: "VirtualMachine", Name: op.Spec.VMName},
				FailureDeadline: spec.FailureDeadline,
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return step{}, fmt.Errorf("creating snapshot: %w", err)
		}
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachineSnapshot", APIVersion: snapshotv1.SchemeGroupVersion.String(),
			Namespace: op.Namespace, Name: name, UID: snap.UID, Role: "snapshot"})
		return step{progress: 10, message: "snapshot requested"}, nil
	}
	if err != nil {
		return step{}, err
	}
	made := recorded(op, "VirtualMachineSnapshot", "snapshot")
	if snap.Annotations[ownerUIDAnnotation] != string(op.UID) && (made == nil || made.UID != snap.UID) {
		// Another's, or an earlier operation's of the same name: its
		// snapshot is not this one's result.
		return step{failed: fmt.Errorf("snapshot %s already exists and belongs to something else", name)}, nil
	}
	if made == nil {
		// Made on a pass whose status write was lost.
		record(op, v1alpha1.ResourceReference{Kind: "VirtualMachineSnapshot", APIVersion: snapshotv1.SchemeGroupVersion.String(),
			Namespace: op.Namespace, Name: name, UID: snap.UID, Role: "snapshot"})
	}
	if snap.Status == nil {
		return step{progress: 10, message: "snapshot requested"}, nil
	}
	switch {
	case snap.Status.Phase == snapshotv1.Failed:
		return step{failed: fmt.Errorf("snapshot %s failed", name)}, nil
	case snap.Status.ReadyToUse != nil && *snap.Status.ReadyToUse:
		if spec.Quiesce && online(snap) && !indicated(snap, snapshotv1.VMSnapshotGuestAgentIndication) {
			// Not what was asked for: a crash-consistent copy. It goes, so
			// the failed operation leaves nothing behind.
			if err := snaps.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return step{}, fmt.Errorf("deleting the snapshot taken without quiescing: %w", err)
			}
			return step{failed: fmt.Errorf("quiesce: the guest file systems were not frozen (no guest agent answered); the snapshot was deleted")}, nil
		}
		msg := "snapshot " + name + " ready"
		if indicated(snap, snapshotv1.VMSnapshotGuestAgentIndication) {
			msg += ", file systems frozen by the guest agent"
		}
		return step{progress: 100, message: msg, done: true}, nil
	}
	return step{progress: 50, message: "snapshot " + string(snap.Status.Phase)}, nil
}

// online is whether a snapshot was taken of a running VM.
func online(snap *snapshotv1.VirtualMachineSnapshot) bool {
	return indicated(snap, snapshotv1.VMSnapshotOnlineSnapshotIndication)
}

func indicated(snap *snapshotv1.VirtualMachineSnapshot, ind snapshotv1.Indication) bool {
	for _, i := range snap.Status.SourceIndications {
		if i.Indication == ind {
			return true
		}
	}
	for _, i := range snap.Status.Indications {
		if i == ind {
			return true
		}
	}
	return false
}

func vmGone(err error) (step, error) {
	if apierrors.IsNotFound(err) {
		return step{failed: fmt.Errorf("the VM is gone")}, nil
	}
	return step{}, err
}

// cancel stops what can be stopped: a migration is aborted by deleting it,
// a hot-plug by unlisting its device.
func (e *Executor) cancel(ctx context.Context, op *v1alpha1.VMOperation) error {
	if op.Spec.AttachUSB != nil {
		// A cancelled hot-plug leaves nothing of its own attached.
		return e.unlistOwnUSB(ctx, op)
	}
	_, err := e.abortMigration(ctx, op)
	if errors.As(err, new(waitingError)) {
		return nil // asked; the clean-up waits for it, holding the slot
	}
	return err
}

// abortMigration deletes the VirtualMachineInstanceMigration the operation
// made while it has not ended, which is how KubeVirt aborts one: an
// operation that ends any other way than by its success (cancelled, or
// failed while KubeVirt still migrates, say after its retries ran out) does
// not leave a migration running that no slot counts. KubeVirt keeps the
// object (its finalizer) until the source has aborted, so it waits for it
// to go or end (a waitingError), for at most coldMigrationTimeout after the
// operation ended. It returns what it did.
func (e *Executor) abortMigration(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
	ref := recorded(op, "VirtualMachineInstanceMigration", "migration")
	if ref == nil {
		return "", nil
	}
	migs := e.cfg.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(op.Namespace)
	mig, err := migs.Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("reading VirtualMachineInstanceMigration %s: %w", ref.Name, err)
	case mig.Annotations[ownerUIDAnnotation] != "" && mig.Annotations[ownerUIDAnnotation] != string(op.UID),
		mig.Status.Phase == kvv1.MigrationSucceeded, mig.Status.Phase == kvv1.MigrationFailed:
		return "", nil // another's, or ended
	}
	wait := waitingError{"waiting for KubeVirt to abort VirtualMachineInstanceMigration " + ref.Name}
	if mig.DeletionTimestamp != nil {
		if e.waitedOut(op) {
			return "gave up " + wait.msg + " after " + coldMigrationTimeout.String(), nil
		}
		return "", wait
	}
	uid := mig.UID
	if err := migs.Delete(ctx, ref.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil &&
		!apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return "", fmt.Errorf("aborting VirtualMachineInstanceMigration %s: %w", ref.Name, err)
	}
	return "aborted VirtualMachineInstanceMigration " + ref.Name, wait
}
