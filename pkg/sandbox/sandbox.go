// Package sandbox brings up HyperSDK on a real local control plane: the
// control plane itself, KubeVirt's CRDs and HyperSDK's RBAC from artifacts/,
// and hypersdk-apiserver behind kube-apiserver's aggregation layer with real
// certificates. Tests and `make run` use it; Stop ends every process it began.
package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/artifacts"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/controlplane"
	"github.com/hypersdk/hypersdk/pkg/sandbox/pki"
	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
)

const (
	systemNamespace = "hypersdk-system"
	apiServerName   = "hypersdk-apiserver"
	apiServiceName  = "v1alpha1.hypersdk.io"
)

// Config of a sandbox.
type Config struct {
	// ControlPlaneBinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kubectl (see hack/tools-bin.sh).
	ControlPlaneBinDir string
	// BinDir holds HyperSDK's binaries (hypersdk-apiserver, ...).
	BinDir string
	// Dir is the working directory. What an earlier sandbox left there is
	// removed first.
	Dir string
	// StartTimeout bounds each start-up step.
	StartTimeout time.Duration
	// Nodes is the size of the simulated fleet.
	Nodes int
	// VMs is how many demo VMs to start.
	VMs int
	// Seed varies the demo VMs' sizes and load profiles.
	Seed int64
}

// Sandbox is a running sandbox.
type Sandbox struct {
	// Kubeconfig is the admin kubeconfig's path.
	Kubeconfig string
	// Admin is the admin REST config.
	Admin *rest.Config
	// ControlPlane is the Kubernetes control plane underneath.
	ControlPlane *controlplane.ControlPlane

	cfg       Config
	procs     []*process.Process // everything started beside the control plane
	apiCA     []byte
	apiServer *process.Process
	apiArgs   []string
	apiPort   int
}

// Start brings up the sandbox. On error it stops whatever it had started.
func Start(ctx context.Context, cfg Config) (_ *Sandbox, err error) {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 3 * time.Minute
	}
	if err := clean(cfg.Dir); err != nil {
		return nil, err
	}
	logger := klog.FromContext(ctx)
	cp, err := controlplane.Start(ctx, controlplane.Config{
		BinDir:       cfg.ControlPlaneBinDir,
		Dir:          cfg.Dir,
		Scheduler:    true,
		StartTimeout: cfg.StartTimeout,
	})
	if err != nil {
		return nil, err
	}
	sb := &Sandbox{Kubeconfig: cp.AdminKubeconfig, Admin: cp.Admin, ControlPlane: cp, cfg: cfg}
	defer func() {
		if err != nil {
			sb.Stop()
		}
	}()
	logger.Info("Control plane ready", "kubeconfig", sb.Kubeconfig)

	if err := sb.installArtifacts(ctx); err != nil {
		return nil, err
	}
	if err := sb.startAPIServer(ctx); err != nil {
		return nil, err
	}
	logger.Info("hypersdk.io API available")

	client, err := kubernetes.NewForConfig(sb.Admin)
	if err != nil {
		return nil, err
	}
	kv, err := kubevirt.NewClientset(sb.Admin)
	if err != nil {
		return nil, err
	}
	if err := sb.startKwok(); err != nil {
		return nil, err
	}
	if err := sb.createNodes(ctx, client); err != nil {
		return nil, err
	}
	if err := sb.startSimulator(); err != nil {
		return nil, err
	}
	if err := sb.waitNodesSchedulable(ctx, client); err != nil {
		return nil, err
	}
	logger.Info("Nodes ready", "nodes", cfg.Nodes)
	if err := sb.createDemoVMs(ctx, client, kv); err != nil {
		return nil, err
	}
	logger.Info("Demo VMs running", "vms", cfg.VMs)
	return sb, nil
}

// clean removes what an earlier sandbox left in dir, and only that.
func clean(dir string) error {
	for _, name := range []string{"etcd", "pki", "logs", "kubeconfig", "artifacts", "hypersdk"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return os.MkdirAll(dir, 0o755)
}

// Kubectl runs the control plane's kubectl with the admin kubeconfig.
func (sb *Sandbox) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(sb.cfg.ControlPlaneBinDir, "kubectl"),
		append([]string{"--kubeconfig=" + sb.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("kubectl %v: %w: %s", args, err, out)
	}
	return out, nil
}

// installArtifacts applies artifacts/sandbox, exactly as embedded, and waits
// for the CRDs to be served.
func (sb *Sandbox) installArtifacts(ctx context.Context) error {
	dir := filepath.Join(sb.cfg.Dir, "artifacts")
	if err := os.CopyFS(dir, artifacts.FS); err != nil {
		return fmt.Errorf("writing artifacts: %w", err)
	}
	if _, err := sb.Kubectl(ctx, "apply", "--server-side", "-k", filepath.Join(dir, "sandbox")); err != nil {
		return err
	}
	_, err := sb.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=120s",
		"crd", "-l", "app.kubernetes.io/part-of=hypersdk-sandbox")
	return err
}

