package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/autoscaler"
	"github.com/hypersdk/hypersdk/pkg/carbonscaler"
	"github.com/hypersdk/hypersdk/pkg/pki"
	"github.com/hypersdk/hypersdk/pkg/placementrecord"
	"github.com/hypersdk/hypersdk/pkg/sandbox"
	"github.com/hypersdk/hypersdk/test/framework"
)

const system = "hypersdk-system"

// rendered is `kubectl kustomize artifacts/<dir>`, the workloads of it.
func rendered(t *testing.T, dir string) (deployments []appsv1.Deployment, statefulSets []appsv1.StatefulSet) {
	t.Helper()
	out, err := env.Kubectl(t, "kustomize", filepath.Join(env.ArtifactsDir(), dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(out, "\n---\n") {
		var head metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict([]byte(doc), &d); err != nil {
				t.Fatal(err)
			}
			deployments = append(deployments, d)
		case "StatefulSet":
			var s appsv1.StatefulSet
			if err := yaml.UnmarshalStrict([]byte(doc), &s); err != nil {
				t.Fatal(err)
			}
			statefulSets = append(statefulSets, s)
		}
	}
	return deployments, statefulSets
}

// workload is the pod template of a Deployment or StatefulSet, its
// namespace, its selector and its replicas.
type workload struct {
	name, namespace string
	template        corev1.PodTemplateSpec
	selector        *metav1.LabelSelector
	replicas        int32
}

// workloads are those of artifacts/<dir>.
func workloads(t *testing.T, dir string) []workload {
	t.Helper()
	deployments, statefulSets := rendered(t, dir)
	var out []workload
	for _, d := range deployments {
		out = append(out, workload{d.Name, d.Namespace, d.Spec.Template, d.Spec.Selector, ptr.Deref(d.Spec.Replicas, 1)})
	}
	for _, s := range statefulSets {
		out = append(out, workload{s.Name, s.Namespace, s.Spec.Template, s.Spec.Selector, ptr.Deref(s.Spec.Replicas, 1)})
	}
	return out
}

func readyPods(ctx context.Context, w workload) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(w.selector)
	if err != nil {
		return nil, err
	}
	pods, err := env.Kube.CoreV1().Pods(w.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var ready []corev1.Pod
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				ready = append(ready, p)
			}
		}
	}
	return ready, nil
}

