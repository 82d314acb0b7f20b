// Package manifests checks what artifacts/deploy and the Dockerfile promise
// without a cluster, a registry or a container runtime: every layout renders,
// every pod is locked down and budgeted, every image HyperSDK ships has a
// Dockerfile target that builds a static binary and runs it the way the
// sandbox's host node runs it.
package manifests

import (
	"bufio"
	"debug/elf"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/pkg/sandbox"
	"github.com/hypersdk/hypersdk/test/framework"
)

// layouts are every kustomization a user may apply: HyperSDK's and the
// in-cluster dashboard's.
var layouts = []string{"artifacts/deploy", "artifacts/deploy/base", "artifacts/deploy/overlays/cert-manager",
	"artifacts/deploy/overlays/prometheus", "artifacts/deploy/overlays/ha", "artifacts/deploy/overlays/scheduler-plugin",
	"artifacts/deploy/overlays/ipv6", "artifacts/dashboard"}

type objects struct {
	pods     map[string]corev1.PodTemplateSpec // by workload name
	selector map[string]*metav1.LabelSelector
	pdbs     []policyv1.PodDisruptionBudget
	policies []networkingv1.NetworkPolicy
	classes  map[string]schedulingv1.PriorityClass
}

func render(t *testing.T, dir string) objects {
	t.Helper()
	bin, err := framework.ControlPlaneBinDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "kubectl"), "kustomize", filepath.Join(framework.RepoRoot(), dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, out)
	}
	objs := objects{pods: map[string]corev1.PodTemplateSpec{}, selector: map[string]*metav1.LabelSelector{},
		classes: map[string]schedulingv1.PriorityClass{}}
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var head metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "Deployment":
			var d appsv1.Deployment
			mustDecode(t, doc, &d)
			objs.pods[d.Name], objs.selector[d.Name] = d.Spec.Template, d.Spec.Selector
		case "StatefulSet":
			var s appsv1.StatefulSet
			mustDecode(t, doc, &s)
			objs.pods[s.Name], objs.selector[s.Name] = s.Spec.Template, s.Spec.Selector
		case "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet":
			t.Errorf("%s: a %s; the checks below know Deployments and StatefulSets", dir, head.Kind)
		case "PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			mustDecode(t, doc, &p)
			objs.pdbs = append(objs.pdbs, p)
		case "PriorityClass":
			var c schedulingv1.PriorityClass
			mustDecode(t, doc, &c)
			objs.classes[c.Name] = c
		case "NetworkPolicy":
			var p networkingv1.NetworkPolicy
			mustDecode(t, doc, &p)
			objs.policies = append(objs.policies, p)
		}
	}
	return objs
}

func mustDecode(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatal(err)
	}
}

