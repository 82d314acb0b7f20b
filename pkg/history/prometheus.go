package history

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"
	"k8s.io/klog/v2"
)

// Source is which series a PrometheusStore reads.
type Source int

const (
	// SourceHyperSDK reads the hypersdk_* series of the store's Exporter.
	SourceHyperSDK Source = iota
	// SourceKubeVirt reads KubeVirt's kubevirt_vmi_* series: VM history
	// without a recorder, but no cluster history, carbon or cost.
	SourceKubeVirt
)

// PrometheusOptions configure a PrometheusStore.
type PrometheusOptions struct {
	// URL of the Prometheus server (or anything serving its HTTP API).
	URL    string
	Source Source
	// Retention is how long the server keeps samples. Zero asks the
	// server (its --storage.tsdb.retention.time) when first needed.
	Retention time.Duration
	// RoundTripper carries the requests, for TLS or credentials. Default
	// the client library's.
	RoundTripper http.RoundTripper
	// Timeout bounds each query. Default 30 seconds.
	Timeout time.Duration
}

// PrometheusStore is a Store backed by Prometheus. Append only hands the
// batch to the store's Exporter, which the caller registers for Prometheus
// to scrape: durability is Prometheus' job, and a batch is stored once it
// has been scraped (see Exporter for the scrape settings this needs).
type PrometheusStore struct {
	api      promv1.API
	opts     PrometheusOptions
	exporter *Exporter

	mu           sync.Mutex
	closedRanges *bool         // learnt from the server's version; nil until known
	retention    time.Duration // learnt from the server's flags; 0 until known
	// retentionRetry is when to ask the server's flags again after it
	// could not answer: every read asks for the retention, and a server
	// that hangs must not hold each of them.
	retentionRetry time.Time
}

// retentionTimeout bounds the flags request (not the caller's context:
// Retention has none); retentionBackoff is how long a failure stands.
const (
	retentionTimeout = 5 * time.Second
	retentionBackoff = time.Minute
)

// defaultPrometheusRetention is Prometheus' own default retention, assumed
// while the server cannot say.
const defaultPrometheusRetention = 15 * 24 * time.Hour

// NewPrometheusStore returns a store querying the server at opts.URL.
func NewPrometheusStore(opts PrometheusOptions) (*PrometheusStore, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	client, err := api.NewClient(api.Config{Address: opts.URL, RoundTripper: opts.RoundTripper})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %q: %w", opts.URL, err)
	}
	return &PrometheusStore{api: promv1.NewAPI(client), opts: opts, exporter: NewExporter()}, nil
}

// Exporter is the collector Append feeds; register it where Prometheus
// scrapes.
func (s *PrometheusStore) Exporter() *Exporter { return s.exporter }

// Append exposes b on the Exporter; it never fails.
func (s *PrometheusStore) Append(_ context.Context, b Batch) error {
	s.exporter.Set(b)
	return nil
}

// Retention is PrometheusOptions.Retention.
//
// Unless the options state it, it is the server's own: a store that took a
// default for it answered a 30-day range from a Prometheus keeping one day
// with a day of points, and cut month-to-date costs to that day unseen. It
// is asked once (within retentionTimeout); while the server cannot answer,
// Prometheus' default of 15 days stands, and it is asked again a minute
// later.
func (s *PrometheusStore) Retention() time.Duration {
	if s.opts.Retention > 0 {
		return s.opts.Retention
	}
	s.mu.Lock()
	known, retry := s.retention, s.retentionRetry
	s.mu.Unlock()
	if known > 0 {
		return known
	}
	if time.Now().Before(retry) {
		return defaultPrometheusRetention
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(s.opts.Timeout, retentionTimeout))
	defer cancel()
	flags, err := s.api.Flags(ctx)
	if err != nil {
		klog.V(2).InfoS("Could not learn the Prometheus retention; assuming its default", "default", defaultPrometheusRetention, "err", err)
		s.mu.Lock()
		s.retentionRetry = time.Now().Add(retentionBackoff)
		s.mu.Unlock()
		return defaultPrometheusRetention
	}
	learnt := retentionOf(flags)
	s.mu.Lock()
	s.retention = learnt
	s.mu.Unlock()
	return learnt
}

