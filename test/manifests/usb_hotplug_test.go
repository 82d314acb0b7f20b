package manifests

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/pkg/sandbox"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestUSBHotplugComponent: the opt-in USB hot-plug layout renders the
// default install plus hypersdk-usb-agent on every node, told its node by
// the downward API, with a pinned image the Dockerfile builds (on Debian,
// for usbredirect) and rights limited to what it does; the agent accepts
// the manifest's arguments, which are the ones the sandbox runs it with
// (but the device source).
func TestUSBHotplugComponent(t *testing.T) {
	bin, err := framework.ControlPlaneBinDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "kubectl"), "kustomize",
		filepath.Join(framework.RepoRoot(), "artifacts/deploy/overlays/usb-hotplug")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	var ds *appsv1.DaemonSet
	var role *rbacv1.ClusterRole
	deployments := 0
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var head metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatal(err)
		}
		switch {
		case head.Kind == "DaemonSet":
			ds = &appsv1.DaemonSet{}
			mustDecode(t, doc, ds)
		case head.Kind == "Deployment":
			deployments++
		case head.Kind == "ClusterRole" && strings.Contains(doc, "name: hypersdk:usb-agent"):
			role = &rbacv1.ClusterRole{}
			mustDecode(t, doc, role)
		}
	}
	if ds == nil || role == nil || deployments == 0 {
		t.Fatalf("rendered DaemonSet %v, agent ClusterRole %v, %d Deployments: want the default install and the agent", ds != nil, role != nil, deployments)
	}
	pod := ds.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != "ghcr.io/hypersdk/hypersdk-usb-agent:v0.1.0" {
		t.Errorf("agent image %q, want the pinned release tag", c.Image)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName"
	}) {
		t.Error("the agent is not told its node through the downward API")
	}
	if pod.ServiceAccountName != "hypersdk-usb-agent" {
		t.Errorf("service account %q", pod.ServiceAccountName)
	}
	for _, r := range role.Rules {
		if slices.ContainsFunc(r.Verbs, func(v string) bool { return v == "*" || v == "create" || v == "delete" || v == "update" }) ||
			slices.Contains(r.Resources, "*") {
			t.Errorf("the agent's role grants more than it needs: %+v", r)
		}
	}
	tg, ok := dockerfileTargets(t)["hypersdk-usb-agent"]
	if !ok || tg.copyTo != "/hypersdk-usb-agent" || !slices.Equal(tg.entrypoint, []string{"/hypersdk-usb-agent"}) || !strings.HasPrefix(tg.base, "debian:") {
		t.Errorf("Dockerfile target hypersdk-usb-agent = %+v", tg)
	}

	sandboxArgs, err := sandbox.USBAgentArgs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Args {
		if !strings.HasPrefix(a, "--device-source=") && !slices.Contains(sandboxArgs, a) {
			t.Errorf("the sandbox runs the agent without the manifest's %s", a)
		}
	}
	agent := filepath.Join(t.TempDir(), "hypersdk-usb-agent")
	if msg, err := exec.Command("go", "build", "-o", agent, filepath.Join(framework.RepoRoot(), "cmd/hypersdk-usb-agent")).CombinedOutput(); err != nil {
		t.Fatalf("building the agent: %v\n%s", err, msg)
	}
	// With every flag accepted, the agent stops at its missing node name.
	msg, err := exec.Command(agent, append(c.Args, "--node-name=")...).CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "--node-name (or $NODE_NAME) is required") {
		t.Errorf("the agent with the manifest's arguments: %v: %s", err, msg)
	}
}