// TestPodsAreLockedDown: in every layout, every container runs as non-root
// with a read-only root, no capabilities, no privilege escalation, the
// runtime's seccomp profile, requests and a memory limit; its image carries a
// tag set through kustomize; every workload has a disruption budget; and
// ingress is denied unless a NetworkPolicy allows it; every volume is mounted.
func TestPodsAreLockedDown(t *testing.T) {
	tagged := regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+$`)
	for _, dir := range layouts {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			if strings.HasPrefix(dir, "artifacts/deploy") && len(objs.pods) < 5 {
				t.Fatalf("%d workloads, want etcd, apiserver, controller, extender and scheduler", len(objs.pods))
			}
			for name, tmpl := range objs.pods {
				psc := tmpl.Spec.SecurityContext
				if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
					t.Errorf("%s: pod may run as root", name)
				}
				if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("%s: no RuntimeDefault seccomp profile", name)
				}
				for _, c := range tmpl.Spec.Containers {
					sc := c.SecurityContext
					switch {
					case sc == nil:
						t.Errorf("%s/%s: no security context", name, c.Name)
						continue
					case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
						t.Errorf("%s/%s: writable root file system", name, c.Name)
					case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
						t.Errorf("%s/%s: may escalate privileges", name, c.Name)
					case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
						t.Errorf("%s/%s: keeps capabilities", name, c.Name)
					}
					if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
						t.Errorf("%s/%s: no CPU and memory requests or no memory limit", name, c.Name)
					}
					if !tagged.MatchString(c.Image) || strings.HasSuffix(c.Image, ":latest") {
						t.Errorf("%s/%s: image %q has no pinned tag", name, c.Name, c.Image)
					}
				}
				if !budgeted(objs.pdbs, tmpl.Labels) {
					t.Errorf("%s: no PodDisruptionBudget selects its pods", name)
				}
				// A volume nobody mounts is a patch gone wrong (or a Secret
				// handed to a pod for nothing).
				mounted := map[string]bool{}
				for _, c := range append(tmpl.Spec.InitContainers, tmpl.Spec.Containers...) {
					for _, m := range c.VolumeMounts {
						mounted[m.Name] = true
					}
				}
				for _, v := range tmpl.Spec.Volumes {
					if !mounted[v.Name] {
						t.Errorf("%s: volume %s is mounted by no container", name, v.Name)
					}
				}
			}
			denyAll := slices.ContainsFunc(objs.policies, func(p networkingv1.NetworkPolicy) bool {
				return len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 &&
					slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && len(p.Spec.Ingress) == 0
			})
			if !denyAll {
				t.Error("no NetworkPolicy denies ingress by default")
			}
		})
	}
}

// TestPlainMetricsOnlyToScrapers: in every layout, the plain-HTTP metrics
// ports (the recorder's 8081, every VM's usage and cost; the controller's
// 8080) are open to Prometheus pods alone, never to every pod.
func TestPlainMetricsOnlyToScrapers(t *testing.T) {
	plain := map[int32]bool{8080: true, 8081: true}
	for _, dir := range layouts {
		t.Run(dir, func(t *testing.T) {
			opened := 0
			for _, p := range render(t, dir).policies {
				for _, rule := range p.Spec.Ingress {
					for _, port := range rule.Ports {
						if port.Port == nil || !plain[port.Port.IntVal] {
							continue
						}
						opened++
						scrapers := len(rule.From) > 0
						for _, peer := range rule.From {
							// Both: a pod label alone is any tenant's to give.
							scrapers = scrapers && peer.PodSelector != nil && peer.PodSelector.MatchLabels["app.kubernetes.io/name"] == "prometheus" &&
								peer.NamespaceSelector != nil && peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "" && peer.IPBlock == nil
						}
						if !scrapers {
							t.Errorf("NetworkPolicy %s opens port %d to %v, want Prometheus pods of one namespace alone", p.Name, port.Port.IntVal, rule.From)
						}
					}
				}
			}
			if strings.HasPrefix(dir, "artifacts/deploy") && opened == 0 {
				t.Error("no NetworkPolicy opens the metrics ports to Prometheus")
			}
		})
	}
}

// TestPodIPArgsParseOnTheirFamily: every argument that puts the pod's IP
// in an address parses the way its program reads it. HyperSDK's own
// programs take [$(POD_IP)]:port or a bare $(POD_IP), which read the same
// on both families; etcd reads its listen flags as URLs, which take an
// IPv6 address only in brackets and an IPv4 one only without, so they
// are checked on the layout's family (IPv6 in overlays/ipv6).
func TestPodIPArgsParseOnTheirFamily(t *testing.T) {
	v4, v6 := "10.0.0.7", "fd00::7"
	for _, dir := range layouts {
		t.Run(dir, func(t *testing.T) {
			family := v4
			if strings.HasSuffix(dir, "/ipv6") {
				family = v6
			}
			for name, pod := range render(t, dir).pods {
				for _, c := range pod.Spec.Containers {
					for _, arg := range slices.Concat(c.Command, c.Args) {
						flag, value, ok := strings.Cut(arg, "=")
						if !ok || !strings.Contains(value, "$(POD_IP)") {
							continue
						}
						families := []string{v4, v6}
						if strings.HasPrefix(flag, "--listen-") {
							families = []string{family}
						}
						for _, ip := range families {
							if err := podIPArg(flag, value, ip); err != nil {
								t.Errorf("%s/%s: %s with pod IP %s: %v", name, c.Name, arg, ip, err)
							}
						}
					}
				}
			}
		})
	}
}

// podIPArg parses value, with the pod IP ip, as its flag's program does:
// etcd's --listen-*-urls as URLs whose host is an IP, a value that is only
// the pod IP as one, and any other as host:port with an IP host
// (net.Listen's). Which it is comes from the manifest, not the expanded
// value: fd00::7:8080 is an IPv6 address too.
func podIPArg(flag, template, ip string) error {
	value := strings.ReplaceAll(template, "$(POD_IP)", ip)
	var hosts []string
	switch {
	case strings.HasPrefix(flag, "--listen-"):
		for _, raw := range strings.Split(value, ",") {
			u, err := url.Parse(raw)
			if err != nil {
				return err
			}
			host, _, err := net.SplitHostPort(u.Host)
			if err != nil {
				return err
			}
			hosts = append(hosts, host)
		}
	case template == "$(POD_IP)":
		hosts = append(hosts, value)
	default:
		host, _, err := net.SplitHostPort(value)
		if err != nil {
			return err
		}
		hosts = append(hosts, host)
	}
	for _, h := range hosts {
		if net.ParseIP(h) == nil {
			return fmt.Errorf("host %q is no IP", h)
		}
	}
	return nil
}

func budgeted(pdbs []policyv1.PodDisruptionBudget, podLabels map[string]string) bool {
	for _, p := range pdbs {
		if sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector); err == nil && sel.Matches(labels.Set(podLabels)) {
			return true
		}
	}
	return false
}

// highestUserDefinablePriority is the most a PriorityClass outside the
// system- classes may hold (kube-apiserver refuses more).
const highestUserDefinablePriority = 1000000000

// TestPodsArePreemptedLast: in every layout of artifacts/deploy, every pod
// runs at a priority class the layout itself ships, above the default
// priority (0) and below the cluster's own system classes, and that class
// is no one else's default.
func TestPodsArePreemptedLast(t *testing.T) {
	for _, dir := range layouts {
		if !strings.HasPrefix(dir, "artifacts/deploy") {
			continue
		}
		objs := render(t, dir)
		for name, pod := range objs.pods {
			class, ok := objs.classes[pod.Spec.PriorityClassName]
			switch {
			case pod.Spec.PriorityClassName == "":
				t.Errorf("%s: %s has no priority class", dir, name)
			case !ok:
				t.Errorf("%s: %s runs at priority class %q, which the layout does not ship", dir, name, pod.Spec.PriorityClassName)
			case class.Value <= 0 || class.Value > highestUserDefinablePriority:
				t.Errorf("%s: priority class %s has value %d, want above 0 and at most %d", dir, class.Name, class.Value, highestUserDefinablePriority)
			case class.GlobalDefault:
				t.Errorf("%s: priority class %s is the cluster's default", dir, class.Name)
			}
		}
	}
}

// target is one stage of the Dockerfile that makes an image.
type target struct {
	base, copyTo, user string
	entrypoint         []string
}

func dockerfileTargets(t *testing.T) map[string]*target {
	t.Helper()
	f, err := os.Open(filepath.Join(framework.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	targets := map[string]*target{}
	var cur *target
	from := regexp.MustCompile(`^FROM\s+(\S+)\s+AS\s+(\S+)$`)
	cp := regexp.MustCompile(`^COPY\s+--from=build\s+\S+\s+(\S+)$`)
	entry := regexp.MustCompile(`^ENTRYPOINT\s+\["([^"]+)"\]$`)
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if m := from.FindStringSubmatch(line); m != nil {
			cur = nil
			if m[2] != "build" {
				cur = &target{base: m[1]}
				targets[m[2]] = cur
			}
			continue
		}
		if cur == nil {
			continue
		}
		if m := cp.FindStringSubmatch(line); m != nil {
			cur.copyTo = m[1]
		} else if m := entry.FindStringSubmatch(line); m != nil {
			cur.entrypoint = []string{m[1]}
		} else if u, ok := strings.CutPrefix(line, "USER "); ok {
			cur.user = u
		}
	}
	return targets
}