func (sb *Sandbox) startAPIServer(ctx context.Context) error {
	dir := filepath.Join(sb.cfg.Dir, "hypersdk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The aggregator checks the serving certificate against
	// <service>.<namespace>.svc, whatever address it dials.
	ca, err := pki.NewCA("hypersdk-apiserver-ca")
	if err != nil {
		return err
	}
	serving, err := ca.Issue(pki.Leaf{
		CommonName: apiServerName,
		DNSNames: []string{apiServerName + "." + systemNamespace + ".svc", apiServerName + "." + systemNamespace + ".svc.cluster.local",
			"localhost"},
		IPs:    []net.IP{net.ParseIP("127.0.0.1")},
		Server: true,
	})
	if err != nil {
		return err
	}
	certFile, keyFile, err := serving.Write(dir, "apiserver-serving")
	if err != nil {
		return err
	}

	// The server runs with its own ServiceAccount's token, so the RBAC in
	// artifacts/ is what it really gets.
	client, err := kubernetes.NewForConfig(sb.Admin)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "apiserver.kubeconfig")
	if err := sb.writeServiceAccountKubeconfig(ctx, client, apiServerName, kubeconfig); err != nil {
		return err
	}
	ports, err := process.FreePorts(1)
	if err != nil {
		return err
	}
	sb.apiPort = ports[0]
	sb.apiArgs = []string{
		"--secure-port=" + strconv.Itoa(sb.apiPort),
		"--bind-address=127.0.0.1",
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		"--etcd-servers=" + sb.ControlPlane.EtcdURL,
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--profiling=false",
		"--v=2",
	}
	if err := sb.runAPIServer(); err != nil {
		return err
	}
	sb.apiCA = ca.CertPEM()
	if err := sb.register(ctx, client, sb.apiCA); err != nil {
		return err
	}
	return sb.waitAvailable(ctx)
}

func (sb *Sandbox) runAPIServer() error {
	p, err := process.Start(apiServerName, sb.ControlPlane.LogDir, filepath.Join(sb.cfg.BinDir, apiServerName), sb.apiArgs, nil)
	if err != nil {
		return err
	}
	sb.apiServer = p
	sb.procs = append(sb.procs, p)
	return nil
}

// RestartAPIServer kills hypersdk-apiserver and starts it again, waiting
// until the aggregated API is available once more.
func (sb *Sandbox) RestartAPIServer(ctx context.Context) error {
	sb.apiServer.Kill()
	if err := sb.runAPIServer(); err != nil {
		return err
	}
	return sb.waitAvailable(ctx)
}

func (sb *Sandbox) writeServiceAccountKubeconfig(ctx context.Context, client kubernetes.Interface, name, path string) error {
	var token string
	err := process.Poll(ctx, sb.cfg.StartTimeout, func(ctx context.Context) error {
		tr, err := client.CoreV1().ServiceAccounts(systemNamespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](7 * 24 * 3600)},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		token = tr.Status.Token
		return nil
	})
	if err != nil {
		return fmt.Errorf("token for ServiceAccount %s/%s: %w", systemNamespace, name, err)
	}
	return controlplane.WriteKubeconfig(path, sb.Admin.Host, sb.Admin.CAData, &clientcmdapi.AuthInfo{Token: token})
}

// register points the APIService at the server: an ExternalName Service
// resolves to localhost, so no kube-proxy is needed.
func (sb *Sandbox) register(ctx context.Context, client kubernetes.Interface, caBundle []byte) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: apiServerName, Namespace: systemNamespace},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports:        []corev1.ServicePort{{Name: "https", Port: int32(sb.apiPort)}},
		},
	}
	if _, err := client.CoreV1().Services(systemNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Service %s: %w", apiServerName, err)
	}
	agg, err := aggregator.NewForConfig(sb.Admin)
	if err != nil {
		return err
	}
	apiService := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: apiServiceName},
		Spec: apiregistrationv1.APIServiceSpec{
			Group:                "hypersdk.io",
			Version:              "v1alpha1",
			GroupPriorityMinimum: 1000,
			VersionPriority:      15,
			CABundle:             caBundle,
			Service: &apiregistrationv1.ServiceReference{
				Namespace: systemNamespace,
				Name:      apiServerName,
				Port:      ptr.To(int32(sb.apiPort)),
			},
		},
	}
	if _, err := agg.ApiregistrationV1().APIServices().Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating APIService %s: %w", apiServiceName, err)
	}
	return nil
}

// waitAvailable waits until the server itself is ready and kube-apiserver
// sees it Available, so a request through the aggregator reaches it.
func (sb *Sandbox) waitAvailable(ctx context.Context) error {
	agg, err := aggregator.NewForConfig(sb.Admin)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sb.cfg.StartTimeout)
	defer cancel()
	direct := &rest.Config{Host: "https://" + process.Addr(sb.apiPort), TLSClientConfig: rest.TLSClientConfig{CAData: sb.apiCA}}
	transport, err := rest.TransportFor(direct)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	if err := sb.apiServer.WaitFor(ctx, "/readyz", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, direct.Host+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	}); err != nil {
		return err
	}
	return sb.apiServer.WaitFor(ctx, "APIService "+apiServiceName+" Available", func(ctx context.Context) error {
		svc, err := agg.ApiregistrationV1().APIServices().Get(ctx, apiServiceName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return err
		}
		if err != nil {
			return err
		}
		for _, c := range svc.Status.Conditions {
			if c.Type == apiregistrationv1.Available {
				if c.Status == apiregistrationv1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("%s: %s", c.Reason, c.Message)
			}
		}
		return fmt.Errorf("no Available condition yet")
	})
}

// Stop ends every process of the sandbox: its own first, all at once, then
// the control plane.
func (sb *Sandbox) Stop() {
	process.StopAll(sb.procs, 10*time.Second)
	sb.procs = nil
	sb.ControlPlane.Stop()
}
