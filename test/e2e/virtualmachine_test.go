package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestVirtualMachineView: a VM created through the kubevirt.io API appears
// in `kubectl get hvm` with the right columns, and its changes and deletion
// arrive on a watch of hypersdk.io.
func TestVirtualMachineView(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "view")

	w, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watching VMs: %v", err)
	}
	defer w.Stop()

	createKubeVirtVM(t, ns, kubevirtVM("web", 2, "2Gi", map[string]string{"app": "web"}))
	added := nextEvent(t, w, watch.Added)
	if added.Name != "web" || added.Spec.CPUs != 2 || added.Spec.Memory.String() != "2Gi" {
		t.Fatalf("ADDED %s with cpus=%d memory=%v, want web, 2, 2Gi", added.Name, added.Spec.CPUs, added.Spec.Memory)
	}

	// The simulated KubeVirt starts it; kube-scheduler places its pod.
	running := waitForEvent(t, w, func(vm *v1alpha1.VirtualMachine) bool {
		return vm.Status.Phase == v1alpha1.VirtualMachineRunning
	})
	node := running.Status.NodeName
	if !strings.HasPrefix(node, "node-") || len(running.Status.IPs) != 1 || running.Status.AllocatedCPUs != 2 {
		t.Errorf("running VM status = %+v, want a fleet node, one IP and 2 allocated CPUs", running.Status)
	}

	out, err := env.Kubectl(t, "get", "hvm", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	assertTable(t, out, []string{"NAME", "PHASE", "NODE", "CPUS", "MEMORY", "AGE"}, []string{"web", "Running", node, "2", "2Gi"})
	out, err = env.Kubectl(t, "get", "hvm", "-n", ns, "-o", "wide")
	if err != nil {
		t.Fatal(err)
	}
	assertTable(t, out, []string{"NAME", "PHASE", "NODE", "CPUS", "MEMORY", "AGE", "IP", "GPUS", "IMAGE"},
		[]string{"web", "Running", node, "2", "2Gi"})
	if !strings.Contains(out, running.Status.IPs[0]) || !strings.Contains(out, "quay.io/containerdisks/fedora:41") {
		t.Errorf("-o wide lacks the IP or image:\n%s", out)
	}
	// kubectl across namespaces sees it too.
	if out, err = env.Kubectl(t, "get", "hvm", "-A"); err != nil || !strings.Contains(out, ns) {
		t.Errorf("kubectl get hvm -A = %q, %v; want a row in %s", out, err, ns)
	}

	// A change of the KubeVirt object arrives as MODIFIED.
	kv := env.KubeVirt.KubevirtV1().VirtualMachines(ns)
	cur, err := kv.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Template.Spec.Domain.CPU.Cores = 4
	if _, err := kv.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, w, func(vm *v1alpha1.VirtualMachine) bool { return vm.Spec.CPUs == 4 })

	// Deleting it arrives as DELETED.
	if err := kv.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := nextEvent(t, w, watch.Deleted)
	if deleted.Name != "web" {
		t.Errorf("DELETED %s, want web", deleted.Name)
	}
}

