// Package sandbox brings up HyperSDK on a real local control plane: the
// control plane itself, KubeVirt's CRDs and HyperSDK's RBAC from artifacts/,
// and hypersdk-apiserver behind kube-apiserver's aggregation layer with real
// certificates. Tests and `make run` use it; Stop ends every process it began.
package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/artifacts"
	"github.com/hypersdk/hypersdk/pkg/carbonflags"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/pki"
	"github.com/hypersdk/hypersdk/pkg/sandbox/controlplane"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/pkg/sandbox/hostnode"
	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
	"github.com/hypersdk/hypersdk/pkg/sandbox/simclock"
)

// DefaultSimStart is where simulated time starts: a date every shipped carbon
// trace covers.
var DefaultSimStart = time.Date(2022, time.June, 1, 0, 0, 0, 0, time.UTC)

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
	// Speed is how many simulated seconds pass per real second.
	Speed float64
	// SimStart is the simulated time at start-up, within the carbon traces.
	SimStart time.Time
	// CarbonDir holds the Electricity Maps hourly traces replayed per zone
	// (shared/data/carbon); no replay when empty.
	CarbonDir string
	// StepDelay is how long one simulated migration or hotplug step takes;
	// the simulator's default when zero.
	StepDelay time.Duration
	// RecordInterval is the history recorder's interval; 10s when zero.
	RecordInterval time.Duration
	// Profiling serves /debug/pprof on the Kubernetes components, the
	// extender and hypersdk-apiserver.
	Profiling bool
	// Deploy runs HyperSDK as artifacts/deploy describes it (kubectl apply
	// -k), its pods run by a host node of the sandbox (pkg/sandbox/hostnode),
	// instead of starting its servers as processes with the sandbox's flags.
	Deploy bool
}

// Sandbox is a running sandbox.
type Sandbox struct {
	// Kubeconfig is the admin kubeconfig's path.
	Kubeconfig string
	// Admin is the admin REST config.
	Admin *rest.Config
	// ControlPlane is the Kubernetes control plane underneath.
	ControlPlane *controlplane.ControlPlane

	// SimClock is the simulated time of carbon and load traces.
	SimClock simclock.Clock
	// HostNode runs the pods of artifacts/deploy, with Config.Deploy.
	HostNode *hostnode.Node

	cfg        Config
	procs      []*process.Process    // started beside the control plane, not restarted (kwok)
	supervised []*process.Supervised // HyperSDK's own: restarted when they exit
	logger     klog.Logger
	stop       context.CancelFunc // ends the in-process loops
	loops      sync.WaitGroup
	apiServer  *aggregated
	simulator  *aggregated
	controller *process.Supervised
	ctrlArgs   []string

	apiServerArgs []string // as first started, before RestartAPIServer's extras

	extender     *process.Supervised
	extenderArgs []string
	extenderPort int
	extenderTLS  *extenderTLS
	metricsPort  int // hypersdk-controller's /metrics
}

