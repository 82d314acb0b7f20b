package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
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
	// splitFor is how long each path streams while its CPU time is split
	// by process: as long as a profile (profileSeconds).
	splitFor = 10 * time.Second
	// catFiles is how many copies of /proc/cpuinfo one throughput command
	// prints, so that the stream, not the command's round trip, is measured.
	catFiles = 64
)

// consolePath is one way to reach the guest's serial console and VNC display.
type consolePath struct {
	name   string
	serial func() (io.ReadWriteCloser, error)
	vnc    func() (io.ReadWriteCloser, error)
}

type consoleFigures struct {
	serialP50, serialP99 time.Duration
	serialBps            float64
	vncP50, vncP99       time.Duration
	vncBps               float64
}

// BenchmarkConsole measures HyperSDK's console and vnc subresources through
// kube-apiserver (client -> kube-apiserver -> hypersdk-apiserver ->
// kube-apiserver -> KubeVirt) against KubeVirt's own subresources through
// kube-apiserver, the path virtctl takes (client -> kube-apiserver ->
// KubeVirt), in the same run, with a direct connection to the simulator's
// endpoint as a floor: serial round trip of a shell command and output
// throughput, VNC round trip of a one-pixel update and throughput of
// full-screen Raw updates; then 200 serial sessions held for
// HYPERSDK_BENCH_CONSOLE_HOLD (10m by default, longer than any request
// timeout on the way) with an echo every 5 s each. Between the two, each
// path streams full-screen VNC once more while the CPU time of every process
// on the way is read, and profiled with HYPERSDK_BENCH_PROFILE set to a
// directory.
func BenchmarkConsole(b *testing.B) {
	ctx := context.Background()
	holdFor := 10 * time.Minute
	if v := os.Getenv("HYPERSDK_BENCH_CONSOLE_HOLD"); v != "" {
		var err error
		if holdFor, err = time.ParseDuration(v); err != nil {
			b.Fatalf("HYPERSDK_BENCH_CONSOLE_HOLD=%q: %v", v, err)
		}
	}
	profileDir := os.Getenv("HYPERSDK_BENCH_PROFILE")
	sb, _ := startSandbox(b, sandbox.Config{Nodes: 6, Profiling: profileDir != ""})
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
	hyper := func(sub string) func() (io.ReadWriteCloser, error) {
		return func() (io.ReadWriteCloser, error) {
			return dial(sb.Admin, sb.Admin.Host+"/apis/hypersdk.io/v1alpha1/namespaces/default/virtualmachines/bench/"+sub)
		}
	}
	kubevirtPath := func(cfg *rest.Config, kind console.Kind) func() (io.ReadWriteCloser, error) {
		return func() (io.ReadWriteCloser, error) {
			return console.NewKubeVirtDialer(cfg).Dial(ctx, "default", "bench", kind)
		}
	}
	ours := consolePath{"HyperSDK virtualmachines/console and /vnc via kube-apiserver", hyper("console?protocol=plain"), hyper("vnc")}
	theirs := consolePath{"KubeVirt subresources.kubevirt.io via kube-apiserver (virtctl)",
		kubevirtPath(sb.Admin, console.Serial), kubevirtPath(sb.Admin, console.VNC)}
	floor := consolePath{"direct to the simulator's KubeVirt endpoint (no kube-apiserver)",
		kubevirtPath(sb.SimulatorConfig(), console.Serial), kubevirtPath(sb.SimulatorConfig(), console.VNC)}
	// The view must see the VM running before the subresource accepts a session.
	waitFor(b, "the console subresource to accept a session", func(context.Context) (bool, error) {
		c, err := ours.serial()
		if err != nil {
			return false, nil
		}
		return true, c.Close()
	})

	var report strings.Builder
	fmt.Fprintf(&report, "# Console and VNC benchmark (%s), one simulated VM; paths measured in turn, three rounds\n", time.Now().UTC().Format(time.RFC3339))
	figures := map[string][]consoleFigures{}
	for range 3 {
		for _, p := range []consolePath{theirs, ours, floor} {
			f, err := measureConsole(p)
			if err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
			figures[p.name] = append(figures[p.name], f)
		}
	}
	best := map[string]consoleFigures{}
	for _, p := range []consolePath{theirs, ours, floor} {
		f := medianFigures(figures[p.name])
		best[p.name] = f
		fmt.Fprintf(&report, "%s:\n  serial: echo round trip p50 %.2f ms p99 %.2f ms; output %.2f MiB/s\n  vnc:    1-pixel update round trip p50 %.2f ms p99 %.2f ms; full-screen Raw updates %.2f MiB/s\n",
			p.name, ms(f.serialP50), ms(f.serialP99), f.serialBps/(1<<20), ms(f.vncP50), ms(f.vncP99), f.vncBps/(1<<20))
	}
	o, t := best[ours.name], best[theirs.name]
	fmt.Fprintf(&report, "HyperSDK / KubeVirt (medians of the rounds): serial throughput %.2f, round trip %+.2f ms; vnc throughput %.2f, round trip %+.2f ms\n",
		o.serialBps/t.serialBps, ms(o.serialP50-t.serialP50), o.vncBps/t.vncBps, ms(o.vncP50-t.vncP50))
	b.ReportMetric(o.serialBps/t.serialBps, "serial-throughput-vs-kubevirt")
	b.ReportMetric(o.vncBps/t.vncBps, "vnc-throughput-vs-kubevirt")

	// Where the time goes: the same full-screen stream on each path, with
	// every process's CPU time per MiB it moved (and, with
	// HYPERSDK_BENCH_PROFILE, the API servers' profiles).
	report.WriteString("Full-screen VNC for 10 s per path, CPU time by process:\n")
	for i, p := range []consolePath{theirs, ours} {
		before := readCPUSplit(b)
		profiled := profilePaths(b, sb, profileDir, fmt.Sprintf("vnc-%d", i))
		bps, err := vncStream(p.vnc, splitFor)
		if err != nil {
			b.Fatalf("%s: vnc: %v", p.name, err)
		}
		after := readCPUSplit(b)
		profiled()
		fmt.Fprintf(&report, "  %s: %.2f MiB/s; %s\n", p.name, bps/(1<<20), after.per(before, bps*splitFor.Seconds()/(1<<20), "MiB"))
	}

	rssBefore, _ := processStats(b, "hypersdk-apiserver")
	type holdResult struct {
		held, drops int
		err         error
	}
	holding := make(chan holdResult, 1)
	go func() {
		held, drops, err := hold(ours.serial, holdFor)
		holding <- holdResult{held, drops, err}
	}()
	time.Sleep(holdFor / 2) // sampling memory mid-hold, not waiting for a condition
	rssDuring, _ := processStats(b, "hypersdk-apiserver")
	res := <-holding
	held, drops, err := res.held, res.drops, res.err
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(&report, "%d concurrent serial sessions via HyperSDK held %s with an echo every 5 s each: %d sessions completed, %d drops; hypersdk-apiserver RSS %.0f MiB before, %.0f MiB mid-hold\n",
		sessions, holdFor, held, drops, rssBefore, rssDuring)
	fmt.Print(report.String())
	writeFigures(b, "console.txt", report.String())
	if drops > 0 {
		b.Errorf("%d of %d sessions dropped", drops, sessions)
	}
}

