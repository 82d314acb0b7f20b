package kubevirtsim

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

const (
	migrationNameAnnotation = "kubevirt.io/migrationJobName"
	// defaultUnschedulableTimeout is how long KubeVirt lets a migration's
	// target pod stay unschedulable before it fails the migration.
	defaultUnschedulableTimeout = 5 * time.Minute
)

// syncMigration walks a VirtualMachineInstanceMigration through KubeVirt's
// phases: a target pod that must not share the source's node is placed by
// the scheduler (Scheduling, Scheduled), prepared (PreparingTarget,
// TargetReady), the guest moves (Running), and the instance ends on the
// target node with the source pod gone (Succeeded). A VMI that is not
// LiveMigratable fails the migration with KubeVirt's reason.
func (s *Simulator) syncMigration(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := s.migInformer.GetIndexer().GetByKey(key.String())
	if err != nil {
		return err
	}
	if !exists {
		return s.abortMigration(ctx, key)
	}
	mig := obj.(*kvv1.VirtualMachineInstanceMigration)
	if mig.IsFinal() || mig.DeletionTimestamp != nil {
		return nil
	}
	updated := mig.DeepCopy()
	vmiObj, ok, err := s.vmiInformer.GetIndexer().GetByKey(mig.Namespace + "/" + mig.Spec.VMIName)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		s.failMigration(updated, "VMINotFound", fmt.Sprintf("VMI %s does not exist", mig.Spec.VMIName))
	case vmiObj.(*kvv1.VirtualMachineInstance).Status.Phase != kvv1.Running:
		s.failMigration(updated, "VMINotRunning", fmt.Sprintf("VMI %s is not running", mig.Spec.VMIName))
	default:
		vmi := vmiObj.(*kvv1.VirtualMachineInstance)
		if err := s.advanceMigration(ctx, updated, vmi); err != nil {
			return err
		}
	}
	if equality.Semantic.DeepEqual(mig.Status, updated.Status) {
		return nil
	}
	if updated.Status.Phase == kvv1.MigrationFailed && ok {
		if err := s.cleanUpFailedMigration(ctx, updated, vmiObj.(*kvv1.VirtualMachineInstance)); err != nil {
			return err
		}
	}
	_, err = s.cfg.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(mig.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreNotFound(err)
}

