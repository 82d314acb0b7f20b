// Command hypersdk-scheduler-extender is kube-scheduler's extender for VMs:
// filter, prioritize and bind of virt-launcher pods by carbon, cost, node
// pressure and GPU topology (see pkg/extender).
package main

import (
	"errors"
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
	"k8s.io/utils/clock"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/extender"
	"github.com/hypersdk/hypersdk/pkg/tlsserve"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-scheduler-extender:", err)
		os.Exit(1)
	}
}

func run() error {
	o := newOptions()
	fs := pflag.NewFlagSet("hypersdk-scheduler-extender", pflag.ContinueOnError)
	addAll(fs, o.flags())
	if err := fs.Parse(os.Args[1:]); errors.Is(err, pflag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	cfg := o.Extender

	restCfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	restCfg.QPS, restCfg.Burst = o.QPS, int(2*o.QPS)
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
	if cfg.Carbon, err = o.Carbon.Provider(reg); err != nil {
		return fmt.Errorf("carbon provider: %w", err)
	}
	ext, err := extender.New(cfg)
	if err != nil {
		return err
	}

	ctx := genericapiserver.SetupSignalContext()
	ln, err := net.Listen("tcp", o.BindAddress)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.BindAddress, err)
	}
	if o.TLS.Enabled() {
		if ln, err = o.TLS.Listener(ctx, ln); err != nil {
			return err
		}
	}
	handler := ext.Handler(reg)
	if o.Profiling {
		mux := http.NewServeMux()
		mux.Handle("/", handler)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		handler = mux
	}
	if o.TLS.ClientCAFile != "" {
		// Only kube-scheduler, with a certificate the client CA signed, may
		// filter, score and bind, or profile the process; probes and
		// scrapes need none.
		handler = o.TLS.RequireClientCert(handler, "/filter", "/prioritize", "/bind", "/debug/pprof/")
		// A kube-scheduler configured by hand holds a copy of its client
		// certificate that nothing renews: said before it expires, since
		// the scheduler skips an ignorable extender it cannot call.
		handler = tlsserve.NewClientCertExpiry(reg, clock.RealClock{}).Handler(handler)
	}
	// A request is a few kilobytes sent at once: a client that trickles
	// one, or holds an idle connection, does not keep it for ever.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := ext.Run(ctx); err != nil {
			klog.ErrorS(err, "Extender caches")
		}
	}()
	klog.InfoS("Serving scheduler extender", "address", ln.Addr().String(), "tls", o.TLS.Enabled(), "clientCertificates", o.TLS.ClientCAFile != "")
	return tlsserve.Serve(ctx, srv, ln, 5*time.Second)
}
