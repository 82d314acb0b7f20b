package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hypersdk/hypersdk/pkg/sandbox"
	"github.com/hypersdk/hypersdk/test/framework"
)

// schedulerPods is how many pods each measurement schedules.
const schedulerPods = 2000

// BenchmarkSchedulerExtender measures the real kube-scheduler's throughput
// on kwok fleets of several sizes, with HyperSDK's extender and without it,
// in the same run on the same scheduler: pods of a VM's shape without
// devices.kubevirt.io/kvm are not sent to the extender (it manages only
// that resource), the same pods with it are. Sizes come from
// HYPERSDK_BENCH_NODES (comma-separated), default 500,2000.
func BenchmarkSchedulerExtender(b *testing.B) {
	sizes := []int{500, 2000}
	if v := os.Getenv("HYPERSDK_BENCH_NODES"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				b.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	report := fmt.Sprintf("# Scheduler throughput with and without HyperSDK's extender (%s)\n"+
		"# %d pods per measurement (1 CPU, 2.25Gi); extender latency from its histogram (bucket-interpolated)\n",
		time.Now().UTC().Format(time.RFC3339), schedulerPods)
	for _, n := range sizes {
		report += schedulerAtSize(b, n)
		writeFigures(b, "scheduler-extender.txt", report)
	}
	fmt.Print(report)
}

func schedulerAtSize(b *testing.B, nodes int) string {
	sb, startup := startSandbox(b, sandbox.Config{Nodes: nodes, Speed: 60, StartTimeout: 30 * time.Minute,
		CarbonDir: filepath.Join(framework.RepoRoot(), "..", "shared", "data", "carbon")})
	defer sb.Stop()
	cfg := rest.CopyConfig(sb.Admin)
	cfg.QPS, cfg.Burst = 5000, 10000
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}

	// Alternate the two kinds of run, twice, so drift on the shared cores
	// (compactions, garbage collection) hits both alike.
	var without, with time.Duration
	cpuWithout, cpuWith := map[string]float64{}, map[string]float64{}
	before := extenderHistograms(b, sb.ExtenderURL())
	out := fmt.Sprintf("\n## %d kwok nodes (sandbox up in %.0f s)\n", nodes, startup.Seconds())
	for round := 1; round <= 2; round++ {
		for _, kvm := range []bool{false, true} {
			cpu0 := processCPU(b)
			took := scheduleBatch(b, kube, fmt.Sprintf("run-%d-%d-%t", nodes, round, kvm), kvm)
			cpu1 := processCPU(b)
			kind, total, cpu := "without extender", &without, cpuWithout
			if kvm {
				kind, total, cpu = "with extender   ", &with, cpuWith
			}
			*total += took
			for name, v := range cpu1 {
				cpu[name] += v - cpu0[name]
			}
			out += fmt.Sprintf("round %d %s: %d pods scheduled in %.1f s = %.0f pods/s\n", round, kind, schedulerPods, took.Seconds(), schedulerPods/took.Seconds())
		}
	}
	after := extenderHistograms(b, sb.ExtenderURL())
	out += fmt.Sprintf("both rounds: without %.0f pods/s, with %.0f pods/s: %.2f of the scheduler's own throughput\n",
		2*schedulerPods/without.Seconds(), 2*schedulerPods/with.Seconds(), without.Seconds()/with.Seconds())
	out += "CPU seconds per process, both rounds (without / with extender, each including pod deletion):"
	for _, name := range cpuProcesses {
		out += fmt.Sprintf(" %s %.1f/%.1f", name, cpuWithout[name], cpuWith[name])
	}
	out += "\n"
	for _, verb := range []string{"filter", "prioritize", "bind"} {
		h := diff(after[verb], before[verb])
		out += fmt.Sprintf("extender %-10s calls %5d  p50 %7.2f ms  p99 %7.2f ms\n", verb, h.count,
			1000*quantile(h, 0.5), 1000*quantile(h, 0.99))
	}
	return out
}

// scheduleBatch creates schedulerPods pods and times until all are bound.
func scheduleBatch(b *testing.B, kube kubernetes.Interface, ns string, kvm bool) time.Duration {
	mustNamespace(b, kube, ns)
	t0 := time.Now()
	createAll(b, schedulerPods, func(i int) error {
		pod := barePod(i)
		// Both runs look like virt-launcher pods to every watcher; only the
		// kvm request sends the second run's pods to the extender.
		pod.Labels = map[string]string{"kubevirt.io": "virt-launcher"}
		if !kvm {
			delete(pod.Spec.Containers[0].Resources.Requests, "devices.kubevirt.io/kvm")
			pod.Spec.Containers[0].Resources.Limits = nil
		}
		_, err := kube.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
		return err
	})
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false, nil
		}
		bound := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		return bound >= schedulerPods, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(t0)
	if err := kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	waitPodsGone(b, kube, ns)
	return took
}

// histogram is a cumulative latency histogram of one verb.
type histogram struct {
	count   uint64
	bounds  []float64
	buckets []uint64 // cumulative, per bound
}

func extenderHistograms(b *testing.B, url string) map[string]histogram {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]histogram{}
	f := families["hypersdk_extender_request_duration_seconds"]
	if f == nil {
		return out
	}
	for _, m := range f.Metric {
		out[label(m, "verb")] = toHistogram(m.GetHistogram())
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func toHistogram(h *dto.Histogram) histogram {
	out := histogram{count: h.GetSampleCount()}
	for _, bk := range h.Bucket {
		out.bounds = append(out.bounds, bk.GetUpperBound())
		out.buckets = append(out.buckets, bk.GetCumulativeCount())
	}
	return out
}

// diff is the histogram of the calls between two scrapes.
func diff(after, before histogram) histogram {
	out := histogram{count: after.count - before.count, bounds: after.bounds, buckets: make([]uint64, len(after.buckets))}
	for i := range after.buckets {
		var prev uint64
		if i < len(before.buckets) {
			prev = before.buckets[i]
		}
		out.buckets[i] = after.buckets[i] - prev
	}
	return out
}

// quantile interpolates linearly within the bucket holding the rank, as
// Prometheus' histogram_quantile does.
func quantile(h histogram, q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	rank := q * float64(h.count)
	i := sort.Search(len(h.buckets), func(i int) bool { return float64(h.buckets[i]) >= rank })
	if i == len(h.buckets) {
		return h.bounds[len(h.bounds)-1]
	}
	lo, below := 0.0, 0.0
	if i > 0 {
		lo, below = h.bounds[i-1], float64(h.buckets[i-1])
	}
	inBucket := float64(h.buckets[i]) - below
	if inBucket == 0 {
		return h.bounds[i]
	}
	return lo + (h.bounds[i]-lo)*(rank-below)/inBucket
}

// cpuProcesses are the binaries whose CPU use the benchmark reports.
var cpuProcesses = []string{"kube-apiserver", "etcd", "kube-scheduler", "hypersdk-scheduler-extender", "kwok",
	"hypersdk-kubevirt-simulator", "hypersdk-controller", "kube-controller-manager"}

// processCPU sums user+system CPU seconds of every running process of each
// of cpuProcesses, found by the base name of its executable.
func processCPU(b *testing.B) map[string]float64 {
	out := map[string]float64{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			continue
		}
		name := filepath.Base(exe)
		for _, want := range cpuProcesses {
			if name == want {
				out[name] += cpuSeconds(b, pid)
			}
		}
	}
	return out
}
