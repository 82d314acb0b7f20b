// Command hypersdk-controller runs HyperSDK's controllers with leader
// election: today the VMOperation executor.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/carbonflags"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/historystore"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/placementaudit"
	"github.com/hypersdk/hypersdk/pkg/recorder"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-controller:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		kubeconfig, leaseNamespace, identity string
		leaderElect                          bool
		cfg                                  operations.ExecutorConfig
		metricsAddress                       string
		recordInterval                       time.Duration
		historyOpts                          historystore.Options
		carbonOpts                           carbonflags.Options
		auditPlacement                       bool
	)
	host, _ := os.Hostname()
	fs := pflag.NewFlagSet("hypersdk-controller", pflag.ExitOnError)
	fs.StringVar(&kubeconfig, "kubeconfig", "", "Path of a kubeconfig; in-cluster configuration when empty.")
	fs.BoolVar(&leaderElect, "leader-elect", true, "Run only while holding the leader lease, so replicas can stand by.")
	fs.StringVar(&leaseNamespace, "leader-elect-namespace", "hypersdk-system", "Namespace of the leader lease.")
	fs.StringVar(&identity, "leader-elect-identity", fmt.Sprintf("%s_%d", host, os.Getpid()), "This replica's name in the lease.")
	fs.DurationVar(&cfg.TTL, "operation-ttl", operations.DefaultTTL, "How long finished VMOperations are kept.")
	fs.IntVar(&cfg.MaxMigrations, "max-migrations", operations.DefaultMaxMigrations, "Migrations in flight in the cluster at most.")
	fs.IntVar(&cfg.MaxMigrationsPerNode, "max-migrations-per-node", operations.DefaultMaxMigrationsNode, "Migrations leaving one node at most.")
	fs.IntVar(&cfg.Workers, "workers", 4, "Operations worked on at once.")
	fs.StringVar(&metricsAddress, "metrics-bind-address", "127.0.0.1:8080", "Address /metrics is served on (plain HTTP); empty disables it.")
	fs.DurationVar(&recordInterval, "record-interval", recorder.DefaultInterval, "How often the history recorder samples every VM; 0 disables the recorder.")
	fs.BoolVar(&auditPlacement, "audit-placement", true, "Report virt-launcher pods bound without HyperSDK's scheduler extender (event and metric).")
	historyOpts.AddFlags(fs)
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
	restCfg.QPS, restCfg.Burst = 100, 200
	if cfg.Kube, err = kubernetes.NewForConfig(restCfg); err != nil {
		return err
	}
	if cfg.KubeVirt, err = kubevirt.NewClientset(restCfg); err != nil {
		return err
	}
	if cfg.HyperSDK, err = hypersdkclient.NewForConfig(restCfg); err != nil {
		return err
	}
	ctx := genericapiserver.SetupSignalContext()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Registerer = reg
	var rec *recorder.Recorder
	if recordInterval > 0 {
		if rec, err = newRecorder(ctx, restCfg, cfg, recordInterval, &historyOpts, &carbonOpts, reg); err != nil {
			return err
		}
	}
	if metricsAddress != "" {
		if err := serveMetrics(ctx, metricsAddress, reg); err != nil {
			return err
		}
	}
	var auditor *placementaudit.Auditor
	if auditPlacement {
		if auditor, err = placementaudit.New(cfg.Kube, reg); err != nil {
			return err
		}
	}
	runControllers := func(ctx context.Context) {
		if auditor != nil {
			go func() {
				if err := auditor.Run(ctx); err != nil {
					klog.ErrorS(err, "Placement auditor stopped")
				}
			}()
		}
		if rec != nil {
			go func() {
				if err := rec.Run(ctx); err != nil {
					klog.ErrorS(err, "History recorder stopped")
				}
			}()
		}
		if err := operations.NewExecutor(cfg).Run(ctx); err != nil {
			klog.ErrorS(err, "Executor stopped")
		}
	}
	if !leaderElect {
		runControllers(ctx)
		return nil
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, leaseNamespace, "hypersdk-controller",
		cfg.Kube.CoreV1(), cfg.Kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		return err
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            "hypersdk-controller",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: runControllers,
			OnStoppedLeading: func() { klog.InfoS("Lost the leader lease", "identity", identity) },
		},
	})
	return nil
}

// newRecorder opens the history store and builds the recorder. With a
// Prometheus store the recorder's exporter is what Prometheus scrapes; with
// SQLite the exporter is served too, so a Prometheus can be added later.
func newRecorder(ctx context.Context, restCfg *rest.Config, cfg operations.ExecutorConfig, interval time.Duration,
	historyOpts *historystore.Options, carbonOpts *carbonflags.Options, reg *prometheus.Registry) (*recorder.Recorder, error) {
	store, err := historyOpts.Open(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("history store: %w", err)
	}
	exporter := history.NewExporter()
	if ps, ok := store.(*history.PrometheusStore); ok {
		exporter = ps.Exporter()
	}
	if err := reg.Register(exporter); err != nil {
		return nil, fmt.Errorf("registering history exporter: %w", err)
	}
	provider, err := carbonOpts.Provider(reg)
	if err != nil {
		return nil, fmt.Errorf("carbon provider: %w", err)
	}
	metrics, err := metricsclient.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	return recorder.New(recorder.Config{
		Interval: interval, Store: store, Kube: cfg.Kube, KubeVirt: cfg.KubeVirt, Metrics: metrics,
		Carbon: provider, Prices: cost.DefaultModel(), Exporter: exporter, Registerer: reg,
	})
}

// serveMetrics serves /metrics on address until ctx ends.
func serveMetrics(ctx context.Context, address string, gatherer prometheus.Gatherer) error {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", address, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "Serving metrics")
		}
	}()
	klog.InfoS("Serving metrics", "address", ln.Addr().String())
	return nil
}
