package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
)

// Prometheus is a real Prometheus server on loopback, run for a test.
type Prometheus struct {
	proc *process.Process
	url  string
}

// StartPrometheus runs Prometheus with its TSDB in dir/data, its config and
// log in dir, scraping /metrics of each target (host:port) every
// scrapeInterval, and returns once it is ready. It scrapes as
// prometheus-operator renders the shipped ServiceMonitor (see
// shippedScrape): with its target labels and its honorLabels and
// honorTimestamps, so that a series label clashing with a target label is
// renamed here as it would be in a cluster. Blocks already in dir/data,
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
	scrape, err := shippedScrape()
	if err != nil {
		return nil, err
	}
	// JSON is YAML, and quotes the targets and labels for us.
	quoted, err := json.Marshal(targets)
	if err != nil {
		return nil, err
	}
	labels, err := json.Marshal(scrape.labels)
	if err != nil {
		return nil, err
	}
	interval := model.Duration(scrapeInterval).String()
	config := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
scrape_configs:
  - job_name: test
    honor_labels: %[4]t
    honor_timestamps: %[5]t
    static_configs:
      - targets: %[2]s
        labels: %[3]s
`, interval, quoted, labels, scrape.honorLabels, scrape.honorTimestamps)
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

// scrape is how prometheus-operator scrapes the recorder, read from the
// shipped ServiceMonitor.
type scrape struct {
	honorLabels, honorTimestamps bool
	// labels are the target labels prometheus-operator gives every
	// target of a ServiceMonitor (those a static target can have):
	// namespace, service and job.
	labels map[string]string
}

// shippedScrape reads the ServiceMonitor of the prometheus component in
// artifacts/. prometheus-operator labels each target with the namespace and
// name of its Service and a job named after the Service; without
// honorLabels a scraped series' own namespace label becomes
// exported_namespace.
func shippedScrape() (scrape, error) {
	path := filepath.Join(RepoRoot(), "artifacts", "deploy", "components", "prometheus", "monitoring.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return scrape{}, fmt.Errorf("reading the shipped ServiceMonitor: %w", err)
	}
	type object struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Endpoints []struct {
				HonorLabels     bool  `json:"honorLabels"`
				HonorTimestamps *bool `json:"honorTimestamps"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	var service, monitor *object
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return scrape{}, fmt.Errorf("%s: %w", path, err)
		}
		switch o.Kind {
		case "Service":
			service = &o
		case "ServiceMonitor":
			monitor = &o
		}
	}
	if service == nil || monitor == nil || len(monitor.Spec.Endpoints) != 1 {
		return scrape{}, fmt.Errorf("%s: want one Service and one ServiceMonitor with one endpoint", path)
	}
	ep := monitor.Spec.Endpoints[0]
	return scrape{
		honorLabels: ep.HonorLabels,
		// prometheus-operator's default is true.
		honorTimestamps: ep.HonorTimestamps == nil || *ep.HonorTimestamps,
		labels: map[string]string{"namespace": service.Metadata.Namespace, "service": service.Metadata.Name,
			"job": service.Metadata.Name},
	}, nil
}
