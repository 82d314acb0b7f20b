// Package bench measures HyperSDK on the real control plane. Benchmarks run
// with `make bench` (not `make test`), compare against a baseline measured
// in the same run, and write their figures to _output/bench/.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/test/framework"
)

const (
	scaleNodes = 500
	scaleVMs   = 2000
	steadyFor  = 30 * time.Second
)

// BenchmarkSandboxScale brings up 500 kwok nodes, then measures how long
// 2,000 VMs take to reach Running through the KubeVirt simulator, against a
// baseline of 2,000 bare pods of the same shape on the same control plane,
// and the simulator's CPU use once everything runs.
func BenchmarkSandboxScale(b *testing.B) {
	ctx := context.Background()
	sb, startup := startSandbox(b, sandbox.Config{Nodes: scaleNodes, Speed: 60, StartTimeout: 10 * time.Minute})
	defer sb.Stop()
	kube, kv, _ := loadClients(b, sb)

	// Baseline: the same number of bare pods of the VMs' shape.
	mustNamespace(b, kube, "baseline")
	t0 := time.Now()
	createAll(b, scaleVMs, func(i int) error {
		_, err := kube.CoreV1().Pods("baseline").Create(ctx, barePod(i), metav1.CreateOptions{})
		return err
	})
	waitPodsRunning(b, kube, "baseline", scaleVMs)
	podsTime := time.Since(t0)
	if err := kube.CoreV1().Namespaces().Delete(ctx, "baseline", metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	waitPodsGone(b, kube, "baseline")

	mustNamespace(b, kube, "scale")
	t1 := time.Now()
	createAll(b, scaleVMs, func(i int) error {
		_, err := kv.KubevirtV1().VirtualMachines("scale").Create(ctx, scaleVM(i), metav1.CreateOptions{})
		return err
	})
	if err := sandbox.WaitVMIsRunning(ctx, kv, "scale", scaleVMs, 20*time.Minute); err != nil {
		b.Fatal(err)
	}
	vmsTime := time.Since(t1)

	pid := sb.PID("kubevirt-simulator")
	cpu0 := cpuSeconds(b, pid)
	w0 := time.Now()
	time.Sleep(steadyFor) // a measurement window, not a wait for a condition
	steadyCores := (cpuSeconds(b, pid) - cpu0) / time.Since(w0).Seconds()
	rss := rssMiB(b, pid)

	report := fmt.Sprintf(`# Sandbox scale: %d kwok nodes, %d VMs (%s)
sandbox start-up with %d nodes (control plane, nodes schedulable): %.1f s
baseline: %d bare pods (1 CPU, 2.25Gi, kvm) to Running: %.1f s (%.0f pods/s)
%d KubeVirt VMs to VMI Running through the simulator: %.1f s (%.0f VMs/s, %.2fx the bare-pod time)
simulator steady CPU with %d running VMs, over %s: %.3f cores; RSS %.0f MiB
`, scaleNodes, scaleVMs, time.Now().UTC().Format(time.RFC3339),
		scaleNodes, startup.Seconds(),
		scaleVMs, podsTime.Seconds(), float64(scaleVMs)/podsTime.Seconds(),
		scaleVMs, vmsTime.Seconds(), float64(scaleVMs)/vmsTime.Seconds(), vmsTime.Seconds()/podsTime.Seconds(),
		scaleVMs, steadyFor, steadyCores, rss)
	fmt.Print(report)
	writeFigures(b, "sandbox-scale.txt", report)
	b.ReportMetric(vmsTime.Seconds(), "s-vms-running")
	b.ReportMetric(podsTime.Seconds(), "s-pods-running")
	b.ReportMetric(steadyCores, "sim-cores")
}

// loadClients are the admin's clients for a benchmark's load, without a
// client-side rate limit: the load generator must not be the bottleneck.
func loadClients(b *testing.B, sb *sandbox.Sandbox) (kubernetes.Interface, kubevirt.Clientset, hypersdkclient.Interface) {
	cfg := rest.CopyConfig(sb.Admin)
	cfg.QPS, cfg.Burst = 5000, 10000
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	kv, err := kubevirt.NewClientset(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hyper, err := hypersdkclient.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return kube, kv, hyper
}

// createAll runs create for 0..n-1 from 16 goroutines, as many clients would.
func createAll(b *testing.B, n int, create func(i int) error) {
	var g errgroup.Group
	g.SetLimit(16)
	for i := 0; i < n; i++ {
		g.Go(func() error { return create(i) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

func barePod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bare-" + strconv.Itoa(i)},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kubevirt.io/schedulable": "true"},
			// As the simulated KubeVirt's launcher pods, onto the simulated nodes.
			Tolerations: []corev1.Toleration{fleet.FakeNodeToleration},
			Containers: []corev1.Container{{Name: "compute", Image: "quay.io/kubevirt/virt-launcher:v1.9.0",
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"),
						corev1.ResourceMemory: resource.MustParse("2304Mi"), "devices.kubevirt.io/kvm": resource.MustParse("1")},
					Limits: corev1.ResourceList{"devices.kubevirt.io/kvm": resource.MustParse("1")},
				}}},
		},
	}
}

func scaleVM(i int) *kvv1.VirtualMachine {
	mem := resource.MustParse("2Gi")
	return &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "vm-" + strconv.Itoa(i)},
		Spec: kvv1.VirtualMachineSpec{
			RunStrategy: ptr.To(kvv1.RunStrategyAlways),
			Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{
				Domain: kvv1.DomainSpec{CPU: &kvv1.CPU{Sockets: 1}, Memory: &kvv1.Memory{Guest: &mem}},
				Volumes: []kvv1.Volume{{Name: "rootdisk", VolumeSource: kvv1.VolumeSource{
					ContainerDisk: &kvv1.ContainerDiskSource{Image: "quay.io/containerdisks/fedora:41"}}}},
			}},
		},
	}
}

func mustNamespace(b *testing.B, kube kubernetes.Interface, name string) {
	if _, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

func waitPodsRunning(b *testing.B, kube kubernetes.Interface, ns string, n int) {
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 20*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false, nil
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running >= n, nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func waitPodsGone(b *testing.B, kube kubernetes.Interface, ns string) {
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 20*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(pods.Items) == 0, nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// cpuSeconds is a process's user+system CPU time, from /proc.
func cpuSeconds(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

func rssMiB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		b.Fatal(err)
	}
	pages, _ := strconv.ParseFloat(strings.Fields(string(data))[1], 64)
	return pages * float64(os.Getpagesize()) / (1 << 20)
}

// startSandbox builds HyperSDK's binaries and starts a sandbox with cfg in
// a temporary directory, filling in where binaries and files go. It returns
// the sandbox and how long it took to come up (the build excluded); the
// caller stops it.
func startSandbox(b *testing.B, cfg sandbox.Config) (*sandbox.Sandbox, time.Duration) {
	cpBin, err := framework.ControlPlaneBinDir()
	if err != nil {
		b.Fatal(err)
	}
	tmp := b.TempDir()
	if err := framework.BuildBinaries(filepath.Join(tmp, "bin")); err != nil {
		b.Fatal(err)
	}
	cfg.ControlPlaneBinDir, cfg.BinDir, cfg.Dir = cpBin, filepath.Join(tmp, "bin"), filepath.Join(tmp, "sandbox")
	start := time.Now()
	sb, err := sandbox.Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return sb, time.Since(start)
}

func writeFigures(b *testing.B, name, text string) {
	dir := filepath.Join(framework.RepoRoot(), "_output", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
}
