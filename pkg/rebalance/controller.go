// Package rebalance is hypersdk-controller's rebalancer: for each
// RebalancePolicy it plans which running VMs to move where (Compute, pure)
// from the nodes' measured load, the zones' grid intensity, the nodes'
// prices and maintenance windows, writes the plan in the policy's status,
// and in Automatic mode carries each move out as a Migrate VMOperation,
// only as far as the policy's requester may migrate the VM.
package rebalance

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/clock"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/passloop"
)

// LabelPolicy marks the Migrate VMOperations a policy creates.
const LabelPolicy = "hypersdk.io/rebalance-policy"

// AnnotationFrom records on a policy's Migrate VMOperation the node the VM
// left: once the migration is done the VM's instance is on the target, but
// until the operation is final it still counts against its source node's
// limit.
const AnnotationFrom = "hypersdk.io/rebalance-from"

// ConditionReady is True when the last pass read every signal its
// triggers need and did what the mode asks.
const ConditionReady = "Ready"

// ReasonMigrating is the event a policy gets for each move it starts.
const ReasonMigrating = "Rebalancing"

// maxHeld bounds the held VMs the Ready condition's message lists.
const maxHeld = 10

// Config is what the rebalancer needs.
type Config struct {
	Kube     kubernetes.Interface
	HyperSDK hypersdkclient.Interface
	KubeVirt kubevirt.Clientset
	Metrics  metricsclient.Interface
	// Carbon gives zones' intensity; nil fails carbon triggers explicitly.
	Carbon carbon.Provider
	Prices cost.Model
	// Registerer gets the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Interval between passes.
	Interval time.Duration
	Clock    clock.Clock
	// StateNamespace holds StartsConfigMap; empty keeps the start log in
	// memory only, lost at a restart.
	StateNamespace string
}

// Controller follows RebalancePolicies.
type Controller struct {
	cfg      Config
	moves    *prometheus.CounterVec
	planned  *prometheus.GaugeVec
	recorder record.EventRecorder
	// untainted is true once a pass has left no maintenance taint on any
	// node, so that passes without policies need not list the nodes.
	untainted bool
	// starts remembers recent VM starts: arrivals, departed ones too.
	starts startLog
	// tainters are, by policy, this pass's answers to whether its requester
	// may taint the nodes its windows empty: only windows on nodes it may
	// taint keep other policies' moves off while the taint is not written,
	// so nobody fences nodes off from others without the right to.
	tainters map[string]tainter
}

// tainter is what a policy's requester may do to the nodes its windows
// empty, asked once a pass: may[node] is whether it may taint (update) the
// node (absent: not asked); err, a check that failed, leaves the nodes
// after it unknown.
type tainter struct {
	may map[string]bool
	err error
}

// New returns a rebalancer; Run starts it.
func New(cfg Config) (*Controller, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	c := &Controller{cfg: cfg, tainters: map[string]tainter{},
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hypersdk_rebalance_migrations_total",
			Help: "Migrate VMOperations a RebalancePolicy started, by trigger."}, []string{"policy", "trigger"}),
		planned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hypersdk_rebalance_planned_moves",
			Help: "Moves a RebalancePolicy planned at its last pass."}, []string{"policy"}),
	}
	if cfg.Registerer != nil {
		for _, col := range []prometheus.Collector{c.moves, c.planned} {
			if err := cfg.Registerer.Register(col); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// Run makes a pass every interval until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return passloop.Run(ctx, c.cfg.Kube, "hypersdk-rebalancer", c.cfg.Interval,
		func(r record.EventRecorder) { c.recorder = r }, c.Pass)
}

// Pass plans every policy once, then brings the maintenance taints in line
// with the Automatic policies' windows.
func (c *Controller) Pass(ctx context.Context) error {
	list, err := c.cfg.HyperSDK.HypersdkV1alpha1().RebalancePolicies().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing rebalance policies: %w", err)
	}
	c.planned.Reset()
	if len(list.Items) == 0 && c.untainted {
		// Nothing to plan and no maintenance taint left behind.
		return nil
	}
	taints := map[string]string{}
	// A policy whose plan could not be made does not say which nodes it
	// is emptying: their taints stay until a pass knows.
	known := true
	if len(list.Items) > 0 {
		cl, err := c.read(ctx)
		if err != nil {
			return errors.Join(err, c.unread(ctx, list.Items, err))
		}
		cl.emptying = c.fence(ctx, list.Items, cl.nodes, c.cfg.Clock.Now())
		c.loadStarts(ctx)
		cl.starts = c.starts.observe(c.cfg.Clock.Now(), cl.running())
		c.saveStarts(ctx)
		for i := range list.Items {
			p := &list.Items[i]
			maintenance, planned, err := c.sync(ctx, cl, p)
			if err != nil {
				klog.FromContext(ctx).Error(err, "Following rebalance policy", "policy", p.Name)
			}
			known = known && planned
			for node, state := range maintenance {
				if taints[node] != MaintenanceOpen {
					taints[node] = state
				}
			}
		}
	}
	return c.taint(ctx, taints, !known)
}

