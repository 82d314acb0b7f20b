package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/test/framework"
)

// hyperCommand is `kubectl hyper args...` as a user runs it: kubectl finds
// the plugin on PATH, and the kubeconfig comes from KUBECONFIG.
func hyperCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(env.ControlPlaneBin, "kubectl"), append([]string{"hyper"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "PATH="+env.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return cmd
}

// startPiped starts cmd, a command that runs until the test stops it, with
// its stdout piped to the caller and its stderr kept for failure messages.
func startPiped(t *testing.T, cmd *exec.Cmd) (io.ReadCloser, *bytes.Buffer) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return stdout, &stderr
}

// hyper runs kubectl hyper to its end and returns stdout, stderr and the
// exit code.
func hyper(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Timeout)
	defer cancel()
	cmd := hyperCommand(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl hyper %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// hyperOK runs kubectl hyper and fails the test unless it exits 0.
func hyperOK(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := hyper(t, args...)
	if code != 0 {
		t.Fatalf("kubectl hyper %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestKubectlHyperList: filters combine as a hand check says, and every
// output format parses to the same VMs.
func TestKubectlHyperList(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-list")
	for _, v := range []struct {
		name   string
		cpus   uint32
		memory string
		tier   string
	}{{"small-web", 1, "1Gi", "web"}, {"big-web", 4, "8Gi", "web"}, {"mid-web", 2, "2Gi", "web"}, {"big-db", 4, "8Gi", "db"}} {
		createKubeVirtVM(t, ns, kubevirtVM(v.name, v.cpus, v.memory, map[string]string{"tier": v.tier}))
	}
	stopped := kubevirtVM("stopped-web", 8, "16Gi", map[string]string{"tier": "web"})
	stopped.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	createKubeVirtVM(t, ns, stopped)
	var list v1alpha1.VirtualMachineList
	framework.Eventually(t, "four VMs running", func(ctx context.Context) (bool, error) {
		l, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"})
		if err == nil {
			list = *l
		}
		return err == nil && len(l.Items) == 4, err
	})

	// The hand check: tier=web, Running, at least 2 vCPUs and 2Gi.
	var want []string
	for _, vm := range list.Items {
		if vm.Labels["tier"] == "web" && vm.Spec.CPUs >= 2 && vm.Spec.Memory.Cmp(resource.MustParse("2Gi")) >= 0 {
			want = append(want, vm.Name)
		}
	}
	sort.Strings(want)
	if len(want) != 2 {
		t.Fatalf("hand check found %v, want big-web and mid-web", want)
	}
	filters := []string{"vm", "list", "-n", ns, "-l", "tier=web", "--status", "Running", "--min-cpus", "2", "--min-memory", "2Gi"}

	var fromJSON v1alpha1.VirtualMachineList
	if err := json.Unmarshal([]byte(hyperOK(t, append(filters, "-o", "json")...)), &fromJSON); err != nil {
		t.Fatalf("-o json does not parse: %v", err)
	}
	if got := vmNames(fromJSON.Items); !reflect.DeepEqual(got, want) {
		t.Errorf("-o json with filters: %v, want %v", got, want)
	}
	// As kubectl get prints a list: a v1 List of objects that say what
	// they are.
	if fromJSON.Kind != "List" || fromJSON.APIVersion != "v1" {
		t.Errorf("-o json prints kind %q apiVersion %q, want a v1 List", fromJSON.Kind, fromJSON.APIVersion)
	}
	for _, vm := range fromJSON.Items {
		if vm.Kind != "VirtualMachine" || vm.APIVersion != "hypersdk.io/v1alpha1" {
			t.Errorf("-o json item %s says kind %q apiVersion %q", vm.Name, vm.Kind, vm.APIVersion)
		}
	}
	asYAML := hyperOK(t, append(filters, "-o", "yaml")...)
	var fromYAML v1alpha1.VirtualMachineList
	if err := yaml.Unmarshal([]byte(asYAML), &fromYAML); err != nil {
		t.Fatalf("-o yaml does not parse: %v", err)
	}
	// What it prints can be applied again.
	listFile := filepath.Join(t.TempDir(), "vms.yaml")
	if err := os.WriteFile(listFile, []byte(asYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := env.Kubectl(t, "apply", "--dry-run=server", "-f", listFile); err != nil {
		t.Errorf("kubectl apply -f of -o yaml: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(vmNames(fromYAML.Items), want) || !reflect.DeepEqual(fromYAML.Items[0].Spec, fromJSON.Items[0].Spec) {
		t.Errorf("-o yaml does not round-trip to -o json's VMs: %v", vmNames(fromYAML.Items))
	}

	records, err := csv.NewReader(strings.NewReader(hyperOK(t, append(filters, "-o", "csv")...))).ReadAll()
	if err != nil {
		t.Fatalf("-o csv does not parse: %v", err)
	}
	if len(records) != 3 || strings.Join(records[0], ",") != "name,status,cpus,memory,node,age" {
		t.Fatalf("-o csv: %v, want a header and two rows", records)
	}
	for i, r := range records[1:] {
		if r[0] != want[i] || r[1] != "Running" {
			t.Errorf("csv row %v, want %s Running", r, want[i])
		}
	}

	if got := strings.Fields(hyperOK(t, append(filters, "-o", "name")...)); !reflect.DeepEqual(got,
		[]string{"virtualmachine.hypersdk.io/" + want[0], "virtualmachine.hypersdk.io/" + want[1]}) {
		t.Errorf("-o name: %v", got)
	}
	if got := strings.Fields(hyperOK(t, append(filters, "-o", "jsonpath={.items[*].metadata.name}")...)); !reflect.DeepEqual(got, want) {
		t.Errorf("-o jsonpath: %v, want %v", got, want)
	}

	table := hyperOK(t, "vm", "list", "-n", ns, "--sort-by", ".spec.memory")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "STATUS") {
		t.Fatalf("table:\n%s", table)
	}
	if first, last := strings.Fields(lines[1])[0], strings.Fields(lines[5])[0]; first != "small-web" || last != "stopped-web" {
		t.Errorf("--sort-by .spec.memory puts %s first and %s last:\n%s", first, last, table)
	}
	noHeaders := hyperOK(t, "vm", "list", "-n", ns, "-o", "wide", "--no-headers", "--status", "Stopped")
	if f := strings.Fields(noHeaders); len(f) == 0 || f[0] != "stopped-web" || strings.Contains(noHeaders, "NAME") {
		t.Errorf("-o wide --no-headers --status Stopped:\n%s", noHeaders)
	}

	node := list.Items[0].Status.NodeName
	var onNode []string
	for _, vm := range list.Items {
		if vm.Status.NodeName == node {
			onNode = append(onNode, vm.Name)
		}
	}
	sort.Strings(onNode)
	if got := strings.Fields(hyperOK(t, "vm", "list", "-n", ns, "--node", node, "-o", "jsonpath={.items[*].metadata.name}")); !reflect.DeepEqual(got, onNode) {
		t.Errorf("--node %s: %v, want %v", node, got, onNode)
	}
	var one v1alpha1.VirtualMachine
	if err := json.Unmarshal([]byte(hyperOK(t, "vm", "get", "big-db", "-n", ns, "-o", "json")), &one); err != nil || one.Name != "big-db" || one.Kind != "VirtualMachine" {
		t.Errorf("vm get big-db -o json: %v %s/%s", err, one.Kind, one.Name)
	}
}

func vmNames(items []v1alpha1.VirtualMachine) []string {
	var names []string
	for _, vm := range items {
		names = append(names, vm.Name)
	}
	sort.Strings(names)
	return names
}

// TestKubectlHyperWatch: --watch prints ADDED, MODIFIED and DELETED with
// time as a VM is created, started and deleted, and Ctrl-C ends it cleanly.
func TestKubectlHyperWatch(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "hyper-watch")
	cmd := hyperCommand(ctx, "vm", "list", "-n", ns, "--watch", "-o", "name")
	stdout, stderr := startPiped(t, cmd)
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	vm := kubevirtVM("watched", 1, "1Gi", nil)
	vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	expectEvent := func(typ string, act func()) {
		t.Helper()
		deadline := time.After(framework.Timeout)
		for {
			if act != nil {
				act()
				act = nil
			}
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended before %s: %s", typ, stderr.String())
				}
				f := strings.Fields(l)
				if len(f) == 3 && f[0] == typ && f[2] == "virtualmachine.hypersdk.io/watched" {
					if _, err := time.Parse(time.RFC3339, f[1]); err != nil {
						t.Errorf("event time %q: %v", f[1], err)
					}
					return
				}
			case <-deadline:
				t.Fatalf("no %s event", typ)
			}
		}
	}
	expectEvent("ADDED", func() { createKubeVirtVM(t, ns, vm) })
	expectEvent("MODIFIED", func() { hyperOK(t, "vm", "start", "watched", "-n", ns) })
	expectEvent("DELETED", func() { hyperOK(t, "vm", "delete", "watched", "-n", ns) })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("watch after Ctrl-C: %v: %s", err, stderr.String())
	}
}

// TestKubectlHyperWatchPhase: op list --phase Running --watch shows an
// operation while it runs and DELETED once it has left Running, as a
// server-side field selector makes a watch do (filtered on the client, its
// end was dropped and it looked Running for ever).
func TestKubectlHyperWatchPhase(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx, cancel := context.WithTimeout(context.Background(), framework.Timeout)
	defer cancel()
	ns := env.Namespace(t, "hyper-watch-phase")
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	runningVMI(t, ns, "vm", "")
	cmd := hyperCommand(ctx, "op", "list", "-n", ns, "--phase", "Running", "--watch", "-o", "name")
	stdout, stderr := startPiped(t, cmd)
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	events := make(chan []string, 100)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if f := strings.Fields(s.Text()); len(f) == 3 {
				events <- f
			}
		}
		close(events)
	}()
	// Operations until the watch shows one running (one that ended before
	// the command listed is never shown); then that one must go.
	var shown string
	for i := 0; shown == "" && ctx.Err() == nil; i++ {
		sub := []string{"stop", "start"}[i%2]
		out := hyperOK(t, "vm", sub, "vm", "-n", ns, "--wait")
		name := strings.TrimSuffix(strings.Split(out, "\n")[0], " created")
		select {
		case f, ok := <-events:
			if !ok {
				t.Fatalf("the watch ended: %s", stderr.String())
			}
			if f[2] == name && f[0] != "DELETED" {
				shown = name
			}
		case <-time.After(5 * time.Second):
		}
	}
	for f := range events {
		if f[2] == shown && f[0] == "DELETED" {
			return
		}
	}
	t.Errorf("%s was shown running and never DELETED once it ended: %s", shown, stderr.String())
}

