package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/rebalance"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/test/framework"
)

// rebalanceLabel confines a test's nodes, VMs and policy to each other:
// a RebalancePolicy is cluster-wide, and the sandbox is shared. The nodes
// also carry it as a NoSchedule taint that only the test's VMs tolerate: the
// extender prefers idle nodes, so any VM started elsewhere in the sandbox
// meanwhile would otherwise land on a fresh test node and take the room the
// test counts on (a CI run lost TestRebalancePressure's fifth VM that way).
const rebalanceLabel = "hypersdk.io/e2e-rebalance"

func rebalanceNode(t *testing.T, ns, name, zone string, labels map[string]string) {
	t.Helper()
	typ := fleet.General[1] // standard-16: 16 CPUs, 64 GiB
	addNode(t, fleet.Node{Name: name, Zone: zone, Type: typ, Price: typ.Price}, func(n *corev1.Node) {
		n.Labels[rebalanceLabel] = ns
		maps.Copy(n.Labels, labels)
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: rebalanceLabel, Value: ns, Effect: corev1.TaintEffectNoSchedule})
	})
}

// rebalanceVM creates a running VM of cpus vCPUs with a steady load (a
// fraction of its vCPUs), placed only on the test's nodes.
func rebalanceVM(t *testing.T, ns, name string, cpus uint32, memory string, load float64, annotations map[string]string) {
	t.Helper()
	vm := kubevirtVM(name, cpus, memory, map[string]string{rebalanceLabel: ns})
	vm.Annotations = annotations
	vm.Spec.Template.ObjectMeta.Annotations = map[string]string{"hypersdk.io/load-profile": fmt.Sprintf("steady:%g", load)}
	vm.Spec.Template.Spec.NodeSelector = map[string]string{rebalanceLabel: ns}
	vm.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: rebalanceLabel, Operator: corev1.TolerationOpEqual, Value: ns,
		Effect: corev1.TaintEffectNoSchedule}}
	createKubeVirtVM(t, ns, vm)
}

func createRebalancePolicy(t *testing.T, ns string, mode v1alpha1.RebalanceMode, triggers ...v1alpha1.RebalanceTrigger) {
	t.Helper()
	ctx := context.Background()
	policies := env.HyperSDK.HypersdkV1alpha1().RebalancePolicies()
	scope := &metav1.LabelSelector{MatchLabels: map[string]string{rebalanceLabel: ns}}
	if _, err := policies.Create(ctx, &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: v1alpha1.RebalancePolicySpec{Mode: mode, VMSelector: scope, NodeSelector: scope, Triggers: triggers,
			Cooldown: &metav1.Duration{Duration: time.Minute}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := policies.Delete(context.Background(), ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting rebalance policy %s: %v", ns, err)
		}
	})
}

func rebalancePolicy(ctx context.Context, name string) (*v1alpha1.RebalancePolicy, error) {
	return env.HyperSDK.HypersdkV1alpha1().RebalancePolicies().Get(ctx, name, metav1.GetOptions{})
}

func rebalanceOps(ctx context.Context, ns string) ([]v1alpha1.VMOperation, error) {
	ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).List(ctx, metav1.ListOptions{LabelSelector: rebalance.LabelPolicy + "=" + ns})
	if err != nil {
		return nil, err
	}
	return ops.Items, nil
}

// vmNodes maps each VM of ns to its instance's node.
func vmNodes(ctx context.Context, ns string) (map[string]string, error) {
	vmis, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, vmi := range vmis.Items {
		if vmi.Status.Phase == kvv1.Running {
			out[vmi.Name] = vmi.Status.NodeName
		}
	}
	return out, nil
}

// passesAfter waits until the policy has planned again, twice, after t0:
// what it does has been decided at least once with everything before t0 seen.
func passesAfter(t *testing.T, name string, t0 time.Time) *v1alpha1.RebalancePolicy {
	t.Helper()
	var p *v1alpha1.RebalancePolicy
	framework.Eventually(t, "two passes of "+name, func(ctx context.Context) (bool, error) {
		got, err := rebalancePolicy(ctx, name)
		if err != nil {
			return false, err
		}
		p = got
		return got.Status.LastPassTime != nil && got.Status.LastPassTime.After(t0.Add(2*time.Second)), nil
	})
	return p
}

func migrationsOf(ctx context.Context, ns string) (map[string]int, error) {
	migs, err := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, m := range migs.Items {
		out[m.Spec.VMIName]++
	}
	return out, nil
}

