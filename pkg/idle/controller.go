// Package idle is hypersdk-controller's idle VM finder: for each
// IdleVMPolicy it reads the history of the running VMs it selects, lists in
// status those whose CPU use stayed under the threshold for the whole
// window, announces each with an event and a metric, and with Action Stop
// stops them a grace period later with a Stop VMOperation, only as far as
// the policy's requester may stop them.
package idle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/autoscaler"
	"github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/passloop"
)

// LabelPolicy marks the Stop VMOperations a policy creates.
const LabelPolicy = "hypersdk.io/idle-policy"

// ConditionReady is True when the last pass could do what the policy asks.
const ConditionReady = "Ready"

// Event reasons.
const (
	ReasonIdle    = "VMIdle"
	ReasonStopped = "IdleVMStopped"
)

// Config is what the finder needs.
type Config struct {
	Kube     kubernetes.Interface
	HyperSDK hypersdkclient.Interface
	// Samples reads VMs' usage from history, recorded every SampleStep.
	Samples    autoscaler.SampleSource
	SampleStep time.Duration
	// Registerer gets the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Interval between passes.
	Interval time.Duration
	Clock    clock.Clock
}

// Finder follows IdleVMPolicies.
type Finder struct {
	cfg      Config
	idle     *prometheus.GaugeVec
	stopped  *prometheus.CounterVec
	recorder record.EventRecorder
}

// New returns a finder; Run starts it.
func New(cfg Config) (*Finder, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	f := &Finder{cfg: cfg,
		idle: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hypersdk_idle_vms",
			Help: "Running VMs an IdleVMPolicy found idle at its last pass."}, []string{"namespace", "policy"}),
		stopped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hypersdk_idle_vms_stopped_total",
			Help: "Idle VMs an IdleVMPolicy asked to stop."}, []string{"namespace", "policy"}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{f.idle, f.stopped} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// Run makes a pass every interval until ctx ends.
func (f *Finder) Run(ctx context.Context) error {
	return passloop.Run(ctx, f.cfg.Kube, "hypersdk-idle", f.cfg.Interval,
		func(r record.EventRecorder) { f.recorder = r }, f.Pass)
}

// Pass looks at every policy's VMs once.
func (f *Finder) Pass(ctx context.Context) error {
	list, err := f.cfg.HyperSDK.HypersdkV1alpha1().IdleVMPolicies(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing idle VM policies: %w", err)
	}
	f.idle.Reset()
	for i := range list.Items {
		p := &list.Items[i]
		if err := f.sync(ctx, p); err != nil {
			klog.FromContext(ctx).Error(err, "Following idle VM policy", "policy", klog.KObj(p))
		}
	}
	return nil
}

// sync finds p's idle VMs, stops those due, and writes the status.
func (f *Finder) sync(ctx context.Context, p *v1alpha1.IdleVMPolicy) error {
	now := f.cfg.Clock.Now()
	st := p.Status.DeepCopy()
	st.ObservedGeneration = p.Generation
	var idle []v1alpha1.IdleVM
	var unrecorded []string
	var err error
	if window, least := p.Spec.Window.Duration, 2*f.cfg.SampleStep; window < least {
		// The history has a sample every SampleStep: a shorter window
		// holds one at most, and every VM would read as unrecorded.
		err = fmt.Errorf("%w: spec.window %s holds fewer than two history samples (recorded every %s), so no VM can be judged; use at least %s",
			errWindowTooShort, window, f.cfg.SampleStep, least)
	} else if idle, unrecorded, err = f.find(ctx, p, now); err == nil {
		err = f.stop(ctx, p, idle, now)
	}
	if err == nil || idle != nil {
		st.IdleVMs = idle
		st.LastCheckTime = &metav1.Time{Time: now}
	}
	f.idle.WithLabelValues(p.Namespace, p.Name).Set(float64(len(st.IdleVMs)))
	cond := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Checked",
		Message: fmt.Sprintf("%d idle VMs", len(st.IdleVMs))}
	switch {
	case err != nil:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "Failed", err.Error()
		switch {
		case apierrors.IsForbidden(err):
			cond.Reason = "Forbidden"
		case errors.Is(err, errWindowTooShort):
			cond.Reason = "WindowTooShort"
		}
	case len(unrecorded) > 0:
		// No sample, or gaps, in the window of a VM that runs: the history
		// is not (or was not) being recorded, and "no idle VMs" would be a
		// guess.
		cond.Status, cond.Reason = metav1.ConditionFalse, "SignalMissing"
		cond.Message = fmt.Sprintf("%d running VMs have no usage history, or gaps in it, in the last %s, so they were not judged (is the history recorder running?): %s; %s",
			len(unrecorded), p.Spec.Window.Duration, strings.Join(unrecorded[:min(len(unrecorded), maxNamed)], ", "), cond.Message)
	}
	cond.ObservedGeneration, cond.LastTransitionTime = p.Generation, metav1.NewTime(now)
	meta.SetStatusCondition(&st.Conditions, cond)
	out := p.DeepCopy()
	out.Status = *st
	if _, uerr := f.cfg.HyperSDK.HypersdkV1alpha1().IdleVMPolicies(p.Namespace).UpdateStatus(ctx, out, metav1.UpdateOptions{}); uerr != nil {
		return fmt.Errorf("writing the status of idle VM policy %s/%s: %w", p.Namespace, p.Name, uerr)
	}
	return err
}

