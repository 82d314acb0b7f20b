// Command hypersdk-scheduler-extender is kube-scheduler's extender for VMs:
// filter, prioritize and bind of virt-launcher pods by carbon, cost, node
// pressure and GPU topology (see pkg/extender).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/carbonflags"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/extender"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-scheduler-extender:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		kubeconfig, bindAddress string
		qps                     float32
		carbonOpts              carbonflags.Options
		profiling               bool
		cfg                     extender.Config
	)
	fs := pflag.NewFlagSet("hypersdk-scheduler-extender", pflag.ExitOnError)
	fs.StringVar(&kubeconfig, "kubeconfig", "", "Path of a kubeconfig; in-cluster configuration when empty.")
	fs.StringVar(&bindAddress, "bind-address", "127.0.0.1:8888", "Address the verbs, /metrics, /healthz and /readyz are served on.")
	fs.Float32Var(&qps, "kube-api-qps", 200, "Queries per second to kube-apiserver (binds); burst is twice this.")
	fs.DurationVar(&cfg.UsageInterval, "usage-interval", extender.DefaultUsageInterval, "How often node usage is read from metrics.k8s.io.")
	fs.IntVar(&cfg.Candidates, "decision-candidates", extender.DefaultCandidates, "Best nodes listed in each recorded decision.")
	fs.BoolVar(&cfg.ChooseInFilter, "choose-in-filter", true, "Answer filter with the single best node for VM pods that state no soft scheduling preference, so kube-scheduler skips scoring and prioritize.")
	fs.BoolVar(&profiling, "profiling", false, "Serve Go's profiles at /debug/pprof/ on --bind-address.")
	carbonOpts.AddFlags(fs)
	goflags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(goflags)
	fs.AddGoFlagSet(goflags)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}

	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	restCfg.QPS, restCfg.Burst = qps, int(2*qps)
	// Built-in kinds (the pod and node informers, binds) in protobuf, as
	// kube-scheduler does: JSON costs the API server and us far more CPU.
	kubeCfg := rest.CopyConfig(restCfg)
	kubeCfg.ContentType = "application/vnd.kubernetes.protobuf"
	kubeCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	if cfg.Kube, err = kubernetes.NewForConfig(kubeCfg); err != nil {
		return err
	}
	if cfg.HyperSDK, err = hypersdkclient.NewForConfig(restCfg); err != nil {
		return err
	}
	if cfg.Metrics, err = metricsclient.NewForConfig(restCfg); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Registerer = reg
	cfg.Prices = cost.DefaultModel()
	if cfg.Carbon, err = carbonOpts.Provider(reg); err != nil {
		return fmt.Errorf("carbon provider: %w", err)
	}
	ext, err := extender.New(cfg)
	if err != nil {
		return err
	}

	ctx := genericapiserver.SetupSignalContext()
	ln, err := net.Listen("tcp", bindAddress)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", bindAddress, err)
	}
	handler := ext.Handler(reg)
	if profiling {
		mux := http.NewServeMux()
		mux.Handle("/", handler)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		handler = mux
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	go func() {
		if err := ext.Run(ctx); err != nil {
			klog.ErrorS(err, "Extender caches")
		}
	}()
	klog.InfoS("Serving scheduler extender", "address", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