// unread says on every policy that this pass could not read the cluster:
// its Ready condition would otherwise stay True from the last pass that
// could, over a plan nobody follows.
func (c *Controller) unread(ctx context.Context, policies []v1alpha1.RebalancePolicy, cause error) error {
	var errs []error
	for i := range policies {
		p := policies[i].DeepCopy()
		meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse,
			Reason: "ReadFailed", Message: strings.ReplaceAll(cause.Error(), "\n", "; "),
			ObservedGeneration: p.Generation, LastTransitionTime: metav1.NewTime(c.cfg.Clock.Now())})
		if _, err := c.cfg.HyperSDK.HypersdkV1alpha1().RebalancePolicies().UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("writing the status of rebalance policy %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// loadStarts adds the start log the last leader saved, if the controller
// keeps one. Failing, the pass goes on with the starts observed so far, as
// before the log was kept, and says so.
func (c *Controller) loadStarts(ctx context.Context) {
	if c.cfg.StateNamespace == "" {
		return
	}
	if err := c.starts.load(ctx, c.cfg.Kube, c.cfg.StateNamespace); err != nil {
		klog.FromContext(ctx).Error(err, "Arrivals count only the VMs observed since this controller started")
	}
}

// saveStarts saves the start log for the next leader, if the controller
// keeps one; a failed save is tried again at the next pass.
func (c *Controller) saveStarts(ctx context.Context) {
	if c.cfg.StateNamespace == "" {
		return
	}
	if err := c.starts.save(ctx, c.cfg.Kube, c.cfg.StateNamespace); err != nil {
		klog.FromContext(ctx).Error(err, "A restart would lose the VM starts observed since the last save")
	}
}

// sync plans p, starts its moves in Automatic mode and writes its status;
// it returns the maintenance state of the nodes p taints, and whether that
// is known. Once planned it is, even when a move or the status write
// failed (a window stays closed to new VMs while one VM cannot leave),
// unless the check of the requester's right to taint failed.
func (c *Controller) sync(ctx context.Context, cl *cluster, p *v1alpha1.RebalancePolicy) (map[string]string, bool, error) {
	in, missing, stale, err := c.input(ctx, cl, p)
	var plan Plan
	// shown are the moves of every attempt below: started, refused or
	// failed to start.
	var shown []v1alpha1.RebalanceMove
	planned := false
	automatic := p.Spec.Mode == v1alpha1.RebalanceAutomatic
	// A move the requester may not make would take a slot of the limits
	// at every pass, and the same VMs sort first every time: planned again
	// without the refused VMs, the others get the slots.
	var startErrs []error
	for attempt := 1; err == nil; attempt++ {
		in.InFlight = nil
		flights(p, cl, in)
		if plan, err = Compute(&p.Spec, in); err != nil {
			break
		}
		planned = true
		if !automatic {
			shown = plan.Moves
			break
		}
		refused, serr := c.start(ctx, cl, p, plan.Moves)
		shown = append(shown, plan.Moves...)
		startErrs = append(startErrs, serr)
		if len(refused) == 0 || attempt == maxAttempts {
			break
		}
		for i := range in.VMs {
			if why, ok := refused[in.VMs[i].Namespace+"/"+in.VMs[i].Name]; ok {
				in.VMs[i].Refused = why
			}
		}
	}
	var maintenance map[string]string
	taintsKnown := true
	if planned && automatic {
		var terr error
		maintenance, terr = c.mayTaint(ctx, p, plan.Maintenance)
		err = errors.Join(append(startErrs, terr)...)
		// A check that failed says nothing of which taints are wanted:
		// the pass leaves the maintenance taints as they are, rather than
		// take them off nodes whose window is open. A refusal is an answer.
		taintsKnown = terr == nil || apierrors.IsForbidden(terr)
	}
	st := p.Status.DeepCopy()
	st.ObservedGeneration = p.Generation
	now := c.cfg.Clock.Now()
	st.LastPassTime = &metav1.Time{Time: now}
	if planned {
		// Also when starting the moves failed: the plan says what the
		// policy wanted, the condition why it did not happen.
		st.Plan, st.Armed = shown, armedList(plan.Armed)
		st.InFlight = 0
		for _, f := range in.InFlight {
			if f.Own {
				st.InFlight++
			}
		}
		for _, m := range plan.Moves {
			if m.Operation != "" {
				st.InFlight++
			}
		}
	}
	c.planned.WithLabelValues(p.Name).Set(float64(len(st.Plan)))
	cond := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Planned",
		Message: fmt.Sprintf("%d moves planned, %d in flight", len(st.Plan), st.InFlight)}
	if len(plan.Held) > 0 {
		held := plan.Held[:min(len(plan.Held), maxHeld)]
		cond.Message += "; held: " + strings.Join(held, "; ")
		if len(plan.Held) > maxHeld {
			cond.Message += fmt.Sprintf("; and %d more", len(plan.Held)-maxHeld)
		}
	}
	switch {
	case err != nil:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "Failed", strings.ReplaceAll(err.Error(), "\n", "; ")
		if apierrors.IsForbidden(err) {
			cond.Reason = "Forbidden"
		}
	case len(missing) > 0:
		cond.Status, cond.Reason = metav1.ConditionFalse, "SignalMissing"
		cond.Message = strings.Join(missing, "; ") + "; " + cond.Message
	case len(stale) > 0:
		cond.Reason = "PlannedOnStaleReadings"
		cond.Message = "carbon intensity from the last readings before the source stopped answering: " + strings.Join(stale, ", ") + "; " + cond.Message
	}
	cond.ObservedGeneration, cond.LastTransitionTime = p.Generation, metav1.NewTime(now)
	meta.SetStatusCondition(&st.Conditions, cond)
	out := p.DeepCopy()
	out.Status = *st
	if _, uerr := c.cfg.HyperSDK.HypersdkV1alpha1().RebalancePolicies().UpdateStatus(ctx, out, metav1.UpdateOptions{}); uerr != nil {
		err = errors.Join(err, fmt.Errorf("writing the status of rebalance policy %s: %w", p.Name, uerr))
	}
	if !automatic {
		return nil, true, err
	}
	if !planned {
		return nil, false, err
	}
	return maintenance, taintsKnown, err
}

