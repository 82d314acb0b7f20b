package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSandboxCommand: what `make run` runs prints its ready line within 3
// minutes, kubectl answers with the kubeconfig it names, and SIGTERM stops
// every process it started.
func TestSandboxCommand(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(env.BinDir, "hypersdk-sandbox"),
		"--dir="+dir, "--control-plane-bin="+env.ControlPlaneBin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if kc, ok := strings.CutPrefix(sc.Text(), "HyperSDK sandbox ready: export KUBECONFIG="); ok {
				ready <- kc
			}
		}
	}()
	var kubeconfig string
	select {
	case kubeconfig = <-ready:
	case <-time.After(3 * time.Minute):
		t.Fatal("no ready line within 3 minutes")
	}
	if kubeconfig != filepath.Join(dir, "kubeconfig") {
		t.Errorf("ready line names %s, want %s", kubeconfig, filepath.Join(dir, "kubeconfig"))
	}
	out, err := exec.Command(filepath.Join(env.ControlPlaneBin, "kubectl"), "--kubeconfig="+kubeconfig,
		"get", "hvm", "-A").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get hvm -A: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "No resources found") {
		t.Errorf("kubectl get hvm -A on a fresh sandbox = %q", out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("sandbox exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("sandbox did not stop within 2 minutes of SIGTERM")
	}
	if left := processesMentioning(dir); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
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
