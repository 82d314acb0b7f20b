package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
)

const (
	roundTrips    = 300
	throughputFor = 5 * time.Second
	sessions      = 200
	holdFor       = 60 * time.Second
)

// BenchmarkConsole measures HyperSDK's console subresource through
// kube-apiserver (client -> kube-apiserver -> hypersdk-apiserver ->
// kube-apiserver -> simulator) against a direct connection to the
// simulator's KubeVirt console endpoint, in the same run: round-trip latency
// of a shell command, output throughput, and 200 sessions held for 60 s.
func BenchmarkConsole(b *testing.B) {
	ctx := context.Background()
	sb, _ := startSandbox(b, sandbox.Config{Nodes: 6})
	defer sb.Stop()
	kv, err := kubevirt.NewClientset(sb.Admin)
	if err != nil {
		b.Fatal(err)
	}
	mem := resource.MustParse("1Gi")
	if _, err := kv.KubevirtV1().VirtualMachines("default").Create(ctx, &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: kvv1.VirtualMachineSpec{RunStrategy: ptr.To(kvv1.RunStrategyAlways), Template: &kvv1.VirtualMachineInstanceTemplateSpec{
			Spec: kvv1.VirtualMachineInstanceSpec{Domain: kvv1.DomainSpec{CPU: &kvv1.CPU{Sockets: 2}, Memory: &kvv1.Memory{Guest: &mem}}},
		}},
	}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := sandbox.WaitVMIsRunning(ctx, kv, "default", 1, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	// The view must see it running before the subresource accepts a session.
	time.Sleep(2 * time.Second) // settling window for the view cache, not a condition check

	viaAPI := func() (io.ReadWriteCloser, error) {
		return dial(sb.Admin, sb.Admin.Host+"/apis/hypersdk.io/v1alpha1/namespaces/default/virtualmachines/bench/console?protocol=plain")
	}
	direct := func() (io.ReadWriteCloser, error) {
		return console.NewKubeVirtDialer(sb.SimulatorConfig()).Dial(ctx, "default", "bench", console.Serial)
	}
	var report strings.Builder
	fmt.Fprintf(&report, "# Console benchmark (%s), guest serial shell of one simulated VM\n", time.Now().UTC().Format(time.RFC3339))
	for _, path := range []struct {
		name string
		dial func() (io.ReadWriteCloser, error)
	}{{"direct to the simulator (KubeVirt console endpoint)", direct}, {"HyperSDK virtualmachines/console via kube-apiserver", viaAPI}} {
		p50, p99, err := latency(path.dial)
		if err != nil {
			b.Fatalf("%s: %v", path.name, err)
		}
		bps, err := throughput(path.dial)
		if err != nil {
			b.Fatalf("%s: %v", path.name, err)
		}
		fmt.Fprintf(&report, "%s: echo round trip p50 %.2f ms, p99 %.2f ms over %d; output throughput %.0f KiB/s\n",
			path.name, ms(p50), ms(p99), roundTrips, bps/1024)
	}
	held, drops, err := hold(viaAPI)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(&report, "%d concurrent sessions via kube-apiserver held %s with an echo every 5 s each: %d sessions completed, %d drops\n",
		sessions, holdFor, held, drops)
	fmt.Print(report.String())
	writeFigures(b, "console.txt", report.String())
	if drops > 0 {
		b.Errorf("%d of %d sessions dropped", drops, sessions)
	}
}

func dial(cfg *rest.Config, raw string) (io.ReadWriteCloser, error) {
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{TLSClientConfig: tlsCfg, Subprotocols: []string{"binary"}}
	conn, resp, err := d.Dial(strings.Replace(raw, "https://", "wss://", 1), http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%s: %w", resp.Status, err)
		}
		return nil, err
	}
	return console.NewStream(conn), nil
}

// session logs in and returns a reader positioned after the first prompt.
func session(dial func() (io.ReadWriteCloser, error)) (io.ReadWriteCloser, *bufio.Reader, error) {
	c, err := dial()
	if err != nil {
		return nil, nil, err
	}
	r := bufio.NewReader(c)
	for _, step := range []struct{ want, send string }{{"login: ", "fedora\r"}, {"Password: ", "x\r"}, {"$ ", ""}} {
		if err := readUntil(r, step.want); err != nil {
			c.Close()
			return nil, nil, err
		}
		if step.send != "" {
			if _, err := io.WriteString(c, step.send); err != nil {
				c.Close()
				return nil, nil, err
			}
		}
	}
	return c, r, nil
}

func readUntil(r *bufio.Reader, want string) error {
	var seen strings.Builder
	for !strings.HasSuffix(seen.String(), want) {
		b, err := r.ReadByte()
		if err != nil {
			return fmt.Errorf("waiting for %q: %w", want, err)
		}
		seen.WriteByte(b)
	}
	return nil
}

func latency(dial func() (io.ReadWriteCloser, error)) (time.Duration, time.Duration, error) {
	c, r, err := session(dial)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	var rtts []time.Duration
	for i := 0; i < roundTrips; i++ {
		token := "t" + strconv.Itoa(i)
		start := time.Now()
		if _, err := io.WriteString(c, "echo "+token+"\r"); err != nil {
			return 0, 0, err
		}
		if err := readUntil(r, token+"\r\n"); err != nil {
			return 0, 0, err
		}
		rtts = append(rtts, time.Since(start))
		if err := readUntil(r, "$ "); err != nil {
			return 0, 0, err
		}
	}
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	return rtts[len(rtts)/2], rtts[len(rtts)*99/100], nil
}

// throughput repeats a command with long output and counts bytes per second.
func throughput(dial func() (io.ReadWriteCloser, error)) (float64, error) {
	c, r, err := session(dial)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var n int64
	start := time.Now()
	for time.Since(start) < throughputFor {
		if _, err := io.WriteString(c, "cat /proc/cpuinfo\r"); err != nil {
			return 0, err
		}
		var seen strings.Builder
		for !strings.HasSuffix(seen.String(), "$ ") {
			b, err := r.ReadByte()
			if err != nil {
				return 0, err
			}
			seen.WriteByte(b)
		}
		n += int64(seen.Len())
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// hold opens sessions at once, keeps them for holdFor with an echo every
// 5 s each, and counts sessions that fail.
func hold(dial func() (io.ReadWriteCloser, error)) (int, int, error) {
	var drops, done atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	reasons := map[string]int{}
	drop := func(err error) {
		drops.Add(1)
		mu.Lock()
		reasons[err.Error()]++
		mu.Unlock()
	}
	defer func() {
		for r, n := range reasons {
			fmt.Printf("drop x%d: %s\n", n, r)
		}
	}()
	for i := 0; i < sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, r, err := session(dial)
			if err != nil {
				drop(fmt.Errorf("opening: %w", err))
				return
			}
			defer c.Close()
			deadline := time.Now().Add(holdFor)
			for k := 0; time.Now().Before(deadline); k++ {
				token := fmt.Sprintf("s%d-%d", i, k)
				if _, err := io.WriteString(c, "echo "+token+"\r"); err != nil {
					drop(fmt.Errorf("writing: %w", err))
					return
				}
				if err := readUntil(r, token+"\r\n"); err != nil {
					drop(fmt.Errorf("reading: %w", err))
					return
				}
				time.Sleep(5 * time.Second) // the client's think time between commands
			}
			done.Add(1)
		}()
	}
	wg.Wait()
	return int(done.Load()), int(drops.Load()), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