// mayTaint is the part of want, the maintenance states of a plan, that p's
// requester may bring about: a maintenance taint is an update of the node,
// which the controller makes only for a requester allowed to update it
// (asked of kube-apiserver with a SubjectAccessReview per node).
func (c *Controller) mayTaint(ctx context.Context, p *v1alpha1.RebalancePolicy, want map[string]string) (map[string]string, error) {
	if len(want) == 0 {
		return want, nil
	}
	r := p.Spec.Requester
	if r == nil || r.Username == "" {
		return nil, apierrors.NewForbidden(v1alpha1.Resource("rebalancepolicies"), p.Name,
			fmt.Errorf("the policy records no requester, so nobody can be held to have asked to taint nodes for maintenance"))
	}
	nodes := slices.Sorted(maps.Keys(want))
	t := c.taintRights(ctx, p, nodes)
	if t.err != nil {
		return nil, t.err
	}
	may := map[string]string{}
	var refused []string
	for _, node := range nodes {
		if !t.may[node] {
			refused = append(refused, node)
			continue
		}
		may[node] = want[node]
	}
	if len(refused) > 0 {
		return may, apierrors.NewForbidden(corev1.Resource("nodes"), refused[0],
			fmt.Errorf("%s may not update node(s) %s, so their maintenance taint is not set", r.Username, strings.Join(refused, ", ")))
	}
	return may, nil
}

// taintRights asks, once a pass, whether p's requester may taint (update)
// each of nodes; answers this pass already has are not asked again.
func (c *Controller) taintRights(ctx context.Context, p *v1alpha1.RebalancePolicy, nodes []string) tainter {
	t, ok := c.tainters[p.Name]
	if !ok {
		t = tainter{may: map[string]bool{}}
	}
	r := p.Spec.Requester
	for _, node := range nodes {
		if _, asked := t.may[node]; asked || t.err != nil {
			continue
		}
		allowed, _, err := operations.Allowed(ctx, c.cfg.Kube, r, authorizationv1.ResourceAttributes{Verb: "update", Resource: "nodes", Name: node})
		if err != nil {
			t.err = fmt.Errorf("may %s taint node %s: %w", r.Username, node, err)
			break
		}
		t.may[node] = allowed
	}
	c.tainters[p.Name] = t
	return t
}

