package hostnode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"POD_IP": "198.18.0.2", "NAME": "etcd-0"}
	for in, want := range map[string]string{
		"--bind-address=$(POD_IP)":       "--bind-address=198.18.0.2",
		"$(NAME).svc:$(POD_IP)":          "etcd-0.svc:198.18.0.2",
		"$(UNSET) stays":                 "$(UNSET) stays",
		"$$(POD_IP) is escaped":          "$(POD_IP) is escaped",
		"a lone $ and $(unterminated":    "a lone $ and $(unterminated",
		"no variables at all":            "no variables at all",
		"$(POD_IP)$(POD_IP)":             "198.18.0.2198.18.0.2",
		"trailing $":                     "trailing $",
		"--x=$(POD_IP)/$$(NAME)/$(NAME)": "--x=198.18.0.2/$(NAME)/etcd-0",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestArgv(t *testing.T) {
	ours := Image{Path: "/hypersdk-apiserver", Entrypoint: []string{"/hypersdk-apiserver"}}
	etcd := Image{Path: "/usr/local/bin/etcd"}
	vars := map[string]string{"POD_IP": "198.18.0.2"}
	got, err := argv(&corev1.Container{Args: []string{"--bind-address=$(POD_IP)"}}, ours, vars)
	if err != nil || strings.Join(got, " ") != "/hypersdk-apiserver --bind-address=198.18.0.2" {
		t.Errorf("entrypoint and args = %q, %v", got, err)
	}
	got, err = argv(&corev1.Container{Command: []string{"etcd", "--name=x"}, Args: []string{"--y"}}, etcd, vars)
	if err != nil || strings.Join(got, " ") != "etcd --name=x --y" {
		t.Errorf("command found on the image's PATH = %q, %v", got, err)
	}
	if _, err := argv(&corev1.Container{Command: []string{"sh", "-c", "etcd"}}, etcd, vars); err == nil {
		t.Error("a command the image does not hold was accepted")
	}
	if _, err := argv(&corev1.Container{}, etcd, vars); err == nil {
		t.Error("no command and no entrypoint was accepted")
	}
}

func TestIdentity(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{
		RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532), FSGroup: ptr.To[int64](2000), RunAsNonRoot: ptr.To(true)}}}
	uid, gid, groups, err := identity(pod, &corev1.Container{}, Image{User: 0})
	if err != nil || uid != 65532 || gid != 65532 || len(groups) != 1 || groups[0] != 2000 {
		t.Errorf("identity = %d %d %v %v, want 65532 65532 [2000]", uid, gid, groups, err)
	}
	root := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}}}
	if _, _, _, err := identity(root, &corev1.Container{}, Image{User: 0}); err == nil {
		t.Error("runAsNonRoot with an image that runs as root was accepted")
	}
	c := &corev1.Container{SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000)}}
	if uid, gid, _, _ := identity(root, c, Image{}); uid != 1000 || gid != 1000 {
		t.Errorf("container's user = %d:%d, want 1000:1000", uid, gid)
	}
}

func TestHostsFile(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "etcd-0", Namespace: "sys"},
		Spec: corev1.PodSpec{Hostname: "etcd-0", Subdomain: "etcd"}, Status: corev1.PodStatus{PodIP: "198.18.0.5"}}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "etcd-1", Namespace: "sys"},
		Spec: corev1.PodSpec{Hostname: "etcd-1", Subdomain: "etcd"}, Status: corev1.PodStatus{PodIP: "198.18.0.6"}}
	services := []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "sys"}, Spec: corev1.ServiceSpec{ClusterIP: "127.100.0.9"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "etcd", Namespace: "sys"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}},
	}
	hosts := hostsFile(pod, services, []*corev1.Pod{pod, other})
	for _, want := range []string{
		"198.18.0.5\tetcd-0 etcd-0.etcd.sys.svc.cluster.local etcd-0.etcd.sys.svc\n",
		"127.100.0.9\tapi.sys.svc.cluster.local api.sys.svc api.sys\n",
		"198.18.0.6\tetcd-1.etcd.sys.svc.cluster.local etcd-1.etcd.sys.svc etcd.sys.svc\n",
	} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts lacks %q:\n%s", want, hosts)
		}
	}
}

func TestImageRepository(t *testing.T) {
	for in, want := range map[string]string{
		"ghcr.io/hypersdk/hypersdk-apiserver:v0.1.0": "ghcr.io/hypersdk/hypersdk-apiserver",
		"registry.k8s.io/etcd:3.7.0-0":               "registry.k8s.io/etcd",
		"localhost:5000/x@sha256:abc":                "localhost:5000/x",
		"localhost:5000/x":                           "localhost:5000/x",
	} {
		if got := imageRepository(in); got != want {
			t.Errorf("imageRepository(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteAtomically: files appear through ..data, a change swaps them all
// at once, and names no longer in the data go.
func TestWriteAtomically(t *testing.T) {
	dir := t.TempDir()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(data)
	}
	if err := writeAtomically(dir, map[string]file{"tls.crt": {[]byte("a"), 0o644}, "tls.key": {[]byte("b"), 0o600}}, nil); err != nil {
		t.Fatal(err)
	}
	first, _ := os.Readlink(filepath.Join(dir, "..data"))
	if read("tls.crt") != "a" || read("tls.key") != "b" {
		t.Fatalf("files after the first write: %q %q", read("tls.crt"), read("tls.key"))
	}
	if info, err := os.Stat(filepath.Join(dir, "tls.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("tls.key mode = %v, %v; want 0600", info.Mode(), err)
	}
	// The same content writes nothing.
	if err := writeAtomically(dir, map[string]file{"tls.crt": {[]byte("a"), 0o644}, "tls.key": {[]byte("b"), 0o600}}, nil); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != first {
		t.Errorf("unchanged content made a new version %s (was %s)", again, first)
	}
	if err := writeAtomically(dir, map[string]file{"tls.crt": {[]byte("c"), 0o644}}, nil); err != nil {
		t.Fatal(err)
	}
	if read("tls.crt") != "c" || !strings.HasPrefix(read("tls.key"), "<") {
		t.Errorf("after the change: tls.crt %q, tls.key %q; want c and gone", read("tls.crt"), read("tls.key"))
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("old version %s kept: %v", first, err)
	}
}
