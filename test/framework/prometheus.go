package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
)

// Prometheus is a real Prometheus server on loopback, run for a test.
type Prometheus struct {
	proc *process.Process
	url  string
}

// StartPrometheus runs Prometheus with its TSDB in dir/data, its config and
// log in dir, scraping /metrics of each target (host:port) every
// scrapeInterval, and returns once it is ready. Blocks already in dir/data,
// for example backfilled with promtool tsdb create-blocks-from, are served.
// Retention is 40 days, room for a month of history. It is stopped when t
// ends. The binary is the one hack/prometheus-bin.sh builds, never one from
// PATH, so every machine runs the same version.
func StartPrometheus(ctx context.Context, t testing.TB, dir string, targets []string, scrapeInterval time.Duration) (*Prometheus, error) {
	t.Helper()
	binDir, err := PrometheusBinDir()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(binDir, "prometheus")
	ports, err := process.FreePorts(1)
	if err != nil {
		return nil, fmt.Errorf("choosing a port for prometheus: %w", err)
	}
	// JSON is YAML, and quotes the targets for us.
	quoted, err := json.Marshal(targets)
	if err != nil {
		return nil, err
	}
	interval := model.Duration(scrapeInterval).String()
	config := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
scrape_configs:
  - job_name: test
    static_configs:
      - targets: %[2]s
`, interval, quoted)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		return nil, fmt.Errorf("writing prometheus config: %w", err)
	}
	addr := process.Addr(ports[0])
	proc, err := process.Start("prometheus", dir, bin, []string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=40d",
		"--web.listen-address=" + addr,
	}, nil)
	if err != nil {
		return nil, err
	}
	p := &Prometheus{proc: proc, url: "http://" + addr}
	t.Cleanup(p.Stop)
	ready, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := proc.WaitFor(ready, "ready", p.ready); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// URL is the server's base URL.
func (p *Prometheus) URL() string { return p.url }

// Stop ends the server; calling it again does nothing.
func (p *Prometheus) Stop() { p.proc.Stop(10 * time.Second) }

func (p *Prometheus) ready(ctx context.Context) error {
	return process.GetOK(ctx, http.DefaultClient, p.url+"/-/ready")
}