// flights reads the Migrate operations and KubeVirt's own migrations:
// those still running, whoever started them, are in flight (their VMs stay put, their nodes' slots are
// taken); those that ended within the last day put their VMs on a cooldown
// that doubles with each move, so two policies, or a policy and a person,
// do not move one VM back and forth.
func flights(p *v1alpha1.RebalancePolicy, cl *cluster, in *Input) {
	nodeOf := map[string]string{}
	for i := range cl.vmis {
		nodeOf[cl.vmis[i].Namespace+"/"+cl.vmis[i].Name] = cl.vmis[i].Status.NodeName
	}
	type history struct {
		last  time.Time
		count int
	}
	recent, failed := map[string]history{}, map[string]history{}
	for i := range cl.migrations {
		op := &cl.migrations[i]
		key := op.Namespace + "/" + op.Spec.VMName
		if !op.Status.Phase.Final() {
			to := ""
			if op.Spec.Migrate != nil {
				to = op.Spec.Migrate.TargetNode
			}
			from := op.Annotations[AnnotationFrom]
			if from == "" {
				from = nodeOf[key]
			}
			in.InFlight = append(in.InFlight, Flight{Namespace: op.Namespace, VMName: op.Spec.VMName, From: from, To: to,
				Own: op.Labels[LabelPolicy] == p.Name, Booked: slices.Contains(cl.boundTo[key], to)})
			continue
		}
		at := op.CreationTimestamp.Time
		if op.Status.CompletionTime != nil {
			at = op.Status.CompletionTime.Time
		}
		if in.Now.Sub(at) > 24*time.Hour {
			continue
		}
		count := func(m map[string]history) {
			h := m[key]
			h.count++
			if at.After(h.last) {
				h.last = at
			}
			m[key] = h
		}
		count(recent)
		if op.Status.Phase == v1alpha1.VMOperationFailed || op.Status.Phase == v1alpha1.VMOperationCancelled {
			count(failed)
		}
	}
	// Migrations made in KubeVirt directly (virtctl migrate, a node drain's
	// evictions): in flight too, and a cooldown once ended.
	moving := map[string]bool{}
	for _, f := range in.InFlight {
		moving[f.Namespace+"/"+f.VMName] = true
	}
	for i := range cl.vmis {
		vmi := &cl.vmis[i]
		key, ms := vmi.Namespace+"/"+vmi.Name, vmi.Status.MigrationState
		// Moving while it started and has not ended, as KubeVirt's own
		// isMigrating reads it: a failed or aborted one has an end time
		// too, whether or not it is marked Completed.
		switch {
		case ms == nil || ms.StartTimestamp == nil:
		case ms.EndTimestamp == nil:
			if !moving[key] {
				in.InFlight = append(in.InFlight, Flight{Namespace: vmi.Namespace, VMName: vmi.Name, From: ms.SourceNode, To: ms.TargetNode,
					Booked: slices.Contains(cl.boundTo[key], ms.TargetNode)})
				moving[key] = true
			} else if ms.TargetNode != "" {
				// An operation that named no target: KubeVirt's choice
				// takes that node's slot.
				for j := range in.InFlight {
					if f := &in.InFlight[j]; f.Namespace+"/"+f.VMName == key && f.To == "" {
						f.To, f.Booked = ms.TargetNode, slices.Contains(cl.boundTo[key], ms.TargetNode)
					}
				}
			}
		case in.Now.Sub(ms.EndTimestamp.Time) <= 24*time.Hour:
			if _, ok := recent[key]; !ok {
				recent[key] = history{last: ms.EndTimestamp.Time, count: 1}
			}
			if _, ok := failed[key]; !ok && ms.Failed {
				failed[key] = history{last: ms.EndTimestamp.Time, count: 1}
			}
		}
	}
	for i := range cl.pending {
		m := &cl.pending[i]
		if key := m.Namespace + "/" + m.Spec.VMIName; !moving[key] {
			// Not begun yet: its source's slot is taken, its target not
			// known.
			in.InFlight = append(in.InFlight, Flight{Namespace: m.Namespace, VMName: m.Spec.VMIName, From: nodeOf[key]})
			moving[key] = true
		}
	}
	for i := range in.VMs {
		vm := &in.VMs[i]
		if h, ok := recent[vm.Namespace+"/"+vm.Name]; ok {
			wait := float64(p.Spec.Cooldown.Duration) * math.Pow(2, float64(h.count-1))
			vm.CooldownUntil = h.last.Add(time.Duration(min(wait, float64(24*time.Hour))))
		}
		if h, ok := failed[vm.Namespace+"/"+vm.Name]; ok {
			wait := float64(failureBackoff) * math.Pow(2, float64(h.count-1))
			vm.BackoffUntil = h.last.Add(time.Duration(min(wait, float64(maxFailureBackoff))))
		}
	}
}

