package e2e

import (
	"sort"
	"strings"
	"testing"
)

// TestDiscovery: kubectl finds every resource, and discovery advertises no
// subresource that is not served yet.
func TestDiscovery(t *testing.T) {
	env.DumpLogsOnFailure(t)
	out, err := env.Kubectl(t, "api-resources", "--api-group=hypersdk.io", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(out)
	sort.Strings(got)
	want := []string{"backupschedules.hypersdk.io", "budgets.hypersdk.io", "carbonscalingpolicies.hypersdk.io", "clusterhistories.hypersdk.io",
		"costreports.hypersdk.io", "dashboards.hypersdk.io", "idlevmpolicies.hypersdk.io", "placementpolicies.hypersdk.io", "rebalancepolicies.hypersdk.io", "virtualmachineautoscalers.hypersdk.io", "virtualmachines.hypersdk.io", "vmoperations.hypersdk.io"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("kubectl api-resources --api-group=hypersdk.io = %v, want %v", got, want)
	}

	out, err = env.Kubectl(t, "api-resources", "--api-group=hypersdk.io")
	if err != nil {
		t.Fatal(err)
	}
	for _, short := range []string{"hvm", "vmop", "csp", "vma", "bs"} {
		if !strings.Contains(out, " "+short+" ") {
			t.Errorf("short name %q missing from kubectl api-resources:\n%s", short, out)
		}
	}

	resources, err := env.Kube.Discovery().ServerResourcesForGroupVersion("hypersdk.io/v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range resources.APIResources {
		names = append(names, r.Name)
		// Every kind a user lists is in `kubectl get hypersdk`.
		if !strings.Contains(r.Name, "/") && r.Name != "clusterhistories" && r.Name != "costreports" && !contains(r.Categories, "hypersdk") {
			t.Errorf("%s categories = %v, want hypersdk", r.Name, r.Categories)
		}
	}
	sort.Strings(names)
	// Subresources of virtualmachines appear as each one starts to work.
	wantNames := "backupschedules backupschedules/status budgets budgets/status carbonscalingpolicies carbonscalingpolicies/status clusterhistories costreports dashboards idlevmpolicies idlevmpolicies/status placementpolicies rebalancepolicies rebalancepolicies/status " +
		"virtualmachineautoscalers virtualmachineautoscalers/status virtualmachines virtualmachines/attachusb virtualmachines/clone virtualmachines/console virtualmachines/cost " +
		"virtualmachines/detachusb virtualmachines/history virtualmachines/migrate virtualmachines/placement virtualmachines/recommendation virtualmachines/resize " +
		"virtualmachines/restart virtualmachines/restore virtualmachines/snapshot virtualmachines/start virtualmachines/stop virtualmachines/usbredir virtualmachines/vnc " +
		"vmoperations vmoperations/status"
	if strings.Join(names, " ") != wantNames {
		t.Errorf("discovery lists %v, want %s", names, wantNames)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