// TestReplicasSpreadOverNodes: in every layout, every workload asks for
// its replicas on different nodes (a spread over kubernetes.io/hostname of
// its own pods), so two controllers, extenders, schedulers, API servers or
// etcd members do not all go down with one node. The disruption budgets
// guard against drains only.
func TestReplicasSpreadOverNodes(t *testing.T) {
	for _, dir := range layouts {
		objs := render(t, dir)
		for name, pod := range objs.pods {
			spread := slices.ContainsFunc(pod.Spec.TopologySpreadConstraints, func(c corev1.TopologySpreadConstraint) bool {
				if c.TopologyKey != corev1.LabelHostname || c.LabelSelector == nil {
					return false
				}
				sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
				return err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels))
			})
			if !spread {
				t.Errorf("%s: %s has no spread of its pods over kubernetes.io/hostname", dir, name)
			}
		}
	}
	// The HA layout's etcd members go one a node or not at all: two on one
	// node lose quorum with it. maxSkew 1 allows 2/1 over two nodes: only
	// minDomains of the member count keeps the third off them.
	for _, c := range render(t, "artifacts/deploy/overlays/ha").pods["hypersdk-etcd"].Spec.TopologySpreadConstraints {
		if c.TopologyKey == corev1.LabelHostname && (c.WhenUnsatisfiable != corev1.DoNotSchedule || c.MaxSkew != 1 || ptr.Deref(c.MinDomains, 1) < 3) {
			t.Errorf("ha: etcd members spread %s over nodes, maxSkew %d, minDomains %v; want %s, 1, 3",
				c.WhenUnsatisfiable, c.MaxSkew, ptr.Deref(c.MinDomains, 1), corev1.DoNotSchedule)
		}
	}
}

