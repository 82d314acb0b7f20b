package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"

	"github.com/hypersdk/hypersdk/pkg/sandbox"
)

// profileSeconds is how long each CPU profile of a batch lasts, from the
// batch's start; a batch takes 10-40 s.
const profileSeconds = "10"

// schedulerEndpoints reaches kube-scheduler's secure port, and
// kube-apiserver's and the extender's profiles, as cluster-admin.
type schedulerEndpoints struct {
	scheduler, apiserver *http.Client
	sb                   *sandbox.Sandbox
}

func newSchedulerEndpoints(b *testing.B, sb *sandbox.Sandbox) *schedulerEndpoints {
	api, err := rest.HTTPClientFor(sb.Admin)
	if err != nil {
		b.Fatal(err)
	}
	// kube-scheduler serves a self-signed certificate; it authenticates the
	// admin's client certificate all the same.
	cfg := rest.CopyConfig(sb.Admin)
	cfg.Host = sb.ControlPlane.SchedulerURL
	cfg.TLSClientConfig.Insecure, cfg.TLSClientConfig.CAData, cfg.TLSClientConfig.CAFile = true, nil, ""
	sched, err := rest.HTTPClientFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return &schedulerEndpoints{scheduler: sched, apiserver: api, sb: sb}
}

// scrapeMetrics parses a Prometheus text endpoint.
func scrapeMetrics(b *testing.B, client *http.Client, url string) map[string]*dto.MetricFamily {
	resp, err := client.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return families
}

// apiserverCounts sums kube-apiserver's request counter by verb, resource
// and subresource, and the bytes of watch events it sent by resource
// ("watch-bytes <resource>").
func (e *schedulerEndpoints) apiserverCounts(b *testing.B) map[string]float64 {
	families := scrapeMetrics(b, e.apiserver, e.sb.Admin.Host+"/metrics")
	out := map[string]float64{}
	if f := families["apiserver_request_total"]; f != nil {
		for _, m := range f.Metric {
			key := label(m, "verb") + " " + label(m, "resource")
			if sub := label(m, "subresource"); sub != "" {
				key += "/" + sub
			}
			out[key] += m.GetCounter().GetValue()
		}
	}
	// Watchers kube-apiserver closed because they read too slowly: each
	// one reconnects, and may list again.
	if f := families["apiserver_terminated_watchers_total"]; f != nil {
		for _, m := range f.Metric {
			out["terminated-watchers "+label(m, "resource")] += m.GetCounter().GetValue()
		}
	}
	if f := families["apiserver_watch_events_sizes"]; f != nil {
		for _, m := range f.Metric {
			out["watch-bytes "+label(m, "resource")] += m.GetHistogram().GetSampleSum()
		}
	}
	return out
}

// bindingLatency is kube-apiserver's own latency histogram of pod binds
// (POST pods/binding): the same figure whether kube-scheduler's default
// binder or the extender sends them, so the extender's bind latency can be
// split into the API server's share and its own.
func (e *schedulerEndpoints) bindingLatency(b *testing.B) histogram {
	families := scrapeMetrics(b, e.apiserver, e.sb.Admin.Host+"/metrics")
	var out histogram
	if f := families["apiserver_request_duration_seconds"]; f != nil {
		for _, m := range f.Metric {
			if label(m, "verb") == "POST" && label(m, "resource") == "pods" && label(m, "subresource") == "binding" {
				out = sum(out, toHistogram(m.GetHistogram()))
			}
		}
	}
	return out
}

// schedulerCounts are kube-scheduler's figures the report uses.
type schedulerCounts struct {
	attempts  map[string]float64 // schedule_attempts_total by result
	batch     map[string]float64 // batch_attempts_total by result
	algorithm histogram          // scheduling_algorithm_duration_seconds
	// bindPlugins is framework_extension_point_duration_seconds of Bind:
	// the bind plugins (DefaultBinder, or HyperSDKPlacement in
	// hypersdk-scheduler). An extender's bind happens before them, so it
	// is not in it.
	bindPlugins histogram
}

// schedulerCounts scrapes kube-scheduler. The algorithm histogram is the
// serial part of a scheduling attempt, where the extender's filter and
// prioritize calls happen.
func (e *schedulerEndpoints) schedulerCounts(b *testing.B) schedulerCounts {
	families := scrapeMetrics(b, e.scheduler, e.sb.ControlPlane.SchedulerURL+"/metrics")
	out := schedulerCounts{attempts: map[string]float64{}, batch: map[string]float64{}}
	if f := families["scheduler_schedule_attempts_total"]; f != nil {
		for _, m := range f.Metric {
			out.attempts[label(m, "result")] += m.GetCounter().GetValue()
		}
	}
	if f := families["scheduler_batch_attempts_total"]; f != nil {
		for _, m := range f.Metric {
			out.batch[label(m, "result")] += m.GetCounter().GetValue()
		}
	}
	if f := families["scheduler_scheduling_algorithm_duration_seconds"]; f != nil && len(f.Metric) > 0 {
		out.algorithm = toHistogram(f.Metric[0].GetHistogram())
	}
	if f := families["scheduler_framework_extension_point_duration_seconds"]; f != nil {
		for _, m := range f.Metric {
			if label(m, "extension_point") == "Bind" && label(m, "status") == "Success" {
				out.bindPlugins = sum(out.bindPlugins, toHistogram(m.GetHistogram()))
			}
		}
	}
	return out
}

// profile starts CPU profiles of kube-apiserver, kube-scheduler and the
// extender into dir, named after the batch; the returned func waits for
// them. Nothing happens when dir is empty.
func (e *schedulerEndpoints) profile(b *testing.B, dir, batch string) func() {
	return profileAll(b, dir, batch, map[string]profileTarget{
		"kube-apiserver":              {e.apiserver, e.sb.Admin.Host},
		"kube-scheduler":              {e.scheduler, e.sb.ControlPlane.SchedulerURL},
		"hypersdk-scheduler-extender": {e.sb.ExtenderHTTPClient(), e.sb.ExtenderURL()},
	})
}

// profileTarget is a component that serves /debug/pprof at url to client.
type profileTarget struct {
	client *http.Client
	url    string
}

// profileAll starts a CPU profile of profileSeconds on every target and
// returns a function that waits for them and writes each to dir as
// <batch>-<name>.pprof. With dir empty it does nothing.
func profileAll(b *testing.B, dir, batch string, targets map[string]profileTarget) func() {
	if dir == "" {
		return func() {}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(targets))
	for name, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The profile takes profileSeconds to answer: longer than
			// some clients' request timeouts.
			client := *t.client
			client.Timeout = time.Minute
			errs <- fetch(&client, t.url+"/debug/pprof/profile?seconds="+profileSeconds,
				filepath.Join(dir, batch+"-"+name+".pprof"))
		}()
	}
	return func() {
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func fetch(client *http.Client, url, path string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("profiling %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("profiling %s: %s: %s", url, resp.Status, body)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
