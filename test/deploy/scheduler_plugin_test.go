package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/placementrecord"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/test/framework"
)

// TestVMPlacedByHyperSDKScheduler: artifacts/deploy/overlays/scheduler-plugin
// applied over the default install turns hypersdk-scheduler into the
// plugin build, running as its manifest says. A VM that chooses
// hypersdk-scheduler is then bound by the HyperSDKPlacement plugin with the
// decision recorded on its pod, and a pod that is not a VM's is bound by
// the default binder without one. A VM of higher priority preempts one of
// lower priority (the plugin counts the victims kube-scheduler's dry run
// removes). The default install is applied again afterwards.
func TestVMPlacedByHyperSDKScheduler(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if _, err := env.Kubectl(t, "apply", "--server-side", "--force-conflicts", "-k", filepath.Join(env.ArtifactsDir(), "deploy")); err != nil {
			t.Errorf("applying the default install again: %v", err)
		}
		if err := env.Kube.RbacV1().ClusterRoleBindings().Delete(ctx, "hypersdk:scheduler:placement", metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	})
	const overlay = "deploy/overlays/scheduler-plugin"
	if _, err := env.Kubectl(t, "apply", "--server-side", "--force-conflicts", "-k", filepath.Join(env.ArtifactsDir(), overlay)); err != nil {
		t.Fatal(err)
	}
	var w workload
	for _, x := range workloads(t, overlay) {
		if x.name == "hypersdk-scheduler" {
			w = x
		}
	}
	if len(w.template.Spec.Containers) != 1 {
		t.Fatalf("%s has no hypersdk-scheduler Deployment with one container", overlay)
	}
	image := w.template.Spec.Containers[0].Image
	// Every pod of the Deployment runs the plugin build (the old ones are
	// gone, so no kube-scheduler with the extender can take the lease).
	var pods []corev1.Pod
	framework.Eventually(t, fmt.Sprintf("%d ready hypersdk-scheduler pods running %s and no others", w.replicas, image), func(ctx context.Context) (bool, error) {
		all, err := env.Kube.CoreV1().Pods(w.namespace).List(ctx, metav1.ListOptions{
			LabelSelector: metav1.FormatLabelSelector(w.selector)})
		if err != nil {
			return false, err
		}
		for _, p := range all.Items {
			if p.Spec.Containers[0].Image != image {
				return false, fmt.Errorf("pod %s still runs %s", p.Name, p.Spec.Containers[0].Image)
			}
		}
		pods, err = readyPods(ctx, w)
		return len(pods) == int(w.replicas) && len(all.Items) == len(pods), err
	})
	for _, pod := range pods {
		checkContainer(t, &pod, w.template.Spec, w.template.Spec.Containers[0])
	}

	ns := env.Namespace(t, "plugin")
	vm := runningVM("plugin")
	vm.Spec.Template.Spec.SchedulerName = "hypersdk-scheduler"
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns}, Spec: corev1.PodSpec{
		SchedulerName: "hypersdk-scheduler",
		Containers:    []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}},
		Tolerations:   []corev1.Toleration{{Key: fleet.FakeNodeTaintKey, Operator: corev1.TolerationOpExists}},
		// A kwok node: the host node would try to run the image.
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpNotIn, Values: []string{sandbox.HostNodeName}}}}}}}},
	}}
	if _, err := env.Kube.CoreV1().Pods(ns).Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var launcher, bare corev1.Pod
	framework.Eventually(t, "the VM's pod and the plain pod bound", func(ctx context.Context) (bool, error) {
		list, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, p := range list.Items {
			if p.Name == plain.Name {
				bare = p
			} else {
				launcher = p
			}
		}
		if launcher.Spec.NodeName == "" || bare.Spec.NodeName == "" {
			return false, fmt.Errorf("VM's pod %q on %q (%s), plain pod on %q (%s)\nevents:\n%s", launcher.Name, launcher.Spec.NodeName,
				scheduledCondition(&launcher), bare.Spec.NodeName, scheduledCondition(&bare), events(ctx, ns))
		}
		return true, nil
	})
	d, ok, err := placementrecord.Decode(launcher.Annotations)
	if err != nil || !ok {
		t.Fatalf("the VM's pod carries no placement decision (%t, %v): not bound by HyperSDKPlacement", ok, err)
	}
	// The chosen node is among the recorded candidates (the default
	// plugins' scores add to the model's, so it need not be the model's
	// first).
	if d.Node != launcher.Spec.NodeName || !slices.ContainsFunc(d.Candidates, func(c v1alpha1.NodeScore) bool { return c.Node == d.Node }) {
		t.Errorf("decision %+v for a pod on %s: want that node among the candidates", d, launcher.Spec.NodeName)
	}
	if launcher.Spec.SchedulerName != "hypersdk-scheduler" || launcher.Spec.NodeName == sandbox.HostNodeName {
		t.Errorf("VM's pod scheduled by %q on %s, want hypersdk-scheduler on a fleet node", launcher.Spec.SchedulerName, launcher.Spec.NodeName)
	}
	if _, ok := bare.Annotations[placementrecord.Annotation]; ok {
		t.Errorf("the plain pod carries a placement decision: HyperSDKPlacement bound a pod that is not a VM's")
	}

	env.CheckVMPreemption(t, env.Namespace(t, "plugin-preempt"), "hypersdk-scheduler")
}