func measureConsole(p consolePath) (consoleFigures, error) {
	var f consoleFigures
	var err error
	if f.serialP50, f.serialP99, err = latency(p.serial); err != nil {
		return f, fmt.Errorf("serial round trip: %w", err)
	}
	if f.serialBps, err = throughput(p.serial); err != nil {
		return f, fmt.Errorf("serial throughput: %w", err)
	}
	if f.vncP50, f.vncP99, f.vncBps, err = vncFigures(p.vnc); err != nil {
		return f, fmt.Errorf("vnc: %w", err)
	}
	return f, nil
}

// medianFigures takes each figure's median over the rounds.
func medianFigures(rounds []consoleFigures) consoleFigures {
	med := func(get func(consoleFigures) float64) float64 {
		v := make([]float64, len(rounds))
		for i, r := range rounds {
			v[i] = get(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	d := func(get func(consoleFigures) time.Duration) time.Duration {
		return time.Duration(med(func(f consoleFigures) float64 { return float64(get(f)) }))
	}
	return consoleFigures{
		serialP50: d(func(f consoleFigures) time.Duration { return f.serialP50 }),
		serialP99: d(func(f consoleFigures) time.Duration { return f.serialP99 }),
		serialBps: med(func(f consoleFigures) float64 { return f.serialBps }),
		vncP50:    d(func(f consoleFigures) time.Duration { return f.vncP50 }),
		vncP99:    d(func(f consoleFigures) time.Duration { return f.vncP99 }),
		vncBps:    med(func(f consoleFigures) float64 { return f.vncBps }),
	}
}

func dial(cfg *rest.Config, raw string) (io.ReadWriteCloser, error) {
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, err
	}
	// The buffers console.KubeVirtDialer uses on KubeVirt's path, so that
	// both paths are read by the same client.
	d := websocket.Dialer{TLSClientConfig: tlsCfg, Subprotocols: []string{"binary"}, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
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

// throughput repeats a command with long output (catFiles copies of
// /proc/cpuinfo) and counts bytes per second.
func throughput(dial func() (io.ReadWriteCloser, error)) (float64, error) {
	c, r, err := session(dial)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var n int64
	start := time.Now()
	for time.Since(start) < throughputFor {
		if _, err := io.WriteString(c, "cat"+strings.Repeat(" /proc/cpuinfo", catFiles)+"\r"); err != nil {
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
func hold(dial func() (io.ReadWriteCloser, error), holdFor time.Duration) (int, int, error) {
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

// vncFigures plays an RFB 3.8 client (RFC 6143, security None, Raw
// encoding): the round trip of 300 one-pixel update requests, then
// full-screen non-incremental updates for throughputFor, each of which the
// simulated guest renders afresh.
func vncFigures(dial func() (io.ReadWriteCloser, error)) (p50, p99 time.Duration, bps float64, err error) {
	c, err := dial()
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 1<<16)
	w, h, err := rfbHandshake(c, r)
	if err != nil {
		return 0, 0, 0, err
	}
	var rtts []time.Duration
	for range roundTrips {
		start := time.Now()
		if _, err := rfbUpdate(c, r, 1, 1); err != nil {
			return 0, 0, 0, err
		}
		rtts = append(rtts, time.Since(start))
	}
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	bps, err = fullScreen(c, r, w, h, throughputFor)
	return rtts[len(rtts)/2], rtts[len(rtts)*99/100], bps, err
}

// vncStream opens a display and reads full-screen updates for d.
func vncStream(dial func() (io.ReadWriteCloser, error), d time.Duration) (bps float64, err error) {
	c, err := dial()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 1<<16)
	w, h, err := rfbHandshake(c, r)
	if err != nil {
		return 0, err
	}
	return fullScreen(c, r, w, h, d)
}

// fullScreen asks for full-screen updates one after the other for d and
// returns the bytes per second read.
func fullScreen(c io.Writer, r *bufio.Reader, w, h uint16, d time.Duration) (float64, error) {
	var n int64
	start := time.Now()
	for time.Since(start) < d {
		got, err := rfbUpdate(c, r, w, h)
		if err != nil {
			return 0, err
		}
		n += got
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// rfbHandshake runs the version and security handshake and ClientInit, and
// returns the framebuffer's size from ServerInit.
func rfbHandshake(c io.Writer, r *bufio.Reader) (w, h uint16, err error) {
	buf := make([]byte, 24)
	if _, err := io.ReadFull(r, buf[:12]); err != nil || string(buf[:12]) != "RFB 003.008\n" {
		return 0, 0, fmt.Errorf("server version %q: %v", buf[:12], err)
	}
	if _, err := io.WriteString(c, "RFB 003.008\n"); err != nil {
		return 0, 0, err
	}
	count, err := r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	types := make([]byte, count)
	if _, err := io.ReadFull(r, types); err != nil || !strings.Contains(string(types), "\x01") {
		return 0, 0, fmt.Errorf("security types %v without None: %v", types, err)
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return 0, 0, err
	}
	if _, err := io.ReadFull(r, buf[:4]); err != nil || binary.BigEndian.Uint32(buf[:4]) != 0 {
		return 0, 0, fmt.Errorf("security result %v: %v", buf[:4], err)
	}
	if _, err := c.Write([]byte{1}); err != nil { // ClientInit, shared
		return 0, 0, err
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, 0, fmt.Errorf("ServerInit: %w", err)
	}
	w, h = binary.BigEndian.Uint16(buf[0:2]), binary.BigEndian.Uint16(buf[2:4])
	if _, err := r.Discard(int(binary.BigEndian.Uint32(buf[20:24]))); err != nil { // the desktop name
		return 0, 0, err
	}
	if buf[4] != 32 || w == 0 || h == 0 {
		return 0, 0, fmt.Errorf("ServerInit %dx%d at %d bpp, want 32", w, h, buf[4])
	}
	return w, h, nil
}

// rfbUpdate asks for a non-incremental update of the w x h area at the
// origin, reads the one Raw rectangle that answers it and returns the bytes
// read.
func rfbUpdate(c io.Writer, r *bufio.Reader, w, h uint16) (int64, error) {
	req := []byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(req[6:8], w)
	binary.BigEndian.PutUint16(req[8:10], h)
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	hdr := make([]byte, 16)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, fmt.Errorf("FramebufferUpdate: %w", err)
	}
	rw, rh := binary.BigEndian.Uint16(hdr[8:10]), binary.BigEndian.Uint16(hdr[10:12])
	if hdr[0] != 0 || binary.BigEndian.Uint16(hdr[2:4]) != 1 || rw != w || rh != h || binary.BigEndian.Uint32(hdr[12:16]) != 0 {
		return 0, fmt.Errorf("FramebufferUpdate %v, want one %dx%d Raw rectangle", hdr, w, h)
	}
	pixels := int(rw) * int(rh) * 4
	if _, err := r.Discard(pixels); err != nil {
		return 0, fmt.Errorf("FramebufferUpdate pixels: %w", err)
	}
	return int64(len(hdr) + pixels), nil
}