func (s *Simulator) advanceMigration(ctx context.Context, mig *kvv1.VirtualMachineInstanceMigration, vmi *kvv1.VirtualMachineInstance) error {
	key := cache.ObjectName{Namespace: mig.Namespace, Name: mig.Name}
	if ms := vmi.Status.MigrationState; ms != nil && ms.MigrationUID != mig.UID && !ms.Completed && !ms.Failed {
		s.setMigrationPhase(mig, kvv1.MigrationPending)
		return nil // another migration of this VMI runs; wait for it
	}
	if mig.Status.Phase == kvv1.MigrationPhaseUnset || mig.Status.Phase == kvv1.MigrationPending {
		for _, c := range vmi.Status.Conditions {
			if c.Type == kvv1.VirtualMachineInstanceIsMigratable && c.Status != corev1.ConditionTrue {
				// KubeVirt's admission refuses with this wording.
				s.failMigration(mig, c.Reason, fmt.Sprintf("Cannot migrate VMI, Reason: %s, Message: %s", c.Reason, c.Message))
				return nil
			}
		}
	}
	target := s.targetPod(mig)
	switch mig.Status.Phase {
	case kvv1.MigrationPhaseUnset, kvv1.MigrationPending:
		source := s.activePod(vmi)
		if source == nil {
			s.failMigration(mig, "NoSourcePod", "the VMI has no running virt-launcher pod")
			return nil
		}
		if target == nil {
			// As for the VMI's pod: an earlier pass may have created it.
			live, err := s.liveLauncherPod(ctx, vmi, mig.UID)
			if err != nil {
				return err
			}
			target = live
		}
		if target == nil {
			// As for the VMI's pod: a pass on a migration that has already
			// failed, its target pod deleted, would create one nobody owns.
			current, err := cacheCurrent(ctx, s.cfg.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(mig.Namespace).Get, mig)
			if err != nil || !current {
				return err
			}
			pod := migrationTargetPod(vmi, mig)
			created, err := s.cfg.Kube.CoreV1().Pods(mig.Namespace).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("creating migration target pod: %w", err)
			}
			target = created
		}
		state := &kvv1.VirtualMachineInstanceMigrationState{
			MigrationUID: mig.UID, SourceNode: vmi.Status.NodeName, SourcePod: source.Name, TargetPod: target.Name,
			Mode: kvv1.MigrationPreCopy,
		}
		mig.Status.MigrationState = state
		if err := s.updateVMIMigrationState(ctx, vmi, state.DeepCopy()); err != nil {
			return err
		}
		s.setMigrationPhase(mig, kvv1.MigrationScheduling)
	case kvv1.MigrationScheduling:
		switch {
		case target == nil:
			s.failMigration(mig, "TargetPodGone", "the migration target pod disappeared")
		case target.Spec.NodeName != "":
			mig.Status.MigrationState.TargetNode = target.Spec.NodeName
			s.setMigrationPhase(mig, kvv1.MigrationScheduled)
			s.migrations.after(key, s.cfg.StepDelay)
		default:
			if msg, ok := unschedulable(target); ok {
				setMigrationCondition(mig, "TargetPodUnschedulable", corev1.ConditionTrue, corev1.PodReasonUnschedulable, msg, s.now())
				s.timeOutUnschedulable(mig, target, key)
			}
		}
	case kvv1.MigrationScheduled:
		if s.waited(mig, key) {
			s.setMigrationPhase(mig, kvv1.MigrationPreparingTarget)
			s.migrations.after(key, s.cfg.StepDelay)
		}
	case kvv1.MigrationPreparingTarget:
		if target == nil {
			s.failMigration(mig, "TargetPodGone", "the migration target pod disappeared")
		} else if podRunning(target) && s.waited(mig, key) {
			mig.Status.MigrationState.TargetNodeAddress = target.Status.PodIP
			s.setMigrationPhase(mig, kvv1.MigrationTargetReady)
			s.migrations.after(key, s.cfg.StepDelay)
		}
	case kvv1.MigrationTargetReady:
		if s.waited(mig, key) {
			now := s.now()
			mig.Status.MigrationState.StartTimestamp = &now
			if err := s.updateVMIMigrationState(ctx, vmi, mig.Status.MigrationState.DeepCopy()); err != nil {
				return err
			}
			s.setMigrationPhase(mig, kvv1.MigrationRunning)
			// Copying memory takes the longest step.
			s.migrations.after(key, 3*s.cfg.StepDelay)
		}
	case kvv1.MigrationRunning:
		if target == nil || !podRunning(target) {
			s.failMigration(mig, "TargetPodGone", "the migration target pod stopped")
			return nil
		}
		if !s.waitedFor(mig, key, 3) {
			return nil
		}
		return s.completeMigration(ctx, mig, vmi, target)
	}
	return nil
}

// completeMigration moves the instance to the target pod and removes the source.
func (s *Simulator) completeMigration(ctx context.Context, mig *kvv1.VirtualMachineInstanceMigration, vmi *kvv1.VirtualMachineInstance, target *corev1.Pod) error {
	now := s.now()
	state := mig.Status.MigrationState
	state.EndTimestamp = &now
	state.Completed = true
	state.TargetNode = target.Spec.NodeName
	// Every other launcher pod of the instance goes, not only the one its
	// status names: after a pass that moved the instance but failed to
	// delete the source, the status already names the target.
	var sources []*corev1.Pod
	for _, pod := range s.launcherPods(vmi.Namespace, vmi.Name) {
		if pod.UID != target.UID && pod.Labels[kubevirt.CreatedByLabel] == string(vmi.UID) {
			sources = append(sources, pod)
		}
	}

	moved := vmi.DeepCopy()
	moved.Status.MigrationState = state.DeepCopy()
	moved.Status.NodeName = target.Spec.NodeName
	moved.Status.ActivePods = map[types.UID]string{target.UID: target.Spec.NodeName}
	if moved.Labels == nil {
		moved.Labels = map[string]string{}
	}
	moved.Labels["kubevirt.io/nodeName"] = target.Spec.NodeName
	for i := range moved.Status.Interfaces {
		moved.Status.Interfaces[i].IP = target.Status.PodIP
		moved.Status.Interfaces[i].IPs = podIPs(target)
	}
	if _, err := s.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(vmi.Namespace).Update(ctx, moved, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("moving VMI to %s: %w", target.Spec.NodeName, err)
	}
	if err := s.deletePods(ctx, sources); err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Migrated", "vmi", klog.KObj(vmi), "from", state.SourceNode, "to", state.TargetNode)
	s.setMigrationPhase(mig, kvv1.MigrationSucceeded)
	return nil
}