// TestKubectlHyperOperations: --wait --show-progress follows an operation to
// Succeeded with exit code 0; an operation that fails exits non-zero with
// its message; op list, get and wait see the operations.
func TestKubectlHyperOperations(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-ops")
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	runningVMI(t, ns, "vm", "")

	// --show-progress and --timeout mean following: they imply --wait.
	out := hyperOK(t, "vm", "stop", "vm", "-n", ns, "--show-progress", "--timeout", "5m")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "vmoperation.hypersdk.io/") || !strings.HasSuffix(lines[0], " created") {
		t.Errorf("first line %q, want the operation created", lines[0])
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, " Succeeded: ") {
		t.Errorf("last line %q, want Succeeded", last)
	}
	progressLines := 0
	for _, l := range lines[1 : len(lines)-1] {
		if strings.Contains(l, "%") {
			progressLines++
		}
	}
	if progressLines == 0 {
		t.Errorf("--show-progress printed no progress lines:\n%s", out)
	}
	opName := strings.TrimSuffix(strings.TrimPrefix(lines[0], "vmoperation.hypersdk.io/"), " created")

	var op v1alpha1.VMOperation
	if err := json.Unmarshal([]byte(hyperOK(t, "op", "get", opName, "-n", ns, "-o", "json")), &op); err != nil ||
		op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Spec.Type != v1alpha1.VMOperationStop {
		t.Errorf("op get %s: %v %+v", opName, err, op.Status)
	}
	if got := hyperOK(t, "op", "wait", opName, "-n", ns); !strings.Contains(got, "Succeeded") {
		t.Errorf("op wait on a finished operation: %q", got)
	}
	if got := hyperOK(t, "op", "list", "-n", ns, "--vm", "vm", "-o", "name"); strings.TrimSpace(got) != "vmoperation.hypersdk.io/"+opName {
		t.Errorf("op list --vm vm: %q", got)
	}
	// One who may get operations but not list or watch them is refused at
	// once, as by kubectl wait, instead of waiting for ever.
	getter := "system:serviceaccount:" + ns + ":getter"
	grant(t, ns, "getter", rbacv1.PolicyRule{APIGroups: []string{"hypersdk.io"}, Resources: []string{"vmoperations", "virtualmachines"},
		Verbs: []string{"get"}}, getter)
	if _, errOut, code := hyper(t, "op", "wait", opName, "-n", ns, "--as", getter); code == 0 ||
		!strings.HasPrefix(errOut, "Error from server (Forbidden)") || !strings.Contains(errOut, "cannot list") {
		t.Errorf("op wait without list: exit %d, stderr %q; want Forbidden at once", code, errOut)
	}
	// One whose Role names the VM and the operation watches them by name,
	// as with kubectl get NAME --watch: the list and the watch select the
	// name, which the server authorizes.
	byName := "system:serviceaccount:" + ns + ":by-name"
	grant(t, ns, "by-name", rbacv1.PolicyRule{APIGroups: []string{"hypersdk.io"}, Resources: []string{"vmoperations", "virtualmachines"},
		ResourceNames: []string{"vm", opName}, Verbs: []string{"get", "list", "watch"}}, byName)
	for _, args := range [][]string{{"vm", "get", "vm"}, {"op", "get", opName}} {
		out, errOut, code := hyper(t, append(args, "-n", ns, "--as", byName, "--watch", "--request-timeout", "15s", "--no-headers")...)
		if f := strings.Fields(out); code != 0 || len(f) < 3 || f[0] != "ADDED" || f[2] != args[2] {
			t.Errorf("%s --watch as one whose Role names it: exit %d, stdout %q, stderr %q; want it ADDED and a clean end", strings.Join(args, " "), code, out, errOut)
		}
		// Without --watch, one name is a get: get alone is enough, as for
		// kubectl get NAME.
		if out, errOut, code := hyper(t, append(args, "-n", ns, "--as", getter, "-o", "name")...); code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "/"+args[2]) {
			t.Errorf("%s as one who may only get it: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
	}
	// describe shows the VM, and in place of its operations why they
	// cannot be listed, as kubectl describe does with events.
	if out, errOut, code := hyper(t, "vm", "describe", "vm", "-n", ns, "--as", getter); code != 0 ||
		!strings.Contains(out, "Name:") || !strings.Contains(out, "<unable to list: ") {
		t.Errorf("vm describe without listing operations: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out := hyperOK(t, "vm", "describe", "vm", "-n", ns); !strings.Contains(out, opName) {
		t.Errorf("vm describe: %q, want operation %s", out, opName)
	}

	// A clone whose VM an admission policy refuses in the target namespace
	// is accepted, then fails.
	target := env.Namespace(t, "hyper-ops-denied")
	denyKubeVirtVMs(t, target)
	_, errOut, code := hyper(t, "vm", "clone", "vm", "-n", ns, "--target", "copy", "--target-namespace", target, "--wait")
	if code == 0 || !strings.Contains(errOut, "Failed") || !strings.Contains(errOut, "no KubeVirt VMs may be made here") {
		t.Errorf("failing clone: exit %d, stderr %q; want non-zero with the policy's message", code, errOut)
	}
}

// denyKubeVirtVMs makes a ValidatingAdmissionPolicy refuse new KubeVirt VMs
// in ns, and waits until kube-apiserver applies it.
func denyKubeVirtVMs(t *testing.T, ns string) {
	t.Helper()
	denyCreates(t, "deny-vms-"+ns, "kubevirt.io", "virtualmachines", "false", "no KubeVirt VMs may be made here",
		map[string]string{"kubernetes.io/metadata.name": ns})
	framework.Eventually(t, "the policy to refuse VMs in "+ns, func(ctx context.Context) (bool, error) {
		_, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Create(ctx, kubevirtVM("probe", 1, "1Gi", nil),
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "no KubeVirt VMs may be made here"), nil
	})
}

// TestKubectlHyperBadInput: each mistake is one line on stderr and a
// non-zero exit.
func TestKubectlHyperBadInput(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-bad")
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	// As kubectl says them: what the server refused with its reason,
	// the rest as an error.
	const notFound, forbidden, local = "Error from server (NotFound): ", "Error from server (Forbidden): ", "error: "
	for _, tc := range []struct {
		name       string
		args       []string
		from, says string
	}{
		{"unknown VM", []string{"vm", "get", "nope", "-n", ns}, notFound, `"nope" not found`},
		{"unknown VM for an operation", []string{"vm", "restart", "nope", "-n", ns}, notFound, `"nope" not found`},
		{"bad quantity", []string{"vm", "list", "-n", ns, "--min-memory", "4Gx"}, local, "--min-memory"},
		{"bad resize quantity", []string{"vm", "resize", "vm", "-n", ns, "--memory", "lots"}, local, "--memory"},
		{"unknown output format", []string{"vm", "list", "-n", ns, "-o", "xml"}, local, `unknown output format "xml"`},
		{"clone without target", []string{"vm", "clone", "vm", "-n", ns}, local, "--target is required"},
		{"no permission", []string{"vm", "list", "-n", ns, "--as", "system:serviceaccount:" + ns + ":nobody"}, forbidden, "forbidden"},
		{"no permission to operate", []string{"vm", "stop", "vm", "-n", ns, "--as", "system:serviceaccount:" + ns + ":nobody"}, forbidden, "cannot create"},
	} {
		out, errOut, code := hyper(t, tc.args...)
		lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], tc.from) || !strings.Contains(lines[0], tc.says) {
			t.Errorf("%s: exit %d, stderr %q, stdout %q; want one line %q... saying %q", tc.name, code, errOut, out, tc.from, tc.says)
		}
	}
}

