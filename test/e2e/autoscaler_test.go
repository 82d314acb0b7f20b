package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/autoscaler"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/test/framework"
)

// autoscaledVM is a 4-vCPU, 4Gi VM whose guest uses about a quarter of its
// CPUs and half its memory; elastic ones may hotplug up to 8 of each.
func autoscaledVM(name string, elastic bool) *kvv1.VirtualMachine {
	vm := kubevirtVM(name, 0, "4Gi", nil)
	vm.Spec.Template.Spec.Domain.CPU = &kvv1.CPU{Sockets: 4, Cores: 1, Threads: 1}
	if elastic {
		vm.Spec.Template.Spec.Domain.CPU.MaxSockets = 8
		vm.Spec.Template.Spec.Domain.Memory.MaxGuest = ptr.To(resourceQuantity("8Gi"))
	}
	vm.Spec.Template.ObjectMeta.Annotations = map[string]string{"hypersdk.io/load-profile": "steady:0.25,mem=0.5"}
	return vm
}

func vmAutoscaler(name, vm string, mode v1alpha1.AutoscalerUpdateMode) *v1alpha1.VirtualMachineAutoscaler {
	return &v1alpha1.VirtualMachineAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.VirtualMachineAutoscalerSpec{
			TargetRef:  v1alpha1.AutoscalerTargetRef{Kind: "VirtualMachine", Name: vm},
			UpdateMode: mode,
		},
	}
}

func createAutoscaler(t *testing.T, c hypersdkclient.Interface, ns string, a *v1alpha1.VirtualMachineAutoscaler) {
	t.Helper()
	if _, err := c.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Create(context.Background(), a, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating autoscaler %s: %v", a.Name, err)
	}
}

func recommendation(ctx context.Context, ns, vm string) (*v1alpha1.VirtualMachineRecommendation, error) {
	var r v1alpha1.VirtualMachineRecommendation
	err := env.HyperSDK.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").Name(vm).
		SubResource("recommendation").Do(ctx).Into(&r)
	return &r, err
}

// vmEntry waits for the autoscaler's status entry of vm that satisfies ok.
func vmEntry(t *testing.T, ns, name, what string, ok func(v1alpha1.VirtualMachineRecommendationStatus) bool) v1alpha1.VirtualMachineRecommendationStatus {
	t.Helper()
	var out v1alpha1.VirtualMachineRecommendationStatus
	framework.Eventually(t, what, func(ctx context.Context) (bool, error) {
		a, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(a.Status.VirtualMachines) != 1 {
			return false, err
		}
		out = a.Status.VirtualMachines[0]
		return ok(out), nil
	})
	return out
}

// finished waits for an operation the autoscaler created to end, and
// requires that it succeeded.
func finished(t *testing.T, ns, name string) *v1alpha1.VMOperation {
	t.Helper()
	var op *v1alpha1.VMOperation
	framework.Eventually(t, "operation "+name+" to end", func(ctx context.Context) (bool, error) {
		cur, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, name, metav1.GetOptions{})
		op = cur
		return err == nil && validationFinal(cur.Status.Phase), err
	})
	if op.Status.Phase != v1alpha1.VMOperationSucceeded || op.Status.Progress != 100 {
		t.Fatalf("operation %s ended %s at %d%%: %s", name, op.Status.Phase, op.Status.Progress, op.Status.Message)
	}
	return op
}

func resizeOperations(t *testing.T, ns, autoscalerName string) []v1alpha1.VMOperation {
	t.Helper()
	ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: autoscaler.LabelAutoscaler + "=" + autoscalerName})
	if err != nil {
		t.Fatal(err)
	}
	return ops.Items
}

