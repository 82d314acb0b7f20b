package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	hypersdkinformers "github.com/hypersdk/hypersdk/generated/informers/externalversions"
	listers "github.com/hypersdk/hypersdk/generated/listers/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// Defaults of an Executor.
const (
	DefaultTTL               = 24 * time.Hour
	DefaultMaxMigrations     = 5
	DefaultMaxMigrationsNode = 2
	// defaultWorkers: a pass mostly waits on the API server, so workers
	// overlap those waits; 1,000 operations at once finished in 82 s with 4
	// and 65 s with 16 on 2 cores (test/bench BenchmarkOperationsAtScale),
	// with the controller's client rate limit (100 QPS) unchanged.
	defaultWorkers   = 16
	pollWhileRunning = 500 * time.Millisecond
	// maxAttempts bounds the retries of an error the executor cannot tell
	// will pass: after that many failed passes in a row the operation fails
	// with the error (about a minute with the queue's backoff).
	maxAttempts     = 12
	ownerAnnotation = "hypersdk.io/operation"
	// Finalizer keeps a deleted operation until the executor has
	// cancelled it and undone what it did (cleanUp): deleting one that was
	// running would otherwise leave, say, its VM stopped and pinned.
	Finalizer = "hypersdk.io/operation-cleanup"
	// CreatedAtAnnotation is when the API server created an operation, to
	// the nanosecond (RFC 3339): creationTimestamp has whole seconds, and
	// two operations on a VM made in one second run in the order they
	// were made, not by their generated names.
	CreatedAtAnnotation = "hypersdk.io/created-at"
	// ownerUIDAnnotation tells the objects of an operation from those an
	// earlier operation of the same name left behind.
	ownerUIDAnnotation       = "hypersdk.io/operation-uid"
	linkedCloneAnnotation    = "hypersdk.io/linked-clone-of"
	snapshotDescriptionAnnot = "hypersdk.io/description"
)

// ExecutorConfig configures an Executor.
type ExecutorConfig struct {
	Kube     kubernetes.Interface
	KubeVirt kubevirt.Clientset
	// CDI reads the DataVolumes a clone's disks are copied into.
	CDI      kubevirt.CDIClientset
	HyperSDK hypersdkclient.Interface
	// Clock is the real clock when nil.
	Clock clock.Clock
	// TTL is how long a finished operation is kept before it is deleted.
	TTL time.Duration
	// MaxMigrations in flight in the cluster, MaxMigrationsPerNode out of one node.
	MaxMigrations, MaxMigrationsPerNode int
	Workers                             int
	// Registerer takes the executor's metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Executor carries out VMOperations against KubeVirt objects. It is level
// triggered: every pass reads the operation and the objects it acts on and
// takes the next step, creating KubeVirt objects under names derived from
// the operation, so a restarted executor resumes without doing anything
// twice.
type Executor struct {
	cfg       ExecutorConfig
	factory   hypersdkinformers.SharedInformerFactory
	opLister  listers.VMOperationLister
	opsSynced cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[cache.ObjectName]
	metrics   *metrics
	reserved  *reservations
}

// NewExecutor returns an executor; Run starts it.
func NewExecutor(cfg ExecutorConfig) *Executor {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxMigrations == 0 {
		cfg.MaxMigrations = DefaultMaxMigrations
	}
	if cfg.MaxMigrationsPerNode == 0 {
		cfg.MaxMigrationsPerNode = DefaultMaxMigrationsNode
	}
	if cfg.Workers == 0 {
		cfg.Workers = defaultWorkers
	}
	e := &Executor{cfg: cfg, reserved: newReservations(cfg.MaxMigrations, cfg.MaxMigrationsPerNode)}
	e.metrics = newMetrics(e.reserved.migrationsInFlight)
	if cfg.Registerer != nil {
		utilruntime.Must(e.metrics.register(cfg.Registerer))
	}
	e.factory = hypersdkinformers.NewSharedInformerFactory(cfg.HyperSDK, 0)
	inf := e.factory.Hypersdk().V1alpha1().VMOperations()
	e.opLister = inf.Lister()
	e.opsSynced = inf.Informer().HasSynced
	e.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[cache.ObjectName](100*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "vmoperations"})
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    e.enqueue,
		UpdateFunc: func(_, obj interface{}) { e.enqueue(obj) },
		// A deleted operation gives back what it held.
		DeleteFunc: func(obj interface{}) {
			if key, err := cache.DeletionHandlingObjectToName(obj); err == nil {
				e.queue.Add(key)
			}
		},
	})
	utilruntime.Must(err)
	return e
}