// TestKubectlHyperGetSomeNotFound: as kubectl get, the objects found are
// printed and each name not found is a line of stderr and a failed command;
// a list that finds nothing says so on stderr, except in a machine format.
func TestKubectlHyperGetSomeNotFound(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-notfound")
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	framework.Eventually(t, "the VM in the view", func(ctx context.Context) (bool, error) {
		_, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, "vm", metav1.GetOptions{})
		return err == nil, nil
	})
	out, errOut, code := hyper(t, "vm", "get", "vm", "nope", "gone", "-n", ns, "-o", "name")
	if lines := strings.Split(strings.TrimSpace(errOut), "\n"); code == 0 || out != "virtualmachine.hypersdk.io/vm\n" || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "Error from server (NotFound): ") || !strings.Contains(lines[0], `"gone" not found`) || !strings.Contains(lines[1], `"nope" not found`) {
		t.Errorf("vm get vm nope gone: exit %d, stdout %q, stderr %q; want vm, then a line for each missing name", code, out, errOut)
	}
	empty := env.Namespace(t, "hyper-none")
	for _, args := range [][]string{{"vm", "list"}, {"operation", "list"}, {"snapshot", "list"}} {
		out, errOut, code := hyper(t, append(args, "-n", empty)...)
		if code != 0 || out != "" || errOut != "No resources found in "+empty+" namespace.\n" {
			t.Errorf("%s in an empty namespace: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
	}
	if out, errOut, code := hyper(t, "vm", "list", "-n", empty, "-o", "json"); code != 0 || errOut != "" || !strings.Contains(out, `"items": []`) {
		t.Errorf("vm list -o json in an empty namespace: exit %d, stdout %q, stderr %q; want an empty list", code, out, errOut)
	}
}

// TestKubectlHyperCompletion: the shell completion scripts are there, and
// VM names complete.
func TestKubectlHyperCompletion(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-complete")
	createKubeVirtVM(t, ns, kubevirtVM("alpha", 1, "1Gi", nil))
	createKubeVirtVM(t, ns, kubevirtVM("beta", 1, "1Gi", nil))
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out := hyperOK(t, "completion", shell); !strings.Contains(out, "kubectl-hyper") && !strings.Contains(out, "kubectl hyper") {
			t.Errorf("completion %s prints no script for the plugin:\n%.200s", shell, out)
		}
	}
	framework.Eventually(t, "the VMs in the view", func(ctx context.Context) (bool, error) {
		l, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 2, err
	})
	out := hyperOK(t, "__complete", "vm", "start", "-n", ns, "")
	if got := strings.Fields(strings.Split(out, ":")[0]); !reflect.DeepEqual(got, []string{"alpha", "beta"}) {
		t.Errorf("completing vm start: %q", out)
	}
	out = hyperOK(t, "__complete", "vm", "delete", "-n", ns, "alpha", "")
	if got := strings.Fields(strings.Split(out, ":")[0]); !reflect.DeepEqual(got, []string{"beta"}) {
		t.Errorf("completing vm delete alpha: %q", out)
	}
	// Through kubectl itself, which asks kubectl_complete-hyper on PATH.
	ctx, cancel := context.WithTimeout(context.Background(), framework.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(env.ControlPlaneBin, "kubectl"), "__complete", "hyper", "vm", "start", "-n", ns, "")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "PATH="+env.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	raw, err := cmd.Output()
	if got := strings.Fields(strings.Split(string(raw), ":")[0]); err != nil || !reflect.DeepEqual(got, []string{"alpha", "beta"}) {
		t.Errorf("kubectl __complete hyper vm start: %q (%v), want alpha and beta", raw, err)
	}
}

