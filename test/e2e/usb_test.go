package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/test/framework"
)

// usbredirPacket writes one usbredir packet (32-bit id header).
func usbredirPacket(t *testing.T, w io.Writer, typ uint32, payload []byte) {
	t.Helper()
	buf := make([]byte, 12+len(payload))
	binary.LittleEndian.PutUint32(buf[0:], typ)
	binary.LittleEndian.PutUint32(buf[4:], uint32(len(payload)))
	copy(buf[12:], payload)
	if _, err := w.Write(buf); err != nil {
		t.Fatalf("writing usbredir packet %d: %v", typ, err)
	}
}

// guestLsusb logs in on the VM's serial console and returns lsusb's output.
func guestLsusb(t *testing.T, cfg *rest.Config, ns, name string) string {
	t.Helper()
	base := cfg.Host + "/apis/hypersdk.io/v1alpha1/namespaces/" + ns + "/virtualmachines/" + name + "/"
	var conn io.ReadWriteCloser
	framework.Eventually(t, "the console", func(context.Context) (bool, error) {
		c, code := dialStatus(t, cfg, base+"console?protocol=plain")
		conn = c
		return code == http.StatusSwitchingProtocols, nil
	})
	defer conn.Close()
	r := bufio.NewReader(conn)
	io.WriteString(conn, "\r")
	expect(t, r, "login: ")
	io.WriteString(conn, "fedora\r")
	expect(t, r, "Password: ")
	io.WriteString(conn, "secret\r")
	expect(t, r, "$ ")
	io.WriteString(conn, "lsusb\r")
	return expect(t, r, "$ ")
}

// TestUSBRedirection: a VM with spec.usbRedirection gets KubeVirt's client
// passthrough; `kubectl hyper usb attach` serves its usbredir on a local
// port, where the guest's hello arrives through kube-apiserver, and a
// device the client announces shows in the guest's lsusb until the client
// unplugs it. A VM without USB redirection is refused with the reason.
func TestUSBRedirection(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "usb")
	vms := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns)
	for _, vm := range []struct {
		name string
		usb  bool
	}{{"usb", true}, {"plain", false}} {
		if _, err := vms.Create(ctx, &v1alpha1.VirtualMachine{
			ObjectMeta: metav1.ObjectMeta{Name: vm.name},
			Spec: v1alpha1.VirtualMachineSpec{CPUs: 1, Memory: ptr.To(resourceQuantity("1Gi")),
				Image: "quay.io/containerdisks/fedora:41", USBRedirection: vm.usb},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		runningVMI(t, ns, vm.name, "")
	}
	kvm, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "usb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kvm.Spec.Template.Spec.Domain.Devices.ClientPassthrough == nil {
		t.Fatal("spec.usbRedirection did not give the KubeVirt VM clientPassthrough")
	}

	if _, errOut, code := hyper(t, "usb", "attach", "plain", "-n", ns); code == 0 || !strings.Contains(errOut, "spec.usbRedirection") {
		t.Errorf("usb attach to a VM without USB redirection: exit %d, %q", code, errOut)
	}

	runCtx, cancel := context.WithTimeout(ctx, framework.Timeout)
	defer cancel()
	cmd, addr, stderr := startListener(t, runCtx, "usb", "attach", "usb", "-n", ns, "--address", "127.0.0.1:0")
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(framework.Timeout))

	// Guest to client: QEMU's side speaks first, with its hello.
	head := make([]byte, 12)
	if _, err := io.ReadFull(conn, head); err != nil {
		t.Fatalf("reading the guest's hello: %v", err)
	}
	hello := make([]byte, binary.LittleEndian.Uint32(head[4:]))
	if _, err := io.ReadFull(conn, hello); err != nil {
		t.Fatal(err)
	}
	if typ := binary.LittleEndian.Uint32(head); typ != 0 || !strings.Contains(string(hello), "usb-redir guest") {
		t.Fatalf("first packet type %d %q, want the guest's hello", typ, hello)
	}

	// Client to guest: a SanDisk stick (mass storage, class 8) is plugged.
	usbredirPacket(t, conn, 0, make([]byte, 68))
	connect := make([]byte, 10)
	connect[0], connect[1] = 2, 8
	binary.LittleEndian.PutUint16(connect[4:], 0x0781)
	binary.LittleEndian.PutUint16(connect[6:], 0x5567)
	usbredirPacket(t, conn, 1, connect)
	cfg := env.ConfigFor(env.ServiceAccountToken(t, ns, "operator", "edit"))
	framework.Eventually(t, "the stick in the guest", func(context.Context) (bool, error) {
		return strings.Contains(guestLsusb(t, cfg, ns, "usb"), "ID 0781:5567"), nil
	})
	usbredirPacket(t, conn, 2, nil)
	framework.Eventually(t, "the stick gone from the guest", func(context.Context) (bool, error) {
		out := guestLsusb(t, cfg, ns, "usb")
		return strings.Contains(out, "root hub") && !strings.Contains(out, "ID 0781:5567"), nil
	})
	conn.Close()
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("usb attach after Ctrl-C: %v: %s", err, stderr.String())
	}
}
