package e2e

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hypersdk/hypersdk/test/framework"
)

// TestSandboxCommand: what `make run` runs prints its ready line within 3
// minutes with the fleet up and the demo VMs running; SIGTERM stops every
// process it started and frees every port they listened on. Twice, so a
// second run after the first finds nothing in its way.
func TestSandboxCommand(t *testing.T) {
	dir := t.TempDir()
	for run := 1; run <= 2; run++ {
		start := time.Now()
		cmd, kubeconfig := startSandboxCommand(t, dir)
		t.Logf("run %d: ready after %v", run, time.Since(start).Round(time.Millisecond))
		if kubeconfig != filepath.Join(dir, "kubeconfig") {
			t.Errorf("ready line names %s, want %s", kubeconfig, filepath.Join(dir, "kubeconfig"))
		}
		kubectl := func(args ...string) string {
			out, err := exec.Command(filepath.Join(env.ControlPlaneBin, "kubectl"),
				append([]string{"--kubeconfig=" + kubeconfig}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl %v: %v: %s", args, err, out)
			}
			return string(out)
		}
		if nodes := rows(kubectl("get", "nodes", "--no-headers")); len(nodes) != 6 {
			t.Errorf("kubectl get nodes: %d nodes, want the default fleet of 6", len(nodes))
		}
		vmis := rows(kubectl("get", "vmi", "-A", "--no-headers"))
		if len(vmis) != 8 {
			t.Errorf("kubectl get vmi -A: %d rows, want the 8 demo VMs", len(vmis))
		}
		for _, row := range vmis {
			if !strings.Contains(row, " Running ") || !strings.Contains(row, "node-") {
				t.Errorf("demo VMI not running on a node: %q", row)
			}
		}
		if hvms := rows(kubectl("get", "hvm", "-A", "--no-headers")); len(hvms) != 8 {
			t.Errorf("kubectl get hvm -A: %d rows, want 8", len(hvms))
		}

		ports := listenPorts(processesMentioning(dir))
		if len(ports) < 3 {
			t.Errorf("found only ports %v of the sandbox's processes", ports)
		}
		if err := stopSandboxCommand(t, cmd); err != nil {
			t.Errorf("run %d: sandbox exited with %v after SIGTERM, want 0", run, err)
		}
		if left := processesMentioning(dir); len(left) > 0 {
			t.Errorf("run %d: processes left behind: %v", run, left)
		}
		for _, port := range ports {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
				c.Close()
				t.Errorf("run %d: port %s still listening after stop", run, port)
			}
		}
	}
}

func rows(out string) []string {
	var r []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.TrimSpace(l) != "" {
			r = append(r, l)
		}
	}
	return r
}

var portFlag = regexp.MustCompile(`(?:--secure-port=|127\.0\.0\.1:)(\d+)`)

// listenPorts are the loopback ports named in the processes' flags.
func listenPorts(cmdlines []string) []string {
	seen := map[string]bool{}
	var ports []string
	for _, line := range cmdlines {
		for _, m := range portFlag.FindAllStringSubmatch(line, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				ports = append(ports, m[1])
			}
		}
	}
	return ports
}

// processesMentioning lists the command lines of running processes whose
// arguments contain s.
func processesMentioning(s string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if line := strings.ReplaceAll(string(data), "\x00", " "); strings.Contains(line, s) {
			found = append(found, line)
		}
	}
	return found
}

// startSandboxCommand runs what make run runs, a whole second sandbox in
// dir, waits for its ready line (3 minutes at most) and returns the process
// and the kubeconfig the line names. The process is killed at the end of
// the test if it still runs.
func startSandboxCommand(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(env.BinDir, "hypersdk-sandbox"),
		"--dir="+dir, "--control-plane-bin="+env.ControlPlaneBin,
		"--carbon-data="+filepath.Join(framework.RepoRoot(), "..", "shared", "data", "carbon"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	ready := make(chan string, 1)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if kc, ok := strings.CutPrefix(sc.Text(), "HyperSDK sandbox ready: export KUBECONFIG="); ok {
				ready <- kc
			}
		}
	}()
	select {
	case kubeconfig := <-ready:
		return cmd, kubeconfig
	case <-ended:
		t.Fatal("the sandbox exited before its ready line")
	case <-time.After(3 * time.Minute):
		t.Fatal("no ready line within 3 minutes")
	}
	return nil, ""
}

// stopSandboxCommand sends SIGTERM to a sandbox started by
// startSandboxCommand and returns how it exited; the test fails at once if
// it has not stopped 2 minutes later.
func stopSandboxCommand(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-time.After(2 * time.Minute):
		t.Fatal("the sandbox did not stop within 2 minutes of SIGTERM")
	}
	return nil
}
