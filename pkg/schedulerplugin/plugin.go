// Package schedulerplugin is HyperSDK's placement as a kube-scheduler
// framework plugin, for hypersdk-scheduler: kube-scheduler with the plugin
// compiled in. It runs the extender's model (pkg/extender) in the
// scheduler's process, so a VM pod costs no HTTP round trips, no pod
// encodings and no second pod watch, only the nodes kube-scheduler visits
// are assessed, and GPU devices are reserved in the scheduling cycle
// instead of checked at bind time. Decisions are recorded on the pod
// exactly as the extender records them.
package schedulerplugin

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	fwk "k8s.io/kube-scheduler/framework"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/carbonflags"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/extender"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// Name is the plugin's name in a KubeSchedulerConfiguration profile.
const Name = "HyperSDKPlacement"

// Options configure the plugin from hypersdk-scheduler's command line; the
// flags are the extender's, so both read carbon and usage the same way.
type Options struct {
	UsageInterval time.Duration
	Candidates    int
	Carbon        carbonflags.Options
}

// NewOptions returns the extender's defaults.
func NewOptions() *Options {
	return &Options{UsageInterval: extender.DefaultUsageInterval, Candidates: extender.DefaultCandidates}
}

// AddFlags adds the options to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&o.UsageInterval, "usage-interval", o.UsageInterval, "How often node usage is read from metrics.k8s.io for the HyperSDKPlacement plugin.")
	fs.IntVar(&o.Candidates, "decision-candidates", o.Candidates, "Best nodes listed in each recorded placement decision.")
	o.Carbon.AddFlags(fs)
}

// Validate returns the first problem with the options.
func (o *Options) Validate() error {
	if o.UsageInterval < time.Second {
		return fmt.Errorf("--usage-interval must be at least 1s, got %v", o.UsageInterval)
	}
	if o.Candidates < 1 {
		return fmt.Errorf("--decision-candidates must be at least 1, got %d", o.Candidates)
	}
	return nil
}

// Plugin filters, scores, reserves and binds virt-launcher pods; every
// other pod is skipped at each extension point and left to the default
// plugins and binder.
type Plugin struct {
	ext *extender.Extender
}

var (
	_ fwk.PreFilterPlugin     = (*Plugin)(nil)
	_ fwk.FilterPlugin        = (*Plugin)(nil)
	_ fwk.PreFilterExtensions = (*Plugin)(nil)
	_ fwk.PreScorePlugin      = (*Plugin)(nil)
	_ fwk.ScorePlugin         = (*Plugin)(nil)
	_ fwk.ReservePlugin       = (*Plugin)(nil)
	_ fwk.BindPlugin          = (*Plugin)(nil)
)

// Factory returns the plugin's factory for app.WithPlugin. The options are
// read when the scheduler builds its profiles, after flags are parsed.
func Factory(o *Options) func(context.Context, runtime.Object, fwk.Handle) (fwk.Plugin, error) {
	return func(ctx context.Context, _ runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
		if err := o.Validate(); err != nil {
			return nil, err
		}
		cfg := extender.Config{
			Kube:          h.ClientSet(),
			Informers:     h.SharedInformerFactory(),
			Prices:        cost.DefaultModel(),
			UsageInterval: o.UsageInterval,
			Candidates:    o.Candidates,
			Registerer:    legacyregistry.Registerer(),
		}
		var err error
		// The scheduler's own client speaks protobuf, which hypersdk.io and
		// metrics.k8s.io do not: these two use JSON.
		rest := *h.KubeConfig()
		rest.ContentType, rest.AcceptContentTypes = "", ""
		if cfg.HyperSDK, err = hypersdkclient.NewForConfig(&rest); err != nil {
			return nil, fmt.Errorf("%s: %w", Name, err)
		}
		if cfg.Metrics, err = metricsclient.NewForConfig(&rest); err != nil {
			return nil, fmt.Errorf("%s: %w", Name, err)
		}
		if cfg.Carbon, err = o.Carbon.Provider(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("%s: carbon provider: %w", Name, err)
		}
		ext, err := extender.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Name, err)
		}
		go func() {
			if err := ext.Run(ctx); err != nil {
				klog.FromContext(ctx).Error(err, "HyperSDK placement caches")
			}
		}()
		return &Plugin{ext: ext}, nil
	}
}

