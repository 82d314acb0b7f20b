// Package framework starts the sandbox for end-to-end tests and gives them
// clients: the admin's, and ServiceAccount identities with real tokens. Every
// request goes through kube-apiserver, never straight to HyperSDK's servers.
package framework

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
)

// Nodes is the size of the test fleet: two of each zone, GPU servers among them.
const Nodes = 6

// Speed of simulated time in tests: a simulated hour per real second, so
// load and carbon traces move within a test.
const Speed = 3600

// RecordInterval is the history recorder's interval in tests.
const RecordInterval = 2 * time.Second

// Timeout is the generous deadline of every wait: CI shares 2 cores with a
// whole control plane. Two minutes was not always enough there (a Get in
// flight at the deadline, TestUSBHotplug); a wait that succeeds costs
// nothing more for a longer deadline.
const Timeout = 4 * time.Minute

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// DecodeExample reads the shipped example artifacts/examples/<name>.yaml
// into obj, refusing fields obj does not have.
func DecodeExample(t *testing.T, name string, obj any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(RepoRoot(), "artifacts", "examples", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, obj); err != nil {
		t.Fatalf("example %s: %v", name, err)
	}
}

// ControlPlaneBinDir builds (once, cached outside the repo) and returns the
// directory of the control plane's binaries.
func ControlPlaneBinDir() (string, error) { return hackBinDir("tools-bin.sh") }

// PrometheusBinDir builds (once, cached outside the repo) and returns the
// directory holding prometheus and promtool.
func PrometheusBinDir() (string, error) { return hackBinDir("prometheus-bin.sh") }

// ThirdPartyCRDs fetches (once, cached outside the repo) and returns the
// directory of cert-manager's and prometheus-operator's CRDs.
func ThirdPartyCRDs() (string, error) { return hackBinDir("third-party-crds.sh") }

// hackBinDir runs one of hack/'s build scripts, which print a directory.
func hackBinDir(script string) (string, error) {
	cmd := exec.Command(filepath.Join(RepoRoot(), "hack", script))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/%s: %w", script, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// BuildBinaries builds HyperSDK's commands into dir, static as the images
// hold them (CGO_ENABLED=0, as the Dockerfile builds them).
func BuildBinaries(dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/...: %w: %s", err, out)
	}
	return nil
}

// Env is a running sandbox with the binaries it was started from.
type Env struct {
	*sandbox.Sandbox
	ControlPlaneBin string
	BinDir          string
	Kube            kubernetes.Interface
	HyperSDK        hypersdkclient.Interface
	KubeVirt        kubevirt.Clientset
	CDI             kubevirt.CDIClientset
	VolumeSnapshots kubevirt.VolumeSnapshotClientset
}

// Setup builds everything and starts a sandbox in a temporary directory. The
// returned stop function ends it and removes the directory. Options change
// the sandbox's configuration before it starts.
func Setup(ctx context.Context, options ...func(*sandbox.Config)) (_ *Env, _ func(), err error) {
	cpBin, err := ControlPlaneBinDir()
	if err != nil {
		return nil, nil, err
	}
	// One sandbox at a time on this machine: go test runs packages in
	// parallel, and two control planes on 2 cores starve each other.
	unlock, err := lockSandbox()
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	// What a run killed before its clean-up left (a timeout, Ctrl-C): no
	// sandbox runs without the lock, so none of it is in use.
	removeStale()
	tmp, err := os.MkdirTemp("", "hypersdk-e2e-")
	if err != nil {
		return nil, nil, err
	}
	if os.Getenv("HYPERSDK_E2E_KEEP") != "" {
		// Kept on purpose, for a look afterwards: not stale.
		if err := os.WriteFile(filepath.Join(tmp, keptMarker), nil, 0o644); err != nil {
			return nil, nil, err
		}
	}
	binDir := filepath.Join(tmp, "bin")
	if err := BuildBinaries(binDir); err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	cfg := sandbox.Config{
		ControlPlaneBinDir: cpBin,
		BinDir:             binDir,
		Dir:                filepath.Join(tmp, "sandbox"),
		Nodes:              Nodes,
		Speed:              Speed,
		CarbonDir:          filepath.Join(RepoRoot(), "..", "shared", "data", "carbon"),
		// Slow enough that a test can act in the middle of a migration.
		StepDelay: 500 * time.Millisecond,
		// Short, so history fills within a test.
		RecordInterval: RecordInterval,
	}
	for _, o := range options {
		o(&cfg)
	}
	sb, err := sandbox.Start(ctx, cfg)
	if err != nil {
		dumpLogs(filepath.Join(tmp, "sandbox", "logs"))
		if os.Getenv("HYPERSDK_E2E_KEEP") == "" {
			os.RemoveAll(tmp)
		}
		return nil, nil, err
	}
	env := &Env{Sandbox: sb, ControlPlaneBin: cpBin, BinDir: binDir}
	stop := func() {
		defer unlock()
		sb.Stop()
		if os.Getenv("HYPERSDK_E2E_KEEP") == "" {
			os.RemoveAll(tmp)
		}
	}
	if env.Kube, err = kubernetes.NewForConfig(sb.Admin); err != nil {
		stop()
		return nil, nil, err
	}
	if env.HyperSDK, err = hypersdkclient.NewForConfig(sb.Admin); err != nil {
		stop()
		return nil, nil, err
	}
	if env.KubeVirt, err = kubevirt.NewClientset(sb.Admin); err != nil {
		stop()
		return nil, nil, err
	}
	if env.CDI, err = kubevirt.NewCDIClientset(sb.Admin); err != nil {
		stop()
		return nil, nil, err
	}
	if env.VolumeSnapshots, err = kubevirt.NewVolumeSnapshotClientset(sb.Admin); err != nil {
		stop()
		return nil, nil, err
	}
	return env, stop, nil
}