// TestKubectlHyperHistoryAndPlacement: vm history and vm placement show
// what the subresources hold, in a table and in every format.
func TestKubectlHyperHistoryAndPlacement(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-history")
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	vmi := runningVMI(t, ns, "vm", "")
	var h v1alpha1.VirtualMachineHistory
	// A reading of the running VM: a tick recorded before the VM had a
	// node holds usage 0 for both, and the sort below needs memory's
	// average above the CPU's.
	framework.Eventually(t, "recorded usage of the running VM", func(ctx context.Context) (bool, error) {
		out, errOut, code := hyper(t, "vm", "history", "vm", "-n", ns, "--range", "1h", "--fields", "cpuUsage,memoryUsage", "-o", "json")
		if code != 0 {
			return false, fmt.Errorf("%s", errOut)
		}
		h = v1alpha1.VirtualMachineHistory{}
		if err := json.Unmarshal([]byte(out), &h); err != nil {
			return false, err
		}
		return len(h.Series) == 2 && len(h.Series[0].Points) > 0 && h.Series[1].Trend.Max > 0, nil
	})
	if h.Kind != "VirtualMachineHistory" || h.Series[0].Field != "cpuUsage" {
		t.Errorf("history -o json: kind %q, series %q", h.Kind, h.Series[0].Field)
	}
	records, err := csv.NewReader(strings.NewReader(hyperOK(t, "vm", "history", "vm", "-n", ns, "--range", "1h",
		"--fields", "cpuUsage,memoryUsage", "-o", "csv"))).ReadAll()
	if err != nil || len(records) < 2 || strings.Join(records[0], ",") != "time,cpuUsage,memoryUsage" {
		t.Errorf("history -o csv: %v %v", err, records)
	}
	headless, err := csv.NewReader(strings.NewReader(hyperOK(t, "vm", "history", "vm", "-n", ns, "--range", "1h",
		"--fields", "cpuUsage,memoryUsage", "-o", "csv", "--no-headers"))).ReadAll()
	if err != nil || len(headless) == 0 {
		t.Errorf("history -o csv --no-headers: %v %v", err, headless)
	} else if _, err := time.Parse(time.RFC3339, headless[0][0]); err != nil {
		t.Errorf("history -o csv --no-headers starts with %q, not a point", headless[0])
	}
	table := strings.Split(strings.TrimSpace(hyperOK(t, "vm", "history", "vm", "-n", ns, "--fields", "cpuUsage")), "\n")
	if len(table) != 2 || !strings.HasPrefix(table[0], "FIELD") || strings.Fields(table[1])[0] != "cpuUsage" {
		t.Errorf("history table:\n%s", strings.Join(table, "\n"))
	}
	// Memory in bytes averages more than CPU in cores: sorted, cpuUsage
	// comes first in whichever order the fields were asked for (and the
	// server answers in that order).
	for _, tc := range []struct{ fields, first string }{{"memoryUsage,cpuUsage", "cpuUsage"}, {"cpuUsage,memoryUsage", "cpuUsage"}} {
		table := strings.Split(strings.TrimSpace(hyperOK(t, "vm", "history", "vm", "-n", ns, "--fields", tc.fields, "--sort-by", ".trend.avg")), "\n")
		if len(table) != 3 || strings.Fields(table[1])[0] != tc.first {
			t.Errorf("history --fields %s --sort-by .trend.avg puts %s first, want %s:\n%s", tc.fields, strings.Fields(table[1])[0], tc.first, strings.Join(table, "\n"))
		}
	}
	if _, errOut, code := hyper(t, "vm", "cost", "vm", "-n", ns, "--sort-by", ".name"); code == 0 || !strings.Contains(errOut, "unknown flag: --sort-by") {
		t.Errorf("vm cost --sort-by (one row, nothing to order): exit %d, %q; want an unknown flag", code, errOut)
	}

	var p v1alpha1.VirtualMachinePlacement
	if err := json.Unmarshal([]byte(hyperOK(t, "vm", "placement", "vm", "-n", ns, "-o", "json")), &p); err != nil || p.Kind != "VirtualMachinePlacement" {
		t.Fatalf("placement -o json: %v kind %q", err, p.Kind)
	}
	placementTable := hyperOK(t, "vm", "placement", "vm", "-n", ns)
	if p.Decision == nil {
		if !strings.Contains(placementTable, p.Message) {
			t.Errorf("placement without a decision prints %q, want its message %q", placementTable, p.Message)
		}
		return
	}
	if p.Decision.Node != vmi.Status.NodeName {
		t.Errorf("placement decision node %s, the VM runs on %s", p.Decision.Node, vmi.Status.NodeName)
	}
	chosen := ""
	for _, l := range strings.Split(placementTable, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "*" {
			chosen = f[1]
		}
	}
	if chosen != p.Decision.Node {
		t.Errorf("placement table marks %q, the decision is %s:\n%s", chosen, p.Decision.Node, placementTable)
	}
	for _, by := range []struct {
		path   string
		column int
	}{{".total", 3}, {".node", 1}, {".costPerHour", 8}} {
		rows, err := csv.NewReader(strings.NewReader(hyperOK(t, "vm", "placement", "vm", "-n", ns, "--sort-by", by.path, "-o", "csv", "--no-headers"))).ReadAll()
		if err != nil || len(rows) != len(p.Decision.Candidates) {
			t.Fatalf("placement --sort-by %s -o csv: %v, %d rows for %d candidates", by.path, err, len(rows), len(p.Decision.Candidates))
		}
		if !slices.IsSortedFunc(rows, func(a, b []string) int {
			x, errX := strconv.ParseFloat(a[by.column], 64)
			y, errY := strconv.ParseFloat(b[by.column], 64)
			if errX != nil || errY != nil {
				return strings.Compare(a[by.column], b[by.column])
			}
			return cmp.Compare(x, y)
		}) {
			t.Errorf("placement --sort-by %s is not in order of column %d: %q", by.path, by.column, rows)
		}
	}
}

