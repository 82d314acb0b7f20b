package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/artifacts"
	"github.com/hypersdk/hypersdk/pkg/pki"
	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
)

const extenderName = "hypersdk-scheduler-extender"

// extenderTLS holds the extender's certificates: its serving certificate and
// kube-scheduler's client certificate, both signed by one CA, which the
// extender trusts for clients and kube-scheduler for the server, as
// hypersdk-controller's certificates controller sets them up in a cluster.
type extenderTLS struct {
	ca                            []byte
	caFile, certFile, keyFile     string // the extender's serving certificate
	clientCertFile, clientKeyFile string // kube-scheduler's
}

func (sb *Sandbox) writeExtenderTLS() (*extenderTLS, error) {
	dir := filepath.Join(sb.cfg.Dir, "hypersdk", "extender-tls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ca, err := pki.NewCA("hypersdk-extender-ca")
	if err != nil {
		return nil, err
	}
	t := &extenderTLS{ca: ca.CertPEM()}
	if t.caFile, err = ca.WriteCA(dir, "ca"); err != nil {
		return nil, err
	}
	// The Service's name, as in the cluster: artifacts/scheduler's
	// configuration checks the certificate against it (serverName).
	serving, err := ca.Issue(pki.Leaf{CommonName: extenderName, Server: true,
		DNSNames: []string{"localhost", "hypersdk-scheduler-extender.hypersdk-system.svc"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		return nil, err
	}
	if t.certFile, t.keyFile, err = serving.Write(dir, "serving"); err != nil {
		return nil, err
	}
	client, err := ca.Issue(pki.Leaf{CommonName: "kube-scheduler", Client: true})
	if err != nil {
		return nil, err
	}
	if t.clientCertFile, t.clientKeyFile, err = client.Write(dir, "kube-scheduler"); err != nil {
		return nil, err
	}
	return t, nil
}

// writeSchedulerConfig writes artifacts/scheduler's KubeSchedulerConfiguration
// with the extender's address, kube-scheduler's client certificate and the
// admin kubeconfig filled in, and returns its path.
func (sb *Sandbox) writeSchedulerConfig(kubeconfig string) (string, error) {
	tmpl, err := artifacts.FS.ReadFile("scheduler/kube-scheduler-config.yaml")
	if err != nil {
		return "", err
	}
	cfg := strings.NewReplacer(
		"urlPrefix: EXTENDER_URL", "urlPrefix: "+sb.ExtenderURL(),
		"clientConnection:\n", "clientConnection:\n  kubeconfig: "+kubeconfig+"\n",
		"/etc/kubernetes/hypersdk/tls.crt", sb.extenderTLS.clientCertFile,
		"/etc/kubernetes/hypersdk/tls.key", sb.extenderTLS.clientKeyFile,
		"/etc/kubernetes/hypersdk/ca.crt", sb.extenderTLS.caFile,
	).Replace(string(tmpl))
	path := filepath.Join(sb.cfg.Dir, "kube-scheduler-config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", fmt.Errorf("writing scheduler configuration: %w", err)
	}
	return path, nil
}

// RestartScheduler restarts kube-scheduler with the extender configured, or
// without it (the same configuration less its extenders), so benchmarks can
// compare the same pods on the same fleet both ways.
func (sb *Sandbox) RestartScheduler(ctx context.Context, withExtender bool) error {
	path := filepath.Join(sb.cfg.Dir, "kube-scheduler-config.yaml")
	if !withExtender {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			return fmt.Errorf("reading scheduler configuration: %w", err)
		}
		delete(cfg, "extenders")
		if data, err = yaml.Marshal(cfg); err != nil {
			return err
		}
		path = filepath.Join(sb.cfg.Dir, "kube-scheduler-config-no-extender.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("writing scheduler configuration: %w", err)
		}
	}
	return sb.ControlPlane.RestartScheduler(ctx, path)
}

// RestartSchedulerWithPlugin restarts kube-scheduler as hypersdk-scheduler
// with the profile artifacts/deploy/components/scheduler-plugin ships, as
// the sandbox's default scheduler (the sandbox's client connection, no
// extenders), reading carbon and usage as the sandbox's extender does: the
// third way benchmarks compare.
func (sb *Sandbox) RestartSchedulerWithPlugin(ctx context.Context) error {
	data, err := os.ReadFile(filepath.Join(sb.cfg.Dir, "kube-scheduler-config.yaml"))
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("reading scheduler configuration: %w", err)
	}
	shipped, err := artifacts.FS.ReadFile("deploy/components/scheduler-plugin/scheduler-config.yaml")
	if err != nil {
		return err
	}
	var plugin struct {
		Profiles []map[string]any `json:"profiles"`
	}
	if err := yaml.Unmarshal(shipped, &plugin); err != nil {
		return fmt.Errorf("reading the plugin's scheduler configuration: %w", err)
	}
	if len(plugin.Profiles) != 1 {
		return fmt.Errorf("the plugin's scheduler configuration has %d profiles, want 1", len(plugin.Profiles))
	}
	plugin.Profiles[0]["schedulerName"] = "default-scheduler"
	delete(cfg, "extenders")
	cfg["profiles"] = plugin.Profiles
	if data, err = yaml.Marshal(cfg); err != nil {
		return err
	}
	path := filepath.Join(sb.cfg.Dir, "kube-scheduler-config-plugin.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing scheduler configuration: %w", err)
	}
	return sb.ControlPlane.RestartSchedulerAs(ctx, filepath.Join(sb.cfg.BinDir, "hypersdk-scheduler"), path,
		append([]string{"--usage-interval=2s"}, sb.carbonArgs()...)...)
}