// TestRebalancePressure: five busy VMs hold a node at 86% CPU. A DryRun
// policy (pressure, high 50%) plans moves with their projected savings and
// changes nothing; switched to Automatic it moves three VMs to the idle
// nodes, never more than two out of the node at once, leaves the excluded
// VM alone, and a SIGKILL of hypersdk-controller in the middle neither
// repeats nor loses a migration.
func TestRebalancePressure(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "rebalance-pressure")
	hot := ns + "-hot"
	rebalanceNode(t, ns, hot, fleet.Zones[0], nil)
	names := []string{"a", "b", "c", "d", "kept"}
	for _, name := range names {
		var annotations map[string]string
		if name == "kept" {
			annotations = map[string]string{v1alpha1.RebalanceExcludeAnnotation: "true"}
		}
		rebalanceVM(t, ns, name, 3, "1Gi", 0.9, annotations)
	}
	for _, name := range names {
		if vmi := runningVMI(t, ns, name, ""); vmi.Status.NodeName != hot {
			t.Fatalf("VM %s runs on %s, want %s (the only node it may use)", name, vmi.Status.NodeName, hot)
		}
	}
	cool := []string{ns + "-cool-1", ns + "-cool-2"}
	for _, name := range cool {
		rebalanceNode(t, ns, name, fleet.Zones[0], nil)
	}

	createRebalancePolicy(t, ns, v1alpha1.RebalanceDryRun, v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalancePressure,
		Pressure: &v1alpha1.PressureTrigger{LowThresholdPercent: 20, HighThresholdPercent: 50, For: &metav1.Duration{Duration: 2 * time.Second}}})
	var plan []v1alpha1.RebalanceMove
	framework.Eventually(t, "a dry-run plan of two moves off "+hot, func(ctx context.Context) (bool, error) {
		p, err := rebalancePolicy(ctx, ns)
		if err != nil {
			return false, err
		}
		plan = p.Status.Plan
		return len(plan) == 2 && meta.IsStatusConditionTrue(p.Status.Conditions, rebalance.ConditionReady), nil
	})
	for _, m := range plan {
		if m.FromNode != hot || (m.ToNode != cool[0] && m.ToNode != cool[1]) || m.VMName == "kept" || m.Trigger != v1alpha1.RebalancePressure ||
			!strings.Contains(m.Reason, "above 50%") || m.ExpectedRemainingHours < 1 || m.MigrationGramsCO2 <= 0 || m.MigrationCost <= 0 ||
			m.Operation != "" {
			t.Errorf("planned move %+v: want hot to a cool node, a pressure reason, the move's cost and no operation", m)
		}
	}
	p := passesAfter(t, ns, time.Now())
	if ops, err := rebalanceOps(ctx, ns); err != nil || len(ops) != 0 {
		t.Errorf("DryRun created %d operations (%v)", len(ops), err)
	}
	if nodes, err := vmNodes(ctx, ns); err != nil || len(nodes) != 5 {
		t.Fatalf("VM nodes: %v %v", nodes, err)
	} else {
		for vm, node := range nodes {
			if node != hot {
				t.Errorf("DryRun moved %s to %s", vm, node)
			}
		}
	}

	// A patch: the controller writes the status every pass, which a
	// read-then-update would meet as a conflict.
	if _, err := env.HyperSDK.HypersdkV1alpha1().RebalancePolicies().Patch(ctx, p.Name, types.MergePatchType,
		[]byte(`{"spec":{"mode":"`+string(v1alpha1.RebalanceAutomatic)+`"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	maxRunning, killed := 0, false
	framework.Eventually(t, "three VMs moved off "+hot+" and nothing running", func(ctx context.Context) (bool, error) {
		ops, err := rebalanceOps(ctx, ns)
		if err != nil {
			return false, err
		}
		running, done := 0, 0
		for _, op := range ops {
			switch op.Status.Phase {
			case v1alpha1.VMOperationSucceeded, v1alpha1.VMOperationFailed, v1alpha1.VMOperationCancelled:
				done++
			default:
				running++
			}
		}
		maxRunning = max(maxRunning, running)
		if running > 0 && !killed {
			killed = true
			if err := env.KillController(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return done == 3 && running == 0, nil
	})
	if maxRunning > 2 {
		t.Errorf("%d of the policy's migrations ran at once out of %s, want at most 2", maxRunning, hot)
	}
	passesAfter(t, ns, time.Now())
	ops, err := rebalanceOps(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := vmNodes(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	migrations, err := migrationsOf(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	moved := map[string]bool{}
	for _, op := range ops {
		if moved[op.Spec.VMName] || op.Spec.VMName == "kept" || op.Spec.Type != v1alpha1.VMOperationMigrate {
			t.Errorf("operation %s: %s of %s, want one Migrate per VM and none for kept", op.Name, op.Spec.Type, op.Spec.VMName)
		}
		moved[op.Spec.VMName] = true
		if len(op.OwnerReferences) != 1 || op.OwnerReferences[0].Kind != "RebalancePolicy" || op.OwnerReferences[0].Name != ns {
			t.Errorf("operation %s owned by %+v, want the policy", op.Name, op.OwnerReferences)
		}
		target := op.Spec.Migrate.TargetNode
		switch op.Status.Phase {
		case v1alpha1.VMOperationSucceeded:
			if nodes[op.Spec.VMName] != target || migrations[op.Spec.VMName] != 1 {
				t.Errorf("%s: on %s after %d migrations, want on %s after exactly one", op.Spec.VMName, nodes[op.Spec.VMName],
					migrations[op.Spec.VMName], target)
			}
		case v1alpha1.VMOperationCancelled:
			if nodes[op.Spec.VMName] != hot {
				t.Errorf("%s: cancelled migration left it on %s", op.Spec.VMName, nodes[op.Spec.VMName])
			}
		default:
			t.Errorf("operation %s ended %s: %s", op.Name, op.Status.Phase, op.Status.Message)
		}
	}
	if len(ops) != 3 || nodes["kept"] != hot {
		t.Errorf("%d operations, kept on %s; want 3 and kept on %s", len(ops), nodes["kept"], hot)
	}
	metrics, err := metricsclient.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	usage, err := metrics.MetricsV1beta1().NodeMetricses().Get(ctx, hot, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pct := usage.Usage.Cpu().AsApproximateFloat64() / 16 * 100; pct > 50 {
		t.Errorf("%s still at %.0f%% CPU, want at most the high threshold", hot, pct)
	}
}

// TestRebalanceMaintenance: a window opening in a minute and a half
// empties its node before it opens (draining taint, PreferNoSchedule), then
// keeps it empty while open (NoSchedule: a VM started meanwhile lands
// elsewhere), and the taint goes when the window closes.
func TestRebalanceMaintenance(t *testing.T) {
	// Mostly waiting (for a maintenance window a few minutes ahead): it runs beside the other
	// waiting tests once the sequential ones are done.
	t.Parallel()
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "rebalance-maintenance")
	old, spare := ns+"-old", ns+"-spare"
	rebalanceNode(t, ns, old, fleet.Zones[1], map[string]string{"hypersdk.io/e2e-maintenance": ns})
	for _, name := range []string{"x", "y"} {
		rebalanceVM(t, ns, name, 2, "1Gi", 0.2, nil)
	}
	for _, name := range []string{"x", "y"} {
		if vmi := runningVMI(t, ns, name, ""); vmi.Status.NodeName != old {
			t.Fatalf("VM %s runs on %s, want %s", name, vmi.Status.NodeName, old)
		}
	}
	rebalanceNode(t, ns, spare, fleet.Zones[1], nil)

	now := time.Now().UTC()
	open := now.Truncate(time.Minute).Add(time.Minute)
	for open.Sub(now) < 90*time.Second {
		open = open.Add(time.Minute)
	}
	closes := open.Add(time.Minute)
	createRebalancePolicy(t, ns, v1alpha1.RebalanceAutomatic, v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceMaintenance,
		Maintenance: &v1alpha1.MaintenanceTrigger{Name: "kernel", Schedule: fmt.Sprintf("%d %d * * *", open.Minute(), open.Hour()),
			Duration: metav1.Duration{Duration: time.Minute}, DrainBefore: &metav1.Duration{Duration: 10 * time.Minute},
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hypersdk.io/e2e-maintenance": ns}}}})

	taintOf := func(ctx context.Context) (*corev1.Taint, error) {
		n, err := env.Kube.CoreV1().Nodes().Get(ctx, old, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		for _, taint := range n.Spec.Taints {
			if taint.Key == rebalance.TaintKey {
				return &taint, nil
			}
		}
		return nil, nil
	}
	framework.Eventually(t, old+" tainted draining and emptied", func(ctx context.Context) (bool, error) {
		taint, err := taintOf(ctx)
		if err != nil || taint == nil || taint.Value != rebalance.MaintenanceDraining || taint.Effect != corev1.TaintEffectPreferNoSchedule {
			return false, err
		}
		ops, err := rebalanceOps(ctx, ns)
		if err != nil || len(ops) != 2 {
			return false, err
		}
		for _, op := range ops {
			if op.Status.Phase != v1alpha1.VMOperationSucceeded {
				return false, nil
			}
		}
		nodes, err := vmNodes(ctx, ns)
		return err == nil && nodes["x"] == spare && nodes["y"] == spare, err
	})
	ops, err := rebalanceOps(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.Status.CompletionTime == nil || !op.Status.CompletionTime.Time.Before(open) {
			t.Errorf("operation %s completed at %v, want before the window opens at %s", op.Name, op.Status.CompletionTime, open)
		}
	}

	// The window opens up to two and a half minutes after the policy was
	// made: wait for it that much longer than usual.
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Until(open)+framework.Timeout, true,
		func(ctx context.Context) (bool, error) {
			taint, err := taintOf(ctx)
			return err == nil && taint != nil && taint.Value == rebalance.MaintenanceOpen && taint.Effect == corev1.TaintEffectNoSchedule, nil
		}); err != nil {
		t.Fatalf("%s not tainted NoSchedule after the window opened at %s: %v", old, open, err)
	}
	if time.Now().After(closes) {
		t.Fatalf("the open window was seen only after it closed at %s", closes)
	}
	rebalanceVM(t, ns, "late", 1, "512Mi", 0.1, nil)
	if vmi := runningVMI(t, ns, "late", ""); vmi.Status.NodeName != spare {
		t.Errorf("a VM started while the window is open runs on %s, want %s", vmi.Status.NodeName, spare)
	}
	nodes, err := vmNodes(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	for vm, node := range nodes {
		if node == old && time.Now().Before(closes) {
			t.Errorf("VM %s runs on %s while its window is open", vm, old)
		}
	}
	framework.Eventually(t, "the taint gone once the window closed", func(ctx context.Context) (bool, error) {
		taint, err := taintOf(ctx)
		return err == nil && taint == nil && time.Now().After(closes), err
	})
	if ops, err := rebalanceOps(ctx, ns); err != nil || len(ops) != 2 {
		t.Errorf("%d operations (%v), want the two that emptied the node", len(ops), err)
	}
}

// TestRebalanceCarbon: the VMs' zone (ES) is dirtier than NO's by far
// more than the threshold. Once that has lasted for the trigger's For, a
// small busy VM moves to NO, whose saving over its expected life beats its
// migration; a nearly idle VM with 24 GiB of memory, whose copy would emit
// more than it saves, stays.
func TestRebalanceCarbon(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "rebalance-carbon")
	dirty, clean := ns+"-es", ns+"-no"
	rebalanceNode(t, ns, dirty, "ES", nil)
	rebalanceVM(t, ns, "small", 8, "256Mi", 0.95, nil)
	rebalanceVM(t, ns, "big", 1, "24Gi", 0.02, nil)
	for _, name := range []string{"small", "big"} {
		if vmi := runningVMI(t, ns, name, ""); vmi.Status.NodeName != dirty {
			t.Fatalf("VM %s runs on %s, want %s", name, vmi.Status.NodeName, dirty)
		}
	}
	rebalanceNode(t, ns, clean, "NO", nil)
	const wait = 3 * time.Second
	createRebalancePolicy(t, ns, v1alpha1.RebalanceAutomatic, v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceCarbon,
		Carbon: &v1alpha1.CarbonTrigger{ThresholdPercent: 50, For: &metav1.Duration{Duration: wait}}})

	var armed time.Time
	framework.Eventually(t, "zone NO armed against ES", func(ctx context.Context) (bool, error) {
		p, err := rebalancePolicy(ctx, ns)
		if err != nil {
			return false, err
		}
		for _, a := range p.Status.Armed {
			if a.Key == "carbon/ES/NO" {
				armed = a.Since.Time
				return true, nil
			}
		}
		return false, nil
	})
	var op v1alpha1.VMOperation
	framework.Eventually(t, "small moved to "+clean, func(ctx context.Context) (bool, error) {
		ops, err := rebalanceOps(ctx, ns)
		if err != nil || len(ops) == 0 {
			return false, err
		}
		op = ops[0]
		return len(ops) == 1 && op.Status.Phase == v1alpha1.VMOperationSucceeded, nil
	})
	if op.Spec.VMName != "small" || op.Spec.Migrate.TargetNode != clean {
		t.Errorf("the policy migrated %s to %s, want small to %s", op.Spec.VMName, op.Spec.Migrate.TargetNode, clean)
	}
	if op.CreationTimestamp.Time.Before(armed.Add(wait).Truncate(time.Second)) {
		t.Errorf("migration created at %s, before the zone had been dirtier for %s (armed at %s)", op.CreationTimestamp, wait, armed)
	}
	p := passesAfter(t, ns, time.Now())
	for _, m := range p.Status.Plan {
		if m.VMName == "big" {
			t.Errorf("big planned to move: %+v", m)
		}
	}
	if ops, err := rebalanceOps(ctx, ns); err != nil || len(ops) != 1 {
		t.Errorf("%d operations (%v), want only small's", len(ops), err)
	}
	nodes, err := vmNodes(ctx, ns)
	if err != nil || nodes["small"] != clean || nodes["big"] != dirty {
		t.Errorf("VMs on %v (%v), want small on %s, big on %s", nodes, err, clean, dirty)
	}
	events, err := env.Kube.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + ns + ",reason=" + rebalance.ReasonMigrating})
	if err != nil || !anyEvent(events.Items, "saves") {
		t.Errorf("no Rebalancing event giving the saving (%v)", err)
	}
}

// TestRebalanceStartLogSurvivesRestart: the VM starts the rebalancer
// counts as arrivals outlive hypersdk-controller. A VM that started and
// departed before a SIGKILL is still in the log the next process saves,
// beside a VM it saw start itself: it read the log back, as it must to
// count that arrival (it could not observe it again).
func TestRebalanceStartLogSurvivesRestart(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "rebalance-starts")
	rebalanceNode(t, ns, ns+"-es", "ES", nil)
	createRebalancePolicy(t, ns, v1alpha1.RebalanceDryRun, v1alpha1.RebalanceTrigger{Type: v1alpha1.RebalanceCarbon,
		Carbon: &v1alpha1.CarbonTrigger{ThresholdPercent: 50}})
	saved := func(uid types.UID) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			cm, err := env.Kube.CoreV1().ConfigMaps("hypersdk-system").Get(ctx, rebalance.StartsConfigMap, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return strings.Contains(cm.Data["starts.json"], string(uid)), nil
		}
	}

	rebalanceVM(t, ns, "gone", 1, "256Mi", 0.1, nil)
	gone := runningVMI(t, ns, "gone", "")
	framework.Eventually(t, "gone's start saved", saved(gone.UID))
	if err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "gone's instance deleted", func(ctx context.Context) (bool, error) {
		_, err := env.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "gone", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err := env.KillController(ctx); err != nil {
		t.Fatal(err)
	}
	rebalanceVM(t, ns, "after", 1, "256Mi", 0.1, nil)
	after := runningVMI(t, ns, "after", "")
	framework.Eventually(t, "after's start saved by the new process", saved(after.UID))
	if ok, err := saved(gone.UID)(ctx); err != nil || !ok {
		t.Errorf("the log saved after the restart lacks gone's start (%v): the new process did not read it back", err)
	}
}

// TestRebalancePolicyValidation: bad policies are refused with the fields
// named, and a viewer may read policies but not write them.
func TestRebalancePolicyValidation(t *testing.T) {
	ctx := context.Background()
	policies := env.HyperSDK.HypersdkV1alpha1().RebalancePolicies()
	nodes := &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "r1"}}
	_, err := policies.Create(ctx, &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: v1alpha1.RebalancePolicySpec{CarbonPricePerTonne: -5, Triggers: []v1alpha1.RebalanceTrigger{
			{Type: v1alpha1.RebalancePressure, Pressure: &v1alpha1.PressureTrigger{LowThresholdPercent: 80, HighThresholdPercent: 60}},
			{Type: v1alpha1.RebalanceMaintenance, Maintenance: &v1alpha1.MaintenanceTrigger{Name: "w", Schedule: "0 2 * * *", NodeSelector: nodes}},
			{Type: "Weather"},
		}}}, metav1.CreateOptions{})
	for _, want := range []string{"spec.carbonPricePerTonne", "spec.triggers[0].pressure.lowThresholdPercent",
		"spec.triggers[1].maintenance.duration", "spec.triggers[2].type"} {
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("a bad policy: %v, want 422 naming %s", err, want)
		}
	}
	// A cost budget is 0-1000%, and not with a carbon price.
	budget := int32(10)
	_, err = policies.Create(ctx, &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad-budget"},
		Spec: v1alpha1.RebalancePolicySpec{CarbonPricePerTonne: 200, CostBudgetPercent: &budget, Triggers: []v1alpha1.RebalanceTrigger{
			{Type: v1alpha1.RebalanceCarbon, Carbon: &v1alpha1.CarbonTrigger{ThresholdPercent: 20}},
		}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.costBudgetPercent") {
		t.Errorf("a cost budget with a carbon price: %v, want 422 naming spec.costBudgetPercent", err)
	}
	example := filepath.Join(framework.RepoRoot(), "artifacts", "examples", "rebalance-policy.yaml")
	if out, err := env.Kubectl(t, "apply", "--dry-run=server", "-f", example); err != nil {
		t.Errorf("the shipped example is refused: %v\n%s", err, out)
	}
}

// rebalanceAuthor is a client for service account author of ns, which may
// write RebalancePolicies and nothing else.
func rebalanceAuthor(t *testing.T, ns string) hypersdkclient.Interface {
	t.Helper()
	return policyAuthor(t, ns, "rebalancepolicies")
}

// policyAuthor is a client for service account author of ns, which may
// write the cluster-scoped hypersdk.io resource and nothing else.
func policyAuthor(t *testing.T, ns, resource string) hypersdkclient.Interface {
	t.Helper()
	grantAuthor(t, ns, ns+"-author", rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{resource},
		Verbs: []string{"get", "list", "watch", "create", "update", "delete"}})
	return client(t, env.ServiceAccountToken(t, ns, "author", ""))
}

// grantMigrate lets service account author of ns migrate VMs in vmNamespace.
func grantMigrate(t *testing.T, ns, vmNamespace string) {
	t.Helper()
	grant := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "author-migrate-grant"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "hypersdk:migrate"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "author", Namespace: ns}}}
	if _, err := env.Kube.RbacV1().RoleBindings(vmNamespace).Create(context.Background(), grant, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// grantNodeUpdate lets service account author of ns update node (which is
// what a maintenance taint is).
func grantNodeUpdate(t *testing.T, ns, node string) {
	t.Helper()
	grantAuthor(t, ns, ns+"-taint", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"nodes"}, ResourceNames: []string{node},
		Verbs: []string{"update"}})
}

// grantAuthor gives service account author of ns rule across the cluster,
// through a ClusterRole and binding named name, both gone after the test.
func grantAuthor(t *testing.T, ns, name string, rule rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{rule}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "author", Namespace: ns}}}
	if _, err := env.Kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
		_ = env.Kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
}

// TestRebalanceMaintenanceRefusedMove: a maintenance window is open on a
// node with two VMs, one of which the policy's author may not migrate. The
// other leaves, the refused one stays, and the node keeps its NoSchedule
// taint pass after pass: one move that cannot start neither lifts the
// window nor holds back the others. The taint is an update of the node:
// until the author may make it, the controller does not make it either.
func TestRebalanceMaintenanceRefusedMove(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "rebalance-refused")
	other := env.Namespace(t, "rebalance-refused-other")
	author := rebalanceAuthor(t, ns)
	grantMigrate(t, ns, ns)

	kernel, spare := ns+"-kernel", ns+"-spare"
	rebalanceNode(t, ns, kernel, fleet.Zones[2], map[string]string{"hypersdk.io/e2e-kernel": ns})
	rebalanceVM(t, ns, "mine", 2, "1Gi", 0.2, nil)
	theirs := kubevirtVM("theirs", 2, "1Gi", map[string]string{rebalanceLabel: ns})
	theirs.Spec.Template.Spec.NodeSelector = map[string]string{rebalanceLabel: ns}
	theirs.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: rebalanceLabel, Operator: corev1.TolerationOpEqual, Value: ns,
		Effect: corev1.TaintEffectNoSchedule}}
	createKubeVirtVM(t, other, theirs)
	for _, vm := range []types.NamespacedName{{Namespace: ns, Name: "mine"}, {Namespace: other, Name: "theirs"}} {
		if vmi := runningVMI(t, vm.Namespace, vm.Name, ""); vmi.Status.NodeName != kernel {
			t.Fatalf("VM %s runs on %s, want %s", vm, vmi.Status.NodeName, kernel)
		}
	}
	rebalanceNode(t, ns, spare, fleet.Zones[2], nil)

	scope := &metav1.LabelSelector{MatchLabels: map[string]string{rebalanceLabel: ns}}
	if _, err := author.HypersdkV1alpha1().RebalancePolicies().Create(ctx, &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: v1alpha1.RebalancePolicySpec{Mode: v1alpha1.RebalanceAutomatic, VMSelector: scope, NodeSelector: scope,
			Triggers: []v1alpha1.RebalanceTrigger{{Type: v1alpha1.RebalanceMaintenance, Maintenance: &v1alpha1.MaintenanceTrigger{
				Name: "kernel", Schedule: "* * * * *", Duration: metav1.Duration{Duration: time.Hour}, // open at every minute, for an hour
				NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hypersdk.io/e2e-kernel": ns}}}}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.HyperSDK.HypersdkV1alpha1().RebalancePolicies().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	held := func(ctx context.Context) (string, error) {
		n, err := env.Kube.CoreV1().Nodes().Get(ctx, kernel, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		for _, taint := range n.Spec.Taints {
			if taint.Key == rebalance.TaintKey && taint.Value == rebalance.MaintenanceOpen && taint.Effect == corev1.TaintEffectNoSchedule {
				return "", nil
			}
		}
		return fmt.Sprintf("%s has taints %v, want %s=%s:NoSchedule", kernel, n.Spec.Taints, rebalance.TaintKey, rebalance.MaintenanceOpen), nil
	}
	framework.Eventually(t, "mine moved off "+kernel+", theirs refused, the node not tainted", func(ctx context.Context) (bool, error) {
		p, err := rebalancePolicy(ctx, ns)
		if err != nil {
			return false, err
		}
		if c := meta.FindStatusCondition(p.Status.Conditions, rebalance.ConditionReady); c == nil || c.Reason != "Forbidden" ||
			!strings.Contains(c.Message, "theirs") || !strings.Contains(c.Message, kernel) {
			return false, fmt.Errorf("condition %+v, want Forbidden naming theirs and %s", c, kernel)
		}
		nodes, err := vmNodes(ctx, ns)
		return err == nil && nodes["mine"] == spare, err
	})
	passesAfter(t, ns, time.Now())
	if why, err := held(ctx); why == "" && err == nil {
		t.Errorf("%s has the maintenance taint the policy's author may not set", kernel)
	}

	grantNodeUpdate(t, ns, kernel)
	framework.Eventually(t, "theirs refused, the window held", func(ctx context.Context) (bool, error) {
		if why, err := held(ctx); why != "" || err != nil {
			return false, errors.Join(err, errors.New(why))
		}
		p, err := rebalancePolicy(ctx, ns)
		if err != nil {
			return false, err
		}
		if c := meta.FindStatusCondition(p.Status.Conditions, rebalance.ConditionReady); c == nil || c.Reason != "Forbidden" ||
			!strings.Contains(c.Message, "theirs") || strings.Contains(c.Message, kernel) {
			return false, fmt.Errorf("condition %+v, want Forbidden naming theirs only", c)
		}
		return true, nil
	})
	passesAfter(t, ns, time.Now())
	if why, err := held(ctx); why != "" || err != nil {
		t.Errorf("after two more passes: %s %v", why, err)
	}
	if vmi := runningVMI(t, other, "theirs", ""); vmi.Status.NodeName != kernel {
		t.Errorf("theirs, which the author may not migrate, runs on %s", vmi.Status.NodeName)
	}
	if ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(other).List(ctx, metav1.ListOptions{}); err != nil || len(ops.Items) != 0 {
		t.Errorf("operations in %s: %v (%v), want none", other, ops, err)
	}
}

// retiringNodeWithVM makes a node labelled hypersdk.io/e2e-retire=ns (not
// cordoned yet) running VM v, then a spare node in the same zone.
func retiringNodeWithVM(t *testing.T, ns, zone string) (retiring, spare string) {
	t.Helper()
	retiring, spare = ns+"-retiring", ns+"-spare"
	rebalanceNode(t, ns, retiring, zone, map[string]string{"hypersdk.io/e2e-retire": ns})
	rebalanceVM(t, ns, "v", 2, "1Gi", 0.3, nil)
	if vmi := runningVMI(t, ns, "v", ""); vmi.Status.NodeName != retiring {
		t.Fatalf("VM v runs on %s, want %s", vmi.Status.NodeName, retiring)
	}
	rebalanceNode(t, ns, spare, zone, nil)
	return retiring, spare
}

// TestRebalanceRequesterRights: a policy moves VMs only as far as its
// author may migrate them. An author allowed to write RebalancePolicies but
// not to migrate gets a Forbidden condition and no operation when its drain
// trigger wants a VM off a cordoned node; once granted hypersdk:migrate in
// the VM's namespace, the same policy moves it.
func TestRebalanceRequesterRights(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "rebalance-rights")
	author := rebalanceAuthor(t, ns)

	retiring, spare := retiringNodeWithVM(t, ns, fleet.Zones[2])
	cordon := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := env.Kube.CoreV1().Nodes().Patch(ctx, retiring, types.MergePatchType, cordon, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}

	scope := &metav1.LabelSelector{MatchLabels: map[string]string{rebalanceLabel: ns}}
	policy, err := author.HypersdkV1alpha1().RebalancePolicies().Create(ctx, &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: v1alpha1.RebalancePolicySpec{Mode: v1alpha1.RebalanceAutomatic, VMSelector: scope, NodeSelector: scope,
			Triggers: []v1alpha1.RebalanceTrigger{{Type: v1alpha1.RebalanceDrain, Drain: &v1alpha1.DrainTrigger{
				NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hypersdk.io/e2e-retire": ns}}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.HyperSDK.HypersdkV1alpha1().RebalancePolicies().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	if r := policy.Spec.Requester; r == nil || r.Username != "system:serviceaccount:"+ns+":author" {
		t.Errorf("requester %+v, want the author", r)
	}
	framework.Eventually(t, "the policy refused for want of migrate rights", func(ctx context.Context) (bool, error) {
		p, err := rebalancePolicy(ctx, ns)
		if err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, rebalance.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "Forbidden", nil
	})
	p := passesAfter(t, ns, time.Now())
	if ops, err := rebalanceOps(ctx, ns); err != nil || len(ops) != 0 {
		t.Errorf("%d operations (%v) for an author who may not migrate", len(ops), err)
	}
	if len(p.Status.Plan) != 1 || p.Status.Plan[0].VMName != "v" || p.Status.Plan[0].ToNode != spare ||
		p.Status.Plan[0].Trigger != v1alpha1.RebalanceDrain || p.Status.Plan[0].Operation != "" {
		t.Errorf("plan %+v, want v to %s for the drain, not started", p.Status.Plan, spare)
	}

	grantMigrate(t, ns, ns)
	framework.Eventually(t, "v drained to "+spare, func(ctx context.Context) (bool, error) {
		ops, err := rebalanceOps(ctx, ns)
		if err != nil || len(ops) != 1 || ops[0].Status.Phase != v1alpha1.VMOperationSucceeded {
			return false, err
		}
		nodes, err := vmNodes(ctx, ns)
		return err == nil && nodes["v"] == spare, err
	})
}

// TestRebalanceTwoPoliciesMoveAVMOnce: two Automatic policies whose drain
// triggers both want the same VM off a cordoned node, planned in the same
// pass, start one migration between them; the second sees the first's
// operation in flight (and then its VM on a cooldown) and neither moves
// the VM again.
func TestRebalanceTwoPoliciesMoveAVMOnce(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "rebalance-twice")
	retiring, spare := retiringNodeWithVM(t, ns, fleet.Zones[1])

	scope := &metav1.LabelSelector{MatchLabels: map[string]string{rebalanceLabel: ns}}
	policies := env.HyperSDK.HypersdkV1alpha1().RebalancePolicies()
	names := []string{ns + "-a", ns + "-b"}
	t0 := time.Now()
	for _, name := range names {
		if _, err := policies.Create(ctx, &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.RebalancePolicySpec{Mode: v1alpha1.RebalanceAutomatic, VMSelector: scope, NodeSelector: scope,
				Triggers: []v1alpha1.RebalanceTrigger{{Type: v1alpha1.RebalanceDrain, Drain: &v1alpha1.DrainTrigger{
					NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hypersdk.io/e2e-retire": ns}}}}}}},
			metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := policies.Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting rebalance policy %s: %v", name, err)
			}
		})
	}
	// Both policies are in every pass before the node is cordoned, so the
	// pass that first sees the drain plans both.
	for _, name := range names {
		passesAfter(t, name, t0)
	}
	cordon := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := env.Kube.CoreV1().Nodes().Patch(ctx, retiring, types.MergePatchType, cordon, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	migrateOps := func(ctx context.Context) ([]v1alpha1.VMOperation, error) {
		ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var out []v1alpha1.VMOperation
		for _, op := range ops.Items {
			if op.Spec.Type == v1alpha1.VMOperationMigrate {
				out = append(out, op)
			}
		}
		return out, nil
	}
	framework.Eventually(t, "v drained to "+spare, func(ctx context.Context) (bool, error) {
		ops, err := migrateOps(ctx)
		if err != nil || len(ops) == 0 || !ops[0].Status.Phase.Final() {
			return false, err
		}
		nodes, err := vmNodes(ctx, ns)
		return err == nil && nodes["v"] == spare, err
	})
	// Two more passes of each policy after the move: none starts another.
	t1 := time.Now()
	for _, name := range names {
		passesAfter(t, name, t1)
	}
	ops, err := migrateOps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Status.Phase != v1alpha1.VMOperationSucceeded {
		var got []string
		for _, op := range ops {
			got = append(got, fmt.Sprintf("%s by %s: %s", op.Name, op.Labels[rebalance.LabelPolicy], op.Status.Phase))
		}
		t.Errorf("migrate operations %v, want one that succeeded", got)
	}
	if migs, err := migrationsOf(ctx, ns); err != nil || migs["v"] != 1 {
		t.Errorf("v migrated %d times (%v), want once", migs["v"], err)
	}
}