func (e *Executor) enqueue(obj interface{}) {
	if key, err := cache.ObjectToName(obj); err == nil {
		e.queue.Add(key)
	}
}

// Run executes operations until ctx ends.
func (e *Executor) Run(ctx context.Context) error {
	defer e.queue.ShutDown()
	logger := klog.FromContext(ctx).WithValues("controller", "vmoperations")
	ctx = klog.NewContext(ctx, logger)
	e.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), e.opsSynced) {
		return errors.New("VMOperation informer did not sync")
	}
	all, err := e.opLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing operations: %w", err)
	}
	e.reserved.seed(all)
	logger.Info("Executing VM operations")
	for i := 0; i < e.cfg.Workers; i++ {
		go wait.UntilWithContext(ctx, e.work, time.Second)
	}
	<-ctx.Done()
	return nil
}

func (e *Executor) work(ctx context.Context) {
	for {
		key, quit := e.queue.Get()
		if quit {
			return
		}
		if err := e.syncRecovering(ctx, key); err != nil {
			klog.FromContext(ctx).V(2).Info("Retrying operation", "operation", key.String(), "err", err)
			e.queue.AddRateLimited(key)
		} else {
			e.queue.Forget(key)
		}
		e.queue.Done(key)
	}
}

// syncRecovering is sync, with a panic turned into an error that retries
// the operation with backoff: a defect that one operation's state trips
// must not take every controller of the process down with it, again at
// every restart.
func (e *Executor) syncRecovering(ctx context.Context, key cache.ObjectName) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while executing operation %s: %v", key, r)
			klog.FromContext(ctx).Error(err, "Operation pass panicked", "stack", string(debug.Stack()))
		}
	}()
	return e.sync(ctx, key)
}

// step is what one pass learned: the new progress and message, and whether
// the operation ended.
type step struct {
	progress int32
	message  string
	done     bool
	failed   error
	// requeue after this long when the operation waits on something that
	// sends no event to this controller.
	requeue time.Duration
}

