// Package extender is HyperSDK's kube-scheduler extender: it filters and
// scores nodes for virt-launcher pods with the placement model (carbon, cost,
// pressure, GPU fit), binds them with the GPU devices it chose, and records
// each decision on the pod for the placement subresource. Everything it reads
// on a request comes from informers and pollers, never from an API call,
// except the carbon provider's, which a request waits for at most
// carbonWait, holding no lock.
package extender

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/clock"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	hypersdkinformers "github.com/hypersdk/hypersdk/generated/informers/externalversions"
	listers "github.com/hypersdk/hypersdk/generated/listers/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/placement"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/promutil"
)

// Defaults of Config.
const (
	DefaultUsageInterval = 5 * time.Second
	DefaultCandidates    = 3
	DefaultFilteredShown = 5
	// decisionTTL bounds how long a prioritize result waits for its bind.
	decisionTTL = 10 * time.Minute
)

// Config of an Extender.
type Config struct {
	Kube     kubernetes.Interface
	HyperSDK hypersdkclient.Interface
	Metrics  metricsclient.Interface
	// Carbon gives zone intensities; nil scores carbon as unknown.
	Carbon carbon.Provider
	Prices cost.Model
	// UsageInterval is how often node usage is read from metrics.k8s.io.
	UsageInterval time.Duration
	// Candidates and FilteredShown bound what a recorded decision lists.
	Candidates, FilteredShown int
	// ChooseInFilter lets the filter answer with the one best node when the
	// pod has no preference kube-scheduler's own scoring would weigh: the
	// scheduler then skips scoring and prioritize (see Filter).
	ChooseInFilter bool
	// Informers, when set, is a factory already running in the process
	// (kube-scheduler's, for the plugin): nodes and pods are then watched
	// once, and the extender reads VM pods from the scheduler's informer of
	// every unfinished pod instead of watching them a second time.
	Informers  informers.SharedInformerFactory
	Registerer prometheus.Registerer
	Clock      clock.PassiveClock
}

// Extender answers kube-scheduler's filter, prioritize and bind calls.
type Extender struct {
	cfg      Config
	nodes    *nodeCache
	usage    *usagePoller
	pods     corelisters.PodLister
	policies listers.PlacementPolicyLister
	metrics  *metrics

	kubeInformers     informers.SharedInformerFactory
	podInformers      informers.SharedInformerFactory
	hypersdkInformers hypersdkinformers.SharedInformerFactory
	synced            []cache.InformerSynced

	// passedLast is how many nodes the last Cycle's Filter passed: the
	// next cycle sizes its list for about as many.
	passedLast atomic.Int64

	mu        sync.Mutex
	decisions map[types.UID]pending // last prioritize result per pod
	filtered  map[types.UID]pending // last filter result per pod
	lastSweep time.Time
}

// pending is a scored pod waiting for its bind.
type pending struct {
	at         time.Time
	decision   placement.Decision
	policy     placement.Policy
	policyName string
	// zones are the intensities the scoring used, by zone.
	zones map[string]zoneValue
}

// unknownNodeReason rules out a node the node cache has not seen yet.
const unknownNodeReason = "node not known to the extender yet"

// Unresolvable reports whether a node ruled out for reason would stay ruled
// out after preemption (placement.PreemptionCannotHelp, or a node the
// extender does not know): kube-scheduler then evicts nothing there.
func Unresolvable(reason string) bool {
	return reason == unknownNodeReason || placement.PreemptionCannotHelp(reason)
}

// zoneValue is a zone's carbon intensity, if known.
type zoneValue struct {
	v  float64
	ok bool
}

