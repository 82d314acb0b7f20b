package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/test/framework"
)

// startInPTY runs kubectl hyper with a new pseudo-terminal as its
// controlling terminal and standard streams, and returns the terminal's
// user side and the terminal itself (to read its modes).
func startInPTY(t *testing.T, ctx context.Context, args ...string) (*os.File, *os.File, *exec.Cmd) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	cmd := hyperCommand(ctx, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return ptmx, tty, cmd
}

// cooked says whether a terminal is line-buffered and echoing, as a shell
// leaves it.
func cooked(t *testing.T, tty *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ICANON != 0 && tio.Lflag&unix.ECHO != 0
}

// TestKubectlHyperConsole: in a terminal, the console logs in and answers
// echo hello; Ctrl-] detaches, the command exits 0 and the terminal is
// cooked again.
func TestKubectlHyperConsole(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-console")
	createKubeVirtVM(t, ns, kubevirtVM("tty", 1, "1Gi", nil))
	runningVMI(t, ns, "tty", "")
	ctx, cancel := context.WithTimeout(context.Background(), framework.Timeout)
	defer cancel()
	ptmx, tty, cmd := startInPTY(t, ctx, "console", "tty", "-n", ns)
	if !cooked(t, tty) {
		t.Fatal("the terminal is not cooked to begin with")
	}
	r := bufio.NewReader(ptmx)
	expect(t, r, "Ctrl-] detaches.")
	if cooked(t, tty) {
		t.Error("the console left the terminal cooked: input would be line-buffered and echoed twice")
	}
	shell(t, r, ptmx)
	ptmx.Write([]byte{0x1d})
	expect(t, r, "Detached.")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("console after Ctrl-]: %v", err)
	}
	if !cooked(t, tty) {
		t.Error("after detaching the terminal is still raw")
	}
}

// TestKubectlHyperProgressBar: on a terminal --show-progress draws a bar in
// place that ends at 100%.
func TestKubectlHyperProgressBar(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-progress")
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	runningVMI(t, ns, "vm", "")
	ctx, cancel := context.WithTimeout(context.Background(), framework.Timeout)
	defer cancel()
	ptmx, tty, cmd := startInPTY(t, ctx, "vm", "restart", "vm", "-n", ns, "--wait", "--show-progress")
	tty.Close() // the command holds its own; the user side then reads to the end
	out, err := io.ReadAll(ptmx)
	if err != nil && !errors.Is(err, syscall.EIO) { // EIO: the terminal's last holder exited
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("restart --wait: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "\r\x1b[K[") || !strings.Contains(s, "[##############################] 100% Succeeded") {
		t.Errorf("no progress bar ending at 100%%:\n%q", s)
	}
	if !strings.Contains(s, "Succeeded: ") {
		t.Errorf("no final line:\n%q", s)
	}
}

// startListener starts a kubectl hyper command that serves on a local
// address and prints it last on its first line; it returns the command, the
// address and what the command writes to stderr.
func startListener(t *testing.T, ctx context.Context, args ...string) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	cmd := hyperCommand(ctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no address from %v: %v: %s", args, err, stderr.String())
	}
	f := strings.Fields(line)
	return cmd, f[len(f)-1], stderr
}

// TestKubectlHyperVNC: the local VNC endpoint completes an RFB 3.8
// handshake and sends a framebuffer update; Ctrl-C ends it.
func TestKubectlHyperVNC(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-vnc")
	createKubeVirtVM(t, ns, kubevirtVM("tty", 1, "1Gi", nil))
	runningVMI(t, ns, "tty", "")
	ctx, cancel := context.WithTimeout(context.Background(), framework.Timeout)
	defer cancel()
	cmd, addr, stderr := startListener(t, ctx, "vnc", "tty", "-n", ns, "--address", "127.0.0.1:0")
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(framework.Timeout))
	rfbHandshake(t, conn)
	conn.Close()
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("vnc after Ctrl-C: %v: %s", err, stderr.String())
	}
}

// TestKubectlHyperCreateInteractive: the form, driven by keystrokes on a
// terminal, says why the server would refuse an answer, asks again, and
// creates the VM it showed once confirmed; without a terminal it refuses.
func TestKubectlHyperCreateInteractive(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-create")
	ctx, cancel := context.WithTimeout(context.Background(), framework.Timeout)
	defer cancel()
	ptmx, _, cmd := startInPTY(t, ctx, "vm", "create", "--interactive", "-n", ns)
	r := bufio.NewReader(ptmx)
	answer := func(prompt, text string) {
		t.Helper()
		expect(t, r, prompt)
		io.WriteString(ptmx, text+"\n")
	}
	// The source first: a template's size is the size's default.
	answer("Name []: ", "made")
	answer("Namespace ["+ns+"]: ", "")
	answer("Source (image, template, claim, data-volume, blank) [image]: ", "")
	answer("Image [quay.io/containerdisks/fedora:41]: ", "")
	answer("CPUs [2]: ", "3")
	answer("Memory [2Gi]: ", "lots")
	answer("GPUs (model=count, empty for none) []: ", "")
	expect(t, r, `The server refuses this VM: --memory "lots" is not a quantity`)
	answer("Name [made]: ", "")
	answer("Namespace ["+ns+"]: ", "")
	answer("Source (image, template, claim, data-volume, blank) [image]: ", "")
	answer("Image [quay.io/containerdisks/fedora:41]: ", "quay.io/containerdisks/ubuntu:24.04")
	answer("CPUs [3]: ", "")
	answer("Memory [lots]: ", "3Gi")
	answer("GPUs (model=count, empty for none) []: ", "")
	expect(t, r, "VirtualMachine "+ns+"/made:")
	answer("Create it? (yes/no) [no]: ", "yes")
	expect(t, r, "virtualmachine.hypersdk.io/made created")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vm create --interactive: %v", err)
	}
	vm, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(context.Background(), "made", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vm.Spec.CPUs != 3 || vm.Spec.Memory.String() != "3Gi" || vm.Spec.Image != "quay.io/containerdisks/ubuntu:24.04" {
		t.Errorf("created %+v, not what the form confirmed", vm.Spec)
	}

	_, errOut, code := hyper(t, "vm", "create", "--interactive", "-n", ns)
	if code == 0 || !strings.Contains(errOut, "--interactive needs a terminal") {
		t.Errorf("--interactive without a terminal: exit %d, %q", code, errOut)
	}

	// Ctrl-C at a question leaves the form at once, creating nothing.
	ptmx, _, cmd = startInPTY(t, ctx, "vm", "create", "--interactive", "-n", ns)
	r = bufio.NewReader(ptmx)
	answer("Name []: ", "interrupted")
	expect(t, r, "Namespace ["+ns+"]: ")
	io.WriteString(ptmx, "\x03")
	expect(t, r, `interrupted at "Namespace": nothing created`)
	if err := cmd.Wait(); err == nil {
		t.Error("vm create --interactive interrupted: exit 0")
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(context.Background(), "interrupted", metav1.GetOptions{}); err == nil {
		t.Error("the interrupted form created its VM")
	}
}
