package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/artifacts"
	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
)

const extenderName = "hypersdk-scheduler-extender"

// writeSchedulerConfig writes artifacts/scheduler's KubeSchedulerConfiguration
// with the extender's address and the admin kubeconfig filled in, and
// returns its path.
func (sb *Sandbox) writeSchedulerConfig(kubeconfig string) (string, error) {
	tmpl, err := artifacts.FS.ReadFile("scheduler/kube-scheduler-config.yaml")
	if err != nil {
		return "", err
	}
	cfg := strings.Replace(string(tmpl), "urlPrefix: EXTENDER_URL", "urlPrefix: http://"+process.Addr(sb.extenderPort), 1)
	cfg = strings.Replace(cfg, "clientConnection:\n", "clientConnection:\n  kubeconfig: "+kubeconfig+"\n", 1)
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
		"--usage-interval=2s",
		// As kube-scheduler's own client: binds must not queue behind a rate limit.
		"--kube-api-qps=5000",
		"--profiling=" + strconv.FormatBool(sb.cfg.Profiling),
		"--v=2",
	}, sb.carbonArgs()...)
	return sb.StartExtender(ctx)
}

// StartExtender starts the extender (again, after KillExtender) and waits
// for /readyz.
func (sb *Sandbox) StartExtender(ctx context.Context) error {
	p, err := process.Start(extenderName, sb.ControlPlane.LogDir, filepath.Join(sb.cfg.BinDir, extenderName), sb.extenderArgs, nil)
	if err != nil {
		return err
	}
	sb.extender = p
	sb.procs = append(sb.procs, p)
	return p.WaitFor(ctx, "/readyz", func(ctx context.Context) error {
		return process.GetOK(ctx, http.DefaultClient, sb.ExtenderURL()+"/readyz")
	})
}

// KillExtender ends the extender with SIGKILL, as a crash would.
func (sb *Sandbox) KillExtender() { sb.extender.Kill() }

// ExtenderURL is where the extender serves its verbs and /metrics.
func (sb *Sandbox) ExtenderURL() string { return "http://" + process.Addr(sb.extenderPort) }

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