// Name is the plugin's name.
func (p *Plugin) Name() string { return Name }

const (
	cycleKey fwk.StateKey = Name + "/cycle"
	scoreKey fwk.StateKey = Name + "/score"
)

// cycleState carries the pod's extender.Cycle between extension points.
// Clones share the Cycle: the model reads its own node state, not the
// framework's, so what a preemption dry run changes on a node reaches it
// only as changes.
type cycleState struct {
	*extender.Cycle
	// changes are the pods kube-scheduler added to or removed from each
	// node in this copy of the state: a preemption's victims, nominated
	// pods.
	changes map[string]*extender.PodChanges
}

// Clone shares the cycle and copies the changes: kube-scheduler changes
// each copy apart (one per node a preemption tries).
func (s *cycleState) Clone() fwk.StateData {
	out := &cycleState{Cycle: s.Cycle}
	if len(s.changes) > 0 {
		out.changes = make(map[string]*extender.PodChanges, len(s.changes))
		for node, ch := range s.changes {
			out.changes[node] = ch.Clone()
		}
	}
	return out
}

// scoreState holds the model's total per feasible node.
type scoreState struct{ totals map[string]float64 }

func (s *scoreState) Clone() fwk.StateData { return s }

// read returns what an earlier extension point of this cycle wrote.
func read[T fwk.StateData](state fwk.CycleState, key fwk.StateKey) (T, error) {
	var zero T
	d, err := state.Read(key)
	if err != nil {
		return zero, fmt.Errorf("%s: reading %s: %w", Name, key, err)
	}
	t, ok := d.(T)
	if !ok {
		return zero, fmt.Errorf("%s: %s holds %T", Name, key, d)
	}
	return t, nil
}

// isVM reports whether the pod is a VM's virt-launcher pod.
func isVM(pod *corev1.Pod) bool {
	return pod.Labels[kubevirt.LauncherLabel] == kubevirt.LauncherLabelValue
}

// PreFilter starts the pod's evaluation; Filter assesses the nodes
// kube-scheduler visits, and only those. It returns no PreFilterResult:
// narrowing the nodes to the on-demand ones was measured to cost more
// than it saved on large clusters, since kube-scheduler then copies and
// walks the set for every pod and, finding fewer nodes in it, raises the
// share it looks for (750 of 3,750 on-demand nodes against 500 of 5,000).
// Spot nodes are ruled out first thing in Filter instead.
func (p *Plugin) PreFilter(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, _ []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	if !isVM(pod) {
		return nil, fwk.NewStatus(fwk.Skip)
	}
	if !p.ext.HasSynced() {
		// Scoring from half-filled caches would rule out nodes not seen
		// yet; the pod is retried once they are. Unresolvable: no
		// preemption could help, and one would find no cycle to try
		// nodes with.
		return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "HyperSDK placement caches are not synced yet")
	}
	state.Write(cycleKey, &cycleState{Cycle: p.ext.NewCycle(ctx, pod)})
	return nil, nil
}

// PreFilterExtensions lets kube-scheduler assess a node with pods removed
// or added: the model counts the VM pods on each node (their CPU, memory
// and GPU devices), so without them a preemption, which asks whether the
// pod fits once lower-priority pods are gone, would never find room.
func (p *Plugin) PreFilterExtensions() fwk.PreFilterExtensions { return p }

// AddPod counts podInfo's pod on node in this copy of the cycle state.
func (p *Plugin) AddPod(_ context.Context, state fwk.CycleState, pod *corev1.Pod, podInfo fwk.PodInfo, node fwk.NodeInfo) *fwk.Status {
	return p.change(state, pod, node, func(ch *extender.PodChanges) { ch.Add(podInfo.GetPod()) })
}

// RemovePod counts podInfo's pod as gone from node in this copy of the
// cycle state.
func (p *Plugin) RemovePod(_ context.Context, state fwk.CycleState, pod *corev1.Pod, podInfo fwk.PodInfo, node fwk.NodeInfo) *fwk.Status {
	return p.change(state, pod, node, func(ch *extender.PodChanges) { ch.Remove(podInfo.GetPod()) })
}

