package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestRBACMatrix: for view, edit, admin, hypersdk:migrate and no role, every
// subresource answers allowed or 403 exactly as artifacts/rbac says, and a
// VMOperation of each type created directly gets the same answer as the POST
// to the subresource. Writes are dry runs; "allowed" means anything but
// 401/403.
func TestRBACMatrix(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := env.Namespace(t, "matrix")
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	runningVMI(t, ns, "vm", "")
	roles := []string{"view", "edit", "admin", "hypersdk:migrate", ""}
	tokens := map[string]string{}
	for i, role := range roles {
		tokens[role] = env.ServiceAccountToken(t, ns, "sa-"+string(rune('a'+i)), role)
	}
	// Aggregation into view/edit/admin happens in the controller manager.
	framework.Eventually(t, "role aggregation", func(ctx context.Context) (bool, error) {
		_, err := client(t, tokens["view"]).HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	bodies := map[string]string{"clone": `{"targetName":"copy"}`, "migrate": `{}`, "resize": `{"cpus":2}`,
		"snapshot": `{}`, "start": `{}`, "stop": `{}`, "restart": `{}`,
		// No such snapshot: an allowed caller is told 404, the others 403.
		"restore": `{"snapshotName":"snap"}`,
		// vm has no USB redirection: an allowed caller is told 409.
		"attachusb": `{"device":{"name":"s","vendor":"0781","product":"5581"}}`, "detachusb": `{"name":"s"}`}
	allowed := map[string]map[string]bool{
		"view": {},
		"edit": {"console": true, "vnc": true, "usbredir": true, "clone": true, "resize": true, "snapshot": true, "start": true, "stop": true, "restart": true,
			"restore": true, "attachusb": true, "detachusb": true},
		"admin": {"console": true, "vnc": true, "usbredir": true, "clone": true, "resize": true, "snapshot": true, "start": true, "stop": true, "restart": true,
			"restore": true, "migrate": true, "attachusb": true, "detachusb": true},
		"hypersdk:migrate": {"migrate": true},
		"":                 {},
	}
	for _, role := range roles {
		c := client(t, tokens[role])
		for sub, body := range bodies {
			code, _, err := post(t, c, ns, "vm", sub, []byte(body), true)
			got := code != http.StatusForbidden && code != http.StatusUnauthorized
			if got != allowed[role][sub] {
				t.Errorf("role %q POST %s: %d (%v), want allowed=%v", role, sub, code, err, allowed[role][sub])
			}
			code, err = createOperation(t, c, ns, "vm", sub, body)
			got = code != http.StatusForbidden && code != http.StatusUnauthorized
			if got != allowed[role][sub] {
				t.Errorf("role %q VMOperation %s created directly: %d (%v), want allowed=%v", role, sub, code, err, allowed[role][sub])
			}
		}
		// usbredir is refused to the allowed with 409: vm has no USB
		// redirection; the others get 403 first.
		for _, sub := range []string{"console", "vnc", "usbredir"} {
			cfg := env.ConfigFor(tokens[role])
			raw := cfg.Host + "/apis/hypersdk.io/v1alpha1/namespaces/" + ns + "/virtualmachines/vm/" + sub + "?protocol=plain"
			if sub != "console" {
				raw = strings.TrimSuffix(raw, "?protocol=plain")
			}
			code := upgradeStatus(t, tokens[role], raw)
			got := code != http.StatusForbidden && code != http.StatusUnauthorized
			if got != allowed[role][sub] {
				t.Errorf("role %q GET %s: %d, want allowed=%v", role, sub, code, allowed[role][sub])
			}
		}
	}

	// Recommendations, costs and cost reports are read like history (view
	// and up; a recommendation is 404 here, as no autoscaler sizes the VM);
	// autoscalers, backup schedules and idle VM policies are read by view and
	// written by edit and admin, who may resize, snapshot and stop the VMs
	// they act on; budgets are read by view and written by admin only (an
	// enforced one refuses new VMs).
	reads := map[string]bool{"view": true, "edit": true, "admin": true}
	writes := map[string]bool{"edit": true, "admin": true}
	vma := &v1alpha1.VirtualMachineAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "vma"},
		Spec: v1alpha1.VirtualMachineAutoscalerSpec{TargetRef: v1alpha1.AutoscalerTargetRef{Kind: "VirtualMachine", Name: "vm"}}}
	schedule := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "bs"},
		Spec: v1alpha1.BackupScheduleSpec{VMSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Schedule: "@daily", Retention: v1alpha1.BackupRetention{KeepLast: ptr.To[int32](1)}}}
	idlePolicy := &v1alpha1.IdleVMPolicy{ObjectMeta: metav1.ObjectMeta{Name: "idle"}}
	budget := &v1alpha1.Budget{ObjectMeta: metav1.ObjectMeta{Name: "budget"}, Spec: v1alpha1.BudgetSpec{Amount: resource.MustParse("100")}}
	// Dashboards are saved views: read by view, written by edit and admin,
	// from kubectl and from kubectl hyper dashboard's editor alike (the
	// editor writes through the user's own credentials to this same API).
	dash := &v1alpha1.Dashboard{ObjectMeta: metav1.ObjectMeta{Name: "dash"}, Spec: v1alpha1.DashboardSpec{Title: "matrix"}}
	for _, role := range roles {
		c := client(t, tokens[role])
		err := c.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").Name("vm").
			SubResource("recommendation").Do(context.Background()).Error()
		if got := !apierrors.IsForbidden(err); got != reads[role] {
			t.Errorf("role %q GET recommendation: %v, want allowed=%v", role, err, reads[role])
		}
		err = c.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").Name("vm").
			SubResource("cost").Do(context.Background()).Error()
		if got := err == nil; got != reads[role] {
			t.Errorf("role %q GET cost: %v, want allowed=%v", role, err, reads[role])
		}
		err = c.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("costreports").Name("current").
			Do(context.Background()).Error()
		if got := err == nil; got != reads[role] {
			t.Errorf("role %q GET costreports/current: %v, want allowed=%v", role, err, reads[role])
		}
		_, err = c.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).List(context.Background(), metav1.ListOptions{})
		if got := err == nil; got != reads[role] {
			t.Errorf("role %q listing VirtualMachineAutoscalers: %v, want allowed=%v", role, err, reads[role])
		}
		_, err = c.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Create(context.Background(), vma,
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if got := err == nil; got != writes[role] {
			t.Errorf("role %q creating a VirtualMachineAutoscaler: %v, want allowed=%v", role, err, writes[role])
		}
		_, err = c.HypersdkV1alpha1().BackupSchedules(ns).List(context.Background(), metav1.ListOptions{})
		if got := err == nil; got != reads[role] {
			t.Errorf("role %q listing BackupSchedules: %v, want allowed=%v", role, err, reads[role])
		}
		_, err = c.HypersdkV1alpha1().BackupSchedules(ns).Create(context.Background(), schedule,
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if got := err == nil; got != writes[role] {
			t.Errorf("role %q creating a BackupSchedule: %v, want allowed=%v", role, err, writes[role])
		}
		_, err = c.HypersdkV1alpha1().IdleVMPolicies(ns).List(context.Background(), metav1.ListOptions{})
		if got := err == nil; got != reads[role] {
			t.Errorf("role %q listing IdleVMPolicies: %v, want allowed=%v", role, err, reads[role])
		}
		_, err = c.HypersdkV1alpha1().IdleVMPolicies(ns).Create(context.Background(), idlePolicy, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if got := err == nil; got != writes[role] {
			t.Errorf("role %q creating an IdleVMPolicy: %v, want allowed=%v", role, err, writes[role])
		}
		_, err = c.HypersdkV1alpha1().Budgets(ns).List(context.Background(), metav1.ListOptions{})
		if got := err == nil; got != reads[role] {
			t.Errorf("role %q listing Budgets: %v, want allowed=%v", role, err, reads[role])
		}
		_, err = c.HypersdkV1alpha1().Budgets(ns).Create(context.Background(), budget, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if got := err == nil; got != (role == "admin") {
			t.Errorf("role %q creating a Budget: %v, want allowed=%v (admin only)", role, err, role == "admin")
		}
		_, err = c.HypersdkV1alpha1().Dashboards(ns).List(context.Background(), metav1.ListOptions{})
		if got := err == nil; got != reads[role] {
			t.Errorf("role %q listing Dashboards: %v, want allowed=%v", role, err, reads[role])
		}
		_, err = c.HypersdkV1alpha1().Dashboards(ns).Create(context.Background(), dash, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if got := err == nil; got != writes[role] {
			t.Errorf("role %q creating a Dashboard: %v, want allowed=%v", role, err, writes[role])
		}
	}

	// CarbonScalingPolicies cap HPAs in every namespace: no namespace role
	// may write one, only a cluster admin.
	policy := &v1alpha1.CarbonScalingPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-cap"},
		Spec: v1alpha1.CarbonScalingPolicySpec{Zone: "ES", HPASelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Bands: []v1alpha1.CarbonScalingBand{{AboveGramsPerKWh: 300, MaxReplicasPercent: 50}}},
	}
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	for _, role := range roles {
		_, err := client(t, tokens[role]).HypersdkV1alpha1().CarbonScalingPolicies().Create(context.Background(), policy, dryRun)
		if !apierrors.IsForbidden(err) {
			t.Errorf("role %q created a CarbonScalingPolicy: %v, want 403", role, err)
		}
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().CarbonScalingPolicies().Create(context.Background(), policy, dryRun); err != nil {
		t.Errorf("a cluster admin creating a CarbonScalingPolicy: %v", err)
	}
	// RebalancePolicies move VMs of every namespace: likewise, and the
	// migrations they start need the author's own migrate rights
	// (TestRebalanceRequesterRights).
	rebalancePolicy := &v1alpha1.RebalancePolicy{ObjectMeta: metav1.ObjectMeta{Name: ns + "-rebalance"},
		Spec: v1alpha1.RebalancePolicySpec{Triggers: []v1alpha1.RebalanceTrigger{{Type: v1alpha1.RebalanceCost}}}}
	for _, role := range roles {
		c := client(t, tokens[role])
		if _, err := c.HypersdkV1alpha1().RebalancePolicies().Create(context.Background(), rebalancePolicy, dryRun); !apierrors.IsForbidden(err) {
			t.Errorf("role %q created a RebalancePolicy: %v, want 403", role, err)
		}
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().RebalancePolicies().Create(context.Background(), rebalancePolicy, dryRun); err != nil {
		t.Errorf("a cluster admin creating a RebalancePolicy: %v", err)
	}

	// Cancelling an operation (spec.cancel, as kubectl hyper op cancel
	// patches it) needs what asking for it needs as well as patch: a
	// migration waiting for a target is cancelled by admin, not by edit, who
	// may patch vmoperations but not migrate, nor by hypersdk:migrate, who
	// may not patch them.
	waiting, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Create(context.Background(), &v1alpha1.VMOperation{
		ObjectMeta: metav1.ObjectMeta{Name: "waiting"},
		Spec: v1alpha1.VMOperationSpec{VMName: "vm", Type: v1alpha1.VMOperationMigrate,
			Migrate: &v1alpha1.MigrateSpec{NodeSelector: map[string]string{"hypersdk.io/no-such-label": "x"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancels := map[string]bool{"admin": true}
	for _, role := range roles {
		_, err := client(t, tokens[role]).HypersdkV1alpha1().VMOperations(ns).Patch(context.Background(), waiting.Name, types.MergePatchType,
			[]byte(`{"spec":{"cancel":true}}`), metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		if got := !apierrors.IsForbidden(err); got != cancels[role] || got && err != nil {
			t.Errorf("role %q cancelling a migration: %v, want allowed=%v", role, err, cancels[role])
		}
	}
}

// createOperation creates (as a dry run) a VMOperation of the type named by
// sub, with body as its options, and returns the HTTP status.
func createOperation(t *testing.T, c hypersdkclient.Interface, ns, vm, sub, body string) (int, error) {
	t.Helper()
	typ, block := operationType(sub), operationBlock(sub)
	data := fmt.Sprintf(`{"apiVersion":"hypersdk.io/v1alpha1","kind":"VMOperation","metadata":{"generateName":"direct-"},`+
		`"spec":{"vmName":%q,"type":%q,%q:%s}}`, vm, typ, block, body)
	res := c.HypersdkV1alpha1().RESTClient().Post().Namespace(ns).Resource("vmoperations").
		Param("dryRun", "All").SetHeader("Content-Type", "application/json").Body([]byte(data)).Do(context.Background())
	var code int
	res.StatusCode(&code)
	return code, res.Error()
}

// TestVirtualMachineUpdateIsTheOperation: an update of a VM that starts,
// stops or resizes it is admitted as that operation: a user who may update
// VMs but not stop or resize them is refused both (403, naming the
// subresource) while other changes go through, and a resize beyond the VM's
// hotplug bound is refused on spec.cpus as the resize subresource refuses
// it on cpus.
func TestVirtualMachineUpdateIsTheOperation(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "vm-update-op")
	elastic := kubevirtVM("vm", 0, "2Gi", nil)
	elastic.Spec.Template.Spec.Domain.CPU = &kvv1.CPU{Sockets: 2, Cores: 1, Threads: 1, MaxSockets: 8}
	createKubeVirtVM(t, ns, elastic)
	runningVMI(t, ns, "vm", "")

	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-updater"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"virtualmachines"},
			Verbs: []string{"get", "list", "watch", "update", "patch"}}}}
	if _, err := env.Kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	updater := client(t, env.ServiceAccountToken(t, ns, "updater", role.Name)).HypersdkV1alpha1().VirtualMachines(ns)
	patch := func(vms interface {
		Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*v1alpha1.VirtualMachine, error)
	}, body string, dryRun bool) error {
		opts := metav1.PatchOptions{}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		_, err := vms.Patch(ctx, "vm", types.MergePatchType, []byte(body), opts)
		return err
	}
	framework.Eventually(t, "the updater's role in force", func(ctx context.Context) (bool, error) {
		err := patch(updater, `{"metadata":{"labels":{"tier":"web"}}}`, false)
		return err == nil, err
	})
	for body, sub := range map[string]string{`{"spec":{"running":false}}`: "virtualmachines/stop", `{"spec":{"cpus":4}}`: "virtualmachines/resize",
		`{"spec":{"memory":"4Gi"}}`: "virtualmachines/resize"} {
		for _, dryRun := range []bool{true, false} {
			if err := patch(updater, body, dryRun); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), sub) {
				t.Errorf("%s by a user who may update VMs but not %s (dry run %v): %v, want 403 naming it", body, sub, dryRun, err)
			}
		}
	}
	vm, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "vm", metav1.GetOptions{})
	if err != nil || vm.Labels["tier"] != "web" || !kubevirt.WantsRunning(vm, nil) || vm.Spec.Template.Spec.Domain.CPU.Sockets != 2 {
		t.Errorf("KubeVirt VM after the refused updates: %v labels %v running %v sockets %d, want the label and nothing else changed",
			err, vm.Labels, kubevirt.WantsRunning(vm, nil), vm.Spec.Template.Spec.Domain.CPU.Sockets)
	}

	admin := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns)
	err = patch(admin, `{"spec":{"cpus":16}}`, false)
	assertInvalidKind(t, err, "VirtualMachine", "spec.cpus")
	if err == nil || !strings.Contains(err.Error(), "maximum of 8") {
		t.Errorf("cpus beyond maxSockets: %v, want the VM's maximum of 8 named", err)
	}
	code, _, err := post(t, env.HyperSDK, ns, "vm", "resize", map[string]interface{}{"cpus": 16}, true)
	if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(err), "maximum of 8") {
		t.Errorf("the resize subresource for the same: %d %v, want 422 naming the maximum of 8", code, err)
	}
	err = patch(admin, `{"spec":{"cpus":100000}}`, true)
	assertInvalidKind(t, err, "VirtualMachine", "spec.cpus")
	if err := patch(admin, `{"spec":{"cpus":4}}`, false); err != nil {
		t.Errorf("a resize within the bound by an admin: %v", err)
	}
}