// TestAutoscalerOffRecommends: in Off the recommendation converges on a
// steady load, is served by virtualmachines/recommendation, nothing is
// resized, and a restart of hypersdk-controller keeps the evidence (it is
// rebuilt from history, not started over).
func TestAutoscalerOffRecommends(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "vma-off")
	createKubeVirtVM(t, ns, autoscaledVM("steady", false))
	runningVMI(t, ns, "steady", "")
	if _, err := recommendation(ctx, ns, "steady"); !apierrors.IsNotFound(err) {
		t.Errorf("recommendation without an autoscaler: %v, want 404", err)
	}
	createAutoscaler(t, env.HyperSDK, ns, vmAutoscaler("off", "steady", v1alpha1.AutoscalerUpdateOff))

	// Converged: the same target over 15 more samples.
	var first *v1alpha1.VirtualMachineRecommendation
	framework.Eventually(t, "a recommendation from 15 samples", func(ctx context.Context) (bool, error) {
		r, err := recommendation(ctx, ns, "steady")
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		first = r
		return err == nil && r.Recommendation.Target != nil && r.Recommendation.Evidence.Samples >= 15, err
	})
	var later *v1alpha1.VirtualMachineRecommendation
	framework.Eventually(t, "15 samples more", func(ctx context.Context) (bool, error) {
		r, err := recommendation(ctx, ns, "steady")
		later = r
		return err == nil && r.Recommendation.Evidence.Samples >= first.Recommendation.Evidence.Samples+15, err
	})
	rec := later.Recommendation
	if *rec.Target.CPUs != *first.Recommendation.Target.CPUs || !rec.Target.Memory.Equal(*first.Recommendation.Target.Memory) {
		t.Errorf("target moved on a steady load: %s -> %s", size(*first.Recommendation.Target), size(*rec.Target))
	}
	// About 1 of 4 vCPUs and 2 of 4Gi in use: less than it has, at least what it uses.
	if c := *rec.Target.CPUs; c < 1 || c >= 4 {
		t.Errorf("target %d vCPUs for a guest using about 1 of 4", c)
	}
	if m := rec.Target.Memory.Value(); m < 2<<30 || m >= 4<<30 {
		t.Errorf("target memory %s for a guest using about 2Gi of 4Gi", rec.Target.Memory)
	}
	if rec.Evidence.WindowStart == nil || rec.Evidence.Strategy == "" || rec.Action == "" || later.Autoscaler != "off" {
		t.Errorf("recommendation lacks evidence or action: %+v", later)
	}
	// In money: both sizes at the node's prices (pkg/cost), the usage
	// floor included; a smaller target saves.
	if sv := later.Savings; sv == nil {
		t.Errorf("no savings with the recommendation: %+v", later)
	} else {
		node, err := env.Kube.CoreV1().Nodes().Get(ctx, sv.Node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		prices, err := cost.DefaultModel().NodePrices(node)
		if err != nil {
			t.Fatal(err)
		}
		// Usage (about 1 core and 2Gi) is under the current size, so it does
		// not count there; at the target it may, by a little.
		current := cost.VMCostPerHour(prices, 4, 4<<30, nil, 0, 0)
		cpus, mem := float64(*rec.Target.CPUs), rec.Target.Memory.AsApproximateFloat64()
		target := cost.VMCostPerHour(prices, cpus, mem, nil, 0, 0)
		targetAtUsage := cost.VMCostPerHour(prices, cpus+0.5, mem+0.5*(1<<30), nil, 0, 0)
		if math.Abs(sv.CurrentCostPerHour-current) > 1e-9 || sv.TargetCostPerHour < target-1e-9 || sv.TargetCostPerHour > targetAtUsage ||
			math.Abs(sv.MonthlySaving-(sv.CurrentCostPerHour-sv.TargetCostPerHour)*730) > 1e-6 || sv.MonthlySaving <= 0 {
			t.Errorf("savings %+v; want %.6f now, %.6f to %.6f at the target, the difference × 730 a month", sv, current, target, targetAtUsage)
		}
	}
	if *rec.Current.CPUs != 4 || len(resizeOperations(t, ns, "off")) != 0 {
		t.Errorf("Off resized: current %s, operations %d", size(rec.Current), len(resizeOperations(t, ns, "off")))
	}

	// The same through the plugin, as a table and as the object.
	table := hyperOK(t, "vm", "recommend", "steady", "-n", ns)
	for _, want := range []string{"RESOURCE", "cpus", "memory", "Autoscaler:  off (updateMode Off)", "Samples:", "Action:", "per month"} {
		if !strings.Contains(table, want) {
			t.Errorf("kubectl hyper vm recommend: no %q in\n%s", want, table)
		}
	}
	if rows, err := csv.NewReader(strings.NewReader(hyperOK(t, "vm", "recommend", "steady", "-n", ns, "-o", "csv"))).ReadAll(); err != nil || len(rows) != 3 {
		t.Errorf("kubectl hyper vm recommend -o csv: %d rows (%v), want a header, cpus and memory", len(rows), err)
	}
	if out := hyperOK(t, "vm", "recommend", "steady", "-n", ns, "-o", "json"); !strings.Contains(out, `"kind": "VirtualMachineRecommendation"`) {
		t.Errorf("kubectl hyper vm recommend -o json:\n%s", out)
	}
	if _, stderr, code := hyper(t, "vm", "recommend", "nosuchvm", "-n", ns); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("recommend for a missing VM: exit %d, %s", code, stderr)
	}

	before := rec.Evidence.Samples
	restarted := time.Now()
	if err := env.KillController(ctx); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "a recommendation after the controller restarted", func(ctx context.Context) (bool, error) {
		a, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Get(ctx, "off", metav1.GetOptions{})
		return err == nil && a.Status.LastEvaluated != nil && a.Status.LastEvaluated.After(restarted.Add(time.Second)), err
	})
	after, err := recommendation(ctx, ns, "steady")
	if err != nil {
		t.Fatal(err)
	}
	if after.Recommendation.Evidence.Samples < before || after.Recommendation.Target == nil ||
		*after.Recommendation.Target.CPUs != *rec.Target.CPUs {
		t.Errorf("after a controller restart: %d samples, target %v; before: %d samples, target %s",
			after.Recommendation.Evidence.Samples, after.Recommendation.Target, before, size(*rec.Target))
	}
}