func (p *Plugin) change(state fwk.CycleState, pod *corev1.Pod, node fwk.NodeInfo, f func(*extender.PodChanges)) *fwk.Status {
	if !isVM(pod) {
		return nil
	}
	c, err := read[*cycleState](state, cycleKey)
	if err != nil {
		return fwk.AsStatus(err)
	}
	name := node.Node().Name
	if c.changes == nil {
		c.changes = map[string]*extender.PodChanges{}
	}
	if c.changes[name] == nil {
		c.changes[name] = &extender.PodChanges{}
	}
	f(c.changes[name])
	return nil
}

// Filter rules out the nodes the model finds infeasible, with its reason.
func (p *Plugin) Filter(_ context.Context, state fwk.CycleState, _ *corev1.Pod, node fwk.NodeInfo) *fwk.Status {
	c, err := read[*cycleState](state, cycleKey)
	if err != nil {
		return fwk.AsStatus(err)
	}
	name := node.Node().Name
	var reason string
	if ch := c.changes[name]; ch != nil {
		reason = c.FilterWith(name, ch)
	} else {
		reason = c.Filter(name)
	}
	if reason != "" {
		if extender.Unresolvable(reason) {
			return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, reason)
		}
		return fwk.NewStatus(fwk.Unschedulable, reason)
	}
	return nil
}

// PreScore ranks the nodes that passed every filter among themselves: the
// model normalises carbon and cost over the field, so scores depend on it.
func (p *Plugin) PreScore(_ context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []fwk.NodeInfo) *fwk.Status {
	if !isVM(pod) {
		return fwk.NewStatus(fwk.Skip)
	}
	c, err := read[*cycleState](state, cycleKey)
	if err != nil {
		return fwk.AsStatus(err)
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Node().Name
	}
	state.Write(scoreKey, &scoreState{totals: c.Score(names)})
	return nil
}

// Score is the model's weighted total, already 0..100 (fwk.MaxNodeScore).
func (p *Plugin) Score(_ context.Context, state fwk.CycleState, _ *corev1.Pod, node fwk.NodeInfo) (int64, *fwk.Status) {
	s, err := read[*scoreState](state, scoreKey)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	total := math.Round(s.totals[node.Node().Name])
	return min(max(int64(total), fwk.MinNodeScore), fwk.MaxNodeScore), nil
}

// ScoreExtensions is nil: scores need no normalising.
func (p *Plugin) ScoreExtensions() fwk.ScoreExtensions { return nil }

// Reserve holds the GPU devices the decision picks on the node until the
// bind reaches the pod cache (see extender.Reserve).
func (p *Plugin) Reserve(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, node string) *fwk.Status {
	if !isVM(pod) {
		return nil
	}
	c, err := read[*cycleState](state, cycleKey)
	if err != nil {
		return fwk.AsStatus(err)
	}
	if !c.Scored() {
		// kube-scheduler skips scoring when one node is feasible: that
		// node alone is the decision, with the reasons the others failed.
		c.Score([]string{node})
	}
	if err := p.ext.Reserve(ctx, pod, node); err != nil {
		return fwk.NewStatus(fwk.Unschedulable, err.Error())
	}
	return nil
}

// Unreserve releases what Reserve held.
func (p *Plugin) Unreserve(_ context.Context, _ fwk.CycleState, pod *corev1.Pod, _ string) {
	if isVM(pod) {
		p.ext.Unreserve(pod.UID)
	}
}

// Bind binds a VM pod with its GPU devices and the recorded decision in one
// write, as the extender's bind does; other pods go to the default binder.
func (p *Plugin) Bind(ctx context.Context, _ fwk.CycleState, pod *corev1.Pod, node string) *fwk.Status {
	if !isVM(pod) {
		return fwk.NewStatus(fwk.Skip)
	}
	err := p.ext.Bind(ctx, &extenderv1.ExtenderBindingArgs{PodName: pod.Name, PodNamespace: pod.Namespace, PodUID: pod.UID, Node: node})
	if err != nil {
		return fwk.AsStatus(err)
	}
	return nil
}