func (e *Executor) sync(ctx context.Context, key cache.ObjectName) error {
	op, err := e.opLister.VMOperations(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		e.reserved.release(key)
		return nil
	}
	if err != nil {
		return err
	}
	if op.Status.Phase.Final() && op.Status.CompletionTime == nil {
		return e.stampEnd(ctx, op, key)
	}
	if op.Status.Phase.Final() {
		if !holdsGrants(op) {
			e.reserved.release(key)
		}
		if err := e.cleanUp(ctx, op); err != nil {
			return err
		}
		e.reserved.release(key) // cleaned up: what it held is free
		if op.DeletionTimestamp != nil {
			return e.release(ctx, op)
		}
		return e.collect(ctx, op, key)
	}
	updated := op.DeepCopy()
	st := &updated.Status
	now := metav1.NewTime(e.cfg.Clock.Now())

	switch {
	case op.Spec.Cancel, op.DeletionTimestamp != nil:
		// Deleted before it ended: cancelled, so the clean-up rolls back
		// what it did before the finalizer lets the object go.
		if err := e.cancel(ctx, updated); err != nil {
			return err
		}
		why := "cancelled on request"
		if !op.Spec.Cancel {
			why = "deleted before it ended"
		}
		st.Phase, st.Message, st.CompletionTime = v1alpha1.VMOperationCancelled, "cancelled: "+why, &now
		setCondition(st, "Cancelled", metav1.ConditionTrue, "CancelRequested", why, now)
	case st.Phase == "" || st.Phase == v1alpha1.VMOperationPending:
		if err := e.reviewRequester(ctx, op); err != nil {
			if failed := e.giveUp(key, err); failed != nil {
				fail(st, failed, now)
				break
			}
			return err
		}
		if wait, err := e.vmTurn(op); err != nil {
			return err
		} else if wait != "" {
			st.Phase, st.Message = v1alpha1.VMOperationPending, wait
			e.queue.AddAfter(key, 2*time.Second)
			break
		}
		if op.Spec.Type == v1alpha1.VMOperationMigrate {
			wait, err := e.migrationSlot(ctx, updated)
			if err != nil {
				if failed := e.giveUp(key, err); failed != nil {
					fail(st, failed, now)
					break
				}
				return err
			}
			if wait != "" {
				st.Phase, st.Message = v1alpha1.VMOperationPending, wait
				e.queue.AddAfter(key, 2*time.Second)
				break
			}
		}
		st.Phase, st.StartTime, st.Progress, st.Message = v1alpha1.VMOperationRunning, &now, 1, "starting"
	default:
		s, err := e.run(ctx, updated)
		if err != nil {
			if s.failed = e.giveUp(key, err); s.failed == nil {
				return err
			}
		}
		if s.progress > st.Progress {
			st.Progress = s.progress // progress never goes backwards
		}
		if s.message != "" {
			st.Message = s.message
		}
		switch {
		case s.failed != nil:
			fail(st, s.failed, now)
		case s.done:
			st.Phase, st.Progress, st.CompletionTime = v1alpha1.VMOperationSucceeded, 100, &now
			setCondition(st, "Succeeded", metav1.ConditionTrue, "OperationSucceeded", st.Message, now)
		case s.requeue > 0:
			e.queue.AddAfter(key, s.requeue)
		default:
			e.queue.AddAfter(key, pollWhileRunning)
		}
	}
	if equality.Semantic.DeepEqual(op.Status, updated.Status) {
		return nil
	}
	_, err = e.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(op.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		e.queue.Add(key) // a newer version is coming through the informer
		return nil
	}
	if err == nil && st.Phase.Final() {
		if !holdsGrants(updated) {
			e.reserved.release(key) // at once: waiting migrations need the slot
		}
		e.metrics.finished(op, st.Phase, now.Time)
	}
	return err
}

// giveUp returns the error an operation fails with when err cannot pass by
// retrying (the request itself is wrong or refused: forbidden, over quota,
// invalid, into a namespace that does not exist) or has come back
// maxAttempts times in a row; nil means retry with backoff.
func (e *Executor) giveUp(key cache.ObjectName, err error) error {
	var p permanent
	switch {
	case errors.As(err, &p), apierrors.IsForbidden(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err),
		apierrors.IsNotFound(err), apierrors.IsAlreadyExists(err), apierrors.IsMethodNotSupported(err):
		return err
	case e.queue.NumRequeues(key)+1 >= maxAttempts:
		return fmt.Errorf("gave up after %d attempts: %w", maxAttempts, err)
	}
	return nil
}

// permanent marks an error no retry can mend.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// fail ends an operation with err, its API reason (Forbidden, NotFound,
// Conflict, ...) as the condition's reason when it has one.
func fail(st *v1alpha1.VMOperationStatus, err error, now metav1.Time) {
	reason := "OperationFailed"
	if r := apierrors.ReasonForError(err); r != metav1.StatusReasonUnknown {
		reason = string(r)
	}
	st.Phase, st.Message, st.CompletionTime = v1alpha1.VMOperationFailed, err.Error(), &now
	setCondition(st, "Failed", metav1.ConditionTrue, reason, err.Error(), now)
}

// run takes the next step of a running operation.
func (e *Executor) run(ctx context.Context, op *v1alpha1.VMOperation) (step, error) {
	switch op.Spec.Type {
	case v1alpha1.VMOperationStart:
		s, err := e.start(ctx, op)
		return e.withinRunTimeout(op, s, err)
	case v1alpha1.VMOperationStop:
		s, err := e.stop(ctx, op)
		return e.withinRunTimeout(op, s, err)
	case v1alpha1.VMOperationRestart:
		s, err := e.restart(ctx, op)
		return e.withinRunTimeout(op, s, err)
	case v1alpha1.VMOperationMigrate:
		return e.migrate(ctx, op)
	case v1alpha1.VMOperationResize:
		s, err := e.resize(ctx, op)
		if recorded(op, "Plan", "plan") != nil { // applied: live or by restart, it ends
			return e.withinRunTimeout(op, s, err)
		}
		return s, err
	case v1alpha1.VMOperationSnapshot:
		return e.snapshot(ctx, op)
	case v1alpha1.VMOperationClone:
		return e.clone(ctx, op)
	case v1alpha1.VMOperationRestore:
		return e.restore(ctx, op)
	case v1alpha1.VMOperationAttachUSB:
		return e.attachUSB(ctx, op)
	case v1alpha1.VMOperationDetachUSB:
		return e.detachUSB(ctx, op)
	}
	return step{failed: fmt.Errorf("unknown operation type %q", op.Spec.Type)}, nil
}