// retentionOf is the retention a Prometheus with those flags keeps: its
// --storage.tsdb.retention.time, or the default when that is unset or zero
// (a server limited by size only has no time limit to read, and the
// default is the side that refuses rather than answers short).
func retentionOf(flags promv1.FlagsResult) time.Duration {
	d, err := model.ParseDuration(flags["storage.tsdb.retention.time"])
	if err != nil || d <= 0 {
		return defaultPrometheusRetention
	}
	return time.Duration(d)
}

// Close releases nothing: the HTTP client holds only idle connections.
func (s *PrometheusStore) Close() error { return nil }

// QueryVM runs one range query per field; see Query for the semantics and
// average for how they are met.
func (s *PrometheusStore) QueryVM(ctx context.Context, q Query) ([]Series, error) {
	if err := checkQuery(q, vmKind); err != nil {
		return nil, err
	}
	rng := s.rangeFor(ctx, q.Step)
	sel := selector(q.Namespace, q.Name)
	fields := lookup(vmFieldTable, q.Fields)
	exprs := make([]string, len(fields))
	for i, f := range fields {
		if !s.Records(f.name) {
			// An empty series would read as a VM that cost nothing.
			return nil, fmt.Errorf("%s is not in KubeVirt's metrics (--prometheus-source=kubevirt); HyperSDK's recorder records it: %w", f.name, ErrUnsupported)
		}
		if s.opts.Source == SourceKubeVirt {
			exprs[i] = kubeVirtExpr(f.name, sel, rng)
		} else {
			exprs[i] = average(f.metric, sel, rng)
		}
	}
	series, err := s.run(ctx, names(fields), exprs, q, rng)
	if err != nil {
		return nil, fmt.Errorf("querying history of VM %s/%s: %w", q.Namespace, q.Name, err)
	}
	return series, nil
}

// Records reports whether the store has a series for a VM field: with
// SourceKubeVirt, only the fields KubeVirt's metrics give.
func (s *PrometheusStore) Records(field string) bool {
	return s.opts.Source != SourceKubeVirt || kubeVirtExpr(field, "", "") != ""
}

// QueryCluster runs one range query per field; KubeVirt's series have no
// cluster totals, so it fails with ErrUnsupported for SourceKubeVirt.
func (s *PrometheusStore) QueryCluster(ctx context.Context, q Query) ([]Series, error) {
	if s.opts.Source == SourceKubeVirt {
		return nil, fmt.Errorf("cluster history is not available from KubeVirt's metrics: %w", ErrUnsupported)
	}
	if err := checkQuery(q, clusterKind); err != nil {
		return nil, err
	}
	rng := s.rangeFor(ctx, q.Step)
	fields := lookup(clusterFieldTable, q.Fields)
	exprs := make([]string, len(fields))
	for i, f := range fields {
		exprs[i] = average(f.metric, "", rng)
	}
	series, err := s.run(ctx, names(fields), exprs, q, rng)
	if err != nil {
		return nil, fmt.Errorf("querying cluster history: %w", err)
	}
	return series, nil
}

