// Package backup is hypersdk-controller's backup scheduler: each
// BackupSchedule's due run becomes one Snapshot VMOperation per selected VM
// (at most maxConcurrent in progress), and the snapshots it made beyond its
// retention are deleted. Every write is made only as far as the schedule's
// requester may make it (SubjectAccessReviews), and every name is derived
// from the schedule, the VM and the slot, so a controller restarted in the
// middle of a run neither loses nor repeats a snapshot.
package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	clonev1 "kubevirt.io/api/clone/v1beta1"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	hypersdkinformers "github.com/hypersdk/hypersdk/generated/informers/externalversions"
	hypersdklisters "github.com/hypersdk/hypersdk/generated/listers/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/backup/looks"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/passloop"
)

// LabelSchedule marks the VMOperations a schedule creates.
const LabelSchedule = "hypersdk.io/backup-schedule"

// ConditionReady is True when the last pass did what the schedule asks.
const ConditionReady = "Ready"

// Config is what the scheduler needs.
type Config struct {
	Kube     kubernetes.Interface
	HyperSDK hypersdkclient.Interface
	KubeVirt kubevirt.Clientset
	// Carbon gives the forecasts of carbon-aware windows; nil runs every
	// run at its slot (and says so in the schedule's conditions).
	Carbon carbon.Provider
	// Dialer opens the serial consoles of verifications' scratch VMs.
	Dialer console.Dialer
	// Registerer gets the verification metric; nil registers none.
	Registerer prometheus.Registerer
	// Interval between passes; runs start within one interval of their slot.
	Interval time.Duration
	Clock    clock.Clock
}

// Scheduler runs BackupSchedules.
type Scheduler struct {
	cfg      Config
	metrics  *metrics
	recorder record.EventRecorder
	looks    looks.Looks
	// The schedules' operations, from an informer: following a run of
	// 2,000 snapshots by a GET each per pass took the executor's share of
	// the controller's request budget and made the run twice as long.
	factory   hypersdkinformers.SharedInformerFactory
	ops       hypersdklisters.VMOperationLister
	opsSynced cache.InformerSynced
	// The schedules, from an informer too: listing them from the server
	// every pass decoded every status (2,000 snapshots each) every second.
	schedFactory    hypersdkinformers.SharedInformerFactory
	schedules       hypersdklisters.BackupScheduleLister
	schedulesSynced cache.InformerSynced
}

// New returns a scheduler; Run starts it.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Scheduler{cfg: cfg, metrics: m}
	s.factory = hypersdkinformers.NewSharedInformerFactoryWithOptions(cfg.HyperSDK, 0,
		hypersdkinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelSchedule }))
	inf := s.factory.Hypersdk().V1alpha1().VMOperations()
	s.ops, s.opsSynced = inf.Lister(), inf.Informer().HasSynced
	s.schedFactory = hypersdkinformers.NewSharedInformerFactory(cfg.HyperSDK, 0)
	sinf := s.schedFactory.Hypersdk().V1alpha1().BackupSchedules()
	s.schedules, s.schedulesSynced = sinf.Lister(), sinf.Informer().HasSynced
	return s, nil
}

// Run makes a pass every interval until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	s.factory.Start(ctx.Done())
	s.schedFactory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.opsSynced, s.schedulesSynced) {
		return errors.New("the informers of backup schedules and operations did not sync")
	}
	return passloop.Run(ctx, s.cfg.Kube, "hypersdk-backup", s.cfg.Interval,
		func(r record.EventRecorder) { s.recorder = r }, s.Pass)
}

// Pass brings every schedule up to date once. A schedule read before the
// informer saw the pass's own status write is written back on a stale
// resourceVersion and refused (409); the next pass redoes it, and every
// step it repeated is keyed by name.
func (s *Scheduler) Pass(ctx context.Context) error {
	start := s.cfg.Clock.Now()
	defer s.looks.ForgetBefore(start)
	list, err := s.schedules.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing backup schedules: %w", err)
	}
	for _, b := range list {
		if err := s.sync(ctx, b); err != nil {
			klog.FromContext(ctx).Error(err, "Running backup schedule", "schedule", klog.KObj(b))
		}
	}
	return nil
}

