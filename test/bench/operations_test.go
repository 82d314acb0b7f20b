package bench

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
)

const (
	postClients = 50
	postAlone   = 20 * time.Second
	postLoaded  = 60 * time.Second
)

// BenchmarkOperationPosts measures the latency of operation POSTs
// (virtualmachines/<vm>/resize, admitted, prechecked and stored as a
// VMOperation that the controller then carries out) from one client, then
// from 50 concurrent clients for a minute, in the same run; and how long
// hypersdk-apiserver's own requests waited on client-side throttling
// meanwhile, from its rest_client_rate_limiter_duration_seconds.
func BenchmarkOperationPosts(b *testing.B) {
	ctx := context.Background()
	sb, _ := startSandbox(b, sandbox.Config{Nodes: 6})
	defer sb.Stop()
	kv, err := kubevirt.NewClientset(sb.Admin)
	if err != nil {
		b.Fatal(err)
	}
	hyper, err := hypersdkclient.NewForConfig(sb.Admin)
	if err != nil {
		b.Fatal(err)
	}
	const ns = "bench-ops"
	kube := kubernetes.NewForConfigOrDie(sb.Admin)
	mustNamespace(b, kube, ns)
	for i := 0; i < postClients; i++ {
		vm := scaleVM(i)
		vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
		if _, err := kv.KubevirtV1().VirtualMachines(ns).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := hyper.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(list.Items) == postClients, nil
	}); err != nil {
		b.Fatalf("the VM view did not show %d VMs: %v", postClients, err)
	}

	// Each client has its own connection, as separate users would.
	cfg := rest.CopyConfig(sb.Admin)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side limit: measure the server
	var report strings.Builder
	fmt.Fprintf(&report, "# Operation POST benchmark (%s): POST virtualmachines/<vm>/resize through kube-apiserver, %d stopped VMs\n",
		time.Now().UTC().Format(time.RFC3339), postClients)
	fmt.Fprintf(&report, "%-26s %8s %8s %8s %8s %9s %7s %14s\n", "run", "posts", "p50 ms", "p90 ms", "p99 ms", "max ms", "post/s", "throttled s")
	for _, run := range []struct {
		name    string
		clients int
		length  time.Duration
	}{{"1 client", 1, postAlone}, {fmt.Sprintf("%d concurrent clients", postClients), postClients, postLoaded}} {
		before := throttled(b, sb.APIServerConfig())
		lat, failed := postFor(b, cfg, ns, run.clients, run.length)
		waited := throttled(b, sb.APIServerConfig()) - before
		fmt.Fprintf(&report, "%-26s %8d %8.1f %8.1f %8.1f %9.1f %7.1f %14.3f\n", run.name, len(lat),
			ms(pct(lat, 0.5)), ms(pct(lat, 0.9)), ms(pct(lat, 0.99)), ms(pct(lat, 1)), float64(len(lat))/run.length.Seconds(), waited)
		if failed > 0 {
			fmt.Fprintf(&report, "  %d POSTs were not answered 201\n", failed)
		}
	}
	report.WriteString("Each client posts its next operation as soon as the last is answered. \"throttled s\" is the time\n" +
		"hypersdk-apiserver's own requests to kube-apiserver waited on client-side rate limits meanwhile.\n")
	b.Log("\n" + report.String())
	writeFigures(b, "operation-posts.txt", report.String())
}

// postFor has clients post resize operations, each on its own VM, for the
// given time, and returns the latency of every POST answered 201 and the
// number of the others.
func postFor(b *testing.B, cfg *rest.Config, ns string, clients int, length time.Duration) ([]time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	failed := 0
	deadline := time.Now().Add(length)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		client, err := hypersdkclient.NewForConfig(rest.CopyConfig(cfg))
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			vm := fmt.Sprintf("vm-%d", c)
			for i := 0; time.Now().Before(deadline); i++ {
				body := fmt.Sprintf(`{"cpus":%d}`, 1+i%2)
				start := time.Now()
				res := client.HypersdkV1alpha1().RESTClient().Post().Namespace(ns).Resource("virtualmachines").Name(vm).
					SubResource("resize").SetHeader("Content-Type", "application/json").Body([]byte(body)).Do(context.Background())
				took := time.Since(start)
				var code int
				res.StatusCode(&code)
				mu.Lock()
				if code == http.StatusCreated {
					lat = append(lat, took)
				} else {
					failed++
				}
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, failed
}

// pct is the p-quantile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// throttled reads the seconds hypersdk-apiserver's clients have waited on
// their rate limiters so far, from its /metrics.
func throttled(b *testing.B, cfg *rest.Config) float64 {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return histogramSum(b, client, cfg.Host+"/metrics", "rest_client_rate_limiter_duration_seconds")
}

// histogramSum adds up the sums of a histogram family's series at url.
func histogramSum(b *testing.B, client *http.Client, url, family string) float64 {
	res, err := client.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s", url, res.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		b.Fatal(err)
	}
	fam, ok := families[family]
	if !ok {
		b.Fatalf("%s exports no %s", url, family)
	}
	sum := 0.0
	for _, m := range fam.GetMetric() {
		sum += m.GetHistogram().GetSampleSum()
	}
	return sum
}
