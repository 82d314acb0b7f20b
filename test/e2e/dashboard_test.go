package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestDashboardObjects: saved dashboards are hypersdk.io objects. kubectl
// hyper makes one from a template, kubectl apply (server-side, merging
// widgets by name) writes one by hand and changes one widget of it, a bad
// layout is refused with the field that is wrong, and RBAC's view may read
// dashboards but not write them, edit may.
func TestDashboardObjects(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "dashboards")
	dashboards := env.HyperSDK.HypersdkV1alpha1().Dashboards(ns)

	if out, errOut, code := hyper(t, "-n", ns, "dashboard", "create", "ops", "--template", "overview"); code != 0 ||
		!strings.Contains(out, "dashboard.hypersdk.io/ops created") {
		t.Fatalf("kubectl hyper dashboard create: exit %d: %s %s", code, out, errOut)
	}
	ops, err := dashboards.Get(ctx, "ops", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ops.Spec.Title != "Overview" || len(ops.Spec.Widgets) != 6 || ops.Spec.Columns != 12 || ops.Spec.TimeRange.Last != "24h" {
		t.Errorf("overview dashboard: %+v", ops.Spec)
	}
	if _, errOut, code := hyper(t, "-n", ns, "dashboard", "create", "one", "--template", "vm"); code == 0 ||
		!strings.Contains(errOut, "needs the VM") {
		t.Errorf("the vm template without --vm: exit %d: %s", code, errOut)
	}

	manifest := filepath.Join(t.TempDir(), "dashboard.yaml")
	apply := func(widthOfCPU string) (string, error) {
		yaml := `apiVersion: hypersdk.io/v1alpha1
kind: Dashboard
metadata:
  name: mine
  namespace: ` + ns + `
spec:
  title: Mine
  widgets:
  - {name: cpu, type: Chart, chart: CPUUsedVsAllocated, column: 0, row: 0, width: ` + widthOfCPU + `, height: 4}
  - {name: web, type: Console, vm: {name: web}, column: 6, row: 0, width: 6, height: 4}
`
		if err := os.WriteFile(manifest, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return env.Kubectl(t, "apply", "--server-side", "-f", manifest)
	}
	if _, err := apply("6"); err != nil {
		t.Fatal(err)
	}
	if _, err := apply("5"); err != nil {
		t.Fatal(err)
	}
	mine, err := dashboards.Get(ctx, "mine", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine.Spec.Widgets) != 2 || mine.Spec.Widgets[0].Width != 5 || mine.Spec.Widgets[1].VM.Name != "web" {
		t.Errorf("applied dashboard: %+v", mine.Spec.Widgets)
	}
	if out, err := apply("7"); err == nil || !strings.Contains(err.Error(), "spec.widgets[1]") || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("overlapping widgets applied: %s %v", out, err)
	}
	table, err := env.Kubectl(t, "get", "dashboards", "-n", ns)
	if err != nil || !strings.Contains(table, "Overview") || !strings.Contains(table, "24h") {
		t.Errorf("kubectl get dashboards: %s %v", table, err)
	}

	viewer := client(t, env.ServiceAccountToken(t, ns, "viewer", "view"))
	editor := client(t, env.ServiceAccountToken(t, ns, "editor", "edit"))
	framework.Eventually(t, "view reads dashboards", func(ctx context.Context) (bool, error) {
		list, err := viewer.HypersdkV1alpha1().Dashboards(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(list.Items) == 2, err
	})
	saved := &v1alpha1.Dashboard{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Spec: ops.Spec}
	if _, err := viewer.HypersdkV1alpha1().Dashboards(ns).Create(ctx, saved, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("view created a dashboard: %v", err)
	}
	if err := viewer.HypersdkV1alpha1().Dashboards(ns).Delete(ctx, "ops", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("view deleted a dashboard: %v", err)
	}
	framework.Eventually(t, "edit saves a dashboard", func(ctx context.Context) (bool, error) {
		_, err := editor.HypersdkV1alpha1().Dashboards(ns).Create(ctx, saved, metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err), err
	})
}