// sync follows the schedule's snapshots, starts a due run, starts the run's
// pending snapshots, prunes, and writes the status.
func (s *Scheduler) sync(ctx context.Context, b *v1alpha1.BackupSchedule) error {
	now := s.cfg.Clock.Now()
	st := b.Status.DeepCopy()
	st.ObservedGeneration = b.Generation
	var carbonCond *metav1.Condition
	rev := &reviewer{s: s, b: b, all: map[string]bool{}}
	other := &peer{}
	sched, err := parseSchedule(b.Spec.Schedule, b.Spec.TimeZone)
	if err == nil {
		err = s.follow(ctx, b, st, now)
	}
	if err == nil {
		last := b.CreationTimestamp.Time
		if st.LastScheduleTime != nil {
			last = st.LastScheduleTime.Time
		}
		slot, due := dueSlot(sched, last, now)
		switch {
		case due && !b.Spec.Suspend:
			// The slot is taken only with its VMs listed: a list that
			// fails leaves it due, and the next pass runs it.
			var vms []string
			if vms, err = s.selected(ctx, b); err != nil {
				break
			}
			// A run still pending or waiting when the next slot comes is
			// replaced by it: the newest state of each VM is what a backup
			// is for.
			st.LastScheduleTime = &metav1.Time{Time: slot}
			st.Pending, st.CarbonPlan = nil, nil
			if b.Spec.CarbonWindow != nil {
				var c metav1.Condition
				st.CarbonPlan, c = s.plan(ctx, b, slot, vms)
				carbonCond = &c
			}
			if st.CarbonPlan == nil || st.CarbonPlan.StartedAt != nil {
				st.Pending = vms
				st.Runs++
			}
		case due:
			// Suspended: the slot passes without a run.
			st.LastScheduleTime = &metav1.Time{Time: slot}
			st.CarbonPlan = nil
		case st.CarbonPlan != nil && st.CarbonPlan.StartedAt == nil && !b.Spec.Suspend:
			// A run waiting for a cleaner hour; suspended, it waits on (its
			// slot was taken before). As for a slot: the run starts only
			// with its VMs listed. A carbon window removed while the run
			// waited starts it at once: its slot is taken, and nothing else
			// would run it.
			plan := st.CarbonPlan.DeepCopy()
			start, c := true, (*metav1.Condition)(nil)
			if b.Spec.CarbonWindow != nil {
				start, c = s.due(ctx, b, plan, now)
			}
			if start {
				var vms []string
				if vms, err = s.selected(ctx, b); err == nil {
					st.CarbonPlan, carbonCond = plan, c
					st.Pending = vms
					st.Runs++
				}
			}
		}
		if st.LastScheduleTime != nil {
			last = st.LastScheduleTime.Time
		}
		st.NextScheduleTime = &metav1.Time{Time: nextSlot(sched, last, now)}
	}
	var refused error
	if err == nil {
		refused, err = s.start(ctx, b, st, rev)
	}
	var replicated *metav1.Condition
	forbidden := false
	if err == nil {
		// A snapshot that cannot be pruned (its copy's cluster unreachable,
		// a delete refused) holds back neither the verification nor the
		// replication of the others; Ready says why it stays.
		pruned := s.prune(ctx, b, st, now, rev, other)
		err = s.verify(ctx, b, st, rev, now)
		if err == nil && b.Spec.Replication != nil {
			replicated = s.replicate(ctx, b, st, rev, other)
		}
		forbidden = apierrors.IsForbidden(pruned) || apierrors.IsForbidden(err)
		err = errors.Join(pruned, err)
	}
	if err == nil && refused != nil {
		err = fmt.Errorf("VMs left out of the run: %w", refused)
	}
	cond := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Scheduled",
		Message: fmt.Sprintf("%d snapshots kept, %d VMs waiting", len(st.Snapshots), len(st.Pending))}
	if err != nil {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "Failed", err.Error()
		if forbidden || apierrors.IsForbidden(err) {
			cond.Reason = "Forbidden"
		}
	}
	cond.ObservedGeneration, cond.LastTransitionTime = b.Generation, metav1.NewTime(now)
	meta.SetStatusCondition(&st.Conditions, cond)
	switch {
	case b.Spec.CarbonWindow == nil:
		st.CarbonPlan = nil
		meta.RemoveStatusCondition(&st.Conditions, ConditionCarbonAware)
	case carbonCond != nil:
		carbonCond.ObservedGeneration, carbonCond.LastTransitionTime = b.Generation, metav1.NewTime(now)
		meta.SetStatusCondition(&st.Conditions, *carbonCond)
	}
	if b.Spec.Verification == nil && st.Verifying == nil {
		meta.RemoveStatusCondition(&st.Conditions, ConditionVerified)
	}
	switch {
	case b.Spec.Replication == nil:
		meta.RemoveStatusCondition(&st.Conditions, ConditionReplicated)
	case replicated != nil:
		replicated.ObservedGeneration, replicated.LastTransitionTime = b.Generation, metav1.NewTime(now)
		meta.SetStatusCondition(&st.Conditions, *replicated)
	}
	if equality.Semantic.DeepEqual(&b.Status, st) {
		// Nothing new: between runs a pass makes no write.
		return err
	}
	out := b.DeepCopy()
	out.Status = *st
	if _, uerr := s.cfg.HyperSDK.HypersdkV1alpha1().BackupSchedules(b.Namespace).UpdateStatus(ctx, out, metav1.UpdateOptions{}); uerr != nil {
		return fmt.Errorf("writing the status of backup schedule %s/%s: %w", b.Namespace, b.Name, uerr)
	}
	return err
}