// run evaluates the expressions concurrently, one series each; an empty
// expression is a field without data. It also checks that Prometheus has
// the source's series over the range (windows of rng): without them (a
// ServiceMonitor no Prometheus selects, a recorder that never ran, a
// Prometheus that does not scrape KubeVirt) every series is empty, and
// would read as VMs that used, cost and emitted nothing.
func (s *PrometheusStore) run(ctx context.Context, fields, exprs []string, q Query, rng string) ([]Series, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	r := promv1.Range{
		Start: time.UnixMilli(q.Start.UnixMilli()),
		End:   time.UnixMilli(q.End.UnixMilli()),
		Step:  q.Step,
	}
	out := make([]Series, len(fields))
	g, ctx := errgroup.WithContext(ctx)
	metric, exporter := recorderMetric, "HyperSDK's recorder"
	if s.opts.Source == SourceKubeVirt {
		metric, exporter = kubeVirtMetric, "KubeVirt's virt-handler"
	}
	g.Go(func() error {
		points, err := s.queryRange(ctx, presence(metric, rng), r)
		if err == nil && len(points) == 0 {
			err = fmt.Errorf("%w: %w: Prometheus has no series of %s (%s) from %s to %s: it does not scrape it, or scraped it only outside that time",
				ErrUnavailable, ErrNotRecorded, exporter, metric, q.Start.UTC().Format(time.RFC3339), q.End.UTC().Format(time.RFC3339))
		}
		return err
	})
	for i := range fields {
		out[i] = Series{Field: fields[i], Points: []Point{}}
		if exprs[i] == "" {
			continue
		}
		g.Go(func() error {
			points, err := s.queryRange(ctx, exprs[i], r)
			if err != nil {
				return fmt.Errorf("%s: %w", fields[i], err)
			}
			out[i].Points = points
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

const (
	// recorderMetric is a series the recorder exports at every sample, VMs
	// or none.
	recorderMetric = "hypersdk_cluster_vms"
	// kubeVirtMetric is a series every virt-handler (the exporter of the
	// kubevirt_vmi_* series) exports, VMs or none: its version.
	kubeVirtMetric = "kubevirt_info"
)

// presence has a point wherever metric was scraped within the window of
// rng before it.
func presence(metric, rng string) string {
	return fmt.Sprintf("count(count_over_time(%s%s))", metric, rng)
}

func (s *PrometheusStore) queryRange(ctx context.Context, expr string, r promv1.Range) ([]Point, error) {
	v, warnings, _, err := s.api.QueryRange(ctx, expr, r)
	if err != nil {
		if unreachable(err) {
			return nil, fmt.Errorf("%w: Prometheus: query %s: %w", ErrUnavailable, expr, err)
		}
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	if len(warnings) > 0 {
		klog.FromContext(ctx).V(2).Info("Prometheus warned about a history query", "query", expr, "warnings", warnings)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("query %s: got a %s, want a matrix", expr, v.Type())
	}
	switch len(m) {
	case 0:
		return []Point{}, nil
	case 1:
	default:
		// The expressions aggregate to one series; more means they are wrong.
		return nil, fmt.Errorf("query %s: got %d series, want one", expr, len(m))
	}
	points := make([]Point, len(m[0].Values))
	for i, p := range m[0].Values {
		points[i] = Point{Time: p.Timestamp.Time(), Value: float64(p.Value)}
	}
	return points, nil
}

// rangeFor returns the range selector that picks (T-step, T] at each
// evaluation time T. Prometheus 3 ranges are left-open, (T-r, T], so that is
// [step]; Prometheus 2 ranges are closed, [T-r, T], and with millisecond
// timestamps [step-1ms] is (T-step, T]. The server's version is asked once;
// if it cannot be learnt (a server without the buildinfo endpoint, or down),
// this query assumes Prometheus 3 and the next one asks again.
func (s *PrometheusStore) rangeFor(ctx context.Context, step time.Duration) string {
	s.mu.Lock()
	known := s.closedRanges
	s.mu.Unlock()
	if known == nil {
		// Within the store's timeout: a Prometheus that hangs here would
		// hold every request until its own deadline.
		ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
		info, err := s.api.Buildinfo(ctx)
		if err != nil {
			klog.FromContext(ctx).V(2).Info("Could not learn the Prometheus version; assuming left-open ranges", "err", err)
			return rangeOf(step)
		}
		closed := closedRanges(info.Version)
		s.mu.Lock()
		s.closedRanges = &closed
		s.mu.Unlock()
		known = &closed
	}
	if *known {
		return rangeOf(step - time.Millisecond)
	}
	return rangeOf(step)
}

// closedRanges reports whether a Prometheus of that version (such as
// "2.42.0+ds") selects closed ranges: every release before 3.
func closedRanges(version string) bool {
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(strings.TrimPrefix(major, "v"))
	return err == nil && n < 3
}

// unreachable reports whether err says Prometheus cannot answer now (it is
// down, unreachable, failing or too slow) rather than that it refused the
// query.
func unreachable(err error) bool {
	var apiErr *promv1.Error
	if !errors.As(err, &apiErr) {
		return true // the request never got an answer
	}
	return apiErr.Type == promv1.ErrServer || apiErr.Type == promv1.ErrTimeout
}
