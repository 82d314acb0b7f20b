// Package autoscaler is hypersdk-controller's vertical autoscaler: for each
// VirtualMachineAutoscaler it keeps a recommender per targeted VM, fed from
// the VM's usage history (so a restart rebuilds the same evidence from the
// history store), writes the recommendations to the autoscaler's status and,
// as far as the updateMode allows, applies them as Resize VMOperations, so
// resizes show progress and go through the same admission as a user's.
package autoscaler

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

// ConditionRecommendationProvided is True when every targeted VM has a
// recommendation.
const ConditionRecommendationProvided = "RecommendationProvided"

// ConditionResizeAllowed is False when the autoscaler's requester may not
// resize a VM it would resize.
const ConditionResizeAllowed = "ResizeAllowed"

// LabelAutoscaler marks the VMOperations an autoscaler creates.
const LabelAutoscaler = "hypersdk.io/autoscaler"

// minMemoryBytes is the smallest guest memory a Resize accepts.
const minMemoryBytes = 1 << 30

// Config is what the autoscaler needs.
type Config struct {
	Kube     kubernetes.Interface
	HyperSDK hypersdkclient.Interface
	KubeVirt kubevirt.Clientset
	Samples  SampleSource
	// NewRecommender makes the recommender of one VM.
	NewRecommender func() rightsizing.Recommender
	// Interval between passes.
	Interval time.Duration
	// Window is how far back the history is read: all of it when a VM is
	// first seen, and never further back later.
	Window time.Duration
	Clock  clock.Clock
}

// Autoscaler runs VirtualMachineAutoscalers.
type Autoscaler struct {
	cfg Config

	mu sync.Mutex
	// vms holds a recommender per autoscaler UID and VM UID: a VM made
	// again under a deleted one's name (a pool's member replaced) is
	// another VM, not to be sized on the old one's peaks.
	vms map[vmKey]*tracked
}

type vmKey struct {
	autoscaler, vm types.UID
}

// tracked is one VM's recommender and how far its history was read.
type tracked struct {
	rec      rightsizing.Recommender
	readUpTo time.Time
	// allocation is the last one told to the recommender.
	allocation rightsizing.Resources
}

// New returns an autoscaler; Run starts it.
func New(cfg Config) *Autoscaler {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Autoscaler{cfg: cfg, vms: map[vmKey]*tracked{}}
}

// Run makes a pass every interval until ctx ends.
func (a *Autoscaler) Run(ctx context.Context) error {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := a.Pass(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "Autoscaling pass failed")
		}
	}, a.cfg.Interval)
	return nil
}

