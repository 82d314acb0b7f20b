package bench

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
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
// on kwok fleets of several sizes three ways: as it comes, with HyperSDK's
// extender, and as hypersdk-scheduler (the same placement as a framework
// plugin), in the same run on the same fleet with the same pods (a
// virt-launcher pod's shape and its devices.kubevirt.io/kvm request): the
// scheduler is restarted before each batch with the sandbox's
// configuration, the same less its extenders, or the plugin's profile. Sizes come from HYPERSDK_BENCH_NODES (comma-separated),
// default 500,2000. With HYPERSDK_BENCH_PROFILE set to a directory, each
// batch also writes CPU profiles of kube-apiserver, kube-scheduler and the
// extender there.
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

// schedulerSetup is one way of running kube-scheduler in the comparison.
type schedulerSetup struct {
	name         string
	withExtender bool
	plugin       bool // hypersdk-scheduler, with HyperSDKPlacement
}

// schedulerSetups: kube-scheduler as it comes, and with the extender.
// kube-scheduler turns off opportunistic batching (reusing one pod's
// filtering and scoring for the next identical pod; beta, on since 1.35) in
// profiles with extenders; the report shows how many hints the default runs
// used, to tell whether that, rather than the extender's cost, separates
// the two.
var schedulerSetups = []schedulerSetup{
	{name: "default kube-scheduler"},
	{name: "with extender", withExtender: true},
	{name: "hypersdk-scheduler", plugin: true},
}

// schedulerRun sums one setup's batches.
type schedulerRun struct {
	took          time.Duration
	cpu, requests map[string]float64
	attempts      map[string]float64
	batch         map[string]float64
	busy          float64
	algorithm     histogram
	bindPlugins   histogram
	binding       histogram // kube-apiserver's POST pods/binding latency
}