// TestAdmissionPolicyOnASubresourceHoldsForAVMUpdate: a policy written for
// virtualmachines/resize holds for a change of the VM's spec.cpus too,
// which amounts to that resize, and one written for vmoperations for a
// change of spec.running, which amounts to a Stop.
func TestAdmissionPolicyOnASubresourceHoldsForAVMUpdate(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "guarded-resize")
	if _, err := env.Kube.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"e2e.hypersdk.io/guard-resizes":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	elastic := kubevirtVM("vm", 0, "2Gi", nil)
	elastic.Spec.Template.Spec.Domain.CPU = &kvv1.CPU{Sockets: 2, Cores: 1, Threads: 1, MaxSockets: 8}
	createKubeVirtVM(t, ns, elastic)
	runningVMI(t, ns, "vm", "")
	denyCreates(t, "guard-resizes-"+ns, "hypersdk.io", "virtualmachines/resize",
		"!has(object.cpus) || object.cpus <= 4", "at most 4 CPUs here", map[string]string{"e2e.hypersdk.io/guard-resizes": "true"})
	framework.Eventually(t, "the policy to refuse 6 CPUs through the subresource", func(ctx context.Context) (bool, error) {
		_, _, err := post(t, env.HyperSDK, ns, "vm", "resize", map[string]interface{}{"cpus": 6}, true)
		return err != nil && strings.Contains(err.Error(), "at most 4 CPUs here"), nil
	})
	vms := env.HyperSDK.HypersdkV1alpha1().VirtualMachines(ns)
	for _, dryRun := range []bool{true, false} {
		opts := metav1.PatchOptions{}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := vms.Patch(ctx, "vm", types.MergePatchType, []byte(`{"spec":{"cpus":6}}`), opts); err == nil ||
			!strings.Contains(err.Error(), "at most 4 CPUs here") {
			t.Errorf("spec.cpus 6 under the resize subresource's policy (dry run %v): %v, want refused by the policy", dryRun, err)
		}
	}
	if _, err := vms.Patch(ctx, "vm", types.MergePatchType, []byte(`{"spec":{"cpus":4}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("spec.cpus 4, which the policy allows: %v", err)
	}

	// The policy reads what the vmoperations strategy fills in (the
	// requester): it sees on this route the operation a create would store.
	denyCreates(t, "guard-stops-"+ns, "hypersdk.io", "vmoperations", "!has(object.spec.requester) || object.spec.type != 'Stop'", "no stops here",
		map[string]string{"e2e.hypersdk.io/guard-resizes": "true"})
	framework.Eventually(t, "the policy to refuse a Stop through the subresource", func(ctx context.Context) (bool, error) {
		_, _, err := post(t, env.HyperSDK, ns, "vm", "stop", []byte("{}"), true)
		return err != nil && strings.Contains(err.Error(), "no stops here"), nil
	})
	for _, dryRun := range []bool{true, false} {
		opts := metav1.PatchOptions{}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := vms.Patch(ctx, "vm", types.MergePatchType, []byte(`{"spec":{"running":false}}`), opts); err == nil ||
			!strings.Contains(err.Error(), "no stops here") {
			t.Errorf("spec.running false under a policy on vmoperations (dry run %v): %v, want refused by the policy", dryRun, err)
		}
	}
	if vm, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Get(ctx, "vm", metav1.GetOptions{}); err != nil || !kubevirt.WantsRunning(vm, nil) {
		t.Errorf("KubeVirt VM after the refused stops: %v, running %v; want it left running", err, err == nil && kubevirt.WantsRunning(vm, nil))
	}
}

// operationType is the VMOperation type of a subresource: attachusb is
// AttachUSB.
func operationType(sub string) string {
	block := operationBlock(sub)
	return strings.ToUpper(block[:1]) + block[1:]
}

// operationBlock is the field of a VMOperation's spec that holds a
// subresource's options: attachusb's is attachUSB.
func operationBlock(sub string) string {
	if usb, ok := strings.CutSuffix(sub, "usb"); ok {
		return usb + "USB"
	}
	return sub
}

// TestCrossNamespaceClone: an editor of one namespace who may not write
// another is refused a clone into it both ways (403), and nothing is left in
// either namespace; once allowed there, both ways are accepted.
func TestCrossNamespaceClone(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	source, target := env.Namespace(t, "clone-src"), env.Namespace(t, "clone-dst")
	createKubeVirtVM(t, source, kubevirtVM("vm", 1, "1Gi", nil))
	editor := client(t, env.ServiceAccountToken(t, source, "editor", "edit"))
	framework.Eventually(t, "edit to list VMs", func(ctx context.Context) (bool, error) {
		_, err := editor.HypersdkV1alpha1().VirtualMachines(source).List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	body := fmt.Sprintf(`{"targetName":"copy","targetNamespace":%q}`, target)
	code, _, err := post(t, editor, source, "vm", "clone", []byte(body), false)
	if code != http.StatusForbidden {
		t.Errorf("clone into %s through the subresource: %d (%v), want 403", target, code, err)
	}
	res := editor.HypersdkV1alpha1().RESTClient().Post().Namespace(source).Resource("vmoperations").
		SetHeader("Content-Type", "application/json").
		Body([]byte(`{"apiVersion":"hypersdk.io/v1alpha1","kind":"VMOperation","metadata":{"name":"sneaky"},` +
			`"spec":{"vmName":"vm","type":"Clone","clone":` + body + `}}`)).Do(ctx)
	res.StatusCode(&code)
	if code != http.StatusForbidden {
		t.Errorf("clone into %s as a VMOperation: %d (%v), want 403", target, code, res.Error())
	}
	ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(source).List(ctx, metav1.ListOptions{})
	if err != nil || len(ops.Items) != 0 {
		t.Errorf("operations left in %s: %d (%v), want none", source, len(ops.Items), err)
	}
	for _, ns := range []string{source, target} {
		vms, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, vm := range vms.Items {
			if vm.Name != "vm" || ns != source {
				t.Errorf("VM %s/%s appeared after a refused clone", ns, vm.Name)
			}
		}
	}

	// The same editor, allowed to write the target namespace, may clone there both ways.
	if _, err := env.Kube.RbacV1().RoleBindings(target).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "editor-from-" + source},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "editor", Namespace: source}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the clone to be allowed through the subresource", func(ctx context.Context) (bool, error) {
		code, _, err := post(t, editor, source, "vm", "clone", []byte(body), true)
		return code == http.StatusCreated, err
	})
	if code, err := createOperation(t, editor, source, "vm", "clone", body); code != http.StatusCreated {
		t.Errorf("allowed clone as a VMOperation: %d (%v), want 201", code, err)
	}
}

// TestOperationsThatMakeAVMNeedCreate: a clone into the VM's own namespace
// and a restore into a new VM make a VM, so a user allowed the subresources
// but not to create VMs is refused both, both ways (403 naming
// virtualmachines); given create on VMs, they are admitted.
func TestOperationsThatMakeAVMNeedCreate(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "make-a-vm")
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-operator"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"virtualmachines"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"virtualmachines/clone", "virtualmachines/restore", "vmoperations"},
				Verbs: []string{"create"}},
		}}
	if _, err := env.Kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	operator := client(t, env.ServiceAccountToken(t, ns, "operator", role.Name))
	framework.Eventually(t, "the operator's role in force", func(ctx context.Context) (bool, error) {
		_, err := operator.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	bodies := map[string]string{"clone": `{"targetName":"copy"}`, "restore": `{"snapshotName":"snap","targetName":"copy"}`}
	for sub, body := range bodies {
		code, _, err := post(t, operator, ns, "vm", sub, []byte(body), true)
		if code != http.StatusForbidden || !strings.Contains(fmt.Sprint(err), `"virtualmachines"`) {
			t.Errorf("%s %s through the subresource by a user who may not create VMs: %d (%v), want 403 naming virtualmachines", sub, body, code, err)
		}
		code, err = createOperation(t, operator, ns, "vm", sub, body)
		if code != http.StatusForbidden || !strings.Contains(fmt.Sprint(err), `"virtualmachines"`) {
			t.Errorf("%s %s as a VMOperation by a user who may not create VMs: %d (%v), want 403 naming virtualmachines", sub, body, code, err)
		}
	}

	role.Rules[1].Resources = append(role.Rules[1].Resources, "virtualmachines")
	if _, err := env.Kube.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the clone to be admitted through the subresource", func(ctx context.Context) (bool, error) {
		code, _, err := post(t, operator, ns, "vm", "clone", []byte(bodies["clone"]), true)
		return code == http.StatusCreated, err
	})
	if code, err := createOperation(t, operator, ns, "vm", "clone", bodies["clone"]); code != http.StatusCreated {
		t.Errorf("clone as a VMOperation by a user who may create VMs: %d (%v), want 201", code, err)
	}
	// Past authorization, the restore meets its precheck: there is no snapshot.
	if code, _, err := post(t, operator, ns, "vm", "restore", []byte(bodies["restore"]), true); code == http.StatusForbidden {
		t.Errorf("restore into a new VM by a user who may create VMs: %d (%v), want past authorization", code, err)
	}
}

// TestAdmissionPolicyOnOperations: a ValidatingAdmissionPolicy on
// vmoperations that forbids Restart in a namespace stops a Restart asked for
// either way there, and nothing else.
func TestAdmissionPolicyOnOperations(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	frozen, open := env.Namespace(t, "frozen"), env.Namespace(t, "open")
	if _, err := env.Kube.CoreV1().Namespaces().Patch(ctx, frozen, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"e2e.hypersdk.io/freeze-restarts":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{frozen, open} {
		createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
		runningVMI(t, ns, "vm", "")
	}
	denyCreates(t, "freeze-restarts-"+frozen, "hypersdk.io", "vmoperations", "object.spec.type != 'Restart'",
		"restarts are frozen here", map[string]string{"e2e.hypersdk.io/freeze-restarts": "true"})

	// hypersdk-apiserver learns of the policy through its informers.
	var directErr error
	framework.Eventually(t, "the policy to refuse a Restart created directly", func(ctx context.Context) (bool, error) {
		_, directErr = createOperation(t, env.HyperSDK, frozen, "vm", "restart", "{}")
		return directErr != nil && strings.Contains(directErr.Error(), "restarts are frozen here"), nil
	})
	code, _, err := post(t, env.HyperSDK, frozen, "vm", "restart", []byte("{}"), true)
	if err == nil || !strings.Contains(err.Error(), "restarts are frozen here") {
		t.Errorf("Restart through the subresource under the policy: %d (%v), want refused by the policy", code, err)
	}
	if want := apierrors.ReasonForError(directErr); apierrors.ReasonForError(err) != want {
		t.Errorf("the two ways answer differently: subresource %q, direct %q", apierrors.ReasonForError(err), want)
	}
	for _, tc := range []struct{ ns, sub string }{{frozen, "stop"}, {open, "restart"}} {
		if code, _, err := post(t, env.HyperSDK, tc.ns, "vm", tc.sub, []byte("{}"), true); code != http.StatusCreated {
			t.Errorf("%s in %s through the subresource: %d (%v), want 201", tc.sub, tc.ns, code, err)
		}
		if code, err := createOperation(t, env.HyperSDK, tc.ns, "vm", tc.sub, "{}"); code != http.StatusCreated {
			t.Errorf("%s in %s created directly: %d (%v), want 201", tc.sub, tc.ns, code, err)
		}
	}
}

// upgradeStatus attempts a WebSocket upgrade and returns the HTTP status.
func upgradeStatus(t *testing.T, token, raw string) int {
	t.Helper()
	cfg := env.ConfigFor(token)
	conn, code := dialStatus(t, cfg, raw)
	if conn != nil {
		conn.Close()
	}
	return code
}

// TestAdmissionPolicyOnASubresource: a ValidatingAdmissionPolicy written
// for virtualmachines/migrate holds for a Migrate created as a VMOperation
// too: the operation meets the subresource's admission with the options
// its spec holds.
func TestAdmissionPolicyOnASubresource(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "guarded")
	if _, err := env.Kube.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"e2e.hypersdk.io/guard-migrations":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	createKubeVirtVM(t, ns, kubevirtVM("vm", 1, "1Gi", nil))
	runningVMI(t, ns, "vm", "")
	denyCreates(t, "guard-migrations-"+ns, "hypersdk.io", "virtualmachines/migrate",
		"!has(object.targetNode) || object.targetNode != 'node-000'", "no migrations onto node-000 here",
		map[string]string{"e2e.hypersdk.io/guard-migrations": "true"})

	// hypersdk-apiserver learns of the policy through its informers.
	framework.Eventually(t, "the policy to refuse a migration onto node-000 through the subresource", func(ctx context.Context) (bool, error) {
		_, _, err := post(t, env.HyperSDK, ns, "vm", "migrate", []byte(`{"targetNode":"node-000"}`), true)
		return err != nil && strings.Contains(err.Error(), "no migrations onto node-000 here"), nil
	})
	if _, err := createOperation(t, env.HyperSDK, ns, "vm", "migrate", `{"targetNode":"node-000"}`); err == nil ||
		!strings.Contains(err.Error(), "no migrations onto node-000 here") {
		t.Errorf("Migrate onto node-000 as a VMOperation under the subresource's policy: %v, want refused by the policy", err)
	}
	if _, err := createOperation(t, env.HyperSDK, ns, "vm", "migrate", `{"targetNode":"node-001"}`); err != nil &&
		strings.Contains(err.Error(), "no migrations onto node-000 here") {
		t.Errorf("Migrate onto node-001 as a VMOperation: refused by the policy (%v)", err)
	}
}