// runTimeout bounds how long a start, a restart, or a resize waits for the
// VM to run at its size, and a stop for it to stop (beyond its grace
// period). A VM that cannot be scheduled, or an instance stuck on a node
// that is gone, would otherwise keep its operation Running, and every
// later operation on the VM waiting behind it, for ever.
const runTimeout = 15 * time.Minute

// runTimeoutOf is op's runTimeout plus the grace period its stop or
// restart gives the guest to shut down.
func runTimeoutOf(op *v1alpha1.VMOperation) time.Duration {
	timeout := runTimeout
	if op.Spec.Stop != nil && op.Spec.Stop.GracePeriodSeconds != nil {
		timeout += time.Duration(*op.Spec.Stop.GracePeriodSeconds) * time.Second
	}
	if op.Spec.Restart != nil && op.Spec.Restart.GracePeriodSeconds != nil {
		timeout += time.Duration(*op.Spec.Restart.GracePeriodSeconds) * time.Second
	}
	return timeout
}

// withinRunTimeout fails a start, restart, stop or resize that has waited
// longer than runTimeout. As a Deployment past its progress
// deadline, a started or stopped VM is left as it is: KubeVirt runs or
// stops it once it can. A resize's clean-up gives the VM its size back.
func (e *Executor) withinRunTimeout(op *v1alpha1.VMOperation, s step, err error) (step, error) {
	start, timeout := op.Status.StartTime, runTimeoutOf(op)
	if err != nil || s.done || s.failed != nil || start == nil || e.cfg.Clock.Since(start.Time) <= timeout {
		return s, err
	}
	switch op.Spec.Type {
	case v1alpha1.VMOperationStop:
		return step{failed: fmt.Errorf("VM %s did not stop within %s (%s); it stays stopped and KubeVirt ends its instance once it can",
			op.Spec.VMName, timeout, s.message)}, nil
	case v1alpha1.VMOperationResize:
		return step{failed: fmt.Errorf("VM %s did not run at its new size within %s (%s); it gets its size back",
			op.Spec.VMName, timeout, s.message)}, nil
	}
	return step{failed: fmt.Errorf("VM %s did not run within %s (%s); it stays started and runs once it can: stop it to give up",
		op.Spec.VMName, timeout, s.message)}, nil
}

