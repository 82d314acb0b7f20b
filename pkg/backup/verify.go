package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/operations"
)

// Verification results, phases and where they are recorded.
const (
	ResultSucceeded = "Succeeded"
	ResultFailed    = "Failed"
	// resultCancelled ends a verification turned off before it ended:
	// only its scratch VM is cleaned up, and nothing is said of the backup.
	resultCancelled = "Cancelled"

	phaseRestoring = "Restoring"
	phaseStarting  = "Starting"
	phaseChecking  = "Checking"
	phaseCleaning  = "Cleaning"

	// ConditionVerified is the last verification's result.
	ConditionVerified = "Verified"
	// LabelVerification marks the operations of a schedule's
	// verifications (not LabelSchedule: they are not snapshots).
	LabelVerification = "hypersdk.io/backup-verification"
	// attemptAnnotation says which verification of a snapshot an
	// operation is a step of (attempt): the step names are the snapshot's,
	// and one left by an earlier verification is not this one's.
	attemptAnnotation = "hypersdk.io/backup-verification-started"
	// VerificationAnnotation and VerificationMessageAnnotation record the
	// result on the VirtualMachineSnapshot.
	VerificationAnnotation        = "hypersdk.io/backup-verification"
	VerificationMessageAnnotation = "hypersdk.io/backup-verification-message"

	scratchSuffix = "-verify"
	// checkFor bounds one look at the console (looks run beside the
	// passes); the verification's timeout bounds all of them.
	checkFor = 10 * time.Second
	// keepOutput is how much of the console a failure message quotes.
	keepOutput = 300
)

// scratchName is the VM a snapshot is restored into for verification.
func scratchName(snapshot string) string {
	name := snapshot + scratchSuffix
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(snapshot))
	return snapshot[:63-len(scratchSuffix)-11] + "-" + hex.EncodeToString(sum[:])[:10] + scratchSuffix
}

// ownedByASchedule: a scratch VM, once its verification took it, is owned
// by its schedule; it carries the source's labels, so it would be selected,
// and is never backed up. A VM is not known for one by its name: a user's
// VM may be called anything.
func ownedByASchedule(vm *kvv1.VirtualMachine) bool {
	return slices.ContainsFunc(vm.OwnerReferences, func(o metav1.OwnerReference) bool {
		return o.Kind == "BackupSchedule" && o.APIVersion == v1alpha1.SchemeGroupVersion.String()
	})
}

// madeByVerification reports whether vm is the scratch VM of verification
// p: the schedule owns it, or KubeVirt made it for this verification's
// restore step (before the schedule took it). Anything else of that name is
// someone else's and is left alone.
func (s *Scheduler) madeByVerification(ctx context.Context, b *v1alpha1.BackupSchedule, p *v1alpha1.BackupVerificationProgress, vm *kvv1.VirtualMachine) (bool, error) {
	if slices.ContainsFunc(vm.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == b.UID }) {
		return true, nil
	}
	op, err := s.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(b.Namespace).Get(ctx, restoreStep(p), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading verification step %s: %w", restoreStep(p), err)
	}
	if op.Annotations[attemptAnnotation] != attempt(p) {
		return false, nil
	}
	for _, r := range op.Status.Resources {
		if r.Kind == "VirtualMachineRestore" && kubevirt.RestoredBy(vm, r.Name, r.UID) {
			return true, nil
		}
	}
	return false, nil
}