// New builds an extender; Run starts its caches.
func New(cfg Config) (*Extender, error) {
	if cfg.Kube == nil || cfg.HyperSDK == nil || cfg.Metrics == nil {
		return nil, errors.New("extender: Kubernetes, HyperSDK and metrics clients are required")
	}
	if cfg.UsageInterval <= 0 {
		cfg.UsageInterval = DefaultUsageInterval
	}
	if cfg.Candidates <= 0 {
		cfg.Candidates = DefaultCandidates
	}
	if cfg.FilteredShown <= 0 {
		cfg.FilteredShown = DefaultFilteredShown
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	// Only VM pods, unless the process already watches every pod: capacity
	// is kube-scheduler's to check (NodeResourcesFit runs before any
	// extender), so the extender needs other pods for nothing, and a
	// second watch of every pod of a busy cluster costs the API server and
	// the extender CPU on the scheduling path.
	podInformers := cfg.Informers
	if cfg.Informers == nil {
		cfg.Informers = informers.NewSharedInformerFactory(cfg.Kube, 0)
		podInformers = informers.NewSharedInformerFactoryWithOptions(cfg.Kube, 0,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = kubevirt.LauncherSelector }))
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Extender{
		cfg:               cfg,
		nodes:             newNodeCache(cfg.Prices),
		usage:             &usagePoller{client: cfg.Metrics, interval: cfg.UsageInterval, updated: m.usageUpdated, clock: cfg.Clock},
		metrics:           m,
		kubeInformers:     cfg.Informers,
		podInformers:      podInformers,
		hypersdkInformers: hypersdkinformers.NewSharedInformerFactory(cfg.HyperSDK, 0),
		decisions:         map[types.UID]pending{},
		filtered:          map[types.UID]pending{},
	}
	nodeInf := e.kubeInformers.Core().V1().Nodes().Informer()
	if _, err := nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { e.nodes.setNode(obj.(*corev1.Node)) },
		UpdateFunc: func(_, obj any) { e.nodes.setNode(obj.(*corev1.Node)) },
		DeleteFunc: func(obj any) {
			if n, ok := unwrap(obj).(*corev1.Node); ok {
				e.nodes.deleteNode(n.Name)
			}
		},
	}); err != nil {
		return nil, err
	}
	podInf := e.podInformers.Core().V1().Pods()
	if _, err := podInf.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			p, ok := unwrap(obj).(*corev1.Pod)
			return ok && p.Labels[kubevirt.LauncherLabel] == kubevirt.LauncherLabelValue
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { e.nodes.setPod(obj.(*corev1.Pod)) },
			UpdateFunc: func(_, obj any) { e.nodes.setPod(obj.(*corev1.Pod)) },
			DeleteFunc: func(obj any) { e.nodes.deletePod(unwrap(obj).(*corev1.Pod).UID) },
		},
	}); err != nil {
		return nil, err
	}
	e.pods = podInf.Lister()
	policyInf := e.hypersdkInformers.Hypersdk().V1alpha1().PlacementPolicies()
	e.policies = policyInf.Lister()
	e.synced = []cache.InformerSynced{nodeInf.HasSynced, podInf.Informer().HasSynced, policyInf.Informer().HasSynced}
	// How many policies decisions see: a policy applied a moment before a
	// VM may not have reached this cache yet.
	if err := promutil.Register(cfg.Registerer, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hypersdk_extender_placement_policies",
		Help: "PlacementPolicies in the extender's cache.",
	}, func() float64 { return float64(len(policyInf.Informer().GetStore().ListKeys())) })); err != nil {
		return nil, fmt.Errorf("extender: %w", err)
	}
	return e, nil
}

func unwrap(obj any) any {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}

// Run starts the caches and the usage poller and waits for them to sync.
func (e *Extender) Run(ctx context.Context) error {
	e.kubeInformers.Start(ctx.Done())
	e.podInformers.Start(ctx.Done())
	e.hypersdkInformers.Start(ctx.Done())
	go e.usage.run(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), e.synced...) {
		return fmt.Errorf("extender caches did not sync: %w", ctx.Err())
	}
	klog.FromContext(ctx).Info("Extender caches synced")
	return nil
}

// HasSynced reports whether every cache is ready, for /readyz.
func (e *Extender) HasSynced() bool {
	for _, s := range e.synced {
		if !s() {
			return false
		}
	}
	return true
}

// evaluate scores names for pod with the policy that selects it.
func (e *Extender) evaluate(ctx context.Context, pod *corev1.Pod, names []string) pending {
	vm := e.vmRequest(pod)
	pol, polName := selectPolicy(e.policies, pod.Labels)
	zones := map[string]zoneValue{}
	snaps, unknown := e.nodes.snapshots(names, e.usage.current(), e.intensities(ctx, pol.CarbonHorizon, time.Now().Add(carbonWait), zones))
	d := placement.Evaluate(vm, snaps, pol)
	p := pending{at: e.cfg.Clock.Now(), decision: d, policy: pol, policyName: polName, zones: zones}
	for _, n := range unknown {
		p.decision.Filtered = append(p.decision.Filtered, placement.FilteredNode{Node: n, Reason: unknownNodeReason})
	}
	return p
}