// selected lists the names of the VMs the schedule selects, sorted.
func (s *Scheduler) selected(ctx context.Context, b *v1alpha1.BackupSchedule) ([]string, error) {
	sel, err := metav1.LabelSelectorAsSelector(b.Spec.VMSelector)
	if err != nil {
		return nil, err
	}
	vms, err := s.cfg.KubeVirt.KubevirtV1().VirtualMachines(b.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing the VMs of backup schedule %s: %w", b.Name, err)
	}
	// The scratch VMs of every schedule's verifications carry their
	// source's labels, so another schedule on the same VMs would select
	// them too, and keep their snapshots for ever (no newer one comes).
	// (The operations informer follows snapshots only.)
	scratch := map[string]bool{}
	steps, err := s.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(b.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelVerification})
	if err != nil {
		return nil, fmt.Errorf("listing the verifications of namespace %s: %w", b.Namespace, err)
	}
	for _, op := range steps.Items {
		if op.Spec.Restore != nil {
			scratch[op.Spec.Restore.TargetName] = true
		}
	}
	// A verification under way names its scratch VM also once its steps
	// are gone (collected a day after they ended, while a clean-up the
	// author may not do waits), before the schedule owns it.
	verifying := []*v1alpha1.BackupSchedule{b}
	if s.schedules != nil {
		if others, err := s.schedules.BackupSchedules(b.Namespace).List(labels.Everything()); err == nil {
			verifying = append(verifying, others...)
		}
	}
	for _, o := range verifying {
		if v := o.Status.Verifying; v != nil {
			scratch[v.ScratchVM] = true
		}
	}
	var names []string
	for _, vm := range vms.Items {
		if !ownedByASchedule(&vm) && !scratch[vm.Name] {
			names = append(names, vm.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// follow updates the phases of the snapshots in progress; failed ones are
// dropped and reported.
func (s *Scheduler) follow(ctx context.Context, b *v1alpha1.BackupSchedule, st *v1alpha1.BackupScheduleStatus, now time.Time) error {
	kept := st.Snapshots[:0]
	for _, snap := range st.Snapshots {
		if snap.Phase == v1alpha1.VMOperationSucceeded {
			kept = append(kept, snap)
			continue
		}
		op, err := s.ops.VMOperations(b.Namespace).Get(snap.Operation)
		if apierrors.IsNotFound(err) {
			// Maybe created so recently the informer has not seen it yet.
			op, err = s.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(b.Namespace).Get(ctx, snap.Operation, metav1.GetOptions{})
		}
		switch {
		case apierrors.IsNotFound(err):
			st.LastFailure = &v1alpha1.BackupFailure{Time: metav1.NewTime(now), VMName: snap.VMName,
				Message: fmt.Sprintf("operation %s is gone before it finished", snap.Operation)}
			continue
		case err != nil:
			return fmt.Errorf("reading operation %s: %w", snap.Operation, err)
		}
		switch op.Status.Phase {
		case v1alpha1.VMOperationFailed, v1alpha1.VMOperationCancelled:
			st.LastFailure = &v1alpha1.BackupFailure{Time: metav1.NewTime(now), VMName: snap.VMName, Message: op.Status.Message}
			continue
		case v1alpha1.VMOperationSucceeded:
			t := now
			if c := op.Status.CompletionTime; c != nil {
				t = c.Time
			}
			st.LastSuccessfulTime = &metav1.Time{Time: t}
		}
		if op.Status.Phase != "" {
			snap.Phase = op.Status.Phase
		}
		kept = append(kept, snap)
	}
	st.Snapshots = kept
	return nil
}

// start creates the pending VMs' Snapshot operations while fewer than
// maxConcurrent of the schedule's snapshots are in progress. A VM the
// requester may not snapshot is left out of the run, and its refusal
// returned as refused, so the other VMs are still backed up (and pruned).
func (s *Scheduler) start(ctx context.Context, b *v1alpha1.BackupSchedule, st *v1alpha1.BackupScheduleStatus, rev *reviewer) (refused, err error) {
	busy := 0
	for _, snap := range st.Snapshots {
		if snap.Phase != v1alpha1.VMOperationSucceeded {
			busy++
		}
	}
	limit := 5
	if b.Spec.MaxConcurrent != nil {
		limit = int(*b.Spec.MaxConcurrent)
	}
	for len(st.Pending) > 0 && busy < limit {
		vm := st.Pending[0]
		if err := rev.review(ctx, &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: "create",
			Group: "hypersdk.io", Resource: "virtualmachines", Subresource: "snapshot", Name: vm}); apierrors.IsForbidden(err) {
			st.Pending = st.Pending[1:]
			refused = errors.Join(refused, err)
			continue
		} else if err != nil {
			return refused, err
		}
		name, err := s.startSnapshot(ctx, b, vm, snapshotName(b.Name, vm, st.LastScheduleTime.Time))
		if errors.Is(err, errNameTaken) {
			// "a" of VM "b-c" and "a-b" of VM "c" share names: the second
			// to come takes one only it can make.
			name, err = s.startSnapshot(ctx, b, vm, operations.Disambiguated(name, b.Name, vm))
		}
		switch {
		case apierrors.IsNotFound(err):
			// The VM went between the list and now: nothing to back up.
			st.Pending = st.Pending[1:]
			continue
		case err != nil:
			return refused, fmt.Errorf("creating the snapshot operation of VM %s: %w", vm, err)
		}
		st.Pending = st.Pending[1:]
		if !hasSnapshot(st, name) {
			v := b.Spec.Verification
			st.Snapshots = append(st.Snapshots, v1alpha1.ScheduledSnapshot{Name: name, VMName: vm, Slot: *st.LastScheduleTime,
				Operation: name, Phase: v1alpha1.VMOperationPending, Verify: v != nil && st.Runs%int64(max(v.Every, 1)) == 0})
		}
		busy++
	}
	return refused, nil
}

// prune deletes the schedule's succeeded snapshots its retention does not
// keep. Only snapshots in the status (made by the schedule) are candidates,
// and each must still carry the annotation of the operation that made it.
func (s *Scheduler) prune(ctx context.Context, b *v1alpha1.BackupSchedule, st *v1alpha1.BackupScheduleStatus, now time.Time, rev *reviewer, other *peer) error {
	loc, err := time.LoadLocation(b.Spec.TimeZone)
	if err != nil {
		return fmt.Errorf("time zone of the retention periods: %w", err)
	}
	drop := expired(st.Snapshots, b.Spec.Retention, loc, now)
	inUse := map[string]bool{}
	if len(drop) > 0 {
		if inUse, err = s.snapshotsInUse(ctx, b.Namespace); err != nil {
			return err
		}
	}
	snaps := s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(b.Namespace)
	kept := st.Snapshots[:0]
	// One snapshot that cannot go (its copy's cluster unreachable, a
	// delete refused) does not keep the others: the status would grow by a
	// run every slot until it passed etcd's size limit.
	var firstErr error
	failed := 0
	for _, snap := range st.Snapshots {
		if !drop[snap.Name] || inUse[snap.Name] || (st.Verifying != nil && st.Verifying.Snapshot == snap.Name) {
			kept = append(kept, snap)
			continue
		}
		err := rev.review(ctx, &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: "delete",
			Group: "snapshot.kubevirt.io", Resource: "virtualmachinesnapshots", Name: snap.Name})
		if err == nil && snap.Replicated && b.Spec.Replication != nil {
			// The copy goes first: pruned here, it would be forgotten there.
			err = s.unreplicate(ctx, b, rev, other, snap.Name)
		}
		if err == nil {
			err = deleteOwn(ctx, snaps, snap)
		}
		if errors.Is(err, errNotOurs) {
			// Forget it: it is someone else's now.
			continue
		}
		if err != nil {
			if failed++; firstErr == nil {
				firstErr = err
			}
			kept = append(kept, snap)
		}
	}
	// Oldest first, as the API documents.
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].Slot.Before(&kept[j].Slot) })
	st.Snapshots = kept
	if failed > 1 {
		return fmt.Errorf("%w (and %d more snapshots past their retention)", firstErr, failed-1)
	}
	return firstErr
}