// Validate returns what is wrong with the configuration, before anything
// starts: a negative fleet panics once the control plane is up, and a zone
// without a trace for the year leaves its nodes without a carbon intensity
// for the sandbox's whole life.
func (cfg Config) Validate() error {
	var errs []error
	if cfg.Nodes < 0 || cfg.VMs < 0 {
		errs = append(errs, fmt.Errorf("nodes (%d) and VMs (%d) must not be negative", cfg.Nodes, cfg.VMs))
	}
	if cfg.Speed < 0 {
		errs = append(errs, fmt.Errorf("speed %g: simulated time cannot run backwards", cfg.Speed))
	}
	if cfg.StartTimeout < 0 {
		errs = append(errs, fmt.Errorf("start timeout %s must not be negative", cfg.StartTimeout))
	}
	if cfg.CarbonDir != "" {
		year := cmp.Or(cfg.SimStart, DefaultSimStart).Year()
		for _, zone := range fleet.Zones {
			path := filepath.Join(cfg.CarbonDir, fmt.Sprintf("%s_%d_hourly.csv", zone, year))
			if _, err := os.Stat(path); err != nil {
				errs = append(errs, fmt.Errorf("no carbon trace of zone %s for %d, the simulated start's year: %w", zone, year, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Start brings up the sandbox. On error it stops whatever it had started.
func Start(ctx context.Context, cfg Config) (_ *Sandbox, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sandbox configuration: %w", err)
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 3 * time.Minute
	}
	if err := clean(cfg.Dir); err != nil {
		return nil, err
	}
	logger := klog.FromContext(ctx)
	if cfg.SimStart.IsZero() {
		cfg.SimStart = DefaultSimStart
	}
	if cfg.RecordInterval == 0 {
		cfg.RecordInterval = 10 * time.Second
	}
	// Both servers start long after this (the extender's port goes into the
	// scheduler's configuration first).
	ports, err := process.ReservedPorts(2)
	if err != nil {
		return nil, err
	}
	sb := &Sandbox{cfg: cfg, extenderPort: ports[0], metricsPort: ports[1], logger: logger}
	if sb.extenderTLS, err = sb.writeExtenderTLS(); err != nil {
		return nil, err
	}
	// kube-scheduler calls the extender, which starts later: it is
	// ignorable, so nothing waits on it meanwhile. In a deployment, VMs
	// choose hypersdk-scheduler instead.
	var schedulerConfig string
	if !cfg.Deploy {
		if schedulerConfig, err = sb.writeSchedulerConfig(controlplane.AdminKubeconfigPath(cfg.Dir)); err != nil {
			return nil, err
		}
	}
	cp, err := controlplane.Start(ctx, controlplane.Config{
		BinDir:          cfg.ControlPlaneBinDir,
		Dir:             cfg.Dir,
		Scheduler:       true,
		SchedulerConfig: schedulerConfig,
		StartTimeout:    cfg.StartTimeout,
		Profiling:       cfg.Profiling,
	})
	if err != nil {
		return nil, err
	}
	sb.Kubeconfig, sb.Admin, sb.ControlPlane = cp.AdminKubeconfig, cp.Admin, cp
	sb.SimClock = simclock.Clock{Epoch: time.Now(), Start: cfg.SimStart, Speed: cfg.Speed}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sb.stop = cancel
	defer func() {
		if err != nil {
			sb.Stop()
		}
	}()
	logger.Info("Control plane ready", "kubeconfig", sb.Kubeconfig)

	if err := sb.installArtifacts(ctx); err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(sb.Admin)
	if err != nil {
		return nil, err
	}
	if cfg.Deploy {
		if err := sb.startDeployment(ctx, loopCtx, client); err != nil {
			return nil, err
		}
		logger.Info("hypersdk.io API available, from artifacts/deploy")
	} else {
		if err := sb.startAPIServer(ctx); err != nil {
			return nil, err
		}
		logger.Info("hypersdk.io API available")
	}
	kv, err := kubevirt.NewClientset(sb.Admin)
	if err != nil {
		return nil, err
	}
	if err := sb.startKwok(); err != nil {
		return nil, err
	}
	if err := sb.createNodes(ctx); err != nil {
		return nil, err
	}
	if err := sb.startSimulator(ctx); err != nil {
		return nil, err
	}
	if !cfg.Deploy {
		if err := sb.startExtender(ctx, client); err != nil {
			return nil, err
		}
		if err := sb.startController(ctx, client); err != nil {
			return nil, err
		}
	}
	if err := sb.waitNodesSchedulable(ctx, client); err != nil {
		return nil, err
	}
	logger.Info("Nodes ready", "nodes", cfg.Nodes)
	if cfg.CarbonDir != "" {
		// The same replay the components get from carbonArgs.
		provider, err := carbonflags.TraceReplay(cfg.CarbonDir, sb.SimClock.Start, sb.SimClock.Epoch, sb.SimClock.Speed)
		if err != nil {
			return nil, err
		}
		sb.loops.Add(1)
		go func() {
			defer sb.loops.Done()
			publishCarbon(loopCtx, client, provider)
		}()
	}
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
	return sb.kubectl(ctx, sb.Kubeconfig, args...)
}

func (sb *Sandbox) kubectl(ctx context.Context, kubeconfig string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(sb.cfg.ControlPlaneBinDir, "kubectl"),
		append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("kubectl %v: %w: %s", args, err, out)
	}
	return out, nil
}

// installArtifacts applies artifacts/sandbox (or, for a deployment, only
// the KubeVirt CRDs of artifacts/kubevirt: artifacts/deploy brings the rest),
// exactly as embedded, and waits for the CRDs to be served.
func (sb *Sandbox) installArtifacts(ctx context.Context) error {
	dir := sb.ArtifactsDir()
	if err := os.CopyFS(dir, artifacts.FS); err != nil {
		return fmt.Errorf("writing artifacts: %w", err)
	}
	tree := "sandbox"
	if sb.cfg.Deploy {
		tree = "kubevirt"
	}
	if _, err := sb.Kubectl(ctx, "apply", "--server-side", "-k", filepath.Join(dir, tree)); err != nil {
		return err
	}
	if _, err := sb.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=120s",
		"crd", "-l", "app.kubernetes.io/part-of=hypersdk-sandbox"); err != nil {
		return err
	}
	if !sb.cfg.Deploy {
		// The USB agent is opt-in (a component); tests start it per node.
		for _, f := range []string{usbAgentRBAC, usbAgentAdmission} {
			if _, err := sb.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(dir, f)); err != nil {
				return err
			}
		}
	}
	_, err := sb.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(dir, "sandbox", "kubevirt-cr.yaml"))
	return err
}

// StartPeerCluster brings up a second control plane (etcd and
// kube-apiserver, no nodes) with KubeVirt's CRDs, named name, for what
// works across clusters such as backup replication. The caller stops it.
func (sb *Sandbox) StartPeerCluster(ctx context.Context, name string) (*controlplane.ControlPlane, error) {
	cp, err := controlplane.Start(ctx, controlplane.Config{BinDir: sb.cfg.ControlPlaneBinDir,
		Dir: filepath.Join(sb.cfg.Dir, "peers", name), StartTimeout: sb.cfg.StartTimeout})
	if err != nil {
		return nil, fmt.Errorf("starting peer cluster %s: %w", name, err)
	}
	if _, err = sb.kubectl(ctx, cp.AdminKubeconfig, "apply", "--server-side", "-k", filepath.Join(sb.ArtifactsDir(), "kubevirt")); err == nil {
		_, err = sb.kubectl(ctx, cp.AdminKubeconfig, "wait", "--for=condition=Established", "--timeout=120s",
			"crd", "-l", "app.kubernetes.io/part-of=hypersdk-sandbox")
	}
	if err != nil {
		cp.Stop()
		return nil, fmt.Errorf("installing KubeVirt's CRDs on peer cluster %s: %w", name, err)
	}
	return cp, nil
}

// ArtifactsDir holds a copy of artifacts/, as embedded in the binary.
func (sb *Sandbox) ArtifactsDir() string { return filepath.Join(sb.cfg.Dir, "artifacts") }

// aggregated is a server of ours behind kube-apiserver's aggregation layer.
type aggregated struct {
	name        string // process, Service and certificate name
	bin         string
	args        []string
	port        int
	ca          []byte
	apiServices []string
	proc        *process.Supervised
}

// newAggregated prepares a server's serving certificate (from a fresh CA, for
// <name>.hypersdk-system.svc, which the aggregator checks) and port.
func (sb *Sandbox) newAggregated(name, bin string) (*aggregated, string, string, error) {
	dir := filepath.Join(sb.cfg.Dir, "hypersdk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", "", err
	}
	ca, err := pki.NewCA(name + "-ca")
	if err != nil {
		return nil, "", "", err
	}
	serving, err := ca.Issue(pki.Leaf{
		CommonName: name,
		DNSNames:   []string{name + "." + systemNamespace + ".svc", name + "." + systemNamespace + ".svc.cluster.local", "localhost"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1")},
		Server:     true,
	})
	if err != nil {
		return nil, "", "", err
	}
	certFile, keyFile, err := serving.Write(dir, name+"-serving")
	if err != nil {
		return nil, "", "", err
	}
	ports, err := process.FreePorts(1)
	if err != nil {
		return nil, "", "", err
	}
	return &aggregated{name: name, bin: filepath.Join(sb.cfg.BinDir, bin), port: ports[0], ca: ca.CertPEM()}, certFile, keyFile, nil
}

func (sb *Sandbox) startAPIServer(ctx context.Context) error {
	a, certFile, keyFile, err := sb.newAggregated(apiServerName, apiServerName)
	if err != nil {
		return err
	}
	// The server runs with its own ServiceAccount's token, so the RBAC in
	// artifacts/ is what it really gets.
	client, err := kubernetes.NewForConfig(sb.Admin)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(sb.cfg.Dir, "hypersdk", "apiserver.kubeconfig")
	if err := sb.writeServiceAccountKubeconfig(ctx, client, apiServerName, kubeconfig); err != nil {
		return err
	}
	a.args = []string{
		"--secure-port=" + strconv.Itoa(a.port),
		"--bind-address=127.0.0.1",
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		"--etcd-servers=" + sb.ControlPlane.EtcdURL,
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--history-db=" + sb.HistoryDB(),
		"--profiling=" + strconv.FormatBool(sb.cfg.Profiling),
		"--v=2",
	}
	a.args = append(a.args, sb.carbonArgs()...)
	a.apiServices = []string{"v1alpha1.hypersdk.io", "v1beta1.custom.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io",
		"v1beta1.external.metrics.k8s.io"}
	sb.apiServer = a
	return sb.startAggregated(ctx, client, a)
}

// startSimulator runs the KubeVirt simulator, which also serves
// metrics.k8s.io and subresources.kubevirt.io, with admin rights: it plays
// KubeVirt and metrics-server.
func (sb *Sandbox) startSimulator(ctx context.Context) error {
	a, certFile, keyFile, err := sb.newAggregated("kubevirt-simulator", "hypersdk-kubevirt-simulator")
	if err != nil {
		return err
	}
	a.args = []string{
		"--kubeconfig=" + sb.Kubeconfig,
		"--secure-port=" + strconv.Itoa(a.port),
		"--bind-address=127.0.0.1",
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		"--sim-epoch=" + sb.SimClock.Epoch.Format(time.RFC3339Nano),
		"--sim-start=" + sb.SimClock.Start.Format(time.RFC3339),
		"--speed=" + strconv.FormatFloat(sb.SimClock.Speed, 'f', -1, 64),
		"--v=1",
	}
	if sb.cfg.StepDelay > 0 {
		a.args = append(a.args, "--step-delay="+sb.cfg.StepDelay.String())
	}
	a.apiServices = []string{"v1beta1.metrics.k8s.io", "v1.subresources.kubevirt.io"}
	client, err := kubernetes.NewForConfig(sb.Admin)
	if err != nil {
		return err
	}
	sb.simulator = a
	return sb.startAggregated(ctx, client, a)
}

// SimulatorConfig reaches the simulator's own server directly, bypassing
// kube-apiserver, with the admin's client certificate: for benchmarks that
// compare against the aggregated path.
func (sb *Sandbox) SimulatorConfig() *rest.Config { return sb.directConfig(sb.simulator) }

func (sb *Sandbox) startAggregated(ctx context.Context, client kubernetes.Interface, a *aggregated) error {
	if err := sb.run(a); err != nil {
		return err
	}
	if err := sb.register(ctx, client, a); err != nil {
		return err
	}
	return sb.waitAvailable(ctx, a)
}

func (sb *Sandbox) run(a *aggregated) error {
	p, err := sb.supervise(a.name, a.bin, a.args)
	if err != nil {
		return err
	}
	a.proc = p
	return nil
}

// supervise starts one of HyperSDK's components and keeps it running, as a
// kubelet would its pod: when it exits it is started again with a back-off,
// and the sandbox's log says so, louder when it keeps failing.
func (sb *Sandbox) supervise(name, bin string, args []string) (*process.Supervised, error) {
	p, err := process.Supervise(name, sb.ControlPlane.LogDir, bin, args, process.Options{}, func(e process.Exit) {
		if e.Failing {
			sb.logger.Error(e.Err, "Component keeps failing; restarting it again", "component", e.Name,
				"restarts", e.Restarts, "backoff", e.Backoff, "log", e.Log)
			return
		}
		sb.logger.Info("Component exited; restarting it", "component", e.Name, "err", e.Err,
			"restarts", e.Restarts, "backoff", e.Backoff, "log", e.Log)
	})
	if err != nil {
		return nil, err
	}
	sb.supervised = append(sb.supervised, p)
	return p, nil
}

// RestartAPIServer kills hypersdk-apiserver and starts it again with its
// usual flags followed by extraArgs (which override them), waiting until the
// aggregated API is available once more.
func (sb *Sandbox) RestartAPIServer(ctx context.Context, extraArgs ...string) error {
	if sb.apiServerArgs == nil {
		sb.apiServerArgs = slices.Clone(sb.apiServer.args)
	}
	sb.apiServer.args = append(slices.Clone(sb.apiServerArgs), extraArgs...)
	if err := sb.apiServer.proc.Restart(ctx, sb.apiServer.args); err != nil {
		return err
	}
	return sb.waitAvailable(ctx, sb.apiServer)
}

// APIServerConfig reaches hypersdk-apiserver directly, bypassing
// kube-apiserver, with the admin's client certificate (which the server
// accepts as kube-apiserver's clients are accepted).
func (sb *Sandbox) APIServerConfig() *rest.Config { return sb.directConfig(sb.apiServer) }

func (sb *Sandbox) directConfig(a *aggregated) *rest.Config {
	cfg := rest.CopyConfig(sb.Admin)
	cfg.Host = "https://" + process.Addr(a.port)
	cfg.CAData = a.ca
	return cfg
}

// StartAPIServerReplica starts another hypersdk-apiserver with the same
// flags, store and certificate on a port of its own (not behind the
// APIService), as a second replica would run, and returns a configuration
// that reaches it directly once it is ready, and stop, which stops it (else
// it stops with the sandbox).
func (sb *Sandbox) StartAPIServerReplica(ctx context.Context) (cfg *rest.Config, stop func(), err error) {
	ports, err := process.FreePorts(1)
	if err != nil {
		return nil, nil, err
	}
	replica := *sb.apiServer
	replica.name = apiServerName + "-" + strconv.Itoa(ports[0])
	replica.port = ports[0]
	replica.apiServices = nil
	replica.args = append(slices.Clone(sb.apiServer.args), "--secure-port="+strconv.Itoa(ports[0]))
	if err := sb.run(&replica); err != nil {
		return nil, nil, err
	}
	stop = func() { replica.proc.Stop(10 * time.Second) }
	if err := sb.waitAvailable(ctx, &replica); err != nil {
		stop()
		return nil, nil, err
	}
	return sb.directConfig(&replica), stop, nil
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

// register points APIServices at a server: an ExternalName Service resolves
// to localhost, so no kube-proxy is needed.
func (sb *Sandbox) register(ctx context.Context, client kubernetes.Interface, a *aggregated) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: a.name, Namespace: systemNamespace},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports:        []corev1.ServicePort{{Name: "https", Port: int32(a.port)}},
		},
	}
	if _, err := client.CoreV1().Services(systemNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Service %s: %w", a.name, err)
	}
	agg, err := aggregator.NewForConfig(sb.Admin)
	if err != nil {
		return err
	}
	for _, name := range a.apiServices {
		version, group, _ := strings.Cut(name, ".")
		apiService := &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: apiregistrationv1.APIServiceSpec{
				Group:                group,
				Version:              version,
				GroupPriorityMinimum: 1000,
				VersionPriority:      15,
				CABundle:             a.ca,
				Service: &apiregistrationv1.ServiceReference{
					Namespace: systemNamespace,
					Name:      a.name,
					Port:      ptr.To(int32(a.port)),
				},
			},
		}
		if _, err := agg.ApiregistrationV1().APIServices().Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating APIService %s: %w", name, err)
		}
	}
	return nil
}