// failureBackoff is how long a VM whose migration failed (or was
// cancelled) waits before the next, doubling with each failure of the
// last day up to maxFailureBackoff: also when its node is being emptied,
// which ignores the cooldown, so a VM that cannot move is not tried every
// pass, holding its node's slot and piling up failed operations.
const (
	failureBackoff    = time.Minute
	maxFailureBackoff = time.Hour
)

// maxAttempts bounds the plans of one pass: the first, and those made
// again without the VMs the requester may not migrate.
const maxAttempts = 3

// start creates a Migrate VMOperation for each move, after asking whether
// the policy's requester may migrate the VM; refused says, by
// namespace/name, which VMs it may not. The name is the policy's, the
// VM's and the pass's time, so a retried create after a lost answer finds
// the first; the next pass finds the operation by its label and neither
// repeats nor loses the move. What it creates joins cl's migrations.
func (c *Controller) start(ctx context.Context, cl *cluster, p *v1alpha1.RebalancePolicy, moves []v1alpha1.RebalanceMove) (refused map[string]string, err error) {
	r := p.Spec.Requester
	if len(moves) > 0 && (r == nil || r.Username == "") {
		return nil, apierrors.NewForbidden(v1alpha1.Resource("rebalancepolicies"), p.Name,
			fmt.Errorf("the policy records no requester, so nobody can be held to have asked to migrate VMs"))
	}
	// A move that cannot start does not hold back the others.
	var errs []error
	refused = map[string]string{}
	for i := range moves {
		m := &moves[i]
		req := operations.Request{Namespace: m.Namespace, VMName: m.VMName, Type: string(v1alpha1.VMOperationMigrate)}
		if err := operations.Review(ctx, c.cfg.Kube, operations.ReviewSpecOf(r), operations.RequiredAccess(req)); err != nil {
			if apierrors.IsForbidden(err) {
				refused[m.Namespace+"/"+m.VMName] = fmt.Sprintf("%s may not migrate it", r.Username)
			}
			errs = append(errs, err)
			continue
		}
		name := operationName(p.Name, m.VMName, c.cfg.Clock.Now())
		op := &v1alpha1.VMOperation{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: m.Namespace,
				Labels:      map[string]string{LabelPolicy: p.Name},
				Annotations: map[string]string{AnnotationFrom: m.FromNode},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.SchemeGroupVersion.String(),
					Kind: "RebalancePolicy", Name: p.Name, UID: p.UID}}},
			Spec: v1alpha1.VMOperationSpec{VMName: m.VMName, Type: v1alpha1.VMOperationMigrate,
				Migrate: &v1alpha1.MigrateSpec{TargetNode: m.ToNode, AllowColdMigration: p.Spec.AllowColdMigration}},
		}
		made, err := c.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(m.Namespace).Create(ctx, op, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("migrating VM %s/%s: %w", m.Namespace, m.VMName, err))
			continue
		}
		m.Operation = name
		if err == nil {
			cl.migrations = append(cl.migrations, *made)
			c.moves.WithLabelValues(p.Name, string(m.Trigger)).Inc()
			c.event(p, corev1.EventTypeNormal, ReasonMigrating, "VM %s/%s from %s to %s (%s): %s, operation %s",
				m.Namespace, m.VMName, m.FromNode, m.ToNode, m.Trigger, m.Reason, name)
		}
	}
	return refused, errors.Join(errs...)
}

// operationName is a DNS subdomain unique to the policy, the VM and the
// second: the hash tells policy a with VM b-c from policy a-b with VM c,
// and survives the cut of a long name, so a name taken already is this
// policy's own move of this VM (made on a pass whose status write failed).
func operationName(policy, vm string, now time.Time) string {
	name := "rebalance-" + policy + "-" + vm
	h := fnv.New32a()
	h.Write([]byte(policy + "/" + vm))
	suffix := fmt.Sprintf("-%08x-%d", h.Sum32(), now.Unix())
	if len(name)+len(suffix) > 253 {
		name = name[:253-len(suffix)]
	}
	return strings.TrimRight(name, "-.") + suffix
}

func armedList(m map[string]time.Time) []v1alpha1.RebalanceArmed {
	var out []v1alpha1.RebalanceArmed
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, v1alpha1.RebalanceArmed{Key: k, Since: metav1.NewTime(m[k])})
	}
	return out
}

func (c *Controller) event(p *v1alpha1.RebalancePolicy, eventType, reason, format string, args ...any) {
	ref := &corev1.ObjectReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "RebalancePolicy",
		Name: p.Name, UID: p.UID}
	c.recorder.Eventf(ref, eventType, reason, format, args...)
}
