package usbagent

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	kvv1 "kubevirt.io/api/core/v1"
	kvfake "kubevirt.io/client-go/kubevirt/fake"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// listFirst is KubeVirt's fake clientset, which cannot stream a watch's
// initial list, saying so.
type listFirst struct{ *kvfake.Clientset }

func (listFirst) IsWatchListSemanticsUnSupported() bool { return true }

// pipeDialer opens a stream that goes nowhere.
type pipeDialer struct{}

func (pipeDialer) Dial(context.Context, string, string, console.Kind) (io.ReadWriteCloser, error) {
	ours, theirs := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, theirs) }()
	return ours, nil
}

// droppingSource attaches every device; its first stream breaks right
// after, the later ones hold until unplugged.
type droppingSource struct {
	mu    sync.Mutex
	lends int
}

func (s *droppingSource) Lend(ctx context.Context, _ io.ReadWriter, _ hypersdk.USBDeviceRequest, attached func()) error {
	s.mu.Lock()
	s.lends++
	first := s.lends == 1
	s.mu.Unlock()
	attached()
	if first {
		return errors.New("websocket: close 1006 (abnormal closure)")
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *droppingSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lends
}

// keyVMI is a running instance on node-a with the YubiKey "key" listed for
// hot-plug, and the annotations extra.
func keyVMI(extra map[string]string) *kvv1.VirtualMachineInstance {
	annotations := map[string]string{kubevirt.USBHotplugAnnotation: `[{"name":"key","vendor":"1050","product":"0407"}]`}
	maps.Copy(annotations, extra)
	return &kvv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", UID: "vmi-1",
			Labels: map[string]string{nodeNameLabel: "node-a"}, Annotations: annotations},
		Status: kvv1.VirtualMachineInstanceStatus{Phase: kvv1.Running, NodeName: "node-a"},
	}
}

// runAgent runs an agent of node-a, whose feature labels show the YubiKey,
// over vmi and src until the test ends; done receives what Run returns.
func runAgent(t *testing.T, vmi *kvv1.VirtualMachineInstance, src Source) (*kvfake.Clientset, *Agent, <-chan error) {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a",
		Labels: map[string]string{kubevirt.NFDUSBLabel("03", "1050", "0407", ""): "true"}}}
	kv := kvfake.NewSimpleClientset(vmi)
	a := New(Config{Kube: fake.NewClientset(node), KubeVirt: listFirst{kv}, Dialer: pipeDialer{}, NodeName: "node-a", Source: src})
	ctx, cancel := context.WithCancel(context.Background())
	done, stopped := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(stopped)
		done <- a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return kv, a, done
}

// TestADroppedDeviceIsLentAgain: a device whose stream breaks after it was
// attached (virt-handler restarting) is lent again while it is listed, and
// reported Attached again, not left Failed with the guest without it.
func TestADroppedDeviceIsLentAgain(t *testing.T) {
	key := hypersdk.USBDeviceRequest{Name: "key", Vendor: "1050", Product: "0407"}
	src := &droppingSource{}
	kv, _, _ := runAgent(t, keyVMI(nil), src)

	waitFor(t, "the device lent a second time", func() bool { return src.count() >= 2 })
	waitFor(t, "the device reported Attached again", func() bool {
		got, err := kv.KubevirtV1().VirtualMachineInstances("ns").Get(context.Background(), "vm", metav1.GetOptions{})
		return err == nil && kubevirt.HotplugStatus(got.Annotations)[key.Name].Phase == kubevirt.USBAttached && src.count() >= 2
	})
}

// failingFirstSource fails its first lend before attaching (virt-handler
// restarting), then attaches and holds until unplugged.
type failingFirstSource struct {
	droppingSource
	unplugged int
}

func (s *failingFirstSource) Lend(ctx context.Context, _ io.ReadWriter, _ hypersdk.USBDeviceRequest, attached func()) error {
	s.mu.Lock()
	s.lends++
	first := s.lends == 1
	s.mu.Unlock()
	if first {
		return errors.New("dial: connection refused")
	}
	attached()
	<-ctx.Done()
	s.mu.Lock()
	s.unplugged++
	s.mu.Unlock()
	return ctx.Err()
}

// TestAnAgentStartedAgainLendsWhatItHadLent: an agent started again finds
// a device reported attached; a first lend that fails (virt-handler
// restarting beside it) is retried, not final, and the device ends up
// attached again.
func TestAnAgentStartedAgainLendsWhatItHadLent(t *testing.T) {
	key := hypersdk.USBDeviceRequest{Name: "key", Vendor: "1050", Product: "0407"}
	vmi := keyVMI(map[string]string{kubevirt.USBHotplugStatusAnnotation: `{"key":{"phase":"Attached"}}`})
	if kubevirt.HotplugStatus(vmi.Annotations)["key"].Phase != kubevirt.USBAttached {
		t.Fatalf("the test's status annotation does not read as Attached: %v", kubevirt.HotplugStatus(vmi.Annotations))
	}
	src := &failingFirstSource{}
	kv, a, done := runAgent(t, vmi, src)
	waitFor(t, "the device lent again after the first lend failed", func() bool {
		got, err := kv.KubevirtV1().VirtualMachineInstances("ns").Get(context.Background(), "vm", metav1.GetOptions{})
		return err == nil && kubevirt.HotplugStatus(got.Annotations)[key.Name].Phase == kubevirt.USBAttached && src.count() >= 2
	})
	// The instance deleted: its session ends, and the agent goes on (the
	// pass after the session's end finds no instance).
	if err := kv.KubevirtV1().VirtualMachineInstances("ns").Delete(context.Background(), "vm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the device unplugged with its instance gone", func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.unplugged >= 1
	})
	a.queue.Add(cache.ObjectName{Namespace: "ns", Name: "vm"})
	waitFor(t, "the agent's queue drained after the instance went", func() bool { return a.queue.Len() == 0 })
	select {
	case err := <-done:
		t.Fatalf("the agent stopped after an instance went: %v", err)
	default:
	}
}