// TestVirtualMachineWriteThrough: create, update and delete through
// hypersdk.io change the KubeVirt VirtualMachine.
func TestVirtualMachineWriteThrough(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "write")
	vms := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns)

	created, err := vms.Create(ctx, &v1alpha1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Labels: map[string]string{"tier": "data"}},
		Spec: v1alpha1.VirtualMachineSpec{
			CPUs: 4, Memory: ptr.To(resourceQuantity("8Gi")), Image: "quay.io/containerdisks/ubuntu:24.04",
			Running: ptr.To(false),
			GPUs:    []v1alpha1.GPURequest{{DeviceName: a100Resource, Count: 2}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating VM through hypersdk.io: %v", err)
	}
	if created.ResourceVersion == "" || created.Status.Phase != v1alpha1.VirtualMachineStopped {
		t.Errorf("created VM rv=%q phase=%q, want a resourceVersion and Stopped", created.ResourceVersion, created.Status.Phase)
	}
	kvm, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the KubeVirt VM was not created: %v", err)
	}
	dom := kvm.Spec.Template.Spec.Domain
	if got := dom.CPU.Sockets * max(dom.CPU.Cores, 1) * max(dom.CPU.Threads, 1); got != 4 {
		t.Errorf("KubeVirt vCPUs = %d, want 4", got)
	}
	if dom.Memory.Guest.String() != "8Gi" || len(dom.Devices.GPUs) != 2 || *kvm.Spec.RunStrategy != kvv1.RunStrategyHalted {
		t.Errorf("KubeVirt VM = memory %v, %d GPUs, runStrategy %v; want 8Gi, 2, Halted",
			dom.Memory.Guest, len(dom.Devices.GPUs), *kvm.Spec.RunStrategy)
	}

	if _, err := env.Kubectl(t, "patch", "hvm", "db", "-n", ns, "--type=merge", "-p", `{"spec":{"cpus":6,"running":true}}`); err != nil {
		t.Fatal(err)
	}
	kvm, err = env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kvm.Spec.Template.Spec.Domain.CPU.Sockets != 6 || *kvm.Spec.RunStrategy != kvv1.RunStrategyAlways {
		t.Errorf("after patch: sockets %d runStrategy %v, want 6 Always",
			kvm.Spec.Template.Spec.Domain.CPU.Sockets, *kvm.Spec.RunStrategy)
	}

	// A stale resourceVersion is a conflict, as everywhere in Kubernetes.
	stale := created.DeepCopy()
	stale.Spec.CPUs = 8
	if _, err := vms.Update(ctx, stale, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "modified") {
		t.Errorf("update with a stale resourceVersion = %v, want a conflict", err)
	}

	if err := vms.Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the KubeVirt VM to be gone", func(ctx context.Context) (bool, error) {
		_, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "db", metav1.GetOptions{})
		return err != nil && strings.Contains(err.Error(), "not found"), nil
	})

	// metadata.generateName names the VM, as for every kind: the KubeVirt
	// VM and its instances' domain label get the name made.
	generated, err := vms.Create(ctx, &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{GenerateName: "batch-"},
		Spec: v1alpha1.VirtualMachineSpec{CPUs: 1, Memory: ptr.To(resourceQuantity("1Gi")),
			Image: "quay.io/containerdisks/ubuntu:24.04", Running: ptr.To(false)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a VM with generateName: %v", err)
	}
	if !strings.HasPrefix(generated.Name, "batch-") || len(generated.Name) <= len("batch-") {
		t.Errorf("generated name %q, want batch- and a suffix", generated.Name)
	}
	kvm, err = env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, generated.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the KubeVirt VM %s: %v", generated.Name, err)
	}
	if got := kvm.Spec.Template.ObjectMeta.Labels["kubevirt.io/domain"]; got != generated.Name {
		t.Errorf("domain label %q, want %q", got, generated.Name)
	}

	// KubeVirt writing what the view does not show (a condition of the VM's
	// own status) sends no watch event, so a client fed by a watch keeps
	// the copy it had: an update from it is not stale.
	held, err := vms.Get(ctx, generated.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		kvm, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, generated.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		kvm.Status.Conditions = append(kvm.Status.Conditions, kvv1.VirtualMachineCondition{Type: "E2EUnseen", Status: corev1.ConditionTrue})
		_, err = env.KubeVirt.KubevirtV1().VirtualMachines(ns).UpdateStatus(ctx, kvm, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the view to hold KubeVirt's status write", func(ctx context.Context) (bool, error) {
		now, err := vms.Get(ctx, generated.Name, metav1.GetOptions{})
		return err == nil && now.ResourceVersion != held.ResourceVersion, err
	})
	held.Labels = map[string]string{"seen": "before-the-status"}
	if _, err := vms.Update(ctx, held, metav1.UpdateOptions{}); err != nil {
		t.Errorf("update from the copy held before a status write the view does not show: %v, want it applied", err)
	}
}

