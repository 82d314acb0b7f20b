package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/carbonflags"
	"github.com/hypersdk/hypersdk/pkg/extender"
	"github.com/hypersdk/hypersdk/pkg/tlsserve"
)

// options are the command-line options of hypersdk-scheduler-extender.
type options struct {
	Kubeconfig  string
	BindAddress string
	QPS         float32
	Profiling   bool
	Extender    extender.Config
	Carbon      carbonflags.Options
	TLS         tlsserve.Options
}

func newOptions() *options {
	return &options{
		BindAddress: "127.0.0.1:8888",
		QPS:         200,
		Extender: extender.Config{
			UsageInterval:  extender.DefaultUsageInterval,
			Candidates:     extender.DefaultCandidates,
			ChooseInFilter: true,
		},
	}
}

// flags returns the options as named flag sets, so --help prints sections.
func (o *options) flags() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	fs := fss.FlagSet("extender")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path of a kubeconfig; in-cluster configuration when empty.")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "Address the verbs, /metrics, /healthz and /readyz are served on.")
	fs.Float32Var(&o.QPS, "kube-api-qps", o.QPS, "Queries per second to kube-apiserver (binds); burst is twice this.")
	fs.DurationVar(&o.Extender.UsageInterval, "usage-interval", o.Extender.UsageInterval, "How often node usage is read from metrics.k8s.io.")
	fs.IntVar(&o.Extender.Candidates, "decision-candidates", o.Extender.Candidates, "Best nodes listed in each recorded decision.")
	fs.BoolVar(&o.Extender.ChooseInFilter, "choose-in-filter", o.Extender.ChooseInFilter, "Answer filter with the single best node for VM pods that state no soft scheduling preference, so kube-scheduler skips scoring and prioritize.")
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "Serve Go's profiles at /debug/pprof/ on --bind-address.")
	o.TLS.AddFlags(fss.FlagSet("secure serving"))
	o.Carbon.AddFlags(fss.FlagSet("carbon"))
	goflags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(goflags)
	fss.FlagSet("logging").AddGoFlagSet(goflags)
	return fss
}

// validate returns every problem with the options at once.
func (o *options) validate() error {
	var errs []error
	if o.BindAddress == "" {
		errs = append(errs, errors.New("--bind-address is required"))
	}
	if o.QPS <= 0 {
		errs = append(errs, fmt.Errorf("--kube-api-qps must be positive, got %g", o.QPS))
	}
	if o.Extender.UsageInterval < time.Second {
		errs = append(errs, fmt.Errorf("--usage-interval must be at least 1s, got %v", o.Extender.UsageInterval))
	}
	if o.Extender.Candidates < 1 {
		errs = append(errs, fmt.Errorf("--decision-candidates must be at least 1, got %d", o.Extender.Candidates))
	}
	errs = append(errs, o.TLS.Validate()...)
	if o.BindAddress != "" {
		host, _, err := net.SplitHostPort(o.BindAddress)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--bind-address=%s: %w (an IPv6 address goes in brackets: [fd00::1]:8443)", o.BindAddress, err))
		case !loopback(host) && (!o.TLS.Enabled() || o.TLS.ClientCAFile == ""):
			// /bind binds any pending pod to any node with the extender's
			// rights: beyond this host only kube-scheduler may call it.
			errs = append(errs, fmt.Errorf("--bind-address=%s is reachable from other hosts: serve TLS (--tls-cert-file) and verify kube-scheduler's client certificate (--client-ca-file)", o.BindAddress))
		}
	}
	return utilerrors.NewAggregate(errs)
}

// loopback reports whether host (an IP or a name) is this host alone.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func addAll(fs *pflag.FlagSet, fss cliflag.NamedFlagSets) {
	for _, name := range fss.Order {
		fs.AddFlagSet(fss.FlagSets[name])
	}
}
