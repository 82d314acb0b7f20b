package extender

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/clock"
)

// usageKeptFor is how many polling intervals usage outlives a failing
// metrics.k8s.io: long enough to ride out a restart of metrics-server, not
// so long that hours-old load is scored as today's (and against nodes added
// since, which have none and are scored on requests).
const usageKeptFor = 3

// nodeUsage is a node's measured CPU (cores) and memory (bytes).
type nodeUsage struct{ cpu, mem float64 }

// usagePoller keeps the latest node usage from metrics.k8s.io, so requests
// read a map instead of calling the API: the metrics pipeline only refreshes
// every few seconds anyway.
type usagePoller struct {
	client   metricsclient.Interface
	interval time.Duration
	updated  prometheus.Gauge
	clock    clock.PassiveClock

	mu    sync.RWMutex
	usage map[string]nodeUsage
	at    time.Time // of usage
}

func (p *usagePoller) run(ctx context.Context) {
	wait.UntilWithContext(ctx, p.poll, p.interval)
}

func (p *usagePoller) poll(ctx context.Context) {
	list, err := p.client.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		// Keep the last known usage a while (current): briefly stale
		// load beats none for pressure.
		klog.FromContext(ctx).V(2).Info("Listing node metrics failed", "err", err)
		return
	}
	usage := make(map[string]nodeUsage, len(list.Items))
	for _, nm := range list.Items {
		usage[nm.Name] = nodeUsage{cpu: nm.Usage.Cpu().AsApproximateFloat64(), mem: nm.Usage.Memory().AsApproximateFloat64()}
	}
	p.mu.Lock()
	p.usage, p.at = usage, p.clock.Now()
	p.mu.Unlock()
	p.updated.SetToCurrentTime()
}

// current returns the latest map, or nil (usage unknown: pressure is scored
// on requests) once it is usageKeptFor intervals old; callers must not
// modify it.
func (p *usagePoller) current() map[string]nodeUsage {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.clock.Since(p.at) > usageKeptFor*p.interval {
		return nil
	}
	return p.usage
}
