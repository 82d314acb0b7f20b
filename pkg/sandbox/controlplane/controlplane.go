// Package controlplane starts a real Kubernetes control plane on loopback:
// etcd, kube-apiserver (with front-proxy certificates for aggregation and
// RBAC), kube-controller-manager and kube-scheduler, from binaries built by
// hack/tools-bin.sh. It writes an admin kubeconfig and stops everything it
// started.
package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/pki"
	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
)

// Services get ClusterIPs in a loopback range, which the sandbox's host node
// (pkg/sandbox/hostnode) forwards like kube-proxy: on loopback no routing is
// needed, and nothing else on the machine uses 127.100/16.
const (
	ServiceCIDR         = "127.100.0.0/16"
	KubernetesServiceIP = "127.100.0.1"
)

// Config says where the binaries are and where the control plane keeps its
// files (certificates, etcd data, kubeconfigs, logs).
type Config struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager, kube-scheduler.
	BinDir string
	// Dir is the working directory; it is created if missing.
	Dir string
	// Scheduler starts kube-scheduler too.
	Scheduler bool
	// SchedulerConfig, when set, is passed to kube-scheduler with --config.
	SchedulerConfig string
	// StartTimeout bounds how long each component may take to become ready.
	StartTimeout time.Duration
	// Profiling serves /debug/pprof on kube-apiserver, kube-controller-manager
	// and kube-scheduler (to cluster-admin), for benchmarks that profile them.
	Profiling bool
}

// ControlPlane is a running control plane.
type ControlPlane struct {
	// AdminKubeconfig is the path of a kubeconfig with cluster-admin rights.
	AdminKubeconfig string
	// Admin is the REST config of that kubeconfig.
	Admin *rest.Config
	// EtcdURL is the client URL of etcd, shared with aggregated servers.
	EtcdURL string
	// ClusterCA signs client certificates kube-apiserver accepts.
	ClusterCA *pki.CA
	// LogDir holds one log file per process.
	LogDir string
	// SchedulerURL is kube-scheduler's secure port (self-signed certificate;
	// authenticates the admin client certificate), when it runs.
	SchedulerURL string

	cfg           Config
	procs         []*process.Process
	schedulerArgs []string // without --config
}

