package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
)

const (
	viewNamespace  = "view"
	viewListRounds = 10
	viewPage       = 500
	viewChanges    = 1000
	// roundLabel marks each watch round's changes, so a watcher counts its
	// round's events and nothing else.
	roundLabel = "bench.hypersdk.io/round"
)

// viewWatchers are the numbers of concurrent watchers measured.
var viewWatchers = []int{1, 10, 100}

// vmPath is one way to list and watch VMs: KubeVirt's VirtualMachine CRD
// (kube-apiserver and etcd) or HyperSDK's view (aggregated, joined with the
// VMI), both through kube-apiserver with the same typed client-go calls.
type vmPath struct {
	name  string
	list  func(ctx context.Context, opts metav1.ListOptions) (n int, rv, cont string, err error)
	watch func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// BenchmarkVMView measures virtualmachines.hypersdk.io at HYPERSDK_BENCH_VMS
// running VMs (10,000 by default) against KubeVirt's VirtualMachine CRD in
// the same run: hypersdk-apiserver's memory and CPU as the VMs arrive, lists
// (whole and in pages of 500), and watches with 1, 10 and 100 concurrent
// watchers while 1,000 VMs change, with delivery latency, events lost and
// the CPU time of every process on the way per event delivered (profiled
// with 100 watchers when HYPERSDK_BENCH_PROFILE names a directory).
func BenchmarkVMView(b *testing.B) {
	ctx := context.Background()
	n := 10000
	if v := os.Getenv("HYPERSDK_BENCH_VMS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < viewChanges {
			b.Fatalf("HYPERSDK_BENCH_VMS=%q: want a number of at least %d", v, viewChanges)
		}
	}
	// Small VMs (50m, 128Mi) so that the fleet holds them: about 100 per node.
	profileDir := os.Getenv("HYPERSDK_BENCH_PROFILE")
	sb, startup := startSandbox(b, sandbox.Config{Nodes: max(100, n/40), Speed: 60, StartTimeout: 10 * time.Minute, Profiling: profileDir != ""})
	defer sb.Stop()
	kube, kv, hyper := loadClients(b, sb)
	crd := vmPath{name: "kubevirt.io VirtualMachine CRD",
		list: func(ctx context.Context, opts metav1.ListOptions) (int, string, string, error) {
			l, err := kv.KubevirtV1().VirtualMachines("").List(ctx, opts)
			if err != nil {
				return 0, "", "", err
			}
			return len(l.Items), l.ResourceVersion, l.Continue, nil
		},
		watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return kv.KubevirtV1().VirtualMachines("").Watch(ctx, opts)
		}}
	view := vmPath{name: "hypersdk.io VirtualMachine view",
		list: func(ctx context.Context, opts metav1.ListOptions) (int, string, string, error) {
			l, err := hyper.HypersdkV1alpha1().VirtualMachines("").List(ctx, opts)
			if err != nil {
				return 0, "", "", err
			}
			return len(l.Items), l.ResourceVersion, l.Continue, nil
		},
		watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return hyper.HypersdkV1alpha1().VirtualMachines("").Watch(ctx, opts)
		}}

	var report strings.Builder
	fmt.Fprintf(&report, "# The VM view at %d running VMs against KubeVirt's CRD, through kube-apiserver (%s)\n", n, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&report, "sandbox: %d kwok nodes, up in %.0f s; VMs of 1 vCPU requesting 50m and 128Mi\n", max(100, n/40), startup.Seconds())

	// Growth: the VMs arrive in four steps; after each, the view holds them all.
	mustNamespace(b, kube, viewNamespace)
	report.WriteString("\n## hypersdk-apiserver (all replicas) and kube-apiserver as the VMs arrive\n")
	prevRSS, prevCPU := processStats(b, "hypersdk-apiserver")
	kubeRSS0, _ := processStats(b, "kube-apiserver")
	fmt.Fprintf(&report, "before any VM: hypersdk-apiserver RSS %.0f MiB, kube-apiserver RSS %.0f MiB\n", prevRSS, kubeRSS0)
	created := 0
	for step := 1; step <= 4; step++ {
		upto := n * step / 4
		from := created
		createAll(b, upto-from, func(i int) error {
			_, err := kv.KubevirtV1().VirtualMachines(viewNamespace).Create(ctx, viewVM(from+i), metav1.CreateOptions{})
			return err
		})
		created = upto
		if err := sandbox.WaitVMIsRunning(ctx, kv, viewNamespace, created, 30*time.Minute); err != nil {
			b.Fatal(err)
		}
		waitFor(b, fmt.Sprintf("the view to show %d running VMs", created), func(ctx context.Context) (bool, error) {
			l, err := hyper.HypersdkV1alpha1().VirtualMachines(viewNamespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			running := 0
			for _, vm := range l.Items {
				if vm.Status.Phase == "Running" {
					running++
				}
			}
			return running == created, nil
		})
		rss, cpu := processStats(b, "hypersdk-apiserver")
		kubeRSS, _ := processStats(b, "kube-apiserver")
		per := float64(upto-from) / 1000
		fmt.Fprintf(&report, "%5d VMs: hypersdk-apiserver RSS %.0f MiB (+%.1f MiB per 1,000 VMs of this step), CPU %.1f s per 1,000 VMs arriving; kube-apiserver RSS %.0f MiB\n",
			created, rss, (rss-prevRSS)/per, (cpu-prevCPU)/per, kubeRSS)
		prevRSS, prevCPU = rss, cpu
	}
	_, cpu0 := processStats(b, "hypersdk-apiserver")
	idle0 := time.Now()
	time.Sleep(20 * time.Second) // a measurement window, not a wait for a condition
	_, cpu1 := processStats(b, "hypersdk-apiserver")
	fmt.Fprintf(&report, "steady, %d VMs running, no client: hypersdk-apiserver %.1f millicores per 1,000 VMs\n",
		n, 1000*(cpu1-cpu0)/time.Since(idle0).Seconds()/(float64(n)/1000))

	// Lists, alternating the two paths so that both see the same machine.
	report.WriteString("\n## Lists of every VM (typed client-go, JSON), in alternation\n")
	whole := map[string][]time.Duration{}
	paged := map[string][]time.Duration{}
	for range viewListRounds {
		for _, p := range []vmPath{crd, view} {
			whole[p.name] = append(whole[p.name], timeList(b, ctx, p, n, 0))
			paged[p.name] = append(paged[p.name], timeList(b, ctx, p, n, viewPage))
		}
	}
	for _, l := range []struct {
		what  string
		times map[string][]time.Duration
	}{{"whole list", whole}, {fmt.Sprintf("paged by %d", viewPage), paged}} {
		c, v := l.times[crd.name], l.times[view.name]
		ratios := make([]float64, len(c))
		for i := range c {
			ratios[i] = float64(v[i]) / float64(c[i])
		}
		slices.Sort(ratios)
		slices.Sort(c)
		slices.Sort(v)
		fmt.Fprintf(&report, "%-13s CRD p50 %7.1f ms max %7.1f ms | view p50 %7.1f ms max %7.1f ms | view/CRD pair by pair: median %.2f, worst %.2f\n",
			l.what, ms(pct(c, 0.5)), ms(c[len(c)-1]), ms(pct(v, 0.5)), ms(v[len(v)-1]), ratios[len(ratios)/2], ratios[len(ratios)-1])
		b.ReportMetric(ratios[len(ratios)/2], "view/crd-"+strings.ReplaceAll(l.what, " ", "-"))
	}

	// Watches: the same 1,000 changes seen by 1, 10 and 100 watchers of
	// each path in turn.
	report.WriteString("\n## Watches of every VM while 1,000 VMs change (a label on the KubeVirt VM), latency from the patch's sending\n")
	round := 0
	for _, w := range viewWatchers {
		for _, p := range []vmPath{crd, view} {
			round++
			before := readCPUSplit(b)
			var profiled func()
			if w == viewWatchers[len(viewWatchers)-1] {
				profiled = profilePaths(b, sb, profileDir, fmt.Sprintf("watch-%d-%d", w, round))
			}
			r := watchRound(b, ctx, kv, p, w, strconv.Itoa(round))
			after := readCPUSplit(b)
			if profiled != nil {
				profiled()
			}
			fmt.Fprintf(&report, "%3d watchers of the %-31s events %6d of %6d, lost %d, duplicated %d, re-watches %d | latency p50 %7.1f ms p99 %7.1f ms max %7.1f ms\n",
				w, p.name+":", r.received, w*viewChanges, w*viewChanges-r.received, r.duplicates, r.rewatches,
				ms(pct(r.latencies, 0.5)), ms(pct(r.latencies, 0.99)), ms(pct(r.latencies, 1)))
			fmt.Fprintf(&report, "    %s\n", after.per(before, float64(r.received)/1000, "1,000 events delivered"))
			if p.name == view.name && w == viewWatchers[len(viewWatchers)-1] {
				b.ReportMetric(ms(pct(r.latencies, 0.99)), "ms-p99-view-100-watchers")
				b.ReportMetric(float64(w*viewChanges-r.received), "lost-view-100-watchers")
			}
		}
	}
	fmt.Print(report.String())
	writeFigures(b, "vm-view.txt", report.String())
}