// Pass evaluates every autoscaler once and forgets the VMs of autoscalers
// that are gone.
func (a *Autoscaler) Pass(ctx context.Context) error {
	list, err := a.cfg.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing virtual machine autoscalers: %w", err)
	}
	live := map[types.UID]bool{}
	for i := range list.Items {
		vma := &list.Items[i]
		live[vma.UID] = true
		if err := a.sync(ctx, vma); err != nil {
			klog.FromContext(ctx).Error(err, "Evaluating virtual machine autoscaler", "autoscaler", klog.KObj(vma))
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := range a.vms {
		if !live[k.autoscaler] {
			delete(a.vms, k)
		}
	}
	return nil
}

// sync evaluates one autoscaler and writes its status.
func (a *Autoscaler) sync(ctx context.Context, vma *v1alpha1.VirtualMachineAutoscaler) error {
	now := a.cfg.Clock.Now()
	vms, err := a.targets(ctx, vma)
	if err != nil {
		// The entries hold the recent changes that cooldown and the daily
		// limit count: one failed read must not forget them. Only a target
		// that is gone takes its entries with it.
		// Nor is it a recommendation: lastEvaluated stays the time the
		// kept targets were computed, which the recommendation subresource
		// shows beside them.
		kept := vma.Status.VirtualMachines
		reason := "TargetUnreadable"
		if apierrors.IsNotFound(err) {
			kept, reason = nil, "TargetNotFound"
		}
		return a.writeStatus(ctx, vma, kept, vma.Status.LastEvaluated, now, metav1.ConditionFalse, reason, err.Error())
	}
	previous := map[string]v1alpha1.VirtualMachineRecommendationStatus{}
	for _, s := range vma.Status.VirtualMachines {
		previous[s.Name] = s
	}
	var entries []v1alpha1.VirtualMachineRecommendationStatus
	missing := 0
	var failures, forbidden []string
	// This autoscaler's resizes, listed once a pass for all its VMs.
	ops, opsErr := a.operations(ctx, vma)
	for _, vm := range vms {
		entry, err := a.evaluate(ctx, vma, vm, previous[vm.Name], ops, opsErr, now)
		switch {
		case apierrors.IsForbidden(err):
			forbidden = append(forbidden, err.Error())
		case err != nil:
			failures = append(failures, err.Error())
		}
		if entry.Target == nil {
			missing++
		}
		entries = append(entries, entry)
	}
	a.forgetOthers(vma.UID, vms)
	allowed := metav1.Condition{Type: ConditionResizeAllowed, Status: metav1.ConditionTrue, Reason: "Allowed",
		Message: "the requester may resize every VM the autoscaler resized or would resize"}
	if len(forbidden) > 0 {
		allowed.Status, allowed.Reason, allowed.Message = metav1.ConditionFalse, "Forbidden", fmt.Sprint(forbidden)
	}
	vma = vma.DeepCopy()
	allowed.ObservedGeneration, allowed.LastTransitionTime = vma.Generation, metav1.NewTime(now)
	meta.SetStatusCondition(&vma.Status.Conditions, allowed)
	switch {
	case len(failures) > 0:
		return a.writeStatus(ctx, vma, entries, &metav1.Time{Time: now}, now, metav1.ConditionFalse, "Failed", fmt.Sprint(failures))
	case len(vms) == 0:
		return a.writeStatus(ctx, vma, entries, &metav1.Time{Time: now}, now, metav1.ConditionFalse, "NoVirtualMachines", "the target has no VMs")
	case missing > 0:
		return a.writeStatus(ctx, vma, entries, &metav1.Time{Time: now}, now, metav1.ConditionFalse, "NoUsageSamples",
			fmt.Sprintf("%d of %d VMs have no usage samples in their history yet", missing, len(vms)))
	}
	return a.writeStatus(ctx, vma, entries, &metav1.Time{Time: now}, now, metav1.ConditionTrue, "Recommended", fmt.Sprintf("%d VMs", len(vms)))
}

// forgetOthers drops the recommenders of autoscaler's VMs that are no
// longer among vms (deleted, or made again under their name).
func (a *Autoscaler) forgetOthers(autoscaler types.UID, vms []*kvv1.VirtualMachine) {
	current := map[types.UID]bool{}
	for _, vm := range vms {
		current[vm.UID] = true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := range a.vms {
		if k.autoscaler == autoscaler && !current[k.vm] {
			delete(a.vms, k)
		}
	}
}

// targets lists the VMs an autoscaler sizes, by name.
func (a *Autoscaler) targets(ctx context.Context, vma *v1alpha1.VirtualMachineAutoscaler) ([]*kvv1.VirtualMachine, error) {
	ref := vma.Spec.TargetRef
	vms := a.cfg.KubeVirt.KubevirtV1().VirtualMachines(vma.Namespace)
	if ref.Kind == "VirtualMachine" {
		vm, err := vms.Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("VirtualMachine %s: %w", ref.Name, err)
		}
		return []*kvv1.VirtualMachine{vm}, nil
	}
	if _, err := a.cfg.KubeVirt.PoolV1beta1().VirtualMachinePools(vma.Namespace).Get(ctx, ref.Name, metav1.GetOptions{}); err != nil {
		return nil, fmt.Errorf("VirtualMachinePool %s: %w", ref.Name, err)
	}
	list, err := vms.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the VMs of pool %s: %w", ref.Name, err)
	}
	var out []*kvv1.VirtualMachine
	for i := range list.Items {
		if owner := metav1.GetControllerOf(&list.Items[i]); owner != nil && owner.Kind == "VirtualMachinePool" && owner.Name == ref.Name {
			out = append(out, &list.Items[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// evaluate feeds one VM's new samples to its recommender, recommends, and
// acts on the recommendation as the policy allows. ops are the autoscaler's
// resizes (opsErr, why they could not be listed).
func (a *Autoscaler) evaluate(ctx context.Context, vma *v1alpha1.VirtualMachineAutoscaler, vm *kvv1.VirtualMachine,
	prev v1alpha1.VirtualMachineRecommendationStatus, ops []v1alpha1.VMOperation, opsErr error, now time.Time) (v1alpha1.VirtualMachineRecommendationStatus, error) {
	current := sizeOf(vm)
	entry := v1alpha1.VirtualMachineRecommendationStatus{Name: vm.Name, Current: resourcesOut(current),
		Operation: prev.Operation, Changes: recent(prev.Changes, now)}
	t, err := a.feed(ctx, vma, vm, now)
	if err != nil {
		entry.Action = err.Error()
		return entry, err
	}
	est, ok := t.rec.Estimate(now, limitsOf(vma.Spec))
	entry.Evidence = v1alpha1.RecommendationEvidence{Strategy: t.rec.Name(), Method: t.rec.Method(),
		Samples: int32(est.Samples), ConfidencePercent: int32(est.Confidence*100 + 0.5)}
	if !ok {
		entry.Action = "no usage samples in the VM's history yet"
		return entry, nil
	}
	entry.Evidence.WindowStart, entry.Evidence.WindowEnd = &metav1.Time{Time: est.First}, &metav1.Time{Time: est.Last}
	// A pass whose status write was lost (a conflict, or a restart between
	// the create and the write) made a change the status does not count:
	// without it the cooldown and the daily limit would let the next pass
	// resize again at once.
	if opsErr != nil {
		entry.Action = opsErr.Error()
		return entry, opsErr
	}
	ops = slices.DeleteFunc(slices.Clone(ops), func(op v1alpha1.VMOperation) bool { return op.Spec.VMName != vm.Name })
	if missed, newest := missedChanges(ops, prev, now); len(missed) > 0 {
		entry.Changes = append(entry.Changes, missed...)
		entry.Operation = newest
	}
	target, lower, upper := resourcesOut(est.Target), resourcesOut(est.Lower), resourcesOut(est.Upper)
	entry.Target, entry.LowerBound, entry.UpperBound = &target, &lower, &upper
	cpu := resource.NewMilliQuantity(int64(est.CPUCores*1000+0.5), resource.DecimalSI)
	mem := resource.NewQuantity(int64(est.MemoryBytes), resource.BinarySI)
	entry.UncappedCPU, entry.UncappedMemory = cpu, mem

	d, err := a.decide(ctx, vma, vm, current, entry.Changes, est, now)
	if err != nil {
		entry.Action = err.Error()
		return entry, err
	}
	entry.Action = d.Reason
	if !d.Change {
		return entry, nil
	}
	if unfinished := unfinishedOf(ops); unfinished != nil {
		entry.Action = "waiting for operation " + unfinished.Name + " to finish before: " + d.Reason
		return entry, nil
	}
	if err := a.mayResize(ctx, vma, vm.Name); err != nil {
		entry.Action = "not acting: " + err.Error()
		return entry, err
	}
	op, err := a.resize(ctx, vma, vm, current, d)
	if err != nil {
		entry.Action = "creating the Resize operation failed: " + err.Error()
		return entry, err
	}
	entry.Operation = op
	entry.Changes = append(entry.Changes, metav1.Time{Time: now})
	entry.Action = d.Reason + " (operation " + op + ")"
	return entry, nil
}

// feed reads the VM's history since the last pass (the whole window the
// first time, also after a restart) into its recommender.
func (a *Autoscaler) feed(ctx context.Context, vma *v1alpha1.VirtualMachineAutoscaler, vm *kvv1.VirtualMachine, now time.Time) (*tracked, error) {
	key := vmKey{vma.UID, vm.UID}
	a.mu.Lock()
	t := a.vms[key]
	a.mu.Unlock()
	if t == nil {
		start := now.Add(-a.cfg.Window)
		if c := vm.CreationTimestamp.Time; c.After(start) {
			start = c
		}
		t = &tracked{rec: a.cfg.NewRecommender(), readUpTo: start}
	}
	// Read on from the last sample kept, but never from before the window:
	// a VM stopped (or never started) for longer has no sample to advance
	// the mark (its zeros are dropped), and the history store refuses
	// starts older than its retention.
	from := t.readUpTo
	if floor := now.Add(-a.cfg.Window); from.Before(floor) {
		from = floor
	}
	samples, err := a.cfg.Samples.Samples(ctx, vm.Namespace, vm.Name, from, now)
	if err != nil {
		return nil, err
	}
	observer, observes := t.rec.(rightsizing.AllocationObserver)
	for _, s := range samples {
		// A recommender that weighs samples by the allocation they were
		// taken under learns of every change, from history as it happened.
		if observes && s.Allocation != t.allocation && s.Allocation.CPUs > 0 {
			observer.ObserveAllocation(s.Allocation)
			t.allocation = s.Allocation
		}
		t.rec.Add(s.Sample)
		t.readUpTo = s.Time
	}
	a.mu.Lock()
	a.vms[key] = t
	a.mu.Unlock()
	return t, nil
}

// decide applies the shared actuation rules to one VM.
func (a *Autoscaler) decide(ctx context.Context, vma *v1alpha1.VirtualMachineAutoscaler, vm *kvv1.VirtualMachine,
	current rightsizing.Resources, changes []metav1.Time, est rightsizing.Estimate, now time.Time) (rightsizing.Decision, error) {
	open, err := inWindow(now, vma.Spec.MaintenanceWindows)
	if err != nil {
		return rightsizing.Decision{}, err
	}
	vmi, err := a.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(vm.Namespace).Get(ctx, vm.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		vmi = nil
	case err != nil:
		return rightsizing.Decision{}, fmt.Errorf("reading the instance of VM %s: %w", vm.Name, err)
	}
	s := rightsizing.State{
		Current:    current,
		Running:    vmi != nil && vmi.DeletionTimestamp == nil,
		HotplugMax: hotplugMax(vm),
		// A resize beyond the hotplug bounds is refused (see the Resize
		// precheck): they are the VM's ceiling too, as is maxAllowed, which
		// rounding to whole sockets must not pass either.
		Min:      limitsOf(vma.Spec).Min,
		Max:      ceiling(hotplugMax(vm), limitsOf(vma.Spec).Max),
		CPUStep:  cpuStep(vm),
		InWindow: open,
	}
	for _, c := range changes {
		s.Changes = append(s.Changes, c.Time)
	}
	return rightsizing.Decide(now, policyOf(vma.Spec), s, est), nil
}

// ceiling is the lower of two maxima per resource, zero being none.
func ceiling(a, b rightsizing.Resources) rightsizing.Resources {
	lower := func(x, y int64) int64 {
		if x == 0 || (y != 0 && y < x) {
			return y
		}
		return x
	}
	return rightsizing.Resources{CPUs: int32(lower(int64(a.CPUs), int64(b.CPUs))), MemoryBytes: lower(a.MemoryBytes, b.MemoryBytes)}
}

// operations are the Resizes this autoscaler made, found by the
// autoscaler's label rather than by the names in its status: a pass whose
// status write was lost recorded no name.
func (a *Autoscaler) operations(ctx context.Context, vma *v1alpha1.VirtualMachineAutoscaler) ([]v1alpha1.VMOperation, error) {
	ops, err := a.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(vma.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{LabelAutoscaler: vma.Name}).String()})
	if err != nil {
		return nil, fmt.Errorf("listing the operations of autoscaler %s/%s: %w", vma.Namespace, vma.Name, err)
	}
	return ops.Items, nil
}

// unfinishedOf is one of ops that has not finished: the next pass must not
// start a second resize beside it.
func unfinishedOf(ops []v1alpha1.VMOperation) *v1alpha1.VMOperation {
	for i := range ops {
		if !ops[i].Status.Phase.Final() {
			return &ops[i]
		}
	}
	return nil
}

// missedChanges are the changes of ops, finished or not, that prev does not
// count: made within the last day, after its last change, and not its
// operation. newest names the latest of them.
func missedChanges(ops []v1alpha1.VMOperation, prev v1alpha1.VirtualMachineRecommendationStatus, now time.Time) (missed []metav1.Time, newest string) {
	var last, newestAt time.Time
	for _, c := range prev.Changes {
		if c.After(last) {
			last = c.Time
		}
	}
	for i := range ops {
		at, _ := operations.CreatedAt(&ops[i])
		if ops[i].Name == prev.Operation || !at.After(last) || now.Sub(at) >= 24*time.Hour {
			continue
		}
		missed = append(missed, metav1.Time{Time: at})
		if at.After(newestAt) {
			newestAt, newest = at, ops[i].Name
		}
	}
	slices.SortFunc(missed, func(a, b metav1.Time) int { return a.Compare(b.Time) })
	return missed, newest
}

// mayResize asks kube-apiserver whether the autoscaler's requester may
// resize the VM: the controller never resizes with its own rights a VM its
// author could not.
func (a *Autoscaler) mayResize(ctx context.Context, vma *v1alpha1.VirtualMachineAutoscaler, vm string) error {
	r := vma.Spec.Requester
	if r == nil || r.Username == "" {
		return fmt.Errorf("autoscaler %s records no requester, so nobody can be held to have asked for a resize", vma.Name)
	}
	req := operations.Request{Namespace: vma.Namespace, VMName: vm, Type: string(v1alpha1.VMOperationResize)}
	return operations.Review(ctx, a.cfg.Kube, operations.ReviewSpecOf(r), operations.RequiredAccess(req))
}

// resize creates the Resize VMOperation of a decision and returns its name.
func (a *Autoscaler) resize(ctx context.Context, vma *v1alpha1.VirtualMachineAutoscaler, vm *kvv1.VirtualMachine,
	current rightsizing.Resources, d rightsizing.Decision) (string, error) {
	spec := &v1alpha1.ResizeSpec{RestartPolicy: v1alpha1.ResizeRestartNever}
	if d.Restart {
		spec.RestartPolicy = v1alpha1.ResizeRestartIfNeeded
	}
	if d.To.CPUs != current.CPUs {
		spec.CPUs = &d.To.CPUs
	}
	if d.To.MemoryBytes != current.MemoryBytes {
		spec.Memory = resource.NewQuantity(d.To.MemoryBytes, resource.BinarySI)
	}
	op := &v1alpha1.VMOperation{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: vma.Name + "-",
			Namespace:    vma.Namespace,
			Labels:       map[string]string{LabelAutoscaler: vma.Name},
		},
		Spec: v1alpha1.VMOperationSpec{VMName: vm.Name, Type: v1alpha1.VMOperationResize, Resize: spec},
	}
	created, err := a.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(vma.Namespace).Create(ctx, op, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return created.Name, nil
}

// writeStatus replaces the autoscaler's status, saying the entries were
// evaluated at evaluated; a conflict is retried on the next pass.
func (a *Autoscaler) writeStatus(ctx context.Context, vma *v1alpha1.VirtualMachineAutoscaler,
	entries []v1alpha1.VirtualMachineRecommendationStatus, evaluated *metav1.Time, now time.Time, cond metav1.ConditionStatus, reason, msg string) error {
	out := vma.DeepCopy()
	t := metav1.NewTime(now)
	out.Status.ObservedGeneration = vma.Generation
	out.Status.LastEvaluated = evaluated
	out.Status.VirtualMachines = entries
	meta.SetStatusCondition(&out.Status.Conditions, metav1.Condition{Type: ConditionRecommendationProvided,
		Status: cond, Reason: reason, Message: msg, ObservedGeneration: vma.Generation, LastTransitionTime: t})
	_, err := a.cfg.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(vma.Namespace).UpdateStatus(ctx, out, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("writing the status of autoscaler %s/%s: %w", vma.Namespace, vma.Name, err)
	}
	return nil
}