// verify moves the schedule's verification one step: it picks the next
// snapshot to verify, restores it as a scratch VM, starts it, checks its
// console, and deletes it; every name is derived from the snapshot, so a
// restart in the middle continues where it was.
func (s *Scheduler) verify(ctx context.Context, b *v1alpha1.BackupSchedule, st *v1alpha1.BackupScheduleStatus, rev *reviewer, now time.Time) error {
	v := b.Spec.Verification
	p := st.Verifying
	if p == nil {
		if v == nil {
			return nil
		}
		for _, snap := range st.Snapshots {
			if snap.Verify && snap.Verification == "" && snap.Phase == v1alpha1.VMOperationSucceeded {
				p = &v1alpha1.BackupVerificationProgress{Snapshot: snap.Name, VMName: snap.VMName,
					ScratchVM: scratchName(snap.Name), Phase: phaseRestoring, Started: metav1.NewTime(now)}
				st.Verifying = p
				break
			}
		}
		if p == nil {
			return nil
		}
	}
	if v == nil && p.Phase != phaseCleaning {
		p.Phase, p.Result, p.Message = phaseCleaning, resultCancelled, "verification was turned off"
	}
	var err error
	looking := false
	switch p.Phase {
	case phaseRestoring:
		err = s.stepOperation(ctx, b, rev, p, restoreStep(p), p.VMName, "restore", phaseStarting,
			v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationRestore, Restore: &v1alpha1.RestoreSpec{SnapshotName: p.Snapshot, TargetName: p.ScratchVM}})
	case phaseStarting:
		if err = s.ownScratch(ctx, b, rev, p); err != nil {
			break
		}
		err = s.stepOperation(ctx, b, rev, p, startStep(p), p.ScratchVM, "start", phaseChecking,
			v1alpha1.VMOperationSpec{Type: v1alpha1.VMOperationStart, Start: &v1alpha1.StartSpec{}})
	case phaseChecking:
		if err = rev.review(ctx, &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: "get",
			Group: "hypersdk.io", Resource: "virtualmachines", Subresource: "console", Name: p.ScratchVM}); err != nil {
			break
		}
		lk := s.looks.Poll(ctx, b.Namespace+"/"+p.ScratchVM, s.cfg.Clock.Now, func(ctx context.Context) (bool, string, error) {
			return s.check(ctx, b.Namespace, p.ScratchVM, v)
		})
		switch {
		case lk == nil:
			// Still looking: past the timeout too, the look's end
			// (within checkFor) says what the console showed.
			looking = true
		case lk.OK:
			p.Phase, p.Result, p.Message = phaseCleaning, ResultSucceeded, fmt.Sprintf("the guest answered %q", v.ExpectedOutput)
		case now.Sub(p.Started.Time) > v.Timeout.Duration:
			msg := fmt.Sprintf("no %q on the console within %s", v.ExpectedOutput, v.Timeout.Duration)
			if lk.Err != nil {
				msg += ": " + lk.Err.Error()
			}
			fail(p, msg+"; the console showed: "+tail(lk.Out))
		}
	}
	if v != nil && p.Phase != phaseCleaning && !looking && now.Sub(p.Started.Time) > v.Timeout.Duration {
		msg := fmt.Sprintf("%s for longer than %s", strings.ToLower(p.Phase), v.Timeout.Duration)
		if err != nil {
			msg, err = msg+": "+err.Error(), nil
		}
		fail(p, msg)
	}
	if err != nil || p.Phase != phaseCleaning {
		return err
	}
	return s.finishVerification(ctx, b, st, rev, p, now)
}

// attempt names a verification of a snapshot by when it began.
func attempt(p *v1alpha1.BackupVerificationProgress) string {
	return p.Started.UTC().Format(time.RFC3339)
}

// restoreStep and startStep name the verification's two step operations:
// the restore into the scratch VM, then its start.
func restoreStep(p *v1alpha1.BackupVerificationProgress) string { return p.ScratchVM + "-restore" }
func startStep(p *v1alpha1.BackupVerificationProgress) string   { return p.ScratchVM + "-start" }

