package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestUsageThroughMetricsAPI: usage is served on metrics.k8s.io for nodes and
// virt-launcher pods, and changes as simulated time passes.
func TestUsageThroughMetricsAPI(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "usage")
	createKubeVirtVM(t, ns, kubevirtVM("busy", 2, "4Gi", nil))
	vmi := runningVMI(t, ns, "busy", "")

	nodeUsage := func() map[string]string {
		raw, err := env.Kubectl(t, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes")
		if err != nil {
			t.Fatal(err)
		}
		var list metricsv1beta1.NodeMetricsList
		if err := json.Unmarshal([]byte(raw), &list); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, n := range list.Items {
			out[n.Name] = n.Usage.Cpu().String() + "/" + n.Usage.Memory().String()
		}
		return out
	}
	first := nodeUsage()
	if len(first) != framework.Nodes {
		t.Fatalf("metrics for %d nodes, want %d", len(first), framework.Nodes)
	}
	framework.Eventually(t, "usage on the VM's node to change", func(context.Context) (bool, error) {
		return nodeUsage()[vmi.Status.NodeName] != first[vmi.Status.NodeName], nil
	})

	raw, err := env.Kubectl(t, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/"+ns+"/pods")
	if err != nil {
		t.Fatal(err)
	}
	var pods metricsv1beta1.PodMetricsList
	if err := json.Unmarshal([]byte(raw), &pods); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || !strings.HasPrefix(pods.Items[0].Name, "virt-launcher-busy-") {
		t.Fatalf("pod metrics = %+v, want the one virt-launcher pod", pods.Items)
	}
	cpu := pods.Items[0].Containers[0].Usage.Cpu().MilliValue()
	if cpu < 0 || cpu > 2000 {
		t.Errorf("pod CPU %dm is outside 0..2 CPUs", cpu)
	}
	// kubectl top reads the same API.
	if out, err := env.Kubectl(t, "top", "pod", "-n", ns); err != nil || !strings.Contains(out, "virt-launcher-busy-") {
		t.Errorf("kubectl top pod: %v\n%s", err, out)
	}
}

// TestGuestConsoleAndVNC: HyperSDK's dialer reaches the guest through
// subresources.kubevirt.io: the serial console answers `echo hello`, and the
// VNC display completes an RFB 3.8 handshake and sends a frame.
func TestGuestConsoleAndVNC(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "guest")
	createKubeVirtVM(t, ns, kubevirtVM("shell", 2, "2Gi", nil))
	runningVMI(t, ns, "shell", "")
	ctx, cancel := context.WithTimeout(context.Background(), framework.Timeout)
	defer cancel()
	dialer := console.NewKubeVirtDialer(env.Admin)

	conn, err := dialer.Dial(ctx, ns, "shell", console.Serial)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	expect(t, r, "shell login: ")
	io.WriteString(conn, "fedora\r")
	expect(t, r, "Password: ")
	io.WriteString(conn, "secret\r")
	expect(t, r, "$ ")
	io.WriteString(conn, "echo hello\r")
	expect(t, r, "echo hello\r\nhello\r\n")
	io.WriteString(conn, "nproc\r")
	expect(t, r, "nproc\r\n2\r\n")

	vnc, err := dialer.Dial(ctx, ns, "shell", console.VNC)
	if err != nil {
		t.Fatal(err)
	}
	defer vnc.Close()
	rfbHandshake(t, vnc)
}

// expect reads until want appears, failing after framework.Timeout, and
// returns what it read.
func expect(t *testing.T, r *bufio.Reader, want string) string {
	t.Helper()
	type result struct {
		seen string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var seen strings.Builder
		for {
			b, err := r.ReadByte()
			if err != nil {
				done <- result{seen.String(), err}
				return
			}
			seen.WriteByte(b)
			if strings.HasSuffix(seen.String(), want) {
				done <- result{seen: seen.String()}
				return
			}
		}
	}()
	select {
	case got := <-done:
		if got.err != nil {
			t.Fatalf("stream ended before %q; got %q [%v]", want, got.seen, got.err)
		}
		return got.seen
	case <-time.After(framework.Timeout):
		t.Fatalf("no %q within %v", want, framework.Timeout)
	}
	return ""
}

// rfbHandshake plays an RFB 3.8 client (RFC 6143): version, security None,
// ClientInit, ServerInit, then one full framebuffer update request. It
// returns the screen's size and that first frame in the server's native
// pixel format (32 bits: blue, green, red, unused).
func rfbHandshake(t *testing.T, c io.ReadWriter) (w, h int, frame []byte) {
	t.Helper()
	read := rfbReader(t, c)
	if v := string(read(12)); v != "RFB 003.008\n" {
		t.Fatalf("server version %q", v)
	}
	c.Write([]byte("RFB 003.008\n"))
	types := read(int(read(1)[0]))
	if !strings.Contains(string(types), "\x01") {
		t.Fatalf("security types %v lack None", types)
	}
	c.Write([]byte{1})
	if res := binary.BigEndian.Uint32(read(4)); res != 0 {
		t.Fatalf("security result %d", res)
	}
	c.Write([]byte{1}) // shared
	init := read(24)
	w, h = int(binary.BigEndian.Uint16(init[0:2])), int(binary.BigEndian.Uint16(init[2:4]))
	bpp := init[4]
	name := string(read(int(binary.BigEndian.Uint32(init[20:24]))))
	if w == 0 || h == 0 || bpp != 32 || name == "" {
		t.Fatalf("ServerInit %dx%d %dbpp %q", w, h, bpp, name)
	}
	return w, h, rfbFrame(t, c, w, h)
}

// rfbFrame asks for the whole w×h screen (not incremental) and reads it.
func rfbFrame(t *testing.T, c io.ReadWriter, w, h int) []byte {
	t.Helper()
	read := rfbReader(t, c)
	req := []byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(req[6:8], uint16(w))
	binary.BigEndian.PutUint16(req[8:10], uint16(h))
	c.Write(req)
	hdr := read(4)
	if hdr[0] != 0 || binary.BigEndian.Uint16(hdr[2:4]) != 1 {
		t.Fatalf("FramebufferUpdate header %v, want type 0 with one rectangle", hdr)
	}
	rect := read(12)
	rw, rh := int(binary.BigEndian.Uint16(rect[4:6])), int(binary.BigEndian.Uint16(rect[6:8]))
	if enc := int32(binary.BigEndian.Uint32(rect[8:12])); enc != 0 || rw != w || rh != h {
		t.Fatalf("rectangle %dx%d encoding %d, want %dx%d raw", rw, rh, enc, w, h)
	}
	return read(rw * rh * 4)
}

func rfbReader(t *testing.T, c io.Reader) func(n int) []byte {
	return func(n int) []byte {
		t.Helper()
		buf := make([]byte, n)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("reading %d bytes: %v", n, err)
		}
		return buf
	}
}