// TestComponentsRunAsWritten: every container of every workload in
// artifacts/deploy runs, on the host node, as a process whose command line,
// environment, user, mounts and root file system are exactly the manifest's,
// read from the running process itself (/proc), not from the node's records.
func TestComponentsRunAsWritten(t *testing.T) {
	env.DumpLogsOnFailure(t)
	all := workloads(t, "deploy")
	if len(all) < 5 {
		t.Fatalf("artifacts/deploy has %d workloads, want etcd, apiserver, controller, extender and scheduler", len(all))
	}
	for _, w := range all {
		t.Run(w.name, func(t *testing.T) {
			var pods []corev1.Pod
			framework.Eventually(t, fmt.Sprintf("%d ready pods of %s", w.replicas, w.name), func(ctx context.Context) (bool, error) {
				var err error
				pods, err = readyPods(ctx, w)
				return len(pods) == int(w.replicas), err
			})
			for _, pod := range pods {
				if pod.Spec.NodeName != sandbox.HostNodeName {
					t.Errorf("pod %s runs on %s, not on the host node", pod.Name, pod.Spec.NodeName)
				}
				for _, c := range w.template.Spec.Containers {
					checkContainer(t, &pod, w.template.Spec, c)
				}
			}
		})
	}
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkContainer compares the running process of container c in pod with
// the manifest's container.
func checkContainer(t *testing.T, pod *corev1.Pod, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	var pid int
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == c.Name && cs.State.Running != nil {
			pid, _ = strconv.Atoi(strings.TrimPrefix(cs.ContainerID, "sandbox://"))
		}
	}
	if pid == 0 {
		t.Fatalf("%s/%s: not running", pod.Name, c.Name)
	}
	// The manifest's environment, resolved as kubelet resolves it.
	want := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			want[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			want[e.Name] = pod.Name
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP":
			want[e.Name] = pod.Status.PodIP
		default:
			t.Fatalf("%s: env %s has a source this test does not resolve", c.Name, e.Name)
		}
	}
	expand := func(s string) string {
		return varRef.ReplaceAllStringFunc(s, func(ref string) string {
			if v, ok := want[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref
		})
	}
	argv := slices.Clone(c.Command)
	if len(argv) == 0 {
		// Our images' entrypoint is the binary at /<image name>.
		argv = []string{"/" + imageName(c.Image)}
	}
	argv = append(argv, c.Args...)
	for i := range argv {
		argv[i] = expand(argv[i])
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00"); !slices.Equal(got, argv) {
		t.Errorf("%s/%s runs\n  %q\nwant\n  %q", pod.Name, c.Name, got, argv)
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range strings.Split(string(environ), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			got[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s/%s: env %s=%q, want %q", pod.Name, c.Name, k, got[k], v)
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	uid := ptr.Deref(spec.SecurityContext.RunAsUser, -1)
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		uid = *c.SecurityContext.RunAsUser
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^Uid:\s+%d\s+%d\s+%d\s+%d$`, uid, uid, uid, uid)).Match(status) {
		t.Errorf("%s/%s does not run as user %d:\n%s", pod.Name, c.Name, uid, status)
	}
	if !regexp.MustCompile(`(?m)^CapEff:\s+0+$`).Match(status) || !regexp.MustCompile(`(?m)^NoNewPrivs:\s+1$`).Match(status) {
		t.Errorf("%s/%s keeps capabilities or may gain privileges:\n%s", pod.Name, c.Name, status)
	}
	mountinfo, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	mounts := map[string]string{} // mount point -> options
	for _, line := range strings.Split(string(mountinfo), "\n") {
		if f := strings.Fields(line); len(f) > 5 {
			mounts[f[4]] = f[5]
		}
	}
	if opts := mounts["/"]; !strings.HasPrefix(opts, "ro") {
		t.Errorf("%s/%s: root file system mounted %q, want read-only", pod.Name, c.Name, opts)
	}
	for _, m := range c.VolumeMounts {
		opts, ok := mounts[m.MountPath]
		if !ok {
			t.Errorf("%s/%s: nothing mounted at %s", pod.Name, c.Name, m.MountPath)
			continue
		}
		if m.ReadOnly && !strings.HasPrefix(opts, "ro") {
			t.Errorf("%s/%s: %s mounted %q, want read-only", pod.Name, c.Name, m.MountPath, opts)
		}
	}
}

func imageName(image string) string {
	name := image[strings.LastIndex(image, "/")+1:]
	name, _, _ = strings.Cut(name, ":")
	return name
}

// TestAPIServiceThroughTheManifests: kube-apiserver reaches hypersdk.io
// through the manifests' own ClusterIP Service, verifying the serving
// certificate with the caBundle the certificates controller set from the CA
// it made.
func TestAPIServiceThroughTheManifests(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	svc, err := env.Kube.CoreV1().Services(system).Get(ctx, "hypersdk-apiserver", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.ClusterIP == "" {
		t.Errorf("Service hypersdk-apiserver is %s %q, want the manifests' ClusterIP Service", svc.Spec.Type, svc.Spec.ClusterIP)
	}
	out, err := env.Kubectl(t, "get", "apiservice", "v1alpha1.hypersdk.io", "-o", "jsonpath={.spec.caBundle}")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := env.Kube.CoreV1().Secrets(system).Get(ctx, "hypersdk-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if bundle := string(ca.Data["ca.crt"]); out == "" || !strings.Contains(bundle, "BEGIN CERTIFICATE") {
		t.Fatalf("APIService caBundle %q / CA Secret %q: want both set", out, bundle)
	}
	if _, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachines("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing VMs through kube-apiserver: %v", err)
	}
	if _, err := env.Kubectl(t, "wait", "--for=condition=Available", "--timeout=60s", "apiservice/v1alpha1.hypersdk.io"); err != nil {
		t.Error(err)
	}
}

// TestVMPlacedThroughTheExtenderOverTLS: a VM that chooses hypersdk-scheduler
// is placed by it through the extender, over TLS with kube-scheduler's client
// certificate; without one the extender refuses to filter.
func TestVMPlacedThroughTheExtenderOverTLS(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()

	// The extender's Service, reached as kube-scheduler reaches it, but with
	// no client certificate: its health is open, filtering is refused. The
	// scheduler treats the extender as ignorable (a VM still starts when it
	// is down, and placement-audit reports it), so the VM below is created
	// only once the extender answers through its Service.
	svc, err := env.Kube.CoreV1().Services(system).Get(ctx, "hypersdk-scheduler-extender", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + svc.Spec.ClusterIP + ":443"
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // only the refusal is checked
	}}}
	framework.Eventually(t, "the extender ready through its Service", func(ctx context.Context) (bool, error) {
		resp, err := hc.Get(base + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("/readyz: %s", resp.Status)
	})
	resp, err := hc.Post(base+"/filter", "application/json", bytes.NewReader([]byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("filter without a client certificate: %s, want 401", resp.Status)
	}
	// HyperSDK's CA signs other client certificates than kube-scheduler's;
	// one with another name may not bind.
	caSecret, err := env.Kube.CoreV1().Secrets(system).Get(ctx, "hypersdk-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadCA(caSecret.Data[corev1.TLSCertKey], caSecret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	someone, err := ca.Issue(pki.Leaf{CommonName: "someone-else", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(someone.CertPEM, someone.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	other := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // only the refusal is checked
		Certificates:       []tls.Certificate{pair},
	}}}
	if resp, err = other.Post(base+"/bind", "application/json", bytes.NewReader([]byte("{}"))); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("bind with a certificate of HyperSDK's CA for someone-else: %s, want 403", resp.Status)
	}
	// Plain HTTP is not served.
	if resp, err := http.Get("http://" + svc.Spec.ClusterIP + ":443/readyz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("the extender answers plain HTTP")
	}

	ns := env.Namespace(t, "placed")
	vm := runningVM("placed")
	vm.Spec.Template.Spec.SchedulerName = "hypersdk-scheduler"
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, framework.Timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) == 0 {
			return false, nil
		}
		pod = pods.Items[0]
		return pod.Spec.NodeName != "", nil
	})
	if err != nil || pod.Annotations[placementrecord.Annotation] == "" {
		t.Fatalf("the VM's pod was not placed by the extender: node %q, placement decision %t, %s\nevents:\n%s\nscheduler log lines about the extender:\n%s",
			pod.Spec.NodeName, pod.Annotations[placementrecord.Annotation] != "", scheduledCondition(&pod), events(ctx, ns), schedulerExtenderLog(t))
	}
	if pod.Spec.SchedulerName != "hypersdk-scheduler" || pod.Spec.NodeName == sandbox.HostNodeName {
		t.Errorf("pod scheduled by %q on %s, want hypersdk-scheduler on a fleet node", pod.Spec.SchedulerName, pod.Spec.NodeName)
	}
}

// TestEtcdLetsInOnlyItsOwnClients: etcd trusts every client certificate
// its CA signed, so that CA signs only hypersdk-apiserver's and etcd's own:
// kube-scheduler's certificate, of HyperSDK's CA, is refused by etcd, and
// the API server's is let in.
func TestEtcdLetsInOnlyItsOwnClients(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	svc, err := env.Kube.CoreV1().Services(system).Get(ctx, "hypersdk-etcd-client", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + net.JoinHostPort(svc.Spec.ClusterIP, "2379") + "/version"
	clientOf := func(secret string) *http.Client {
		s, err := env.Kube.CoreV1().Secrets(system).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
		if err != nil {
			t.Fatal(err)
		}
		etcdCA, err := env.Kube.CoreV1().Secrets(system).Get(ctx, "hypersdk-etcd-client-tls", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(etcdCA.Data["ca.crt"]) {
			t.Fatal("hypersdk-etcd-client-tls has no ca.crt")
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, ServerName: "hypersdk-etcd-client.hypersdk-system.svc", Certificates: []tls.Certificate{pair},
		}}}
	}
	apiserver := clientOf("hypersdk-etcd-client-tls")
	framework.Eventually(t, "etcd answering hypersdk-apiserver's certificate through its Service", func(ctx context.Context) (bool, error) {
		resp, err := apiserver.Get(url)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("/version: %s", resp.Status)
	})
	resp, err := clientOf("hypersdk-scheduler-client-tls").Get(url)
	if err == nil {
		resp.Body.Close()
		t.Errorf("etcd answered kube-scheduler's certificate: %s, want the handshake refused", resp.Status)
	}
}

// scheduledCondition is the pod's PodScheduled condition, for a failure.
func scheduledCondition(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return fmt.Sprintf("PodScheduled=%s %s: %s", c.Status, c.Reason, c.Message)
		}
	}
	return "no PodScheduled condition"
}

// events lists a namespace's events, for a failure.
func events(ctx context.Context, ns string) string {
	list, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range list.Items {
		fmt.Fprintf(&b, "  %s %s/%s %s: %s\n", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
	}
	return b.String()
}

// schedulerExtenderLog is every line of the hypersdk-scheduler containers'
// logs that mentions the extender, for a failure.
func schedulerExtenderLog(t *testing.T) string {
	logs, _ := filepath.Glob(filepath.Join(env.ControlPlane.LogDir, system+"_hypersdk-scheduler-*_kube-scheduler.log"))
	var b strings.Builder
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Log(err)
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(strings.ToLower(line), "extender") {
				fmt.Fprintf(&b, "  %s: %s\n", filepath.Base(l), line)
			}
		}
	}
	return b.String()
}

func runningVM(name string) *kvv1.VirtualMachine {
	return &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kvv1.VirtualMachineSpec{
			RunStrategy: ptr.To(kvv1.RunStrategyAlways),
			Template: &kvv1.VirtualMachineInstanceTemplateSpec{Spec: kvv1.VirtualMachineInstanceSpec{
				Domain: kvv1.DomainSpec{CPU: &kvv1.CPU{Cores: 1}, Memory: &kvv1.Memory{Guest: ptr.To(resource.MustParse("1Gi"))}},
				Volumes: []kvv1.Volume{{Name: "rootdisk", VolumeSource: kvv1.VolumeSource{
					ContainerDisk: &kvv1.ContainerDiskSource{Image: "quay.io/containerdisks/fedora:41"}}}},
			}},
		},
	}
}

// TestHistoryRecordedByTheController: the recorder beside hypersdk-apiserver
// (hypersdk-controller --controllers=recorder, as the manifest runs it)
// writes the SQLite file on the pod's claim, history answers from it, and
// the shipped controller's VM autoscaler reads it.
func TestHistoryRecordedByTheController(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "history")
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Create(ctx, runningVM("recorded"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The manifest records once a minute: wait for two ticks at most.
	var last string
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		body, err := env.HyperSDK.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").
			Name("recorded").SubResource("history").
			Param("timeRange", "1h").Param("step", "1m").Param("fields", "memoryAllocated").DoRaw(ctx)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		var h v1alpha1.VirtualMachineHistory
		if err := yaml.Unmarshal(body, &h); err != nil {
			return false, err
		}
		for _, s := range h.Series {
			for _, p := range s.Points {
				if p.Value > 0 {
					return true, nil
				}
			}
		}
		last = string(body)
		return false, nil
	})
	if err != nil {
		t.Fatalf("no recorded history for the VM: %v (last answer: %.300s)", err, last)
	}

	// The shipped controller runs the VM autoscaler with its RBAC: it reads
	// that history and says in the status what it made of it.
	vma := &v1alpha1.VirtualMachineAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "recorded"},
		Spec: v1alpha1.VirtualMachineAutoscalerSpec{TargetRef: v1alpha1.AutoscalerTargetRef{Kind: "VirtualMachine", Name: "recorded"}}}
	if _, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Create(ctx, vma, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var cond *metav1.Condition
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := env.HyperSDK.HypersdkV1alpha1().VirtualMachineAutoscalers(ns).Get(ctx, "recorded", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		cond = meta.FindStatusCondition(got.Status.Conditions, autoscaler.ConditionRecommendationProvided)
		return cond != nil && len(got.Status.VirtualMachines) == 1, nil
	})
	if err != nil {
		t.Fatalf("the autoscaler was not evaluated: %v", err)
	}
	// With the simulator's usage it recommends; without usage samples it
	// says so. Anything else (a refused history read, a missing VM) fails.
	if cond.Reason != "Recommended" && cond.Reason != "NoUsageSamples" {
		t.Errorf("autoscaler condition %s: %s: %s", cond.Type, cond.Reason, cond.Message)
	}
}

// TestCarbonScalingPolicyActedOnAsDeployed: the shipped controller runs
// the carbon scaler (it runs every default controller but the recorder).
// The CarbonScalingPolicy example is evaluated: its status says whether
// the intensity it needs could be read (the shipped install names no
// source), and when it was.
func TestCarbonScalingPolicyActedOnAsDeployed(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	var policy v1alpha1.CarbonScalingPolicy
	framework.DecodeExample(t, "carbon-scaling-policy", &policy)
	policy.Name = "deploy-carbon-scaling"
	policies := env.HyperSDK.HypersdkV1alpha1().CarbonScalingPolicies()
	if _, err := policies.Create(ctx, &policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = policies.Delete(context.Background(), policy.Name, metav1.DeleteOptions{}) })
	// The shipped interval is a minute: wait for two passes at most.
	var last *v1alpha1.CarbonScalingPolicy
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		last, err = policies.Get(ctx, policy.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return last.Status.ObservedGeneration == last.Generation && meta.FindStatusCondition(last.Status.Conditions, carbonscaler.ConditionReady) != nil, nil
	})
	if err != nil {
		t.Fatalf("the carbon scaling policy was never evaluated: %v; status %+v", err, last.Status)
	}
	// The shipped install names no carbon intensity source: the policy
	// must say it has none, not look evaluated.
	if last.Status.LastEvaluated == nil {
		capping := meta.FindStatusCondition(last.Status.Conditions, carbonscaler.ConditionCapping)
		ready := meta.FindStatusCondition(last.Status.Conditions, carbonscaler.ConditionReady)
		if capping == nil || capping.Status != metav1.ConditionUnknown || ready.Status != metav1.ConditionFalse ||
			!strings.Contains(ready.Message, "--carbon-provider") {
			t.Errorf("no intensity read, yet Ready %+v and Capping %+v: want Ready False naming --carbon-provider, Capping Unknown", ready, capping)
		}
	}
}

// TestStateSurvivesDeletingTheServerAndItsStore: VMOperations and
// PlacementPolicies are in etcd on a PersistentVolumeClaim; deleting the pods
// of hypersdk-apiserver and of etcd (their StatefulSets make new ones) loses
// neither.
func TestStateSurvivesDeletingTheServerAndItsStore(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "survive")
	if _, err := env.KubeVirt.KubevirtV1().VirtualMachines(ns).Create(ctx, runningVM("kept"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	policy, err := env.HyperSDK.HypersdkV1alpha1().PlacementPolicies().Create(ctx, &v1alpha1.PlacementPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "survivor-" + ns},
		Spec:       v1alpha1.PlacementPolicySpec{CarbonWeight: ptr.To[int32](70)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.HyperSDK.HypersdkV1alpha1().PlacementPolicies().Delete(context.Background(), policy.Name, metav1.DeleteOptions{})
	})
	var op *v1alpha1.VMOperation
	framework.Eventually(t, "a snapshot operation accepted", func(ctx context.Context) (bool, error) {
		op, err = env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Create(ctx, &v1alpha1.VMOperation{
			ObjectMeta: metav1.ObjectMeta{Name: "kept-snapshot"},
			Spec:       v1alpha1.VMOperationSpec{VMName: "kept", Type: v1alpha1.VMOperationSnapshot},
		}, metav1.CreateOptions{})
		return err == nil, err
	})

	// Delete every pod of the server and of its store; their workloads make
	// new ones, which mount the same claims.
	old := map[string]bool{}
	for _, app := range []string{"hypersdk-apiserver", "hypersdk-etcd"} {
		sel := "app.kubernetes.io/name=" + app
		pods, err := env.Kube.CoreV1().Pods(system).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil || len(pods.Items) == 0 {
			t.Fatalf("pods of %s: %d, %v", app, len(pods.Items), err)
		}
		for _, p := range pods.Items {
			old[string(p.UID)] = true
		}
		if err := env.Kube.CoreV1().Pods(system).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil {
			t.Fatal(err)
		}
	}
	framework.Eventually(t, "new pods of the server and of etcd, ready", func(ctx context.Context) (bool, error) {
		for _, app := range []string{"hypersdk-apiserver", "hypersdk-etcd"} {
			pods, err := env.Kube.CoreV1().Pods(system).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + app})
			if err != nil || len(pods.Items) != 1 {
				return false, err
			}
			if p := &pods.Items[0]; old[string(p.UID)] || !ready(p) {
				return false, nil
			}
		}
		return true, nil
	})
	if err := env.WaitAPIServiceAvailable(ctx, "v1alpha1.hypersdk.io"); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "the operation and the policy after the restart", func(ctx context.Context) (bool, error) {
		got, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).Get(ctx, op.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if got.UID != op.UID || got.Spec.Requester == nil || got.Spec.Requester.Username != op.Spec.Requester.Username {
			return false, fmt.Errorf("operation after restart: %+v", got)
		}
		p, err := env.HyperSDK.HypersdkV1alpha1().PlacementPolicies().Get(ctx, policy.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return p.UID == policy.UID && ptr.Deref(p.Spec.CarbonWeight, 0) == 70, nil
	})
}

func ready(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestOverlaysDryRun: kube-apiserver accepts the base, the default install
// and every overlay (with cert-manager's and prometheus-operator's CRDs
// installed, as those overlays need) in a server-side dry run.
func TestOverlaysDryRun(t *testing.T) {
	env.DumpLogsOnFailure(t)
	crds, err := framework.ThirdPartyCRDs()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kubectl(t, "apply", "--server-side", "-f", crds); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "crd/certificates.cert-manager.io",
		"crd/issuers.cert-manager.io", "crd/servicemonitors.monitoring.coreos.com"); err != nil {
		t.Fatal(err)
	}
	deploy := filepath.Join(env.ArtifactsDir(), "deploy")
	for _, dir := range []string{"base", ".", "overlays/cert-manager", "overlays/prometheus", "overlays/ha", "overlays/scheduler-plugin", "overlays/ipv6"} {
		t.Run(dir, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(env.ControlPlaneBin, "kubectl"), "--kubeconfig="+env.Kubeconfig,
				"apply", "--dry-run=server", "--server-side", "--force-conflicts", "-k", filepath.Join(deploy, dir))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server -k %s: %v\n%s", dir, err, out)
			}
			if !strings.Contains(string(out), "(server dry run)") {
				t.Errorf("no server dry run reported:\n%s", out)
			}
		})
	}
}