// abortMigration cleans up after a migration deleted before it finished:
// its target pod goes, and the instance stays where it was.
func (s *Simulator) abortMigration(ctx context.Context, key cache.ObjectName) error {
	pods, err := s.pods.Pods(key.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	for _, pod := range pods {
		if pod.Annotations[migrationNameAnnotation] != key.Name || pod.Labels[MigrationJobLabel] == "" {
			continue
		}
		vmiObj, ok, _ := s.vmiInformer.GetIndexer().GetByKey(key.Namespace + "/" + pod.Labels[kubevirt.VMNameLabel])
		if ok {
			vmi := vmiObj.(*kvv1.VirtualMachineInstance)
			if _, active := vmi.Status.ActivePods[pod.UID]; active {
				continue // the migration finished: this pod is the instance now
			}
			if ms := vmi.Status.MigrationState; ms != nil && string(ms.MigrationUID) == pod.Labels[MigrationJobLabel] && !ms.Completed {
				aborted := ms.DeepCopy()
				aborted.AbortStatus = kvv1.MigrationAbortSucceeded
				aborted.Failed = true
				aborted.FailureReason = "migration aborted"
				if err := s.updateVMIMigrationState(ctx, vmi, aborted); err != nil {
					return err
				}
			}
		}
		if err := s.deletePods(ctx, []*corev1.Pod{pod}); err != nil {
			return err
		}
	}
	return nil
}

// timeOutUnschedulable fails a migration whose target pod the scheduler
// could not place for longer than KubeVirt's unschedulable timeout (five
// minutes, or the migration's
// kubevirt.io/migrationUnschedulablePodTimeoutSeconds annotation), as
// KubeVirt's migration controller does; until then it waits.
func (s *Simulator) timeOutUnschedulable(mig *kvv1.VirtualMachineInstanceMigration, target *corev1.Pod, key cache.ObjectName) {
	timeout := defaultUnschedulableTimeout
	if v, ok := mig.Annotations[kvv1.MigrationUnschedulablePodTimeoutSecondsAnnotation]; ok {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			timeout = time.Duration(secs) * time.Second
		}
	}
	since := target.CreationTimestamp.Time
	for _, c := range target.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			since = c.LastTransitionTime.Time
		}
	}
	if left := since.Add(timeout).Sub(s.cfg.Clock.Now()); left > 0 {
		s.migrations.after(key, left)
		return
	}
	s.failMigration(mig, "TargetPodUnschedulable", fmt.Sprintf(
		"Migration target pod was removed from cluster due to being unschedulable for %d seconds", int64(timeout/time.Second)))
}

// cleanUpFailedMigration does what KubeVirt does when a migration fails:
// the target pod goes, and the instance, still on its source, records the
// failure so that another migration may start.
func (s *Simulator) cleanUpFailedMigration(ctx context.Context, mig *kvv1.VirtualMachineInstanceMigration, vmi *kvv1.VirtualMachineInstance) error {
	if target := s.targetPod(mig); target != nil {
		if _, active := vmi.Status.ActivePods[target.UID]; !active {
			if err := s.deletePods(ctx, []*corev1.Pod{target}); err != nil {
				return err
			}
		}
	}
	ms := vmi.Status.MigrationState
	if ms == nil || ms.MigrationUID != mig.UID || ms.Completed || ms.Failed {
		return nil
	}
	failed := ms.DeepCopy()
	failed.Failed = true
	for _, c := range mig.Status.Conditions {
		if c.Type == "Failed" {
			failed.FailureReason = c.Message
		}
	}
	now := s.now()
	failed.EndTimestamp = &now
	return s.updateVMIMigrationState(ctx, vmi, failed)
}

func migrationTargetPod(vmi *kvv1.VirtualMachineInstance, mig *kvv1.VirtualMachineInstanceMigration) *corev1.Pod {
	pod := launcherPod(vmi)
	pod.Labels[MigrationJobLabel] = string(mig.UID)
	pod.Annotations[migrationNameAnnotation] = mig.Name
	for k, v := range mig.Spec.AddedNodeSelector {
		if _, set := pod.Spec.NodeSelector[k]; !set {
			pod.Spec.NodeSelector[k] = v // may restrict, never override the VM's own
		}
	}
	// As KubeVirt does: never on a node that already runs a pod of this VMI.
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.PodAntiAffinity == nil {
		pod.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
	aa := pod.Spec.Affinity.PodAntiAffinity
	aa.RequiredDuringSchedulingIgnoredDuringExecution = append(aa.RequiredDuringSchedulingIgnoredDuringExecution, corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{kubevirt.CreatedByLabel: string(vmi.UID)}},
		TopologyKey:   "kubernetes.io/hostname",
	})
	return pod
}

