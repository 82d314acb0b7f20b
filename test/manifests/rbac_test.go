package manifests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/test/framework"
)

// TestAPIServerWritesOnlyVMs: hypersdk-apiserver is the network-facing
// component; it writes KubeVirt's VirtualMachines (the VM view) and asks
// SubjectAccessReviews, and reads everything else (hypersdk-controller
// carries out the operations). Write rights on more, snapshots say, would
// let a compromised server delete every VM's backups.
func TestAPIServerWritesOnlyVMs(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(framework.RepoRoot(), "artifacts", "rbac", "apiserver-rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writes := []string{"create", "update", "patch", "delete", "deletecollection", "*"}
	allowed := map[string]bool{"kubevirt.io/virtualmachines": true, "authorization.k8s.io/subjectaccessreviews": true}
	found := false
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
			t.Fatal(err)
		}
		if role.Kind != "ClusterRole" || role.Name != "hypersdk:apiserver" {
			continue
		}
		found = true
		for _, rule := range role.Rules {
			if !slices.ContainsFunc(rule.Verbs, func(v string) bool { return slices.Contains(writes, v) }) {
				continue
			}
			for _, g := range rule.APIGroups {
				for _, r := range rule.Resources {
					if !allowed[g+"/"+r] {
						t.Errorf("hypersdk:apiserver may %v %s in group %q", rule.Verbs, r, g)
					}
				}
			}
		}
	}
	if !found {
		t.Fatal("no ClusterRole hypersdk:apiserver in artifacts/rbac/apiserver-rbac.yaml")
	}
}
