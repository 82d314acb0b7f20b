package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/pkg/sandbox"
)

const (
	metricsVMs   = 1000
	metricsReads = 60
)

// BenchmarkVMMetrics reads vm_cpu_utilization of 1,000 VMs' launcher pods
// from custom.metrics.k8s.io (hypersdk-apiserver, one sample of every VM per
// --metrics-sample-ttl, joined with KubeVirt's objects) through
// kube-apiserver, beside the baseline an HPA on plain pods would cost: a
// metrics.k8s.io list of the same 1,000 pods, in alternation, in one run.
func BenchmarkVMMetrics(b *testing.B) {
	ctx := context.Background()
	sb, _ := startSandbox(b, sandbox.Config{Nodes: 100, Speed: 60, StartTimeout: 10 * time.Minute})
	defer sb.Stop()
	kube, kv, _ := loadClients(b, sb)
	mustNamespace(b, kube, "metrics")
	createAll(b, metricsVMs, func(i int) error {
		vm := scaleVM(i)
		vm.Spec.Template.ObjectMeta.Labels = map[string]string{"app": "bench"}
		_, err := kv.KubevirtV1().VirtualMachines("metrics").Create(ctx, vm, metav1.CreateOptions{})
		return err
	})
	if err := sandbox.WaitVMIsRunning(ctx, kv, "metrics", metricsVMs, 20*time.Minute); err != nil {
		b.Fatal(err)
	}
	custom := "/apis/custom.metrics.k8s.io/v1beta2/namespaces/metrics/pods/*/vm_cpu_utilization"
	base := "/apis/metrics.k8s.io/v1beta1/namespaces/metrics/pods"
	get := func(path string) (time.Duration, int, error) {
		start := time.Now()
		body, err := kube.CoreV1().RESTClient().Get().AbsPath(path).Param("labelSelector", "app=bench").DoRaw(ctx)
		took := time.Since(start)
		if err != nil {
			return took, 0, err
		}
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return took, 0, err
		}
		return took, len(list.Items), nil
	}
	// Wait until every VM has a value on both paths.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		_, nc, errC := get(custom)
		_, nb, errB := get(base)
		if errC == nil && errB == nil && nc == metricsVMs && nb == metricsVMs {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("custom metrics %d (%v), metrics.k8s.io %d (%v), want %d each", nc, errC, nb, errB, metricsVMs)
		}
		time.Sleep(time.Second) // polling for readiness, not a measurement
	}
	var tc, tb []time.Duration
	for i := 0; i < metricsReads; i++ {
		for _, p := range []struct {
			path string
			into *[]time.Duration
		}{{custom, &tc}, {base, &tb}} {
			took, n, err := get(p.path)
			if err != nil || n != metricsVMs {
				b.Fatalf("%s: %d items (%v)", p.path, n, err)
			}
			*p.into = append(*p.into, took)
		}
		time.Sleep(500 * time.Millisecond) // spread the reads over several sample TTLs
	}
	sort.Slice(tc, func(i, j int) bool { return tc[i] < tc[j] })
	sort.Slice(tb, func(i, j int) bool { return tb[i] < tb[j] })
	report := fmt.Sprintf(`# VM metrics for the HPA: %d VMs, %d reads of each path in alternation (%s)
custom.metrics.k8s.io pods/*/vm_cpu_utilization (hypersdk-apiserver): p50 %.1f ms, p99 %.1f ms
metrics.k8s.io pods list, same %d pods (the simulator's metrics API): p50 %.1f ms, p99 %.1f ms
ratio custom/metrics.k8s.io: p50 %.2f, p99 %.2f
`, metricsVMs, metricsReads, time.Now().UTC().Format(time.RFC3339),
		ms(pct(tc, 0.5)), ms(pct(tc, 0.99)), metricsVMs, ms(pct(tb, 0.5)), ms(pct(tb, 0.99)),
		float64(pct(tc, 0.5))/float64(pct(tb, 0.5)), float64(pct(tc, 0.99))/float64(pct(tb, 0.99)))
	fmt.Print(report)
	writeFigures(b, "vm-metrics.txt", report)
	b.ReportMetric(ms(pct(tc, 0.5)), "ms-p50-custom")
	b.ReportMetric(ms(pct(tb, 0.5)), "ms-p50-metrics")
}
