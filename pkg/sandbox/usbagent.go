package sandbox

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/artifacts"
)

// usbAgentManifest is the DaemonSet that runs hypersdk-usb-agent on every
// node of a cluster, usbAgentRBAC its identity and rights, and
// usbAgentAdmission the policy that lets only hypersdk-controller list the
// devices it lends.
const (
	usbAgentManifest  = "deploy/components/usb-hotplug/daemonset.yaml"
	usbAgentRBAC      = "deploy/components/usb-hotplug/rbac.yaml"
	usbAgentAdmission = "deploy/components/usb-hotplug/admission.yaml"
)

// USBAgentArgs are hypersdk-usb-agent's arguments as the DaemonSet gives
// them, with the device source the sandbox's nodes need (their devices
// exist only in their labels) in place of the manifest's.
func USBAgentArgs() ([]string, error) {
	raw, err := artifacts.FS.ReadFile(usbAgentManifest)
	if err != nil {
		return nil, err
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(raw, &ds); err != nil {
		return nil, fmt.Errorf("reading %s: %w", usbAgentManifest, err)
	}
	if n := len(ds.Spec.Template.Spec.Containers); n != 1 {
		return nil, fmt.Errorf("%s: %d containers, want the agent alone", usbAgentManifest, n)
	}
	args := slices.DeleteFunc(slices.Clone(ds.Spec.Template.Spec.Containers[0].Args), func(a string) bool {
		return strings.HasPrefix(a, "--device-source=")
	})
	return append(args, "--device-source=simulated"), nil
}

// StartUSBAgent runs hypersdk-usb-agent for one node, as the DaemonSet's
// pod on it would (with its ServiceAccount and the manifest's arguments),
// until the returned stop is called.
func (sb *Sandbox) StartUSBAgent(ctx context.Context, node string) (stop func(), err error) {
	client, err := kubernetes.NewForConfig(sb.Admin)
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(sb.cfg.Dir, "hypersdk", "usb-agent.kubeconfig")
	if err := sb.writeServiceAccountKubeconfig(ctx, client, "hypersdk-usb-agent", kubeconfig); err != nil {
		return nil, err
	}
	args, err := USBAgentArgs()
	if err != nil {
		return nil, err
	}
	args = append(args, "--kubeconfig="+kubeconfig, "--node-name="+node, "--v=2")
	p, err := sb.supervise("hypersdk-usb-agent-"+node, filepath.Join(sb.cfg.BinDir, "hypersdk-usb-agent"), args)
	if err != nil {
		return nil, err
	}
	return func() { p.Stop(10 * time.Second) }, nil
}