// collect deletes a finished operation once its TTL has passed.
func (e *Executor) collect(ctx context.Context, op *v1alpha1.VMOperation, key cache.ObjectName) error {
	if op.Status.CompletionTime == nil {
		return nil
	}
	left := op.Status.CompletionTime.Add(e.cfg.TTL).Sub(e.cfg.Clock.Now())
	if left > 0 {
		e.queue.AddAfter(key, left)
		return nil
	}
	uid := op.UID
	err := e.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(op.Namespace).Delete(ctx, op.Name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// release takes Finalizer off a deleted operation whose clean-up is done,
// so the object goes. The patch carries the resourceVersion read: one the
// clean-up just wrote over conflicts, and the next pass, on the newer
// version, takes it off.
func (e *Executor) release(ctx context.Context, op *v1alpha1.VMOperation) error {
	if !slices.Contains(op.Finalizers, Finalizer) {
		return nil
	}
	rest := slices.DeleteFunc(slices.Clone(op.Finalizers), func(f string) bool { return f == Finalizer })
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": rest, "resourceVersion": op.ResourceVersion}})
	if err != nil {
		return err
	}
	_, err = e.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(op.Namespace).Patch(ctx, op.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or a newer version is coming through the informer
	}
	if err != nil {
		return fmt.Errorf("releasing deleted operation %s: %w", op.Name, err)
	}
	return nil
}

// reviewRequester asks kube-apiserver whether the operation's requester may
// still have it carried out, just before the executor starts acting with its
// own rights: hypersdk-apiserver checked at creation, but rights can be
// taken away meanwhile, and an operation that reached etcd some other way
// has no requester at all.
func (e *Executor) reviewRequester(ctx context.Context, op *v1alpha1.VMOperation) error {
	r := op.Spec.Requester
	if r == nil || r.Username == "" {
		return apierrors.NewForbidden(v1alpha1.Resource("vmoperations"), op.Name,
			errors.New("the operation records no requester, so nobody can be held to have asked for it"))
	}
	var in hypersdk.VMOperation
	if err := v1alpha1.Convert_v1alpha1_VMOperation_To_hypersdk_VMOperation(op, &in, nil); err != nil {
		return fmt.Errorf("reading operation %s: %w", op.Name, err)
	}
	return Review(ctx, e.cfg.Kube, ReviewSpecOf(r), RequiredAccess(RequestOf(&in)))
}

// Allowed asks kube-apiserver, with a SubjectAccessReview, whether a
// recorded requester may do what attrs describe: what a controller checks
// before it acts for the author of a policy.
func Allowed(ctx context.Context, kube kubernetes.Interface, r *v1alpha1.VMOperationRequester, attrs authorizationv1.ResourceAttributes) (bool, string, error) {
	spec := ReviewSpecOf(r)
	spec.ResourceAttributes = &attrs
	sar, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: *spec}, metav1.CreateOptions{})
	if err != nil {
		return false, "", fmt.Errorf("reviewing access of %s: %w", r.Username, err)
	}
	return sar.Status.Allowed, sar.Status.Reason, nil
}

// ReviewSpecOf is the SubjectAccessReview subject of a recorded requester.
func ReviewSpecOf(r *v1alpha1.VMOperationRequester) *authorizationv1.SubjectAccessReviewSpec {
	spec := &authorizationv1.SubjectAccessReviewSpec{User: r.Username, UID: r.UID, Groups: r.Groups}
	for k, v := range r.Extra {
		if spec.Extra == nil {
			spec.Extra = map[string]authorizationv1.ExtraValue{}
		}
		spec.Extra[k] = authorizationv1.ExtraValue(v)
	}
	return spec
}

// vmTurn says which operation op waits for: the operations on one VM run
// one at a time, in the order they were made (then by name), because each
// acts on the VM's state as it finds it: a Stop while a cold migration has
// the VM halted would see it stopped and succeed, and the migration would
// then start it again. One that failed or was cancelled counts until its
// clean-up is done, which may still act on the VM (give back a pin, a size,
// a run strategy). The order is the objects' own, so it holds across
// restarts and workers.
func (e *Executor) vmTurn(op *v1alpha1.VMOperation) (string, error) {
	all, err := e.opLister.VMOperations(op.Namespace).List(labels.Everything())
	if err != nil {
		return "", fmt.Errorf("listing the operations of VM %s: %w", op.Spec.VMName, err)
	}
	// One that ended without success acts on the VM until its clean-up is
	// done (gives its pin, size or run strategy back): as one running.
	acting := func(o *v1alpha1.VMOperation) bool {
		return o.Status.Phase == v1alpha1.VMOperationRunning || cleaningUp(o)
	}
	var first *v1alpha1.VMOperation
	for _, o := range all {
		if o.UID == op.UID || o.Spec.VMName != op.Spec.VMName || o.Status.Phase.Final() && !cleaningUp(o) {
			continue
		}
		if acting(o) || before(o, op) {
			if first == nil || !acting(first) && (acting(o) || before(o, first)) {
				first = o
			}
		}
	}
	switch {
	case first == nil:
		return "", nil
	case first.Status.Phase.Final():
		return fmt.Sprintf("waiting for the clean-up of %s operation %s on VM %s", first.Spec.Type, first.Name, op.Spec.VMName), nil
	}
	return fmt.Sprintf("waiting for %s operation %s on VM %s to end", first.Spec.Type, first.Name, op.Spec.VMName), nil
}

