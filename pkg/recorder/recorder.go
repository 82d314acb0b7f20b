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
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/hypersdk/hypersdk/pkg/history"
)

// DefaultInterval is the production sampling interval; MinInterval is the
// shortest allowed, for sandboxes and tests.
const (
	DefaultInterval = 5 * time.Minute
	MinInterval     = time.Second
)

// Config of a Recorder.
type Config struct {
	SamplerConfig
	Interval time.Duration
	Store    history.Store
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
	sampler *Sampler
}

// New checks cfg and builds a recorder; Run starts it.
func New(cfg Config) (*Recorder, error) {
	if cfg.Store == nil {
		return nil, errors.New("recorder: a history store is required")
	}
	if cfg.Interval < MinInterval {
		return nil, fmt.Errorf("recorder: interval %s below the minimum %s", cfg.Interval, MinInterval)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	sampler, err := NewSampler(cfg.SamplerConfig)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Recorder{cfg: cfg, metrics: m, sampler: sampler}, nil
}

// Run records a batch at every multiple of the interval until ctx ends.
// Ticks are aligned to the wall clock, so a restarted recorder writes the
// same tick times and a tick stored before a crash is not stored twice.
func (r *Recorder) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("controller", "history-recorder")
	if err := r.sampler.Start(ctx); err != nil {
		return fmt.Errorf("history recorder: %w", err)
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
	b, err := r.sampler.Sample(ctx, t)
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