func size(r v1alpha1.AutoscalerResources) string {
	return fmt.Sprintf("%d vCPU, %s", ptr.Deref(r.CPUs, 0), r.Memory)
}

// TestAutoscalerLive: Live resizes a running VM by hotplug, through a Resize
// VMOperation, to a size within minAllowed and maxAllowed; the VM keeps its
// instance.
func TestAutoscalerLive(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "vma-live")
	createKubeVirtVM(t, ns, autoscaledVM("elastic", true))
	before := runningVMI(t, ns, "elastic", "")
	a := vmAutoscaler("live", "elastic", v1alpha1.AutoscalerUpdateLive)
	a.Spec.MinAllowed = &v1alpha1.AutoscalerResources{CPUs: ptr.To[int32](2), Memory: ptr.To(resourceQuantity("2Gi"))}
	a.Spec.MaxAllowed = &v1alpha1.AutoscalerResources{CPUs: ptr.To[int32](3), Memory: ptr.To(resourceQuantity("3Gi"))}
	createAutoscaler(t, env.HyperSDK, ns, a)

	entry := vmEntry(t, ns, "live", "a Resize operation", func(e v1alpha1.VirtualMachineRecommendationStatus) bool { return e.Operation != "" })
	done := finished(t, ns, entry.Operation)
	if done.Spec.Type != v1alpha1.VMOperationResize || done.Spec.Resize.RestartPolicy != v1alpha1.ResizeRestartNever {
		t.Errorf("operation %s: type %s, resize %+v; want a Resize that never restarts", done.Name, done.Spec.Type, done.Spec.Resize)
	}
	vm, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "elastic", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cpus := vm.Spec.Template.Spec.Domain.CPU.Sockets
	mem := vm.Spec.Template.Spec.Domain.Memory.Guest
	if cpus < 2 || cpus > 3 || mem.Cmp(resourceQuantity("2Gi")) < 0 || mem.Cmp(resourceQuantity("3Gi")) > 0 {
		t.Errorf("resized to %d vCPUs and %s, want within 2-3 vCPUs and 2Gi-3Gi", cpus, mem)
	}
	if entry.Target == nil || uint32(*entry.Target.CPUs) != cpus || !entry.Target.Memory.Equal(*mem) {
		t.Errorf("resized to %d vCPUs and %s, the recommendation said %v", cpus, mem, entry.Target)
	}
	after := runningVMI(t, ns, "elastic", "")
	if after.UID != before.UID {
		t.Errorf("a Live resize restarted the VM: instance %s -> %s", before.UID, after.UID)
	}
}