func viewVM(i int) *kvv1.VirtualMachine {
	vm := scaleVM(i)
	mem := resource.MustParse("128Mi")
	vm.Spec.Template.Spec.Domain.Memory.Guest = &mem
	vm.Spec.Template.Spec.Domain.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}
	return vm
}

// timeList lists every VM through p, whole or in pages of limit, and checks
// it got all n.
func timeList(b *testing.B, ctx context.Context, p vmPath, n int, limit int64) time.Duration {
	start := time.Now()
	got, cont := 0, ""
	for {
		items, _, next, err := p.list(ctx, metav1.ListOptions{Limit: limit, Continue: cont})
		if err != nil {
			b.Fatalf("listing %s: %v", p.name, err)
		}
		got += items
		if cont = next; cont == "" {
			break
		}
	}
	took := time.Since(start)
	if got != n {
		b.Fatalf("listing %s (limit %d): %d VMs, want %d", p.name, limit, got, n)
	}
	return took
}

// arrival is when a watcher first saw a VM's change, and at which
// resourceVersion: the same version again is a duplicate (a later one is
// another change of that VM, e.g. its status).
type arrival struct {
	at time.Time
	rv string
}

type watchResult struct {
	received, duplicates, rewatches int
	latencies                       []time.Duration // sorted
}