// startExtender runs hypersdk-scheduler-extender with its own
// ServiceAccount and waits until its caches are ready.
func (sb *Sandbox) startExtender(ctx context.Context, client kubernetes.Interface) error {
	kubeconfig := filepath.Join(sb.cfg.Dir, "hypersdk", "extender.kubeconfig")
	if err := sb.writeServiceAccountKubeconfig(ctx, client, extenderName, kubeconfig); err != nil {
		return err
	}
	sb.extenderArgs = append([]string{
		"--kubeconfig=" + kubeconfig,
		"--bind-address=" + process.Addr(sb.extenderPort),
		"--tls-cert-file=" + sb.extenderTLS.certFile,
		"--tls-private-key-file=" + sb.extenderTLS.keyFile,
		"--client-ca-file=" + sb.extenderTLS.caFile,
		"--client-common-names=kube-scheduler",
		"--usage-interval=2s",
		// As kube-scheduler's own client: binds must not queue behind a rate limit.
		"--kube-api-qps=5000",
		"--profiling=" + strconv.FormatBool(sb.cfg.Profiling),
		"--v=2",
	}, sb.carbonArgs()...)
	return sb.StartExtender(ctx)
}

// StartExtender starts the extender (again, after KillExtender) and waits
// for /readyz, at most StartTimeout: an extender whose caches never sync
// fails the start, naming its log, rather than hanging it.
func (sb *Sandbox) StartExtender(ctx context.Context) error {
	p, err := sb.supervise(extenderName, filepath.Join(sb.cfg.BinDir, extenderName), sb.extenderArgs)
	if err != nil {
		return err
	}
	sb.extender = p
	hc := sb.ExtenderHTTPClient()
	ctx, cancel := context.WithTimeout(ctx, sb.cfg.StartTimeout)
	defer cancel()
	return p.Current().WaitFor(ctx, "/readyz", func(ctx context.Context) error {
		return process.GetOK(ctx, hc, sb.ExtenderURL()+"/readyz")
	})
}

// KillExtender ends the extender with SIGKILL and keeps it down (the
// sandbox does not start it again) until StartExtender: an extender that is
// gone for good, as tests of scheduling without it need.
func (sb *Sandbox) KillExtender() { sb.extender.Stop(0) }

// ExtenderURL is where the extender serves its verbs and /metrics, over TLS.
func (sb *Sandbox) ExtenderURL() string { return "https://" + process.Addr(sb.extenderPort) }

// ExtenderHTTPClient trusts the extender's serving certificate (and shows no
// client certificate: enough for /metrics and the health checks).
func (sb *Sandbox) ExtenderHTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(sb.extenderTLS.ca)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
}

// carbonArgs are the flags that make a component replay the same carbon
// traces on the same simulated clock as the sandbox.
func (sb *Sandbox) carbonArgs() []string {
	if sb.cfg.CarbonDir == "" {
		return nil
	}
	return []string{
		"--carbon-provider=trace",
		"--carbon-data=" + sb.cfg.CarbonDir,
		"--sim-epoch=" + sb.SimClock.Epoch.Format("2006-01-02T15:04:05.999999999Z07:00"),
		"--sim-start=" + sb.SimClock.Start.Format("2006-01-02T15:04:05Z07:00"),
		fmt.Sprintf("--speed=%g", sb.SimClock.Speed),
	}
}