func (s *Simulator) targetPod(mig *kvv1.VirtualMachineInstanceMigration) *corev1.Pod {
	for _, pod := range s.launcherPods(mig.Namespace, mig.Spec.VMIName) {
		if pod.Labels[MigrationJobLabel] == string(mig.UID) {
			return pod
		}
	}
	return nil
}

func (s *Simulator) updateVMIMigrationState(ctx context.Context, vmi *kvv1.VirtualMachineInstance, state *kvv1.VirtualMachineInstanceMigrationState) error {
	updated := vmi.DeepCopy()
	updated.Status.MigrationState = state
	_, err := s.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(vmi.Namespace).Update(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("recording migration state on VMI: %w", err)
	}
	return nil
}

func (s *Simulator) migrating(vmi *kvv1.VirtualMachineInstance) bool {
	ms := vmi.Status.MigrationState
	return ms != nil && !ms.Completed && !ms.Failed
}

// waited reports whether one step has passed since the current phase began,
// requeueing the migration for later when not.
func (s *Simulator) waited(mig *kvv1.VirtualMachineInstanceMigration, key cache.ObjectName) bool {
	return s.waitedFor(mig, key, 1)
}

func (s *Simulator) waitedFor(mig *kvv1.VirtualMachineInstanceMigration, key cache.ObjectName, steps int) bool {
	ts := mig.Status.PhaseTransitionTimestamps
	if len(ts) == 0 {
		return true
	}
	left := ts[len(ts)-1].PhaseTransitionTimestamp.Add(s.cfg.StepDelay * time.Duration(steps)).Sub(s.cfg.Clock.Now())
	if left > 0 {
		s.migrations.after(key, left)
		return false
	}
	return true
}

func (s *Simulator) setMigrationPhase(mig *kvv1.VirtualMachineInstanceMigration, phase kvv1.VirtualMachineInstanceMigrationPhase) {
	if mig.Status.Phase == phase {
		return
	}
	mig.Status.Phase = phase
	mig.Status.PhaseTransitionTimestamps = append(mig.Status.PhaseTransitionTimestamps,
		kvv1.VirtualMachineInstanceMigrationPhaseTransitionTimestamp{Phase: phase, PhaseTransitionTimestamp: s.now()})
}

func (s *Simulator) failMigration(mig *kvv1.VirtualMachineInstanceMigration, reason, message string) {
	s.setMigrationPhase(mig, kvv1.MigrationFailed)
	setMigrationCondition(mig, "Failed", corev1.ConditionTrue, reason, message, s.now())
	if mig.Status.MigrationState != nil {
		mig.Status.MigrationState.Failed = true
		mig.Status.MigrationState.FailureReason = message
	}
}

func setMigrationCondition(mig *kvv1.VirtualMachineInstanceMigration, typ kvv1.VirtualMachineInstanceMigrationConditionType,
	status corev1.ConditionStatus, reason, message string, now metav1.Time) {
	for i := range mig.Status.Conditions {
		if mig.Status.Conditions[i].Type == typ {
			mig.Status.Conditions[i].Status, mig.Status.Conditions[i].Reason, mig.Status.Conditions[i].Message = status, reason, message
			return
		}
	}
	mig.Status.Conditions = append(mig.Status.Conditions, kvv1.VirtualMachineInstanceMigrationCondition{
		Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: now,
	})
}

func (s *Simulator) enqueueMigrationsOf(obj interface{}) {
	if key, err := cache.DeletionHandlingObjectToName(obj); err == nil {
		s.enqueueMigrationsOfKey(key)
	}
}

// enqueueMigrationsOfKey wakes the unfinished migrations of a VMI.
func (s *Simulator) enqueueMigrationsOfKey(vmi cache.ObjectName) {
	objs, err := s.migInformer.GetIndexer().ByIndex(cache.NamespaceIndex, vmi.Namespace)
	if err != nil {
		return
	}
	for _, o := range objs {
		mig := o.(*kvv1.VirtualMachineInstanceMigration)
		if mig.Spec.VMIName == vmi.Name && !mig.IsFinal() {
			s.migrations.enqueue(mig)
		}
	}
}