// CreatedAt is when the API server made op: the nanosecond it stamped
// (stamped true), else its creationTimestamp, to the second.
func CreatedAt(op *v1alpha1.VMOperation) (at time.Time, stamped bool) {
	if t, err := time.Parse(time.RFC3339Nano, op.Annotations[CreatedAtAnnotation]); err == nil {
		return t, true
	}
	return op.CreationTimestamp.Time, false
}

// before orders operations by creation (to the nanosecond where both say
// it), then name.
func before(a, b *v1alpha1.VMOperation) bool {
	ta, sa := CreatedAt(a)
	tb, sb := CreatedAt(b)
	switch {
	case sa && sb && !ta.Equal(tb):
		return ta.Before(tb)
	case !sa || !sb:
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
	}
	return a.Name < b.Name
}

// migrationSlot reserves a slot for a migration out of the node the VM runs
// on and records that node in the operation, or says why it must wait.
func (e *Executor) migrationSlot(ctx context.Context, op *v1alpha1.VMOperation) (string, error) {
	source := recorded(op, "Node", "source")
	if source == nil {
		vmi, err := e.getVMI(ctx, op.Namespace, op.Spec.VMName)
		if err != nil {
			return "", err
		}
		if !running(vmi) {
			return "", permanent{fmt.Errorf("VM %s is not running: only a running VM migrates", op.Spec.VMName)}
		}
		source = &v1alpha1.ResourceReference{Kind: "Node", Name: vmi.Status.NodeName, Role: "source"}
	}
	if ok, wait := e.reserved.migration(cache.MetaObjectToName(op), source.Name); !ok {
		return wait, nil
	}
	record(op, *source)
	return "", nil
}

func setCondition(st *v1alpha1.VMOperationStatus, typ string, status metav1.ConditionStatus, reason, msg string, now metav1.Time) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: now})
}

// stampEnd gives an operation that ended without a completion time (its
// status written by another client: this executor always sets one) the time
// its final condition says, or now. The clean-up's bounds, the grants and
// the TTL count from it; without one, a clean-up that kept failing held the
// VM's next operations for ever and the operation was never collected.
func (e *Executor) stampEnd(ctx context.Context, op *v1alpha1.VMOperation, key cache.ObjectName) error {
	updated := op.DeepCopy()
	end := metav1.NewTime(e.cfg.Clock.Now())
	if c := meta.FindStatusCondition(op.Status.Conditions, string(op.Status.Phase)); c != nil && c.Status == metav1.ConditionTrue {
		end = c.LastTransitionTime
	}
	updated.Status.CompletionTime = &end
	_, err := e.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(op.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		e.queue.Add(key) // a newer version is coming through the informer
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("recording when operation %s ended: %w", key, err)
	}
	return nil
}

// recorded finds a recorded reference by kind and role.
func recorded(op *v1alpha1.VMOperation, kind, role string) *v1alpha1.ResourceReference {
	for i := range op.Status.Resources {
		r := &op.Status.Resources[i]
		if r.Kind == kind && r.Role == role {
			return r
		}
	}
	return nil
}

// record remembers a reference under a role, once.
func record(op *v1alpha1.VMOperation, ref v1alpha1.ResourceReference) {
	if recorded(op, ref.Kind, ref.Role) == nil {
		op.Status.Resources = append(op.Status.Resources, ref)
	}
}

// kubevirtName is the name of a KubeVirt object an operation creates: the
// same on every pass, so creation is idempotent. KubeVirt writes a
// migration's name into a label value (its PodDisruptionBudget's
// kubevirt.io/migrationName), which holds 63 characters at most, and
// retries a longer one for ever: a longer name is cut, and told apart from
// others cut alike by a hash of the whole.
func kubevirtName(op *v1alpha1.VMOperation) string {
	name := "hypersdk-" + op.Name
	if len(name) <= validation.LabelValueMaxLength {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(op.Name))
	suffix := fmt.Sprintf("-%08x", h.Sum32())
	return strings.TrimRight(name[:validation.LabelValueMaxLength-len(suffix)], "-.") + suffix
}