// TestAutoscalerLiveOrRestart: a change hotplug cannot make waits outside
// the maintenance window and restarts the VM once a window is open.
func TestAutoscalerLiveOrRestart(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "vma-window")
	createKubeVirtVM(t, ns, autoscaledVM("rigid", false))
	before := runningVMI(t, ns, "rigid", "")
	a := vmAutoscaler("window", "rigid", v1alpha1.AutoscalerUpdateLiveOrRestart)
	a.Spec.MaxAllowed = &v1alpha1.AutoscalerResources{CPUs: ptr.To[int32](2)}
	a.Spec.ControlledResources = []string{v1alpha1.AutoscalerResourceCPU}
	// Closed now: it opens at 00:00 on the 1st of the month after next.
	closed := time.Now().UTC().AddDate(0, 2, 0)
	a.Spec.MaintenanceWindows = []v1alpha1.MaintenanceWindow{{Schedule: fmt.Sprintf("0 0 1 %d *", int(closed.Month())),
		Duration: metav1.Duration{Duration: time.Hour}}}
	createAutoscaler(t, env.HyperSDK, ns, a)

	// Three passes that each say the change waits for the window.
	var last time.Time
	for range 3 {
		framework.Eventually(t, "another pass waiting for the window", func(ctx context.Context) (bool, error) {
			a, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Get(ctx, "window", metav1.GetOptions{})
			if err != nil || a.Status.LastEvaluated == nil || !a.Status.LastEvaluated.After(last) || len(a.Status.VirtualMachines) != 1 {
				return false, err
			}
			last = a.Status.LastEvaluated.Time
			return strings.Contains(a.Status.VirtualMachines[0].Action, "waiting for a maintenance window"), nil
		})
	}
	if ops := resizeOperations(t, ns, "window"); len(ops) != 0 {
		t.Fatalf("%d resize operations outside the window", len(ops))
	}
	if cur := runningVMI(t, ns, "rigid", ""); cur.UID != before.UID {
		t.Fatalf("the VM restarted outside its window")
	}

	// Open a window now: every minute, for an hour.
	// Read again on a conflict: the controller writes the status every pass.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Get(ctx, "window", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.MaintenanceWindows[0].Schedule = "* * * * *"
		_, err = env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	entry := vmEntry(t, ns, "window", "a Resize operation in the window", func(e v1alpha1.VirtualMachineRecommendationStatus) bool { return e.Operation != "" })
	finished(t, ns, entry.Operation)
	restarted := runningVMI(t, ns, "rigid", before.UID)
	if got := restarted.Spec.Domain.CPU.Sockets * max(restarted.Spec.Domain.CPU.Cores, 1); got > 2 || got < 1 {
		t.Errorf("restarted with %d vCPUs, want at most maxAllowed 2", got)
	}
}