// cancelSteps cancels the verification's step operations that have not
// ended.
func (s *Scheduler) cancelSteps(ctx context.Context, namespace string, p *v1alpha1.BackupVerificationProgress) error {
	ops := s.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(namespace)
	for _, name := range []string{restoreStep(p), startStep(p)} {
		op, err := ops.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading verification step %s: %w", name, err)
		}
		if op.Status.Phase.Final() || op.Spec.Cancel {
			continue
		}
		if _, err := ops.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"cancel":true}}`), metav1.PatchOptions{}); err != nil &&
			!apierrors.IsNotFound(err) {
			return fmt.Errorf("cancelling verification step %s: %w", name, err)
		}
	}
	return nil
}

func fail(p *v1alpha1.BackupVerificationProgress, msg string) {
	p.Phase, p.Result, p.Message = phaseCleaning, ResultFailed, msg
}

// stepOperation creates (once) the operation of a verification step as the
// requester may, and moves to next when it succeeds; a failed step fails
// the verification.
func (s *Scheduler) stepOperation(ctx context.Context, b *v1alpha1.BackupSchedule, rev *reviewer, p *v1alpha1.BackupVerificationProgress,
	name, vm, subresource, next string, spec v1alpha1.VMOperationSpec) error {
	ops := s.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(b.Namespace)
	op, err := ops.Get(ctx, name, metav1.GetOptions{})
	if err == nil && op.Annotations[attemptAnnotation] != attempt(p) {
		// Left by an earlier verification of the snapshot (one turned off
		// mid-way; ended operations stay a while): its result is not this
		// one's. It goes, and the next pass makes this one's.
		uid := op.UID
		if err := ops.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the %s operation an earlier verification left: %w", subresource, err)
		}
		return nil
	}
	if apierrors.IsNotFound(err) {
		// What admission will ask of the controller, asked of the author.
		req := operations.Request{Namespace: b.Namespace, VMName: vm, Type: string(spec.Type)}
		if spec.Restore != nil {
			req.NewName = spec.Restore.TargetName
		}
		for _, a := range operations.RequiredAccess(req) {
			if err := rev.review(ctx, &authorizationv1.ResourceAttributes{Namespace: a.Namespace, Verb: "create",
				Group: "hypersdk.io", Resource: a.Resource, Subresource: a.Subresource, Name: a.Name}); err != nil {
				return err
			}
		}
		spec.VMName = vm
		op, err = ops.Create(ctx, &v1alpha1.VMOperation{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelVerification: b.Name},
				Annotations: map[string]string{attemptAnnotation: attempt(p)}, OwnerReferences: ownedBy(b)},
			Spec: spec,
		}, metav1.CreateOptions{})
		if apierrors.IsInvalid(err) || apierrors.IsNotFound(err) || apierrors.IsConflict(err) || takenTarget(err) {
			// Refused by its precheck (the snapshot gone, the name taken).
			fail(p, fmt.Sprintf("%s: %v", subresource, err))
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("the %s operation of verification %s: %w", subresource, p.ScratchVM, err)
	}
	switch op.Status.Phase {
	case v1alpha1.VMOperationSucceeded:
		p.Phase = next
	case v1alpha1.VMOperationFailed, v1alpha1.VMOperationCancelled:
		fail(p, fmt.Sprintf("%s: %s", subresource, op.Status.Message))
	}
	return nil
}

// takenTarget: the precheck found a VM of the scratch VM's name already
// there (a step operation of the same name, made meanwhile, is not that).
func takenTarget(err error) bool {
	var status apierrors.APIStatus
	return apierrors.IsAlreadyExists(err) && errors.As(err, &status) && status.Status().Details != nil &&
		status.Status().Details.Kind == "virtualmachines"
}

// ownedBy makes the schedule the owner of what its verification makes, so
// the garbage collector removes it with the schedule, deleted mid-way: a
// step operation (whose clean-up removes the scratch VM a restore had begun)
// and the scratch VM.
func ownedBy(b *v1alpha1.BackupSchedule) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "BackupSchedule", Name: b.Name, UID: b.UID}}
}

// ownScratch makes the schedule the scratch VM's owner, once its restore
// made it and before it starts, as far as the author may delete it; and
// keeps the copy off the source's network identity, as far as the author may
// patch it: its pods get the verification's label in place of the source's
// (a Service selecting the source would send it production traffic, whose
// writes go with the copy) and its interfaces lose their fixed MAC
// addresses (which the running source holds).
func (s *Scheduler) ownScratch(ctx context.Context, b *v1alpha1.BackupSchedule, rev *reviewer, p *v1alpha1.BackupVerificationProgress) error {
	vms := s.cfg.KubeVirt.KubevirtV1().VirtualMachines(b.Namespace)
	vm, err := vms.Get(ctx, p.ScratchVM, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil // the start step says so
	}
	if err != nil {
		return fmt.Errorf("reading scratch VM %s: %w", p.ScratchVM, err)
	}
	// A merge patch replaces lists: the owners and interfaces go whole, as
	// they were read (the resourceVersion holds them to that).
	meta := map[string]any{"resourceVersion": vm.ResourceVersion}
	patch := map[string]any{"metadata": meta}
	if !slices.ContainsFunc(vm.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == b.UID }) {
		if err := rev.review(ctx, &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: "delete",
			Group: "kubevirt.io", Resource: "virtualmachines", Name: p.ScratchVM}); err != nil {
			return err
		}
		meta["ownerReferences"] = append(vm.OwnerReferences, ownedBy(b)...)
	}
	if isolation := scratchIsolation(vm, b.Name); isolation != nil {
		if err := rev.review(ctx, &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: "patch",
			Group: "kubevirt.io", Resource: "virtualmachines", Name: p.ScratchVM}); err != nil {
			return err
		}
		patch["spec"] = isolation
	}
	if len(patch) == 1 && len(meta) == 1 {
		return nil
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	if _, err := vms.Patch(ctx, p.ScratchVM, types.MergePatchType, data, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("making schedule %s the owner of scratch VM %s, and its pods the verification's: %w", b.Name, p.ScratchVM, err)
	}
	return nil
}

// scratchIsolation is the merge patch of a scratch VM's spec that gives its
// pods the verification's label alone and its interfaces no fixed MAC
// address, or nil when it has them already.
func scratchIsolation(vm *kvv1.VirtualMachine, schedule string) map[string]any {
	if vm.Spec.Template == nil {
		return nil
	}
	want := map[string]string{LabelVerification: schedule}
	labels := map[string]any{}
	for k := range vm.Spec.Template.ObjectMeta.Labels {
		if _, keep := want[k]; !keep {
			labels[k] = nil // a merge patch removes a key set to null
		}
	}
	for k, v := range want {
		if vm.Spec.Template.ObjectMeta.Labels[k] != v {
			labels[k] = v
		}
	}
	ifaces := slices.Clone(vm.Spec.Template.Spec.Domain.Devices.Interfaces)
	fixedMAC := false
	for i := range ifaces {
		if ifaces[i].MacAddress != "" {
			ifaces[i].MacAddress, fixedMAC = "", true
		}
	}
	if len(labels) == 0 && !fixedMAC {
		return nil
	}
	template := map[string]any{}
	if len(labels) > 0 {
		template["metadata"] = map[string]any{"labels": labels}
	}
	if fixedMAC {
		template["spec"] = map[string]any{"domain": map[string]any{"devices": map[string]any{"interfaces": ifaces}}}
	}
	return map[string]any{"template": template}
}

// finishVerification deletes the scratch VM, then records the result on the
// snapshot, in the status, as an event and in the metric.
func (s *Scheduler) finishVerification(ctx context.Context, b *v1alpha1.BackupSchedule, st *v1alpha1.BackupScheduleStatus, rev *reviewer,
	p *v1alpha1.BackupVerificationProgress, now time.Time) error {
	if err := rev.review(ctx, &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: "delete",
		Group: "kubevirt.io", Resource: "virtualmachines", Name: p.ScratchVM}); err != nil {
		return err
	}
	// A step still under way (a restore past the timeout) is cancelled:
	// its clean-up deletes the scratch VM it would make, which is not
	// there yet to delete here.
	if err := s.cancelSteps(ctx, b.Namespace, p); err != nil {
		return err
	}
	if err := s.deleteScratch(ctx, b, p); err != nil {
		return err
	}
	if p.Result == resultCancelled {
		// Not a failed backup: the snapshot, the metric and the Verified
		// condition say nothing of a verification that never ended.
		st.Verifying = nil
		return nil
	}
	if err := rev.review(ctx, &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: "patch",
		Group: "snapshot.kubevirt.io", Resource: "virtualmachinesnapshots", Name: p.Snapshot}); err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		VerificationAnnotation: p.Result, VerificationMessageAnnotation: p.Message}}})
	_, err := s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(b.Namespace).Patch(ctx, p.Snapshot, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("recording the verification on snapshot %s: %w", p.Snapshot, err)
	}
	for i := range st.Snapshots {
		if st.Snapshots[i].Name == p.Snapshot {
			st.Snapshots[i].Verification = p.Result
		}
	}
	st.LastVerification = &v1alpha1.BackupVerificationResult{Snapshot: p.Snapshot, VMName: p.VMName, Time: metav1.NewTime(now),
		Result: p.Result, Message: p.Message}
	st.Verifying = nil
	cond := metav1.Condition{Type: ConditionVerified, Status: metav1.ConditionTrue, Reason: ResultSucceeded,
		Message: fmt.Sprintf("snapshot %s of VM %s: %s", p.Snapshot, p.VMName, p.Message), ObservedGeneration: b.Generation,
		LastTransitionTime: metav1.NewTime(now)}
	eventType, reason := corev1.EventTypeNormal, "BackupVerified"
	if p.Result != ResultSucceeded {
		cond.Status, cond.Reason = metav1.ConditionFalse, ResultFailed
		eventType, reason = corev1.EventTypeWarning, "BackupVerificationFailed"
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	s.metrics.verifications.WithLabelValues(b.Namespace, b.Name, strings.ToLower(p.Result)).Inc()
	if s.recorder != nil {
		s.recorder.Eventf(scheduleRef(b), eventType, reason, "Snapshot %s of VM %s: %s", p.Snapshot, p.VMName, p.Message)
	}
	return nil
}

// deleteScratch deletes the verification's scratch VM, if it is the
// verification's: a restore refused because a VM of that name was there
// made none, and the VM there is not the schedule's to delete.
func (s *Scheduler) deleteScratch(ctx context.Context, b *v1alpha1.BackupSchedule, p *v1alpha1.BackupVerificationProgress) error {
	vms := s.cfg.KubeVirt.KubevirtV1().VirtualMachines(b.Namespace)
	vm, err := vms.Get(ctx, p.ScratchVM, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading scratch VM %s: %w", p.ScratchVM, err)
	}
	ours, err := s.madeByVerification(ctx, b, p, vm)
	if err != nil || !ours {
		return err
	}
	uid := vm.UID
	err = vms.Delete(ctx, p.ScratchVM, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting scratch VM %s: %w", p.ScratchVM, err)
	}
	return nil
}

func scheduleRef(b *v1alpha1.BackupSchedule) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "BackupSchedule",
		Namespace: b.Namespace, Name: b.Name, UID: b.UID, ResourceVersion: b.ResourceVersion}
}

// check reads the scratch VM's serial console for up to checkFor: it
// presses Enter and, with a command, logs in as the user (an empty
// password) and types the command; it is done when the expected output
// appears after what it typed last. It returns what the console showed.
func (s *Scheduler) check(ctx context.Context, ns, vm string, v *v1alpha1.BackupVerification) (bool, string, error) {
	if s.cfg.Dialer == nil {
		return false, "", fmt.Errorf("hypersdk-controller has no console dialer")
	}
	ctx, cancel := context.WithTimeout(ctx, checkFor)
	defer cancel()
	conn, err := s.cfg.Dialer.Dial(ctx, ns, vm, console.Serial)
	if err != nil {
		return false, "", err
	}
	t := newTerminal(conn)
	go func() { <-ctx.Done(); conn.Close() }()
	if _, err := io.WriteString(conn, "\r"); err != nil {
		return false, t.all(), err
	}
	if v.Command == "" {
		return t.waitFor(ctx, 0, v.ExpectedOutput) >= 0, t.all(), ctx.Err()
	}
	// At a login prompt, log in; at a shell prompt, go on.
	from := 0
	if at := t.waitFor(ctx, 0, "login:", "$ ", "# "); at < 0 {
		return false, t.all(), ctx.Err()
	} else if strings.HasPrefix(t.since(at), "login:") {
		from = t.len()
		if _, err := io.WriteString(conn, v.Username+"\r"); err != nil {
			return false, t.all(), err
		}
		if t.waitFor(ctx, from, "Password:") < 0 {
			return false, t.all(), ctx.Err()
		}
		from = t.len()
		if _, err := io.WriteString(conn, "\r"); err != nil {
			return false, t.all(), err
		}
		if t.waitFor(ctx, from, "$ ", "# ") < 0 {
			return false, t.all(), ctx.Err()
		}
	}
	from = t.len()
	if _, err := io.WriteString(conn, v.Command+"\r"); err != nil {
		return false, t.all(), err
	}
	// The echo of the command line comes first; the output after it.
	echo := t.waitFor(ctx, from, v.Command)
	if echo < 0 {
		return false, t.all(), ctx.Err()
	}
	return t.waitFor(ctx, echo+len(v.Command), v.ExpectedOutput) >= 0, t.all(), ctx.Err()
}

// terminal gathers what a console shows, for waitFor.
type terminal struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newTerminal(r io.Reader) *terminal {
	t := &terminal{changed: make(chan struct{}, 1)}
	go func() {
		p := make([]byte, 4096)
		for {
			n, err := r.Read(p)
			t.mu.Lock()
			if t.buf.Len() < 1<<20 {
				t.buf.Write(p[:n])
			}
			t.mu.Unlock()
			select {
			case t.changed <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return t
}

func (t *terminal) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.Len()
}

func (t *terminal) all() string { return t.since(0) }

func (t *terminal) since(from int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf.Bytes()[min(from, t.buf.Len()):])
}

// waitFor returns the offset of the first of wants to appear at or after
// from, or -1 when ctx ends first.
func (t *terminal) waitFor(ctx context.Context, from int, wants ...string) int {
	for {
		text := t.since(from)
		first := -1
		for _, w := range wants {
			if i := strings.Index(text, w); i >= 0 && (first < 0 || i < first) {
				first = i
			}
		}
		if first >= 0 {
			return from + first
		}
		select {
		case <-ctx.Done():
			return -1
		case <-t.changed:
		}
	}
}

// tail is the end of what a console showed, on one line, for a message.
func tail(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > keepOutput {
		s = "..." + s[len(s)-keepOutput:]
	}
	return fmt.Sprintf("%q", s)
}