// waitAvailable waits until the server itself is ready and kube-apiserver
// sees each of its APIServices Available, so requests through the aggregator
// reach it.
func (sb *Sandbox) waitAvailable(ctx context.Context, a *aggregated) error {
	agg, err := aggregator.NewForConfig(sb.Admin)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sb.cfg.StartTimeout)
	defer cancel()
	direct := &rest.Config{Host: "https://" + process.Addr(a.port), TLSClientConfig: rest.TLSClientConfig{CAData: a.ca}}
	transport, err := rest.TransportFor(direct)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	if err := a.proc.Current().WaitFor(ctx, "/readyz", func(ctx context.Context) error {
		return process.GetOK(ctx, hc, direct.Host+"/readyz")
	}); err != nil {
		return err
	}
	for _, name := range a.apiServices {
		if err := a.proc.Current().WaitFor(ctx, "APIService "+name+" Available", func(ctx context.Context) error {
			svc, err := agg.ApiregistrationV1().APIServices().Get(ctx, name, metav1.GetOptions{})
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
		}); err != nil {
			return err
		}
	}
	return nil
}

// Stop ends every process of the sandbox: its own first, all at once, then
// the control plane.
func (sb *Sandbox) Stop() {
	if sb.stop != nil {
		sb.stop()
		sb.loops.Wait()
	}
	process.StopAll(sb.supervised, 10*time.Second)
	process.StopAll(sb.procs, 10*time.Second)
	sb.procs, sb.supervised = nil, nil
	sb.ControlPlane.Stop()
}