// TestAutoscalerValidationAndAuthority: bad autoscalers are refused with
// the fields at fault; an author who may not resize the VM gets a
// recommendation but no resize; view reads autoscalers and recommendations,
// only edit writes autoscalers.
func TestAutoscalerValidationAndAuthority(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "vma-authz")

	bad := vmAutoscaler("bad", "vm", v1alpha1.AutoscalerUpdateLiveOrRestart)
	bad.Spec.MinAllowed = &v1alpha1.AutoscalerResources{CPUs: ptr.To[int32](8)}
	bad.Spec.MaxAllowed = &v1alpha1.AutoscalerResources{CPUs: ptr.To[int32](2)}
	bad.Spec.ControlledResources = []string{"cpu", "gpu"}
	bad.Spec.MaintenanceWindows = []v1alpha1.MaintenanceWindow{{Schedule: "0 2 * * 6"}}
	_, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("a bad autoscaler: %v, want 422", err)
	}
	var fields []string
	for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
		fields = append(fields, c.Field)
	}
	want := []string{"spec.controlledResources[1]", "spec.minAllowed.cpus", "spec.maintenanceWindows[0].duration"}
	for _, f := range want {
		if !strings.Contains(strings.Join(fields, " "), f) {
			t.Errorf("422 names fields %v, want %s among them", fields, f)
		}
	}

	example := filepath.Join(framework.RepoRoot(), "artifacts", "examples", "vm-autoscaler.yaml")
	if out, err := env.Kubectl(t, "apply", "-n", ns, "--dry-run=server", "-f", example); err != nil {
		t.Errorf("the shipped example is refused: %v\n%s", err, out)
	}

	createKubeVirtVM(t, ns, autoscaledVM("vm", true))
	runningVMI(t, ns, "vm", "")
	view := client(t, env.ServiceAccountToken(t, ns, "viewer", "view"))
	edit := client(t, env.ServiceAccountToken(t, ns, "editor", "edit"))
	framework.Eventually(t, "role aggregation", func(ctx context.Context) (bool, error) {
		_, err := view.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
	probe := vmAutoscaler("probe", "vm", v1alpha1.AutoscalerUpdateOff)
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	if _, err := view.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Create(ctx, probe, dryRun); !apierrors.IsForbidden(err) {
		t.Errorf("view creating an autoscaler: %v, want 403", err)
	}
	if _, err := edit.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Create(ctx, probe, dryRun); err != nil {
		t.Errorf("edit creating an autoscaler: %v", err)
	}

	// An author who may write autoscalers but not resize VMs.
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "autoscalers-only"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"hypersdk.io"}, Resources: []string{"virtualmachineautoscalers"},
			Verbs: []string{"get", "list", "create"}}}}
	if _, err := env.Kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sneaky := client(t, env.ServiceAccountToken(t, ns, "sneaky", ""))
	if _, err := env.Kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "sneaky"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "autoscalers-only"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sneaky", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := vmAutoscaler("sneaky", "vm", v1alpha1.AutoscalerUpdateLive)
	a.Spec.MaxAllowed = &v1alpha1.AutoscalerResources{CPUs: ptr.To[int32](2)}
	framework.Eventually(t, "the sneaky autoscaler created", func(ctx context.Context) (bool, error) {
		_, err := sneaky.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Create(ctx, a, metav1.CreateOptions{})
		return err == nil, nil
	})
	entry := vmEntry(t, ns, "sneaky", "the autoscaler to refuse to act for its author", func(e v1alpha1.VirtualMachineRecommendationStatus) bool {
		return strings.Contains(e.Action, "not acting") && strings.Contains(e.Action, "virtualmachines/resize")
	})
	if entry.Target == nil || len(resizeOperations(t, ns, "sneaky")) != 0 {
		t.Errorf("an author without resize rights: target %v, %d operations; want a recommendation and no operation",
			entry.Target, len(resizeOperations(t, ns, "sneaky")))
	}
	got, err := view.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Get(ctx, "sneaky", metav1.GetOptions{})
	if err != nil || got.Spec.Requester == nil || got.Spec.Requester.Username != "system:serviceaccount:"+ns+":sneaky" {
		t.Errorf("view reading the autoscaler: %v, requester %+v", err, got.Spec.Requester)
	}
	// The requester is the server's to set: a client cannot name someone
	// else, and whoever changes the spec becomes it.
	var kept *v1alpha1.VirtualMachineAutoscaler
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Get(ctx, "sneaky", metav1.GetOptions{})
		if err != nil {
			return err
		}
		forged.Spec.Requester.Username = "system:admin"
		kept, err = env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Update(ctx, forged, metav1.UpdateOptions{})
		return err
	})
	if err != nil || kept.Spec.Requester.Username != got.Spec.Requester.Username {
		t.Errorf("an update naming another requester: %v, requester %+v", err, kept.Spec.Requester)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, autoscaler.ConditionResizeAllowed); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("condition %s = %+v, want False while its author may not resize", autoscaler.ConditionResizeAllowed, c)
	}
	var r v1alpha1.VirtualMachineRecommendation
	if err := view.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").Name("vm").
		SubResource("recommendation").Do(ctx).Into(&r); err != nil || r.Autoscaler != "sneaky" {
		t.Errorf("view reading the recommendation: %v (%s)", err, r.Autoscaler)
	}
}