// TestServerSideApplyCreatesVM: kubectl apply --server-side of the shipped
// example VM creates it (the apply of an object that is not there is a
// create, as for every kind kube-apiserver serves), a dry run creates
// nothing, applying it again changes nothing, and applying a changed
// manifest changes the VM: the view's managedFields are kept.
func TestServerSideApplyCreatesVM(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ssa")
	example := filepath.Join(framework.RepoRoot(), "artifacts", "examples", "vm.yaml")
	if out, err := env.Kubectl(t, "apply", "--server-side", "--dry-run=server", "-n", ns, "-f", example); err != nil {
		t.Fatalf("a server-side dry-run apply of a VM that is not there: %v\n%s", err, out)
	}
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "fedora", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run made a KubeVirt VM: %v", err)
	}
	for range 2 {
		if out, err := env.Kubectl(t, "apply", "--server-side", "-n", ns, "-f", example); err != nil {
			t.Fatalf("kubectl apply --server-side: %v\n%s", err, out)
		}
	}
	kvm, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "fedora", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the applied VM was not created: %v", err)
	}
	if cpu := kvm.Spec.Template.Spec.Domain.CPU; cpu == nil || cpu.Sockets*max(cpu.Cores, 1)*max(cpu.Threads, 1) != 2 || kvm.Labels["app"] != "demo" {
		t.Errorf("the applied VM: CPU %+v labels %v, want the example's 2 vCPUs and app=demo", cpu, kvm.Labels)
	}
	// The fields are the applier's: a changed value applies without a
	// conflict, and a field left out of the manifest goes.
	raw, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(t.TempDir(), "vm.yaml")
	manifest := strings.Replace(strings.Replace(string(raw), "cpus: 2", "cpus: 4", 1), "  labels:\n    app: demo\n", "", 1)
	if err := os.WriteFile(changed, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := env.Kubectl(t, "apply", "--server-side", "-n", ns, "-f", changed); err != nil {
		t.Fatalf("kubectl apply --server-side of a changed manifest: %v\n%s", err, out)
	}
	vm, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, "fedora", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vm.Spec.CPUs != 4 || vm.Labels["app"] != "" || len(vm.ManagedFields) == 0 || vm.Annotations[kubevirt.ManagedFieldsAnnotation] != "" {
		t.Errorf("after applying cpus 4 without the label: cpus %d, labels %v, managedFields %v, annotations %v; want 4, no app label, the applier's fields kept apart",
			vm.Spec.CPUs, vm.Labels, vm.ManagedFields, vm.Annotations)
	}
	// kubectl diff (a dry-run apply) shows what an apply would change and
	// nothing else: not the status, not the resourceVersion (the
	// generation moves with the spec, as kube-apiserver's does).
	if out, err := env.Kubectl(t, "diff", "--server-side", "-n", ns, "-f", changed); err != nil {
		t.Errorf("kubectl diff of the manifest just applied: %v\n%s", err, out)
	}
	bigger := filepath.Join(t.TempDir(), "vm.yaml")
	if err := os.WriteFile(bigger, []byte(strings.Replace(manifest, "cpus: 4", "cpus: 6", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := env.Kubectl(t, "diff", "--server-side", "-n", ns, "-f", bigger)
	var changes []string
	for _, line := range strings.Split(out, "\n") {
		if (strings.HasPrefix(line, "-") || strings.HasPrefix(line, "+")) && !strings.HasPrefix(line, "---") && !strings.HasPrefix(line, "+++") &&
			!strings.HasPrefix(strings.TrimSpace(line[1:]), "generation:") {
			changes = append(changes, line[:1]+strings.TrimSpace(line[1:]))
		}
	}
	if err == nil || !reflect.DeepEqual(changes, []string{"-cpus: 4", "+cpus: 6"}) {
		t.Errorf("kubectl diff of cpus 4 to 6: %v, changes %q, want only the cpus line\n%s", err, changes, out)
	}
}

// TestVirtualMachineOwnersAndFinalizers: ownerReferences and finalizers
// set through hypersdk.io are the KubeVirt VM's: the garbage collector
// deletes a VM whose owner is gone, and a finalizer holds a deleted VM until
// it is taken off through the view.
func TestVirtualMachineOwnersAndFinalizers(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "owners")
	vms := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns)
	kvms := env.KubeVirt.KubevirtV1().VirtualMachines(ns)
	owner, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vm := &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "owned",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}}},
		Spec: v1alpha1.VirtualMachineSpec{CPUs: 1, Memory: ptr.To(resourceQuantity("1Gi")), Image: "quay.io/containerdisks/fedora:41", Running: ptr.To(false)}}
	created, err := vms.Create(ctx, vm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.OwnerReferences) != 1 || created.OwnerReferences[0].UID != owner.UID {
		t.Errorf("created VM's ownerReferences %v, want the ConfigMap", created.OwnerReferences)
	}
	if err := env.Kube.CoreV1().ConfigMaps(ns).Delete(ctx, owner.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the garbage collector to delete the VM whose owner went", func(ctx context.Context) (bool, error) {
		_, err := kvms.Get(ctx, "owned", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})

	vm = &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "kept"},
		Spec: v1alpha1.VirtualMachineSpec{CPUs: 1, Memory: ptr.To(resourceQuantity("1Gi")), Image: "quay.io/containerdisks/fedora:41", Running: ptr.To(false)}}
	if _, err := vms.Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A dry run answers the finalizer it would add, and adds nothing.
	finalizer := []byte(`{"metadata":{"finalizers":["example.com/keep"]}}`)
	dry, err := vms.Patch(ctx, "kept", types.MergePatchType, finalizer, metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || !slices.Contains(dry.Finalizers, "example.com/keep") {
		t.Errorf("dry-run patch of a finalizer: %v, finalizers %v; want it in the answer", err, dry.Finalizers)
	}
	if got, err := vms.Get(ctx, "kept", metav1.GetOptions{}); err != nil || slices.Contains(got.Finalizers, "example.com/keep") {
		t.Errorf("after a dry run: %v, finalizers %v; want none added", err, got.Finalizers)
	}
	if out, err := env.Kubectl(t, "patch", "hvm", "kept", "-n", ns, "--type=merge", "-p", string(finalizer)); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := vms.Delete(ctx, "kept", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the deleted VM held by its finalizer", func(ctx context.Context) (bool, error) {
		got, err := vms.Get(ctx, "kept", metav1.GetOptions{})
		return err == nil && got.DeletionTimestamp != nil && slices.Contains(got.Finalizers, "example.com/keep"), err
	})
	if out, err := env.Kubectl(t, "patch", "hvm", "kept", "-n", ns, "--type=json", "-p",
		`[{"op":"remove","path":"/metadata/finalizers/`+strconv.Itoa(finalizerIndex(t, ns, "kept", "example.com/keep"))+`"}]`); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	framework.Eventually(t, "the VM gone once its finalizer was taken off", func(ctx context.Context) (bool, error) {
		_, err := kvms.Get(ctx, "kept", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// finalizerIndex is where f is among the finalizers of VM name.
func finalizerIndex(t *testing.T, ns, name, f string) int {
	t.Helper()
	vm, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(vm.Finalizers, f)
	if i < 0 {
		t.Fatalf("VM %s has finalizers %v, without %s", name, vm.Finalizers, f)
	}
	return i
}

// TestSelectorsFilterOnServer: field and label selectors are applied by the
// server: the raw response holds only the matches.
func TestSelectorsFilterOnServer(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "select")
	createKubeVirtVM(t, ns, kubevirtVM("a", 1, "1Gi", map[string]string{"team": "red"}))
	stopped := kubevirtVM("b", 2, "1Gi", map[string]string{"team": "blue"})
	stopped.Spec.RunStrategy = ptr.To(kvv1.RunStrategyHalted)
	createKubeVirtVM(t, ns, stopped)
	createKubeVirtVM(t, ns, kubevirtVM("c", 1, "1Gi", map[string]string{"team": "blue"}))
	framework.Eventually(t, "two running VMs", func(ctx context.Context) (bool, error) {
		return len(rawNames(t, ns, url.Values{"fieldSelector": {"status.phase=Running"}})) == 2, nil
	})
	vmC, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Get(context.Background(), "c", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var onNodeOfC []string // computed here, from the unfiltered list
	for _, vm := range all.Items {
		if vm.Status.NodeName == vmC.Status.NodeName {
			onNodeOfC = append(onNodeOfC, vm.Name)
		}
	}
	sort.Strings(onNodeOfC)

	for _, tc := range []struct {
		query url.Values
		want  string
	}{
		{url.Values{"fieldSelector": {"status.phase=Running"}}, "a c"},
		{url.Values{"fieldSelector": {"status.phase=Stopped"}}, "b"},
		{url.Values{"fieldSelector": {"status.nodeName=" + vmC.Status.NodeName}}, strings.Join(onNodeOfC, " ")},
		{url.Values{"fieldSelector": {"status.nodeName=no-such-node"}}, ""},
		{url.Values{"fieldSelector": {"metadata.name=b"}}, "b"},
		{url.Values{"fieldSelector": {"spec.cpus=2"}}, "b"},
		{url.Values{"labelSelector": {"team=blue"}}, "b c"},
		{url.Values{"labelSelector": {"team=blue"}, "fieldSelector": {"status.phase=Running"}}, "c"},
		{url.Values{"labelSelector": {"team=green"}}, ""},
	} {
		if got := strings.Join(rawNames(t, ns, tc.query), " "); got != tc.want {
			t.Errorf("GET ?%s = [%s], want [%s]", tc.query.Encode(), got, tc.want)
		}
	}

	// kubectl passes them through the same way.
	out, err := env.Kubectl(t, "get", "hvm", "-n", ns, "--field-selector", "status.phase=Running", "-l", "team=red", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "virtualmachine.hypersdk.io/a" {
		t.Errorf("kubectl with selectors = %q, want only a", out)
	}
	// An unknown field is refused, not ignored.
	if _, err := env.Kubectl(t, "get", "hvm", "-n", ns, "--field-selector", "spec.colour=red"); err == nil ||
		!strings.Contains(err.Error(), "field label not supported") {
		t.Errorf("unknown field selector: err = %v, want 'field label not supported'", err)
	}
}

// rawNames lists VMs with a raw GET through kube-apiserver and returns the
// names in the response body, sorted.
func rawNames(t *testing.T, ns string, query url.Values) []string {
	t.Helper()
	body, err := env.Kube.Discovery().RESTClient().Get().
		AbsPath("/apis/hypersdk.io/v1alpha1/namespaces/"+ns+"/virtualmachines").
		Param("fieldSelector", query.Get("fieldSelector")).
		Param("labelSelector", query.Get("labelSelector")).
		DoRaw(context.Background())
	if err != nil {
		t.Fatalf("GET virtualmachines?%s: %v", query.Encode(), err)
	}
	var list v1alpha1.VirtualMachineList
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("decoding list: %v", err)
	}
	names := []string{}
	for _, vm := range list.Items {
		names = append(names, vm.Name)
	}
	sort.Strings(names)
	return names
}

func nextEvent(t *testing.T, w watch.Interface, typ watch.EventType) *v1alpha1.VirtualMachine {
	t.Helper()
	timeout := time.After(framework.Timeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed waiting for %s", typ)
			}
			if ev.Type == typ {
				return ev.Object.(*v1alpha1.VirtualMachine)
			}
		case <-timeout:
			t.Fatalf("no %s event within %v", typ, framework.Timeout)
		}
	}
}

func waitForEvent(t *testing.T, w watch.Interface, match func(*v1alpha1.VirtualMachine) bool) *v1alpha1.VirtualMachine {
	t.Helper()
	timeout := time.After(framework.Timeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed")
			}
			if vm, isVM := ev.Object.(*v1alpha1.VirtualMachine); isVM && ev.Type == watch.Modified && match(vm) {
				return vm
			}
		case <-timeout:
			t.Fatalf("no matching MODIFIED event within %v", framework.Timeout)
		}
	}
}

