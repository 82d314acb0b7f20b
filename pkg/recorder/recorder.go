// Package recorder samples every VM and the cluster at a fixed interval and
// writes one batch per tick to a history store: usage from the metrics.k8s.io
// API, allocation and placement from KubeVirt's objects, the zone's carbon
// intensity and the VM's price per hour.
package recorder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/clock"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// DefaultInterval is the production sampling interval; MinInterval is the
// shortest allowed, for sandboxes and tests.
const (
	DefaultInterval = 5 * time.Minute
	MinInterval     = time.Second
)

// Config of a Recorder.
type Config struct {
	Interval time.Duration
	Store    history.Store
	Kube     kubernetes.Interface
	KubeVirt kubevirt.Clientset
	Metrics  metricsclient.Interface
	// Carbon gives zone intensities; nil records zero.
	Carbon carbon.Provider
	// Prices prices VMs on their node.
	Prices cost.Model
	// Exporter, when set, publishes each stored batch for Prometheus.
	Exporter *history.Exporter
	// Registerer takes the recorder's own metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Clock      clock.Clock
}

// Recorder writes history batches.
type Recorder struct {
	cfg     Config
	metrics *metrics

	vms, vmis cache.SharedIndexInformer
	nodes     corelisters.NodeLister
	pods      corelisters.PodLister
	factories []informers.SharedInformerFactory
	synced    []cache.InformerSynced
}

// New checks cfg and builds a recorder; Run starts it.
func New(cfg Config) (*Recorder, error) {
	if cfg.Store == nil || cfg.Kube == nil || cfg.KubeVirt == nil || cfg.Metrics == nil {
		return nil, errors.New("recorder: store, Kubernetes, KubeVirt and metrics clients are required")
	}
	if cfg.Interval < MinInterval {
		return nil, fmt.Errorf("recorder: interval %s below the minimum %s", cfg.Interval, MinInterval)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	nodes := informers.NewSharedInformerFactory(cfg.Kube, 0)
	launchers := informers.NewSharedInformerFactoryWithOptions(cfg.Kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = kubevirt.LauncherSelector }))
	nodeInf, podInf := nodes.Core().V1().Nodes(), launchers.Core().V1().Pods()
	r := &Recorder{
		cfg: cfg, metrics: m,
		vms:       kubevirt.NewVirtualMachineInformer(cfg.KubeVirt, 0),
		vmis:      kubevirt.NewVirtualMachineInstanceInformer(cfg.KubeVirt, 0),
		nodes:     nodeInf.Lister(),
		pods:      podInf.Lister(),
		factories: []informers.SharedInformerFactory{nodes, launchers},
	}
	r.synced = []cache.InformerSynced{r.vms.HasSynced, r.vmis.HasSynced,
		nodeInf.Informer().HasSynced, podInf.Informer().HasSynced}
	return r, nil
}

// Run records a batch at every multiple of the interval until ctx ends.
// Ticks are aligned to the wall clock, so a restarted recorder writes the
// same tick times and a tick stored before a crash is not stored twice.
func (r *Recorder) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("controller", "history-recorder")
	go r.vms.Run(ctx.Done())
	go r.vmis.Run(ctx.Done())
	for _, f := range r.factories {
		f.Start(ctx.Done())
	}
	if !cache.WaitForCacheSync(ctx.Done(), r.synced...) {
		return fmt.Errorf("history recorder: caches did not sync: %w", ctx.Err())
	}
	logger.Info("History recorder started", "interval", r.cfg.Interval)
	for {
		now := r.cfg.Clock.Now()
		next := now.Truncate(r.cfg.Interval).Add(r.cfg.Interval)
		select {
		case <-ctx.Done():
			return nil
		case <-r.cfg.Clock.After(next.Sub(now)):
		}
		if err := r.Record(ctx, next); err != nil {
			logger.Error(err, "Recording history batch failed", "time", next)
		}
	}
}

// Record samples everything now and stores it as the batch of tick t.
func (r *Recorder) Record(ctx context.Context, t time.Time) error {
	start := r.cfg.Clock.Now()
	b, err := r.sample(ctx, t)
	if err != nil {
		r.metrics.batches.WithLabelValues("error").Inc()
		return err
	}
	if err := r.cfg.Store.Append(ctx, b); err != nil {
		r.metrics.batches.WithLabelValues("error").Inc()
		return fmt.Errorf("storing history batch of %s: %w", t.Format(time.RFC3339), err)
	}
	// Acknowledged: from here on the batch must survive anything.
	klog.FromContext(ctx).V(2).Info("History batch stored", "time", t.UTC().Format(time.RFC3339Nano), "vms", len(b.VMs))
	r.metrics.batches.WithLabelValues("stored").Inc()
	r.metrics.batchSize.Observe(float64(len(b.VMs)))
	r.metrics.batchSeconds.Observe(r.cfg.Clock.Since(start).Seconds())
	if s, ok := r.cfg.Store.(sizer); ok {
		if n, err := s.SizeBytes(ctx); err == nil {
			r.metrics.storeBytes.Set(float64(n))
		}
	}
	if r.cfg.Exporter != nil {
		r.cfg.Exporter.Set(b)
	}
	return nil
}

// sizer is a store that knows its size on disk.
type sizer interface {
	SizeBytes(ctx context.Context) (int64, error)
}