// errWindowTooShort is a policy whose window the history cannot fill.
var errWindowTooShort = errors.New("window too short")

// maxNamed bounds the VMs a condition's message names.
const maxNamed = 10

// find lists the running VMs p selects that were idle for its whole
// window, keeping when each was first found idle; and the running VMs
// with no sample at all in the window, though they ran long enough to
// have some, or with gaps in a window they ran all through.
func (f *Finder) find(ctx context.Context, p *v1alpha1.IdleVMPolicy, now time.Time) (idle []v1alpha1.IdleVM, unrecorded []string, err error) {
	opts := metav1.ListOptions{}
	if p.Spec.VMSelector != nil {
		selector, err := metav1.LabelSelectorAsSelector(p.Spec.VMSelector)
		if err != nil {
			return nil, nil, err
		}
		opts.LabelSelector = selector.String()
	}
	vms, err := f.cfg.HyperSDK.HypersdkV1alpha1().VirtualMachines(p.Namespace).List(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("listing the VMs of idle VM policy %s/%s: %w", p.Namespace, p.Name, err)
	}
	before := map[string]v1alpha1.IdleVM{}
	for _, v := range p.Status.IdleVMs {
		before[v.Name] = v
	}
	window := p.Spec.Window.Duration
	for _, vm := range vms.Items {
		if vm.Status.Phase == v1alpha1.VirtualMachineMigrating {
			// Running, moving (a rebalancer may move it often): it stays
			// idle since when it was found so, and is not stopped mid-move.
			if entry, seen := before[vm.Name]; seen {
				entry.StopAt = nil
				idle = append(idle, entry)
			}
			continue
		}
		if vm.Status.Phase != v1alpha1.VirtualMachineRunning {
			continue
		}
		if vm.CreationTimestamp.After(now.Add(-window)) {
			// History is kept by name: a VM made again under a deleted
			// one's name would be judged, and stopped, on the old one's
			// samples. A VM younger than the window is not judged yet.
			continue
		}
		samples, err := f.cfg.Samples.Samples(ctx, p.Namespace, vm.Name, now.Add(-window), now)
		if err != nil {
			return nil, nil, err
		}
		slack := max(window/10, 2*f.cfg.SampleStep)
		if len(samples) == 0 && ranSince(&vm, now.Add(-slack)) {
			unrecorded = append(unrecorded, vm.Name)
			continue
		}
		peak, ok := peakCPUPercent(samples, now.Add(-window), now, slack)
		if !ok && ranSince(&vm, now.Add(-window)) {
			// It ran all through the window, and its history has gaps:
			// hours not recorded, not hours of no use.
			unrecorded = append(unrecorded, vm.Name)
			continue
		}
		if !ok || peak >= float64(p.Spec.CPUThresholdPercent) {
			continue
		}
		entry, seen := before[vm.Name]
		if !seen {
			entry = v1alpha1.IdleVM{Name: vm.Name, Since: metav1.NewTime(now)}
			f.event(p, corev1.EventTypeNormal, ReasonIdle, "VM %s used at most %.2f%% of its vCPUs for %s (threshold %d%%)",
				vm.Name, peak, window, p.Spec.CPUThresholdPercent)
		}
		entry.PeakCPUPercent = peak
		entry.OptedOut = vm.Annotations[v1alpha1.IdleVMOptOutAnnotation] == "true"
		entry.StopAt = nil
		if p.Spec.Action == v1alpha1.IdleActionStop && !entry.OptedOut {
			entry.StopAt = &metav1.Time{Time: entry.Since.Add(p.Spec.GracePeriod.Duration)}
		}
		idle = append(idle, entry)
	}
	return idle, unrecorded, nil
}