// assertTable checks kubectl's header and that one row starts with the
// given cells.
func assertTable(t *testing.T, out string, header, row []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("table has no rows:\n%s", out)
	}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != strings.Join(header, " ") {
		t.Errorf("header = %v, want %v", got, header)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) >= len(row) && strings.Join(f[:len(row)], " ") == strings.Join(row, " ") {
			return
		}
	}
	t.Errorf("no row starting with %v in:\n%s", row, out)
}

// TestKubectlGetWatch: two `kubectl get hvm -w` at once (Tables over a
// watch, whose events the server encodes once for both and for the JSON
// watcher beside them) each print the header once, then the VM's rows as it
// starts.
func TestKubectlGetWatch(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "get-watch")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var outs []*lockedBuffer
	for range 2 {
		out := &lockedBuffer{}
		cmd := exec.CommandContext(ctx, filepath.Join(env.ControlPlaneBin, "kubectl"), "--kubeconfig="+env.Kubeconfig,
			"get", "hvm", "-n", ns, "-w")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		outs = append(outs, out)
	}
	createKubeVirtVM(t, ns, kubevirtVM("web", 2, "2Gi", nil))
	waitForEvent(t, w, func(vm *v1alpha1.VirtualMachine) bool { return vm.Status.Phase == v1alpha1.VirtualMachineRunning })
	running := regexp.MustCompile(`(?m)^web\s+Running\s+node-\S+\s+2\s+2Gi`)
	framework.Eventually(t, "both kubectl get -w to print web Running once, under one header", func(context.Context) (bool, error) {
		for i, out := range outs {
			s := out.String()
			if strings.Count(s, "NAME") != 1 || !running.MatchString(s) {
				return false, fmt.Errorf("kubectl %d printed:\n%s", i, s)
			}
		}
		return true, nil
	})
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
