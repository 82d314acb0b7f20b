package extender

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"
	testingclock "k8s.io/utils/clock/testing"
)

// TestUsageOutlivesAnOutageBriefly: node usage read from metrics.k8s.io is
// kept while the API fails for up to usageKeptFor polling intervals, then
// is unknown, so hours-old load is not scored as now.
func TestUsageOutlivesAnOutageBriefly(t *testing.T) {
	ctx := context.Background()
	clk := testingclock.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	client := metricsfake.NewSimpleClientset()
	// The fake's tracker does not map NodeMetrics onto "nodes": answer the
	// list as metrics-server would.
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &metricsv1beta1.NodeMetricsList{Items: []metricsv1beta1.NodeMetrics{{
			ObjectMeta: metav1.ObjectMeta{Name: "n1"},
			Usage:      corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		}}}, nil
	})
	p := &usagePoller{client: client, interval: 10 * time.Second, clock: clk,
		updated: prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_usage_updated"})}
	if p.current() != nil {
		t.Fatal("usage known before any poll")
	}
	p.poll(ctx)
	if u := p.current()["n1"]; u.cpu != 3 {
		t.Fatalf("usage after a poll: %+v, want 3 cores on n1", p.current())
	}
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("metrics-server is down")
	})
	clk.Step(2 * p.interval)
	p.poll(ctx)
	if p.current() == nil {
		t.Fatal("usage dropped at once when the metrics API failed")
	}
	clk.Step(2 * p.interval)
	p.poll(ctx)
	if p.current() != nil {
		t.Fatalf("usage %s old still served: %+v", 4*p.interval, p.current())
	}
}
