package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/test/framework"
)

// stoppedVM is a KubeVirt VM that does not run, so changing it is cheap.
func stoppedVM(name string) *kvv1.VirtualMachine {
	vm := kubevirtVM(name, 1, "1Gi", nil)
	vm.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	return vm
}

// setGeneration labels a KubeVirt VM with gen=n, as any KubeVirt client would.
func setGeneration(ctx context.Context, ns, name string, n int) error {
	patch := fmt.Sprintf(`{"metadata":{"labels":{"gen":"%d"}}}`, n)
	_, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// collect reads events from w until it has seen gen=last for every VM of
// names, and returns the gen labels each VM was shown, in order, and the
// resourceVersion of the last event.
func collect(t *testing.T, w watch.Interface, names []string, last int, seen map[string][]int) string {
	t.Helper()
	rv := ""
	timeout := time.After(framework.Timeout)
	done := func() bool {
		for _, n := range names {
			g := seen[n]
			if len(g) == 0 || g[len(g)-1] != last {
				return false
			}
		}
		return true
	}
	for !done() {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed")
			}
			vm, isVM := ev.Object.(*v1alpha1.VirtualMachine)
			if !isVM {
				t.Fatalf("unexpected %s event: %v", ev.Type, ev.Object)
			}
			rv = vm.ResourceVersion
			if g, err := strconv.Atoi(vm.Labels["gen"]); err == nil && ev.Type == watch.Modified {
				seen[vm.Name] = append(seen[vm.Name], g)
			}
		case <-timeout:
			t.Fatalf("events so far %v, waiting for gen %d", seen, last)
		}
	}
	return rv
}

// TestTwoAPIServerReplicas: two hypersdk-apiserver replicas hand out the same
// resourceVersions, so a client lists and watches on one, resumes its watch
// on the other from the last version it saw, and is shown every change once;
// pages of a list continue on either; both stay ready through a burst of 500
// VM changes.
func TestTwoAPIServerReplicas(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ha")
	second, stopSecond, err := env.StartAPIServerReplica(ctx)
	if err != nil {
		t.Fatalf("starting a second replica: %v", err)
	}
	t.Cleanup(stopSecond) // its informers and watch caches would load every later test
	replicas := []*rest.Config{env.APIServerConfig(), second}
	clients := make([]hypersdkclient.Interface, 2)
	for i, cfg := range replicas {
		if clients[i], err = hypersdkclient.NewForConfig(cfg); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"vm-0", "vm-1", "vm-2"}
	for _, n := range names {
		createKubeVirtVM(t, ns, stoppedVM(n))
	}
	// A running VM, so both sources (VMs and instances) have moved since
	// either replica started.
	createKubeVirtVM(t, ns, kubevirtVM("runner", 1, "1Gi", nil))
	runningVMI(t, ns, "runner", "")
	var list *v1alpha1.VirtualMachineList
	framework.Eventually(t, "both replicas to hold the VMs at the same version", func(ctx context.Context) (bool, error) {
		var rvs []string
		for _, c := range clients {
			l, err := c.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
			if err != nil || len(l.Items) != 4 {
				return false, err
			}
			rvs = append(rvs, l.ResourceVersion)
			list = l
		}
		return rvs[0] == rvs[1], fmt.Errorf("versions %v", rvs)
	})

	// List and watch on the first replica; change each VM five times.
	w, err := clients[0].HypersdkV1alpha1().VirtualMachines(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	for g := 1; g <= 5; g++ {
		for _, n := range names {
			if err := setGeneration(ctx, ns, n, g); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[string][]int{}
	rv := collect(t, w, names, 5, seen)
	w.Stop()

	// Five more changes while no one watches, then resume on the second.
	for g := 6; g <= 10; g++ {
		for _, n := range names {
			if err := setGeneration(ctx, ns, n, g); err != nil {
				t.Fatal(err)
			}
		}
	}
	w2, err := clients[1].HypersdkV1alpha1().VirtualMachines(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatalf("resuming at %s on the second replica: %v", rv, err)
	}
	defer w2.Stop()
	collect(t, w2, names, 10, seen)
	for _, n := range names {
		if got := fmt.Sprint(seen[n]); got != "[1 2 3 4 5 6 7 8 9 10]" {
			t.Errorf("%s was shown generations %s, want each of 1..10 once", n, got)
		}
	}

	// A list paged on one replica continues on the other, at its first page's version.
	page, err := clients[0].HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Continue == "" {
		t.Fatalf("first page: %d items, continue %q; want 2 and more", len(page.Items), page.Continue)
	}
	createKubeVirtVM(t, ns, stoppedVM("vm-9")) // after the list began: not in it
	framework.Eventually(t, "the second replica to hold vm-9", func(ctx context.Context) (bool, error) {
		_, err := clients[1].HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, "vm-9", metav1.GetOptions{})
		return err == nil, err
	})
	rest2, err := clients[1].HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{Limit: 10, Continue: page.Continue})
	if err != nil {
		t.Fatalf("continuing on the second replica: %v", err)
	}
	var pageNames []string
	for _, vm := range append(page.Items, rest2.Items...) {
		pageNames = append(pageNames, vm.Name)
	}
	if got := strings.Join(pageNames, ","); got != "runner,vm-0,vm-1,vm-2" || rest2.ResourceVersion != page.ResourceVersion {
		t.Errorf("pages across replicas = %s at %s, want runner,vm-0,vm-1,vm-2 at %s", got, rest2.ResourceVersion, page.ResourceVersion)
	}

	// Both replicas stay ready through a burst of 500 VM changes.
	var unready atomic.Int32
	stop := make(chan struct{})
	var probes sync.WaitGroup
	for i, cfg := range replicas {
		probes.Add(1)
		go func() {
			defer probes.Done()
			hc, err := rest.HTTPClientFor(cfg)
			if err != nil {
				t.Error(err)
				return
			}
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				res, err := hc.Get(cfg.Host + "/readyz")
				if err != nil || res.StatusCode != http.StatusOK {
					unready.Add(1)
					t.Errorf("replica %d /readyz during the burst: %v %v", i, err, res)
				}
				if res != nil {
					res.Body.Close()
				}
			}
		}()
	}
	burst := make(chan int)
	var writers sync.WaitGroup
	for range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for g := range burst {
				if err := setGeneration(ctx, ns, names[g%len(names)], 100+g); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for g := range 500 {
		burst <- g
	}
	close(burst)
	writers.Wait()
	for _, n := range names {
		if err := setGeneration(ctx, ns, n, 1000); err != nil {
			t.Fatal(err)
		}
	}
	framework.Eventually(t, "both replicas to show the end of the burst", func(ctx context.Context) (bool, error) {
		for _, c := range clients {
			for _, n := range names {
				vm, err := c.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, n, metav1.GetOptions{})
				if err != nil || vm.Labels["gen"] != "1000" {
					return false, err
				}
			}
		}
		return true, nil
	})
	close(stop)
	probes.Wait()
	if n := unready.Load(); n > 0 {
		t.Errorf("/readyz failed %d times during the burst", n)
	}
}

