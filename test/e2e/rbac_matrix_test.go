package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/test/framework"
)

// TestRBACMatrix: for view, edit, admin, hypersdk:migrate and no role, every
// subresource answers allowed or 403 exactly as artifacts/rbac says. Writes
// are dry runs; "allowed" means anything but 401/403.
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
		"snapshot": `{}`, "start": `{}`, "stop": `{}`, "restart": `{}`}
	allowed := map[string]map[string]bool{
		"view":             {},
		"edit":             {"console": true, "vnc": true, "clone": true, "resize": true, "snapshot": true, "start": true, "stop": true, "restart": true},
		"admin":            {"console": true, "vnc": true, "clone": true, "resize": true, "snapshot": true, "start": true, "stop": true, "restart": true, "migrate": true},
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
		}
		for _, sub := range []string{"console", "vnc"} {
			cfg := env.ConfigFor(tokens[role])
			raw := cfg.Host + "/apis/hypersdk.io/v1alpha1/namespaces/" + ns + "/virtualmachines/vm/" + sub + "?protocol=plain"
			if sub == "vnc" {
				raw = strings.TrimSuffix(raw, "?protocol=plain")
			}
			code := upgradeStatus(t, tokens[role], raw)
			got := code != http.StatusForbidden && code != http.StatusUnauthorized
			if got != allowed[role][sub] {
				t.Errorf("role %q GET %s: %d, want allowed=%v", role, sub, code, allowed[role][sub])
			}
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