func schedulerAtSize(b *testing.B, nodes int) string {
	profileDir := os.Getenv("HYPERSDK_BENCH_PROFILE")
	sb, startup := startSandbox(b, sandbox.Config{Nodes: nodes, Speed: 60, StartTimeout: 30 * time.Minute,
		CarbonDir: filepath.Join(framework.RepoRoot(), "..", "shared", "data", "carbon"), Profiling: profileDir != ""})
	defer sb.Stop()
	endpoints := newSchedulerEndpoints(b, sb)
	cfg := rest.CopyConfig(sb.Admin)
	cfg.QPS, cfg.Burst = 5000, 10000
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}

	// Alternate the setups, twice, so drift on the shared cores
	// (compactions, garbage collection) hits all alike.
	runs := make([]schedulerRun, len(schedulerSetups))
	for i := range runs {
		runs[i] = schedulerRun{cpu: map[string]float64{}, requests: map[string]float64{}, attempts: map[string]float64{}, batch: map[string]float64{}}
	}
	before := extenderHistograms(b, sb)
	out := fmt.Sprintf("\n## %d kwok nodes (sandbox up in %.0f s)\n", nodes, startup.Seconds())
	for round := 1; round <= 2; round++ {
		for i, setup := range schedulerSetups {
			run := &runs[i]
			restart := func() error { return sb.RestartScheduler(context.Background(), setup.withExtender) }
			if setup.plugin {
				restart = func() error { return sb.RestartSchedulerWithPlugin(context.Background()) }
			}
			if err := restart(); err != nil {
				b.Fatal(err)
			}
			ns := fmt.Sprintf("run-%d-%d-%d", nodes, round, i)
			mustNamespace(b, kube, ns)
			cpu0, machine0, requests0, sched0 := processCPU(b, cpuProcesses), machineCPU(b), endpoints.apiserverCounts(b), endpoints.schedulerCounts(b)
			binding0 := endpoints.bindingLatency(b)
			profiled := endpoints.profile(b, profileDir, fmt.Sprintf("%d-round%d-%d", nodes, round, i))
			took := scheduleBatch(b, kube, ns)
			cpu1, machine1, requests1, sched1 := processCPU(b, cpuProcesses), machineCPU(b), endpoints.apiserverCounts(b), endpoints.schedulerCounts(b)
			run.binding = sum(run.binding, diff(endpoints.bindingLatency(b), binding0))
			profiled()
			deleteBatch(b, kube, ns)
			run.took += took
			addDiff(run.cpu, cpu1, cpu0)
			addDiff(run.requests, requests1, requests0)
			addDiff(run.attempts, sched1.attempts, sched0.attempts)
			addDiff(run.batch, sched1.batch, sched0.batch)
			run.busy += machine1.busy - machine0.busy
			run.algorithm = sum(run.algorithm, diff(sched1.algorithm, sched0.algorithm))
			run.bindPlugins = sum(run.bindPlugins, diff(sched1.bindPlugins, sched0.bindPlugins))
			out += fmt.Sprintf("round %d %-22s: %d pods scheduled in %5.1f s = %3.0f pods/s, machine %.0f%% busy\n", round, setup.name,
				schedulerPods, took.Seconds(), schedulerPods/took.Seconds(), 100*(machine1.busy-machine0.busy)/(machine1.total-machine0.total))
		}
	}
	after := extenderHistograms(b, sb)
	pods := float64(2 * schedulerPods)
	rate := func(r schedulerRun) float64 { return pods / r.took.Seconds() }
	def, ext, plugin := runs[0], runs[1], runs[2]
	out += fmt.Sprintf("both rounds: default %.0f pods/s, with extender %.0f pods/s, hypersdk-scheduler %.0f pods/s: "+
		"%.2f and %.2f of the scheduler's own throughput\n",
		rate(def), rate(ext), rate(plugin), rate(ext)/rate(def), rate(plugin)/rate(def))
	for i, setup := range schedulerSetups {
		r := runs[i]
		out += fmt.Sprintf("%s: CPU ms per pod while scheduling:", setup.name)
		for _, name := range cpuProcesses {
			out += fmt.Sprintf(" %s %.2f", name, 1000*r.cpu[name]/pods)
		}
		out += fmt.Sprintf("; whole machine %.2f\n", 1000*r.busy/pods)
		out += fmt.Sprintf("  kube-scheduler: attempts scheduled %.0f unschedulable %.0f error %.0f; batching hint used %.0f not used %.0f no hint %.0f;"+
			" algorithm (filters, extenders, scores) p50 %.2f ms p99 %.2f ms\n",
			r.attempts["scheduled"], r.attempts["unschedulable"], r.attempts["error"], r.batch["hint_used"], r.batch["hint_not_used"], r.batch["no_hint"],
			1000*quantile(r.algorithm, 0.5), 1000*quantile(r.algorithm, 0.99))
		out += fmt.Sprintf("  kube-apiserver POST pods/binding: %d, p50 %.2f ms p99 %.2f ms; bind plugins: %d, p50 %.2f ms p99 %.2f ms\n",
			r.binding.count, 1000*quantile(r.binding, 0.5), 1000*quantile(r.binding, 0.99),
			r.bindPlugins.count, 1000*quantile(r.bindPlugins, 0.5), 1000*quantile(r.bindPlugins, 0.99))
	}
	out += "kube-apiserver requests and watch bytes per pod while scheduling, where the runs differ (default / with extender / hypersdk-scheduler):"
	keys := maps.Clone(ext.requests)
	maps.Copy(keys, plugin.requests)
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		a, c, p := def.requests[k]/pods, ext.requests[k]/pods, plugin.requests[k]/pods
		floor := 0.05 // requests per pod
		if strings.HasPrefix(k, "watch-bytes ") {
			floor = 100 // bytes per pod: below, the watches kube-scheduler's restart opens
		}
		most := max(a, c, p)
		if most >= floor && (math.Abs(a-c) >= 0.1*most || math.Abs(a-p) >= 0.1*most) {
			out += fmt.Sprintf(" [%s %.2f/%.2f/%.2f]", k, a, c, p)
		}
	}
	out += "\n"
	// Watches opened, lists and watchers cut off are few per batch, below
	// any per-pod floor, yet one list of 5,000 nodes costs more than many
	// pods: their counts over both rounds.
	out += "kube-apiserver watches and lists of nodes and pods over both rounds, and watchers it cut off (default / with extender / hypersdk-scheduler):"
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if (strings.HasPrefix(k, "WATCH ") || strings.HasPrefix(k, "LIST ") || strings.HasPrefix(k, "terminated-watchers ")) &&
			(strings.HasSuffix(k, " nodes") || strings.HasSuffix(k, " pods")) {
			out += fmt.Sprintf(" [%s %.0f/%.0f/%.0f]", k, def.requests[k], ext.requests[k], plugin.requests[k])
		}
	}
	out += "\n"
	for _, verb := range []string{"filter", "prioritize", "bind"} {
		h := diff(after[verb], before[verb])
		if h.count == 0 {
			// prioritize, when every pod was chosen in filter
			out += fmt.Sprintf("extender %-10s calls %5d\n", verb, 0)
			continue
		}
		out += fmt.Sprintf("extender %-10s calls %5d  p50 %7.2f ms  p99 %7.2f ms\n", verb, h.count,
			1000*quantile(h, 0.5), 1000*quantile(h, 0.99))
	}
	return out
}