// TestChunkedList: kubectl get hvm --chunk-size=50 pages through every VM.
func TestChunkedList(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "chunks")
	const n = 120
	for i := range n {
		createKubeVirtVM(t, ns, stoppedVM(fmt.Sprintf("vm-%03d", i)))
	}
	framework.Eventually(t, "the view to hold every VM", func(ctx context.Context) (bool, error) {
		l, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == n, err
	})
	pages, total, token := 0, 0, ""
	for {
		page, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{Limit: 50, Continue: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		total += len(page.Items)
		if token = page.Continue; token == "" {
			break
		}
	}
	if pages != 3 || total != n {
		t.Errorf("limit 50 gave %d pages of %d VMs in all, want 3 pages of %d", pages, total, n)
	}
	cmd := exec.Command(filepath.Join(env.ControlPlaneBin, "kubectl"), "--kubeconfig="+env.Kubeconfig,
		"get", "hvm", "-n", ns, "--chunk-size=50", "-v=6")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl get hvm --chunk-size=50: %v: %s", err, stderr.String())
	}
	out := stdout.String()
	if requests := strings.Count(stderr.String(), "limit=50"); requests != 3 {
		t.Errorf("kubectl made %d requests with limit=50, want 3 pages", requests)
	}
	rows := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "vm-") {
			rows++
		}
	}
	if rows != n {
		t.Errorf("kubectl --chunk-size=50 printed %d rows, want %d", rows, n)
	}
}

// TestChunkedTablesEveryKind: kubectl get pages through every kind stored
// in etcd, as it does through VMs: each Table carries the list's continue
// token, which the apiserver does not copy from the list. Two copies of
// each shipped example, one per chunk, both printed.
func TestChunkedTablesEveryKind(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "chunked-kinds")
	dir := t.TempDir()
	for _, kind := range []struct {
		example, resource string
		namespaced        bool
	}{
		{"backup-schedule", "backupschedules", true}, {"budget", "budgets", true},
		{"carbon-scaling-policy", "carbonscalingpolicies", false}, {"idle-vm-policy", "idlevmpolicies", true},
		{"rebalance-policy", "rebalancepolicies", false}, {"vm-autoscaler", "virtualmachineautoscalers", true},
	} {
		example, resource, namespaced := kind.example, kind.resource+".hypersdk.io", kind.namespaced
		var obj map[string]any
		framework.DecodeExample(t, example, &obj)
		metadata := obj["metadata"].(map[string]any)
		var names []string
		for _, suffix := range []string{"a", "b"} {
			name := ns + "-" + suffix
			metadata["name"] = name
			if namespaced {
				metadata["namespace"] = ns
			}
			out, err := yaml.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, example+"-"+suffix+".yaml")
			if err := os.WriteFile(file, out, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := env.Kubectl(t, "create", "-f", file); err != nil {
				t.Fatalf("creating a copy of %s: %v\n%s", example, err, out)
			}
			if !namespaced {
				t.Cleanup(func() { _, _ = env.Kubectl(t, "delete", resource, name, "--ignore-not-found") })
			}
			names = append(names, name)
		}
		args := []string{"get", resource, "--chunk-size=1", "--no-headers"}
		if namespaced {
			args = append(args, "-n", ns)
		}
		out, err := env.Kubectl(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if !strings.Contains(out, name) {
				t.Errorf("kubectl get %s --chunk-size=1 leaves out %s:\n%s", resource, name, out)
			}
		}
	}
}