// startController runs hypersdk-controller with its own ServiceAccount.
func (sb *Sandbox) startController(ctx context.Context, client kubernetes.Interface) error {
	kubeconfig := filepath.Join(sb.cfg.Dir, "hypersdk", "controller.kubeconfig")
	if err := sb.writeServiceAccountKubeconfig(ctx, client, "hypersdk-controller", kubeconfig); err != nil {
		return err
	}
	sb.ctrlArgs = append([]string{
		"--kubeconfig=" + kubeconfig,
		"--history-db=" + sb.HistoryDB(),
		"--record-interval=" + sb.cfg.RecordInterval.String(),
		"--metrics-bind-address=" + process.Addr(sb.metricsPort),
		"--fault-kill-in-write=" + sb.RecorderFaultFile(),
		"--carbon-scaling-interval=" + sb.carbonScalingInterval().String(),
		// Autoscalers recommend at every new history sample.
		"--autoscaler-interval=" + sb.cfg.RecordInterval.String(),
		"--backup-interval=1s",
		"--budget-interval=" + sb.cfg.RecordInterval.String(),
		"--idle-interval=" + sb.cfg.RecordInterval.String(),
		"--rebalance-interval=1s",
		"--v=2",
	}, sb.carbonArgs()...)
	return sb.runController()
}