// snapshotsInUse names the snapshots of namespace that a restore or a
// clone still reads: VMOperations not ended, and KubeVirt's own restores
// and clones not ended (made by users directly). Retention keeps them
// until they are done: deleting one would lose the restore point a user
// chose, halfway through.
func (s *Scheduler) snapshotsInUse(ctx context.Context, namespace string) (map[string]bool, error) {
	inUse := map[string]bool{}
	ops, err := s.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the operations that may read snapshots: %w", err)
	}
	for _, op := range ops.Items {
		switch op.Status.Phase {
		case v1alpha1.VMOperationSucceeded, v1alpha1.VMOperationFailed, v1alpha1.VMOperationCancelled:
			continue
		}
		if r := op.Spec.Restore; r != nil && op.Spec.Type == v1alpha1.VMOperationRestore {
			inUse[r.SnapshotName] = true
		}
		if c := op.Spec.Clone; c != nil && op.Spec.Type == v1alpha1.VMOperationClone && c.SnapshotRef != "" {
			inUse[c.SnapshotRef] = true
		}
	}
	restores, err := s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineRestores(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the restores that may read snapshots: %w", err)
	}
	for _, r := range restores.Items {
		if !restoreEnded(&r) {
			inUse[r.Spec.VirtualMachineSnapshotName] = true
		}
	}
	clones, err := s.cfg.KubeVirt.CloneV1beta1().VirtualMachineClones(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the clones that may read snapshots: %w", err)
	}
	for _, c := range clones.Items {
		if src := c.Spec.Source; src != nil && src.Kind == "VirtualMachineSnapshot" &&
			c.Status.Phase != clonev1.Succeeded && c.Status.Phase != clonev1.Failed {
			inUse[src.Name] = true
		}
	}
	return inUse, nil
}