// TestKubectlHyperTemplatesAndCreate: templates come from the built-in
// examples and the ConfigMap catalogue; vm create from flags or a template
// makes the VM asked for (a dry run makes nothing); describe shows it.
func TestKubectlHyperTemplatesAndCreate(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "hyper-templates")
	catalog := env.Namespace(t, "hyper-catalog")
	if _, err := env.Kube.CoreV1().ConfigMaps(catalog).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "web-small", Labels: map[string]string{"hypersdk.io/vm-template": "true"},
			Annotations: map[string]string{"hypersdk.io/description": "a small web server"}},
		Data: map[string]string{"template": "apiVersion: hypersdk.io/v1alpha1\nkind: VirtualMachine\nmetadata:\n  labels:\n    tier: web\nspec:\n  cpus: 1\n  memory: 1Gi\n  image: quay.io/containerdisks/centos-stream:9\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list := hyperOK(t, "template", "list", "--catalog-namespace", catalog)
	if !strings.Contains(list, "fedora") || !strings.Contains(list, "artifacts/examples/vm.yaml") ||
		!strings.Contains(list, "web-small") || !strings.Contains(list, "a small web server") {
		t.Errorf("template list:\n%s", list)
	}
	var tmpl v1alpha1.VirtualMachine
	if err := yaml.Unmarshal([]byte(hyperOK(t, "template", "get", "web-small", "--catalog-namespace", catalog)), &tmpl); err != nil ||
		tmpl.Kind != "VirtualMachine" || tmpl.Spec.Image != "quay.io/containerdisks/centos-stream:9" {
		t.Errorf("template get web-small: %v %+v", err, tmpl)
	}

	for _, dry := range []string{"--dry-run", "--dry-run=server", "--dry-run=client"} {
		hyperOK(t, "vm", "create", "dry", "-n", ns, "--cpus", "2", dry)
		if _, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, "dry", metav1.GetOptions{}); err == nil {
			t.Errorf("a dry run (%s) made a VM", dry)
		}
	}
	if _, errOut, code := hyper(t, "vm", "create", "dry", "-n", ns, "--dry-run=maybe"); code == 0 || !strings.Contains(errOut, `"none", "server" or "client"`) {
		t.Errorf("--dry-run=maybe: exit %d %q", code, errOut)
	}
	// A template that says running keeps it unless --running says otherwise.
	if _, err := env.Kube.CoreV1().ConfigMaps(catalog).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "always-on", Labels: map[string]string{"hypersdk.io/vm-template": "true"}},
		Data:       map[string]string{"template": "apiVersion: hypersdk.io/v1alpha1\nkind: VirtualMachine\nspec:\n  cpus: 1\n  memory: 1Gi\n  image: quay.io/containerdisks/centos-stream:9\n  running: true\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hyperOK(t, "vm", "create", "kept-on", "-n", ns, "--template", "always-on", "--catalog-namespace", catalog)
	hyperOK(t, "vm", "create", "turned-off", "-n", ns, "--template", "always-on", "--catalog-namespace", catalog, "--running=false")
	for name, want := range map[string]bool{"kept-on": true, "turned-off": false} {
		vm, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || vm.Spec.Running == nil || *vm.Spec.Running != want {
			t.Errorf("%s from a running template: %v running %v, want %v", name, err, vm.Spec.Running, want)
		}
	}
	hyperOK(t, "vm", "create", "from-flags", "-n", ns, "--cpus", "2", "--memory", "3Gi", "-l", "app=x")
	hyperOK(t, "vm", "create", "from-template", "-n", ns, "--template", "web-small", "--catalog-namespace", catalog, "--cpus", "4", "--running")
	for _, tc := range []struct {
		name, image string
		cpus        int32
		memory      string
		label       string
	}{{"from-flags", "quay.io/containerdisks/fedora:41", 2, "3Gi", "app"}, {"from-template", "quay.io/containerdisks/centos-stream:9", 4, "1Gi", "tier"}} {
		vm, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, tc.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if vm.Spec.Image != tc.image || vm.Spec.CPUs != tc.cpus || vm.Spec.Memory.String() != tc.memory || vm.Labels[tc.label] == "" {
			t.Errorf("%s: %+v labels %v", tc.name, vm.Spec, vm.Labels)
		}
	}
	runningVMI(t, ns, "from-template", "")
	hyperOK(t, "vm", "restart", "from-template", "-n", ns, "--wait")
	desc := hyperOK(t, "vm", "describe", "from-template", "-n", ns)
	for _, want := range []string{"Name:", "from-template", "CPUs:", "4", "Image:", "centos-stream", "Operations:", "Restart", "Succeeded"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}
	_, errOut, code := hyper(t, "vm", "create", "bad", "-n", ns, "--gpu", "nvidia.com/A100")
	if code == 0 || !strings.Contains(errOut, "want model=count") {
		t.Errorf("--gpu without a count: exit %d %q", code, errOut)
	}

	// A blank disk: a DataVolume with a blank source, made with the VM.
	hyperOK(t, "vm", "create", "installer", "-n", ns, "--blank", "10Gi", "--running")
	runningVMI(t, ns, "installer", "")
	vm, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, "installer", metav1.GetOptions{})
	if err != nil || vm.Spec.Source == nil || vm.Spec.Source.Blank == nil || vm.Spec.Source.Blank.Size.String() != "10Gi" || vm.Spec.Image != "" {
		t.Errorf("create --blank 10Gi: %v %+v", err, vm.Spec)
	}
	dv, err := env.CDI.CdiV1beta1().DataVolumes(ns).Get(ctx, "installer-rootdisk", metav1.GetOptions{})
	if err != nil || dv.Spec.Source == nil || dv.Spec.Source.Blank == nil || dv.Status.Phase != "Succeeded" {
		t.Errorf("the blank disk's DataVolume: %v %+v %s", err, dv.Spec.Source, dv.Status.Phase)
	}
	// The disk is made once: a bigger size would show in the VM and never
	// reach the DataVolume, so it is refused; an unchanged source passes.
	_, err = env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Patch(ctx, "installer", types.MergePatchType,
		[]byte(`{"spec":{"source":{"blank":{"size":"20Gi"}}}}`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.source") {
		t.Errorf("growing the blank disk through the VM: %v, want 422 naming spec.source", err)
	}
	if _, err = env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Patch(ctx, "installer", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"disk":"blank"}},"spec":{"source":{"blank":{"size":"10240Mi"}}}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("the same size written anew: %v", err)
	}
	_, errOut, code = hyper(t, "vm", "create", "tiny", "-n", ns, "--blank", "100Mi")
	if code == 0 || !strings.Contains(errOut, "spec.source.blank.size") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("--blank 100Mi: exit %d %q, want one line naming spec.source.blank.size", code, errOut)
	}
}