// carbonScalingInterval applies CarbonScalingPolicies once per simulated
// hour (the traces' resolution), between once a second and once a minute.
func (sb *Sandbox) carbonScalingInterval() time.Duration {
	every := time.Minute
	if sb.SimClock.Speed > 0 {
		every = time.Duration(float64(time.Hour) / sb.SimClock.Speed)
	}
	return min(max(every, time.Second), time.Minute)
}

func (sb *Sandbox) runController() error {
	p, err := sb.supervise("hypersdk-controller", filepath.Join(sb.cfg.BinDir, "hypersdk-controller"), sb.ctrlArgs)
	if err != nil {
		return err
	}
	sb.controller = p
	return nil
}

// RecorderFaultFile is the file that, once created, makes hypersdk-controller
// kill itself inside its next history write (and delete the file): a fault
// point for tests of what a crash leaves in the store.
func (sb *Sandbox) RecorderFaultFile() string {
	return filepath.Join(sb.cfg.Dir, "hypersdk", "fault-kill-in-write")
}

// HistoryDB is the SQLite history file the recorder writes and
// hypersdk-apiserver reads.
func (sb *Sandbox) HistoryDB() string { return filepath.Join(sb.cfg.Dir, "hypersdk", "history.db") }

// ControllerMetricsURL is hypersdk-controller's /metrics, which carries the
// recorder's series for Prometheus to scrape.
func (sb *Sandbox) ControllerMetricsURL() string {
	return "http://" + process.Addr(sb.metricsPort) + "/metrics"
}

// RestartController restarts hypersdk-controller with extra arguments
// after its usual ones (none: as the sandbox runs it), for example
// --controllers=*,-backup to take one controller down for a while.
func (sb *Sandbox) RestartController(ctx context.Context, extra ...string) error {
	return sb.controller.Restart(ctx, append(slices.Clone(sb.ctrlArgs), extra...))
}

// KillController ends hypersdk-controller with SIGKILL, as a crash would,
// and waits until the sandbox has started it again.
func (sb *Sandbox) KillController(ctx context.Context) error {
	p := sb.controller.Current()
	p.Kill()
	return sb.controller.WaitStarted(ctx, p)
}

// PID returns the process id of a sandbox component by name (for example
// kubevirt-simulator, kwok, hypersdk-apiserver), 0 when it does not run.
func (sb *Sandbox) PID(name string) int {
	for _, p := range sb.supervised {
		if p.Name() == name {
			return p.Current().Pid()
		}
	}
	for _, p := range sb.procs {
		if p.Name == name {
			return p.Pid()
		}
	}
	return 0
}