// restoreEnded says whether KubeVirt is done with a restore: complete, or
// failed (a failed one never completes, and would keep its snapshot for
// ever).
func restoreEnded(r *snapshotv1.VirtualMachineRestore) bool {
	if r.Status == nil {
		return false
	}
	if r.Status.Complete != nil && *r.Status.Complete {
		return true
	}
	for _, c := range r.Status.Conditions {
		if c.Type == snapshotv1.ConditionFailure && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// errNameTaken is an operation of the name asked for that is not this
// schedule's snapshot of this VM.
var errNameTaken = errors.New("name taken by another operation")

// startSnapshot creates the operation snapshotting vm as name for b, or
// follows the one a run before a restart created; it returns the name.
func (s *Scheduler) startSnapshot(ctx context.Context, b *v1alpha1.BackupSchedule, vm, name string) (string, error) {
	ops := s.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(b.Namespace)
	op := &v1alpha1.VMOperation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: b.Namespace, Labels: map[string]string{LabelSchedule: b.Name}},
		Spec: v1alpha1.VMOperationSpec{VMName: vm, Type: v1alpha1.VMOperationSnapshot,
			Snapshot: &v1alpha1.SnapshotSpec{Name: name, Description: "backup schedule " + b.Name}},
	}
	_, err := ops.Create(ctx, op, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return name, err
	}
	existing, err := ops.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return name, err
	}
	if existing.Labels[LabelSchedule] != b.Name || existing.Spec.VMName != vm || existing.Spec.Type != v1alpha1.VMOperationSnapshot {
		return name, fmt.Errorf("operation %s: %w", name, errNameTaken)
	}
	return name, nil
}