// peakCPUPercent is the highest CPU use, in percent of the allocation, of
// samples that cover the window from start to end: the first within slack
// of start, the last within slack of end, and no gap between two longer
// than slack. A VM recorded for only part of the window is not known to be
// idle (ok false): hours with no reading are not hours of no use.
func peakCPUPercent(samples []autoscaler.Sample, start, end time.Time, slack time.Duration) (float64, bool) {
	if len(samples) == 0 || samples[0].Time.After(start.Add(slack)) || samples[len(samples)-1].Time.Before(end.Add(-slack)) {
		return 0, false
	}
	peak := 0.0
	for i, s := range samples {
		if s.Allocation.CPUs <= 0 || i > 0 && s.Time.Sub(samples[i-1].Time) > slack {
			return 0, false
		}
		peak = max(peak, 100*s.CPUCores/float64(s.Allocation.CPUs))
	}
	return peak, true
}

// stop creates the Stop operations of the idle VMs whose time has come.
// The operation's name is the policy's, the VM's and when it was first
// found idle, so a restart in between neither loses nor repeats it. A VM
// that cannot be stopped (its author may not) holds back no other.
func (f *Finder) stop(ctx context.Context, p *v1alpha1.IdleVMPolicy, idle []v1alpha1.IdleVM, now time.Time) error {
	var errs []error
	for i := range idle {
		v := &idle[i]
		if v.StopAt == nil || now.Before(v.StopAt.Time) || v.Operation != "" {
			continue
		}
		r := p.Spec.Requester
		if r == nil || r.Username == "" {
			return apierrors.NewForbidden(v1alpha1.Resource("idlevmpolicies"), p.Name,
				fmt.Errorf("the policy records no requester, so nobody can be held to have asked to stop VMs"))
		}
		req := operations.Request{Namespace: p.Namespace, VMName: v.Name, Type: string(v1alpha1.VMOperationStop)}
		if err := operations.Review(ctx, f.cfg.Kube, operations.ReviewSpecOf(r), operations.RequiredAccess(req)); err != nil {
			errs = append(errs, err)
			continue
		}
		name, made, err := f.makeStop(ctx, p, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("stopping idle VM %s/%s: %w", p.Namespace, v.Name, err))
			continue
		}
		v.Operation = name
		if made {
			f.stopped.WithLabelValues(p.Namespace, p.Name).Inc()
			f.event(p, corev1.EventTypeNormal, ReasonStopped, "VM %s idle since %s: stopped by operation %s",
				v.Name, v.Since.UTC().Format(time.RFC3339), name)
		}
	}
	return errors.Join(errs...)
}

// makeStop makes the policy's Stop operation of idle VM v, once: a pass
// whose status write failed finds it again by its name. Policy "a" with VM
// "b-c" and policy "a-b" with VM "c" name their stops alike; the second to
// come takes a name only it makes. made says whether this call made it.
func (f *Finder) makeStop(ctx context.Context, p *v1alpha1.IdleVMPolicy, v *v1alpha1.IdleVM) (name string, made bool, err error) {
	ops := f.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(p.Namespace)
	plain := "idle-" + p.Name + "-" + v.Name + "-" + strconv.FormatInt(v.Since.Unix(), 10)
	for _, name := range []string{plain, operations.Disambiguated(plain, p.Name, v.Name)} {
		_, err := ops.Create(ctx, &v1alpha1.VMOperation{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.Namespace, Labels: map[string]string{LabelPolicy: p.Name}},
			Spec:       v1alpha1.VMOperationSpec{VMName: v.Name, Type: v1alpha1.VMOperationStop},
		}, metav1.CreateOptions{})
		if err == nil {
			return name, true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", false, err
		}
		got, err := ops.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", false, fmt.Errorf("reading operation %s: %w", name, err)
		}
		if got.Spec.VMName == v.Name && got.Spec.Type == v1alpha1.VMOperationStop && got.Labels[LabelPolicy] == p.Name {
			return name, false, nil
		}
	}
	return "", false, fmt.Errorf("operations %s and its disambiguated name exist and are not this policy's stop of it", plain)
}

func (f *Finder) event(p *v1alpha1.IdleVMPolicy, eventType, reason, format string, args ...any) {
	ref := &corev1.ObjectReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "IdleVMPolicy",
		Namespace: p.Namespace, Name: p.Name, UID: p.UID}
	f.recorder.Eventf(ref, eventType, reason, format, args...)
}

// ranSince reports whether vm has been Ready since t or before: long
// enough for the history recorder to have sampled it.
func ranSince(vm *v1alpha1.VirtualMachine, t time.Time) bool {
	c := meta.FindStatusCondition(vm.Status.Conditions, "Ready")
	return c != nil && c.Status == metav1.ConditionTrue && !c.LastTransitionTime.After(t)
}