// addDiff adds after-before to into, key by key.
func addDiff(into, after, before map[string]float64) {
	for k, v := range after {
		into[k] += v - before[k]
	}
}

// scheduleBatch creates schedulerPods virt-launcher-shaped pods in ns and
// times until all are bound.
func scheduleBatch(b *testing.B, kube kubernetes.Interface, ns string) time.Duration {
	t0 := time.Now()
	createAll(b, schedulerPods, func(i int) error {
		pod := barePod(i)
		pod.Labels = map[string]string{"kubevirt.io": "virt-launcher"}
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
	return time.Since(t0)
}

func deleteBatch(b *testing.B, kube kubernetes.Interface, ns string) {
	if err := kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	waitPodsGone(b, kube, ns)
}

// histogram is a cumulative latency histogram of one verb.
type histogram struct {
	count   uint64
	bounds  []float64
	buckets []uint64 // cumulative, per bound
}

func extenderHistograms(b *testing.B, sb *sandbox.Sandbox) map[string]histogram {
	families := scrapeMetrics(b, sb.ExtenderHTTPClient(), sb.ExtenderURL()+"/metrics")
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

// toHistogram keeps the finite buckets. Scraped as text, kube-scheduler's
// histograms carry the +Inf bucket too; the count holds it, and without it a
// quantile past the last finite bound is that bound, as Prometheus'
// histogram_quantile answers, not +Inf.
func toHistogram(h *dto.Histogram) histogram {
	out := histogram{count: h.GetSampleCount()}
	for _, bk := range h.Bucket {
		if math.IsInf(bk.GetUpperBound(), 1) {
			continue
		}
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

// sum adds two histograms of the same buckets; either may be empty.
func sum(a, c histogram) histogram {
	if a.count == 0 {
		return c
	}
	if c.count == 0 {
		return a
	}
	out := histogram{count: a.count + c.count, bounds: a.bounds, buckets: make([]uint64, len(a.buckets))}
	for i := range a.buckets {
		out.buckets[i] = a.buckets[i] + c.buckets[i]
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
var cpuProcesses = []string{"kube-apiserver", "etcd", "kube-scheduler", "hypersdk-scheduler", "hypersdk-scheduler-extender", "kwok",
	"hypersdk-kubevirt-simulator", "hypersdk-controller", "kube-controller-manager"}

// machineTime is the machine's CPU time from /proc/stat, in seconds: busy
// (user, nice, system, irq, softirq, steal) and total.
type machineTime struct{ busy, total float64 }

func machineCPU(b *testing.B) machineTime {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)[1:] // user nice system idle iowait irq softirq steal ...
	var t machineTime
	for i, f := range fields {
		if i >= 8 {
			break // guest time is already counted in user
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			b.Fatal(err)
		}
		t.total += v / 100 // USER_HZ
		if i != 3 && i != 4 {
			t.busy += v / 100
		}
	}
	return t
}

// processCPU sums user+system CPU seconds of every running process of each
// of names, found by the base name of its executable.
func processCPU(b *testing.B, names []string) map[string]float64 {
	out := map[string]float64{}
	for _, name := range names {
		if _, cpu := processStats(b, name); cpu > 0 {
			out[name] = cpu
		}
	}
	return out
}