// TestStatusWritesKeepTheirFieldManager: a write to a policy's status is
// recorded in its managedFields (subresource status), as for every kind
// kube-apiserver serves, so server-side apply of the status can track who
// owns what.
func TestStatusWritesKeepTheirFieldManager(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "status-managers")
	var b v1alpha1.Budget
	framework.DecodeExample(t, "budget", &b)
	budgets := env.HyperSDK.HypersdkV1alpha1().Budgets(ns)
	created, err := budgets.Create(ctx, &b, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Spent = 1
	if _, err := budgets.UpdateStatus(ctx, created, metav1.UpdateOptions{FieldManager: "e2e-status-writer"}); err != nil {
		t.Fatal(err)
	}
	got, err := budgets.Get(ctx, b.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got.ManagedFields, func(m metav1.ManagedFieldsEntry) bool {
		return m.Manager == "e2e-status-writer" && m.Subresource == "status"
	}) {
		t.Errorf("managedFields after a status write by e2e-status-writer: %+v", got.ManagedFields)
	}
}

// TestStaleWritesConflict: an update or delete of a VM made from a version
// older than the KubeVirt VirtualMachine is 409, and a change made on the
// KubeVirt side between a client's read and its write is not lost; a patch,
// which carries no version, applies to the latest state.
func TestStaleWritesConflict(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "stale")
	createKubeVirtVM(t, ns, stoppedVM("vm"))
	hvms := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns)
	var read *v1alpha1.VirtualMachine
	framework.Eventually(t, "the view of vm", func(ctx context.Context) (bool, error) {
		var err error
		read, err = hvms.Get(ctx, "vm", metav1.GetOptions{})
		return err == nil, err
	})

	// Someone changes the KubeVirt VM after our read.
	kv := env.KubeVirt.KubevirtV1().VirtualMachines(ns)
	if _, err := kv.Patch(ctx, "vm", types.MergePatchType, []byte(`{"metadata":{"annotations":{"owner":"team-a"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	changed := read.DeepCopy()
	changed.Labels = map[string]string{"tier": "gold"}
	if _, err := hvms.Update(ctx, changed, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update from a stale version: err = %v, want 409", err)
	}
	if err := hvms.Delete(ctx, "vm", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &read.ResourceVersion}}); !apierrors.IsConflict(err) {
		t.Errorf("delete with a stale version: err = %v, want 409", err)
	}
	got, err := kv.Get(ctx, "vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotations["owner"] != "team-a" || got.Labels["tier"] == "gold" {
		t.Fatalf("after the refused update: annotations %v labels %v, want the KubeVirt-side change kept and ours not written", got.Annotations, got.Labels)
	}

	// Read again and write: accepted, and the other change survives.
	framework.Eventually(t, "an update from the latest version", func(ctx context.Context) (bool, error) {
		latest, err := hvms.Get(ctx, "vm", metav1.GetOptions{})
		if err != nil || latest.Annotations["owner"] != "team-a" {
			return false, err
		}
		latest.Labels = map[string]string{"tier": "gold"}
		_, err = hvms.Update(ctx, latest, metav1.UpdateOptions{})
		return err == nil, err
	})
	// A patch right after a KubeVirt-side change applies on top of it.
	if _, err := kv.Patch(ctx, "vm", types.MergePatchType, []byte(`{"metadata":{"annotations":{"cost-centre":"42"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hvms.Patch(ctx, "vm", types.MergePatchType, []byte(`{"metadata":{"labels":{"zone":"eu"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	got, err = kv.Get(ctx, "vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotations["owner"] != "team-a" || got.Annotations["cost-centre"] != "42" || got.Labels["tier"] != "gold" || got.Labels["zone"] != "eu" {
		t.Errorf("KubeVirt VM after both writes: annotations %v labels %v, want every change kept", got.Annotations, got.Labels)
	}
}