// Start brings up the control plane and returns when kube-apiserver is ready
// and the controllers run. On error it stops whatever it had started.
func Start(ctx context.Context, cfg Config) (_ *ControlPlane, err error) {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	for _, dir := range []string{cfg.Dir, filepath.Join(cfg.Dir, "pki"), filepath.Join(cfg.Dir, "logs")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	cp := &ControlPlane{cfg: cfg, LogDir: filepath.Join(cfg.Dir, "logs")}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	ports, err := process.FreePorts(6)
	if err != nil {
		return nil, fmt.Errorf("finding free ports: %w", err)
	}
	etcdClient, etcdPeer, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]

	files, err := cp.writePKI(apiPort)
	if err != nil {
		return nil, err
	}
	logger := klog.FromContext(ctx)

	// etcd. fsync is off: the data lives as long as the sandbox.
	cp.EtcdURL = "http://" + process.Addr(etcdClient)
	peerURL := "http://" + process.Addr(etcdPeer)
	if err := cp.start("etcd", []string{
		"--name=sandbox",
		"--data-dir=" + filepath.Join(cfg.Dir, "etcd"),
		"--listen-client-urls=" + cp.EtcdURL,
		"--advertise-client-urls=" + cp.EtcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=sandbox=" + peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
	}); err != nil {
		return nil, err
	}

	logger.V(1).Info("Starting kube-apiserver", "port", apiPort)
	if err := cp.start("kube-apiserver", []string{
		"--etcd-servers=" + cp.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + files.servingCert,
		"--tls-private-key-file=" + files.servingKey,
		"--client-ca-file=" + files.clusterCA,
		"--service-account-key-file=" + files.saPub,
		"--service-account-signing-key-file=" + files.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--allow-privileged=true",
		// The kubernetes Service cannot point at loopback; nothing here needs it.
		"--endpoint-reconciler-type=none",
		"--requestheader-client-ca-file=" + files.frontProxyCA,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + files.proxyClientCert,
		"--proxy-client-key-file=" + files.proxyClientKey,
		"--profiling=" + strconv.FormatBool(cfg.Profiling),
		"--v=1",
	}); err != nil {
		return nil, err
	}
	if err := cp.waitReady(ctx, "kube-apiserver", apiPort); err != nil {
		return nil, err
	}

	common := []string{
		"--kubeconfig=" + cp.AdminKubeconfig,
		"--authentication-kubeconfig=" + cp.AdminKubeconfig,
		"--authorization-kubeconfig=" + cp.AdminKubeconfig,
		"--bind-address=127.0.0.1",
		"--leader-elect=false",
		"--profiling=" + strconv.FormatBool(cfg.Profiling),
	}
	if err := cp.start("kube-controller-manager", append(common,
		"--secure-port="+strconv.Itoa(kcmPort),
		"--service-account-private-key-file="+files.saKey,
		"--root-ca-file="+files.clusterCA,
		"--cluster-signing-cert-file="+files.clusterCA,
		"--cluster-signing-key-file="+files.clusterCAKey,
		"--controllers=*",
		"--use-service-account-credentials=false",
		// kwok nodes answer no kubelet probes: do not evict their pods.
		"--node-monitor-grace-period=1h",
		// A quota made before its resource is monitored (custom resources
		// are discovered every 30 s) is counted at the next full sync,
		// 5 minutes by default: a sandbox wants it sooner.
		"--resource-quota-sync-period=15s",
	)); err != nil {
		return nil, err
	}
	if cfg.Scheduler {
		cp.schedulerArgs = append(common, "--secure-port="+strconv.Itoa(schedPort))
		cp.SchedulerURL = "https://" + process.Addr(schedPort)
		if err := cp.start("kube-scheduler", cp.withConfig(cfg.SchedulerConfig)); err != nil {
			return nil, err
		}
	}
	// Pods need their namespace's default ServiceAccount, which the
	// controller manager makes: wait for it, so callers may create pods.
	if err := cp.waitDefaultServiceAccount(ctx); err != nil {
		return nil, err
	}
	// And a scheduler to place them: one that exited (a configuration it
	// refuses, a port taken) fails the start here, naming its log, rather
	// than every pod staying Pending.
	if cfg.Scheduler {
		if err := cp.waitScheduler(ctx); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

type pkiFiles struct {
	clusterCA, clusterCAKey         string
	servingCert, servingKey         string
	frontProxyCA                    string
	proxyClientCert, proxyClientKey string
	saKey, saPub                    string
}

func (cp *ControlPlane) writePKI(apiPort int) (*pkiFiles, error) {
	dir := filepath.Join(cp.cfg.Dir, "pki")
	var f pkiFiles
	var err error
	if cp.ClusterCA, err = pki.NewCA("hypersdk-sandbox-ca"); err != nil {
		return nil, err
	}
	if f.clusterCA, err = cp.ClusterCA.WriteCA(dir, "ca"); err != nil {
		return nil, err
	}
	caKey := &pki.KeyPair{CertPEM: cp.ClusterCA.CertPEM()}
	if caKey.KeyPEM, err = pki.MarshalKey(cp.ClusterCA.Key); err != nil {
		return nil, err
	}
	if _, f.clusterCAKey, err = caKey.Write(dir, "ca-signing"); err != nil {
		return nil, err
	}
	serving, err := cp.ClusterCA.Issue(pki.Leaf{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(KubernetesServiceIP)},
		Server:     true,
	})
	if err != nil {
		return nil, err
	}
	if f.servingCert, f.servingKey, err = serving.Write(dir, "apiserver"); err != nil {
		return nil, err
	}
	frontProxyCA, err := pki.NewCA("hypersdk-sandbox-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	if f.frontProxyCA, err = frontProxyCA.WriteCA(dir, "front-proxy-ca"); err != nil {
		return nil, err
	}
	proxyClient, err := frontProxyCA.Issue(pki.Leaf{CommonName: "front-proxy-client", Client: true})
	if err != nil {
		return nil, err
	}
	if f.proxyClientCert, f.proxyClientKey, err = proxyClient.Write(dir, "front-proxy-client"); err != nil {
		return nil, err
	}
	if f.saKey, f.saPub, err = pki.WriteServiceAccountKeys(dir); err != nil {
		return nil, err
	}
	admin, err := cp.ClusterCA.Issue(pki.Leaf{CommonName: "sandbox-admin", Organization: []string{"system:masters"}, Client: true})
	if err != nil {
		return nil, err
	}
	server := "https://" + process.Addr(apiPort)
	cp.AdminKubeconfig = AdminKubeconfigPath(cp.cfg.Dir)
	if err := WriteKubeconfig(cp.AdminKubeconfig, server, cp.ClusterCA.CertPEM(), &clientcmdapi.AuthInfo{
		ClientCertificateData: admin.CertPEM,
		ClientKeyData:         admin.KeyPEM,
	}); err != nil {
		return nil, err
	}
	if cp.Admin, err = clientcmd.BuildConfigFromFlags("", cp.AdminKubeconfig); err != nil {
		return nil, err
	}
	return &f, nil
}

// WriteKubeconfig writes a kubeconfig with one cluster, user and context.
func WriteKubeconfig(path, server string, caPEM []byte, user *clientcmdapi.AuthInfo) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["sandbox"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["sandbox"] = user
	cfg.Contexts["sandbox"] = &clientcmdapi.Context{Cluster: "sandbox", AuthInfo: "sandbox"}
	cfg.CurrentContext = "sandbox"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

func (cp *ControlPlane) start(name string, args []string) error {
	p, err := process.Start(name, cp.LogDir, filepath.Join(cp.cfg.BinDir, name), args, nil)
	if err != nil {
		return err
	}
	cp.procs = append(cp.procs, p)
	return nil
}

func (cp *ControlPlane) withConfig(schedulerConfig string) []string {
	args := append([]string(nil), cp.schedulerArgs...)
	if schedulerConfig != "" {
		args = append(args, "--config="+schedulerConfig)
	}
	return args
}

// RestartScheduler stops kube-scheduler and starts it again with the
// configuration file schedulerConfig (kube-scheduler's defaults when empty),
// and returns once it is ready: its informers have synced.
func (cp *ControlPlane) RestartScheduler(ctx context.Context, schedulerConfig string) error {
	return cp.RestartSchedulerAs(ctx, filepath.Join(cp.cfg.BinDir, "kube-scheduler"), schedulerConfig)
}

// RestartSchedulerAs is RestartScheduler with another build of
// kube-scheduler (hypersdk-scheduler), given its own extra flags; it keeps
// the name kube-scheduler for its process and log.
func (cp *ControlPlane) RestartSchedulerAs(ctx context.Context, binary, schedulerConfig string, extraArgs ...string) error {
	old := cp.proc("kube-scheduler")
	if old == nil {
		return errors.New("kube-scheduler is not running")
	}
	old.Stop(10 * time.Second)
	for i, p := range cp.procs {
		if p == old {
			cp.procs = append(cp.procs[:i], cp.procs[i+1:]...)
			break
		}
	}
	p, err := process.Start("kube-scheduler", cp.LogDir, binary, append(cp.withConfig(schedulerConfig), extraArgs...), nil)
	if err != nil {
		return err
	}
	cp.procs = append(cp.procs, p)
	return cp.waitScheduler(ctx)
}

// waitScheduler waits, at most StartTimeout, for kube-scheduler's /readyz.
func (cp *ControlPlane) waitScheduler(ctx context.Context) error {
	// /readyz is open to anyone; the certificate is self-signed.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, cp.cfg.StartTimeout)
	defer cancel()
	return cp.proc("kube-scheduler").WaitFor(ctx, "/readyz", func(ctx context.Context) error {
		return process.GetOK(ctx, client, cp.SchedulerURL+"/readyz")
	})
}

func (cp *ControlPlane) proc(name string) *process.Process {
	for _, p := range cp.procs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (cp *ControlPlane) waitReady(ctx context.Context, name string, port int) error {
	client, err := kubernetes.NewForConfig(cp.Admin)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cp.cfg.StartTimeout)
	defer cancel()
	return cp.proc(name).WaitFor(ctx, "/readyz", func(ctx context.Context) error {
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

func (cp *ControlPlane) waitDefaultServiceAccount(ctx context.Context) error {
	client, err := kubernetes.NewForConfig(cp.Admin)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cp.cfg.StartTimeout)
	defer cancel()
	return cp.proc("kube-controller-manager").WaitFor(ctx, "the default ServiceAccount", func(ctx context.Context) error {
		_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return errors.New("default ServiceAccount not created yet")
		}
		return err
	})
}

// Stop ends every process: the controllers together, then kube-apiserver,
// then etcd, so nothing loses its server while it shuts down.
func (cp *ControlPlane) Stop() {
	var controllers, rest []*process.Process
	for _, p := range cp.procs {
		if p.Name == "kube-controller-manager" || p.Name == "kube-scheduler" {
			controllers = append(controllers, p)
		} else {
			rest = append(rest, p)
		}
	}
	process.StopAll(controllers, 10*time.Second)
	for i := len(rest) - 1; i >= 0; i-- {
		rest[i].Stop(10 * time.Second)
	}
	cp.procs = nil
}

// AdminKubeconfigPath is where Start writes the admin kubeconfig in dir, so
// callers can point configuration files at it before the control plane runs.
func AdminKubeconfigPath(dir string) string { return filepath.Join(dir, "kubeconfig") }