// watchRound starts watchers of p, changes viewChanges VMs with a label
// carrying id, and collects when each watcher saw each change. A watch the
// server ends is resumed from the last resourceVersion seen, as a
// client-go reflector does; what never arrives within two minutes of the
// last change is lost.
func watchRound(b *testing.B, ctx context.Context, kv kubevirt.Clientset, p vmPath, watchers int, id string) watchResult {
	_, rv, _, err := p.list(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu      sync.Mutex
		res     watchResult
		sent    = map[string]time.Time{}
		arrived = make([]map[string]arrival, watchers)
	)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for i := range watchers {
		arrived[i] = map[string]arrival{}
		w, err := p.watch(wctx, metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := rv
			for {
				for ev := range w.ResultChan() {
					at := time.Now()
					m, err := meta.Accessor(ev.Object)
					if err != nil {
						continue // an error status: the watch ends and resumes
					}
					last = m.GetResourceVersion()
					if m.GetLabels()[roundLabel] != id || ev.Type == watch.Deleted {
						continue
					}
					mu.Lock()
					if first, seen := arrived[i][m.GetName()]; !seen {
						arrived[i][m.GetName()] = arrival{at: at, rv: last}
					} else if first.rv == last {
						res.duplicates++
					}
					mu.Unlock()
				}
				if wctx.Err() != nil {
					return
				}
				mu.Lock()
				res.rewatches++
				mu.Unlock()
				if w, err = p.watch(wctx, metav1.ListOptions{ResourceVersion: last}); err != nil {
					return // e.g. 410 Gone: what was not delivered is lost
				}
			}
		}()
	}

	patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, roundLabel, id))
	createAll(b, viewChanges, func(i int) error {
		name := "vm-" + strconv.Itoa(i)
		mu.Lock()
		sent[name] = time.Now()
		mu.Unlock()
		_, err := kv.KubevirtV1().VirtualMachines(viewNamespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	done := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range arrived {
			if len(a) < viewChanges {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !done() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // polling for delivery; latency is stamped on arrival
	}
	stop()
	wg.Wait()
	for _, a := range arrived {
		for name, first := range a {
			res.received++
			res.latencies = append(res.latencies, first.at.Sub(sent[name]))
		}
	}
	slices.Sort(res.latencies)
	return res
}

// processStats sums the resident memory (MiB) and the CPU time (s) of every
// running process whose executable is named name.
func processStats(b *testing.B, name string) (rss, cpu float64) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || filepath.Base(exe) != name {
			continue
		}
		rss += rssMiB(b, pid)
		cpu += cpuSeconds(b, pid)
	}
	return rss, cpu
}