// TestKubectlHyperDeleteEach: as kubectl delete, a name that fails is
// reported and the names after it are still deleted; the command fails.
func TestKubectlHyperDeleteEach(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "hyper-delete")
	for _, name := range []string{"first", "last"} {
		vm := kubevirtVM(name, 1, "1Gi", nil)
		vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
		createKubeVirtVM(t, ns, vm)
	}
	out, errOut, code := hyper(t, "vm", "delete", "first", "missing", "last", "-n", ns)
	if code != 1 || !strings.Contains(out, "virtualmachine.hypersdk.io/first deleted") || !strings.Contains(out, "virtualmachine.hypersdk.io/last deleted") ||
		!strings.Contains(errOut, `"missing" not found`) || !strings.Contains(errOut, "1 of 3 not deleted") {
		t.Fatalf("vm delete first missing last: exit %d, stdout %q, stderr %q; want 1, both deleted, missing reported", code, out, errOut)
	}
	framework.Eventually(t, "first and last gone", func(ctx context.Context) (bool, error) {
		vms, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(vms.Items) > 0 {
			return false, err
		}
		return true, nil
	})
}

// grant gives user rule in ns, through a Role and RoleBinding named name
// (the namespace takes them with it).
func grant(t *testing.T, ns, name string, rule rbacv1.PolicyRule, user string) {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{rule}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