// carbonWait bounds how long a scheduling request waits for the carbon
// intensities of its zones, all of them, well within kube-scheduler's
// extender timeout.
const carbonWait = time.Second

// intensities memoises the zone intensity in memo for one request: a few
// zones serve thousands of nodes. Its callers serialise calls.
func (e *Extender) intensities(ctx context.Context, horizon time.Duration, deadline time.Time, memo map[string]zoneValue) func(string) (float64, bool) {
	return func(zone string) (float64, bool) {
		v, ok := memo[zone]
		if !ok {
			v = e.zoneIntensity(ctx, horizon, deadline, zone)
			memo[zone] = v
		}
		return v.v, v.ok
	}
}

// zoneIntensity looks zone's intensity up; a zone not read by deadline is
// unknown: a source that is slow to answer makes the zone unknown for this
// request, not the scheduler wait, and the cached provider's fetch goes on
// for the requests after.
func (e *Extender) zoneIntensity(ctx context.Context, horizon time.Duration, deadline time.Time, zone string) zoneValue {
	var v zoneValue
	if e.cfg.Carbon != nil {
		ctx, cancel := context.WithDeadline(ctx, deadline)
		intensity, err := placement.ZoneIntensity(ctx, e.cfg.Carbon, zone, horizon)
		cancel()
		if err != nil {
			klog.FromContext(ctx).V(4).Info("No carbon intensity", "zone", zone, "err", err)
		}
		v.v, v.ok = intensity, err == nil
	}
	if !v.ok {
		e.metrics.carbonUnknown.WithLabelValues(zone).Inc()
	}
	return v
}

// vmRequest reads what placement needs from a virt-launcher pod.
func (e *Extender) vmRequest(pod *corev1.Pod) placement.VMRequest {
	vm := placement.VMRequest{Namespace: pod.Namespace, Name: pod.Labels[kubevirt.VMNameLabel], Labels: pod.Labels,
		AllowSpot: pod.Labels[AllowSpotLabel] == "true", NoSpot: pod.Labels[AllowSpotLabel] == "false"}
	gpus := map[corev1.ResourceName]int{}
	for _, c := range pod.Spec.Containers {
		vm.CPUCores += c.Resources.Requests.Cpu().AsApproximateFloat64()
		vm.MemoryBytes += c.Resources.Requests.Memory().AsApproximateFloat64()
		for name, q := range c.Resources.Requests {
			if e.nodes.isGPU(name) {
				gpus[name] += int(q.Value())
			}
		}
	}
	for name, n := range gpus {
		vm.GPUs = append(vm.GPUs, placement.GPURequest{ResourceName: string(name), Count: n})
	}
	return vm
}

// remember keeps a pod's last scoring for its bind, dropping old entries
// and the pod's filter evaluation, which the bind then does not need.
func (e *Extender) remember(uid types.UID, p pending) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sweepLocked(p.at)
	e.decisions[uid] = p
	delete(e.filtered, uid)
}

// rememberFiltered keeps a pod's filter evaluation for its prioritize and
// for the record of its decision. A filter begins a scheduling attempt: a
// decision of an earlier one that never bound (a PreBind failed) is not
// this one's, which may skip prioritize (a single feasible node).
func (e *Extender) rememberFiltered(uid types.UID, p pending) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sweepLocked(p.at)
	e.filtered[uid] = p
	delete(e.decisions, uid)
}

// filteredFor returns and forgets the pod's filter evaluation.
func (e *Extender) filteredFor(uid types.UID) (pending, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.filtered[uid]
	delete(e.filtered, uid)
	return p, ok
}

// sweepLocked drops entries of pods whose bind never came (another
// extender or plugin failed them, or they were deleted).
func (e *Extender) sweepLocked(now time.Time) {
	if now.Sub(e.lastSweep) < decisionTTL {
		return
	}
	e.lastSweep = now
	for k, v := range e.decisions {
		if now.Sub(v.at) > decisionTTL {
			delete(e.decisions, k)
		}
	}
	for k, v := range e.filtered {
		if now.Sub(v.at) > decisionTTL {
			delete(e.filtered, k)
		}
	}
}

func (e *Extender) recall(uid types.UID) (pending, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.decisions[uid]
	delete(e.decisions, uid)
	return p, ok
}