// TestImagesMatchTheDockerfile: every HyperSDK image the manifests run has
// a Dockerfile target on a distroless static base, as nonroot, whose binary
// and entrypoint are what the sandbox's host node runs for that image; and
// every such binary builds static (the base has no C library).
func TestImagesMatchTheDockerfile(t *testing.T) {
	targets := dockerfileTargets(t)
	images := sandbox.Images("/bin", "/cp")
	used := map[string]bool{}
	for _, dir := range layouts {
		for _, tmpl := range render(t, dir).pods {
			for _, c := range tmpl.Spec.Containers {
				repo, _, _ := strings.Cut(c.Image, ":")
				if _, ok := images[repo]; !ok {
					t.Errorf("%s: image %s is unknown to the sandbox's host node", dir, repo)
				}
				if strings.HasPrefix(repo, "ghcr.io/hypersdk/") {
					used[strings.TrimPrefix(repo, "ghcr.io/hypersdk/")] = true
				}
			}
		}
	}
	if len(used) != 5 {
		t.Errorf("HyperSDK images used: %v, want the apiserver's, the controller's, the extender's, the dashboard's and hypersdk-scheduler's", used)
	}
	// Built as the Dockerfile builds them (and as the tests' sandboxes do,
	// so the build cache serves them).
	tmp := t.TempDir()
	var pkgs []string
	for name := range used {
		pkgs = append(pkgs, "./cmd/"+name)
	}
	build := exec.Command("go", append([]string{"build", "-o", tmp + "/"}, pkgs...)...)
	build.Dir, build.Env = framework.RepoRoot(), append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %v as the Dockerfile does: %v\n%s", pkgs, err, msg)
	}
	for name := range used {
		tg, ok := targets[name]
		if !ok {
			t.Errorf("no Dockerfile target %s", name)
			continue
		}
		img := images["ghcr.io/hypersdk/"+name]
		if !strings.HasPrefix(tg.base, "gcr.io/distroless/static") || tg.user != "65532:65532" ||
			tg.copyTo != img.Path || !slices.Equal(tg.entrypoint, img.Entrypoint) || img.User != 65532 {
			t.Errorf("target %s = %+v; the sandbox runs it as %+v", name, tg, img)
		}
		if _, err := os.Stat(filepath.Join(framework.RepoRoot(), "cmd", name)); err != nil {
			t.Errorf("target %s has no cmd/%s", name, name)
		}
		if interp := interpreter(t, filepath.Join(tmp, name)); interp != "" {
			t.Errorf("%s needs %s, which a distroless static image lacks", name, interp)
		}
	}
}

// interpreter is the dynamic loader an executable asks for, "" when static.
func interpreter(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("the loader %s", strings.TrimRight(string(data), "\x00"))
		}
	}
	return ""
}