// keptMarker marks a sandbox directory kept with HYPERSDK_E2E_KEEP.
const keptMarker = ".kept"

// removeStale removes the sandbox directories of earlier runs that did not
// remove their own (killed by go test's timeout, or interrupted): each holds
// every command's binary and etcd's data. Those kept on purpose stay. The
// caller holds the sandbox lock.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "hypersdk-e2e-*"))
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, keptMarker)); err == nil {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "removing the stale sandbox directory %s: %v\n", dir, err)
		}
	}
}

// lockSandbox takes this machine's sandbox lock, waiting for it, and
// returns its release.
func lockSandbox() (func(), error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "hypersdk", "sandbox.lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// DumpLogsOnFailure prints the tail of every component's log when t failed.
func (e *Env) DumpLogsOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(e.ControlPlane.LogDir)
		}
	})
}

func dumpLogs(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		lines := strings.Split(string(data), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		fmt.Fprintf(os.Stderr, "===== %s (last %d lines)\n%s\n", e.Name(), len(lines), strings.Join(lines, "\n"))
	}
}

// Namespace creates a namespace for one test and deletes it afterwards.
func (e *Env) Namespace(t *testing.T, prefix string) string {
	t.Helper()
	ns, err := e.Kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// Kubectl runs kubectl as the admin; extra arguments may set another identity.
func (e *Env) Kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.ControlPlaneBin, "kubectl"), append([]string{"--kubeconfig=" + e.Kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// ServiceAccountToken creates a ServiceAccount bound to clusterRole in its
// namespace (no binding when clusterRole is empty) and returns a token for it.
func (e *Env) ServiceAccountToken(t *testing.T, namespace, name, clusterRole string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Kube.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ServiceAccount %s: %v", name, err)
	}
	if clusterRole != "" {
		if _, err := e.Kube.RbacV1().RoleBindings(namespace).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: namespace}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("binding %s to %s: %v", name, clusterRole, err)
		}
	}
	tr, err := e.Kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", name, err)
	}
	return tr.Status.Token
}

// ConfigFor returns a REST config with the given bearer token and no other
// credentials; an empty token makes an anonymous client.
func (e *Env) ConfigFor(token string) *rest.Config {
	cfg := rest.AnonymousClientConfig(e.Admin)
	cfg.BearerToken = token
	return cfg
}

// Eventually polls cond until it returns true or Timeout passes.
func Eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, Timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		// The poll's own deadline would hide why the condition failed: a
		// request cut short by it (or refused by client-go's rate limiter
		// because its wait would pass it) says nothing about the condition.
		if ctx.Err() == nil && (err == nil || !strings.Contains(err.Error(), "would exceed context deadline")) {
			last = err
		}
		return ok, nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
	}
}