// snapshotName is the name of a VM's snapshot (and of its operation) for
// one slot of a schedule.
func snapshotName(schedule, vm string, slot time.Time) string {
	return schedule + "-" + vm + "-" + strconv.FormatInt(slot.Unix(), 10)
}

func hasSnapshot(st *v1alpha1.BackupScheduleStatus, name string) bool {
	for _, s := range st.Snapshots {
		if s.Name == name {
			return true
		}
	}
	return false
}

// reviewer asks, once per pass and kind of action, whether the requester
// may act on every object of a kind in the namespace; only when not does it
// ask per name (RBAC's resourceNames). A run over 2,000 VMs then makes one
// review, not 2,000, and a right taken away counts from the next pass.
type reviewer struct {
	s   *Scheduler
	b   *v1alpha1.BackupSchedule
	all map[string]bool
}

func (r *reviewer) review(ctx context.Context, attrs *authorizationv1.ResourceAttributes) error {
	key := attrs.Verb + " " + attrs.Group + "/" + attrs.Resource + "/" + attrs.Subresource
	all, asked := r.all[key]
	if !asked {
		nameless := *attrs
		nameless.Name = ""
		all = r.s.review(ctx, r.b, &nameless) == nil
		r.all[key] = all
	}
	if all {
		return nil
	}
	return r.s.review(ctx, r.b, attrs)
}

// review asks kube-apiserver whether the schedule's requester may do what
// the controller is about to do for it.
func (s *Scheduler) review(ctx context.Context, b *v1alpha1.BackupSchedule, attrs *authorizationv1.ResourceAttributes) error {
	r := b.Spec.Requester
	if r == nil || r.Username == "" {
		return apierrors.NewForbidden(v1alpha1.Resource("backupschedules"), b.Name,
			fmt.Errorf("the schedule records no requester, so nobody can be held to have asked for its backups"))
	}
	allowed, reason, err := operations.Allowed(ctx, s.cfg.Kube, r, *attrs)
	if err != nil {
		return err
	}
	if !allowed {
		res := attrs.Resource
		if attrs.Subresource != "" {
			res += "/" + attrs.Subresource
		}
		return apierrors.NewForbidden(v1alpha1.Resource("backupschedules"), b.Name,
			fmt.Errorf("user %q cannot %s %s.%s %q in namespace %q: %s", r.Username, attrs.Verb, res, attrs.Group, attrs.Name, attrs.Namespace, reason))
	}
	return nil
}
