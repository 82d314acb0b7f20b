// Command hypersdk-controller runs HyperSDK's controllers with leader
// election: the VMOperation executor, the history recorder, the placement
// audit, the carbon scaler (CarbonScalingPolicies on HPAs), the VM
// autoscaler (VirtualMachineAutoscalers), the backup scheduler
// (BackupSchedules), the budget keeper (Budgets), the idle VM finder
// (IdleVMPolicies), the rebalancer (RebalancePolicies) and, for
// clusters without cert-manager, the certificates controller
// (--controllers chooses).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/component-base/metrics/legacyregistry"
	_ "k8s.io/component-base/metrics/prometheus/restclient" // client-go's metrics
	"k8s.io/klog/v2"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/autoscaler"
	"github.com/hypersdk/hypersdk/pkg/backup"
	"github.com/hypersdk/hypersdk/pkg/budget"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/carbonscaler"
	"github.com/hypersdk/hypersdk/pkg/certs"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/historystore"
	"github.com/hypersdk/hypersdk/pkg/idle"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/placementaudit"
	"github.com/hypersdk/hypersdk/pkg/rebalance"
	"github.com/hypersdk/hypersdk/pkg/recorder"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
	"github.com/hypersdk/hypersdk/pkg/tlsserve"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-controller:", err)
		os.Exit(1)
	}
}

func run() error {
	o := newOptions()
	fs := pflag.NewFlagSet("hypersdk-controller", pflag.ContinueOnError)
	addAll(fs, o.flags())
	if err := fs.Parse(os.Args[1:]); errors.Is(err, pflag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	on := o.enabled()
	restCfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	restCfg.QPS, restCfg.Burst = 100, 200
	cfg := o.Executor
	if cfg.Kube, err = kubernetes.NewForConfig(restCfg); err != nil {
		return err
	}
	if cfg.KubeVirt, err = kubevirt.NewClientset(restCfg); err != nil {
		return err
	}
	if cfg.CDI, err = kubevirt.NewCDIClientset(restCfg); err != nil {
		return err
	}
	if cfg.HyperSDK, err = hypersdkclient.NewForConfig(restCfg); err != nil {
		return err
	}
	ctx := genericapiserver.SetupSignalContext()
	// The controllers' own metrics; client-go's (requests, latency, time
	// spent on the client-side rate limit) and the Go runtime's are in
	// component-base's registry, where its restclient package puts them.
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg

	// One carbon provider for every controller: a live one caches, and its
	// metrics are registered once.
	carbonProvider, err := o.Carbon.Provider(reg)
	if err != nil {
		return fmt.Errorf("carbon provider: %w", err)
	}
	var run []func(context.Context) error
	for _, name := range on {
		switch name {
		case recorderController:
			rec, err := newRecorder(ctx, restCfg, cfg, o.RecordInterval, &o.History, carbonProvider, reg)
			if err != nil {
				return err
			}
			run = append(run, rec.Run)
		case placementAuditController:
			auditor, err := placementaudit.New(cfg.Kube, reg)
			if err != nil {
				return err
			}
			run = append(run, auditor.Run)
		case certificatesController:
			certsCfg, err := certs.LoadConfig(o.Certificates)
			if err != nil {
				return err
			}
			agg, err := aggregator.NewForConfig(restCfg)
			if err != nil {
				return err
			}
			rotator := certs.NewRotator(*certsCfg, cfg.Kube, agg, nil)
			run = append(run, func(ctx context.Context) error { rotator.Run(ctx); return nil })
		case executorController:
			run = append(run, operations.NewExecutor(cfg).Run)
		case carbonScalerController:
			run = append(run, carbonscaler.New(carbonscaler.Config{Kube: cfg.Kube, HyperSDK: cfg.HyperSDK,
				Carbon: carbonProvider, Interval: o.CarbonScalingInterval}).Run)
		case backupController:
			scheduler, err := backup.New(backup.Config{Kube: cfg.Kube, HyperSDK: cfg.HyperSDK, KubeVirt: cfg.KubeVirt,
				Carbon: carbonProvider, Dialer: console.NewKubeVirtDialer(restCfg), Registerer: reg, Interval: o.BackupInterval})
			if err != nil {
				return err
			}
			run = append(run, scheduler.Run)
		case budgetController:
			keeper, err := budget.New(budget.Config{Kube: cfg.Kube, HyperSDK: cfg.HyperSDK, Registerer: reg, Interval: o.BudgetInterval})
			if err != nil {
				return err
			}
			run = append(run, keeper.Run)
		case idleController:
			finder, err := idle.New(idle.Config{Kube: cfg.Kube, HyperSDK: cfg.HyperSDK, Registerer: reg, Interval: o.IdleInterval,
				Samples:    autoscaler.HistoryAPI{Client: cfg.HyperSDK.HypersdkV1alpha1().RESTClient(), Step: o.RecordInterval},
				SampleStep: o.RecordInterval})
			if err != nil {
				return err
			}
			run = append(run, finder.Run)
		case rebalanceController:
			metrics, err := metricsclient.NewForConfig(restCfg)
			if err != nil {
				return err
			}
			rebalancer, err := rebalance.New(rebalance.Config{Kube: cfg.Kube, HyperSDK: cfg.HyperSDK, KubeVirt: cfg.KubeVirt,
				Metrics: metrics, Carbon: carbonProvider, Prices: cost.DefaultModel(), Registerer: reg, Interval: o.RebalanceInterval,
				StateNamespace: o.LeaseNamespace})
			if err != nil {
				return err
			}
			run = append(run, rebalancer.Run)
		case autoscalerController:
			newRecommender := rightsizing.NewVM
			if o.Autoscaler.Strategy == "vpa" {
				newRecommender = rightsizing.NewVPA
			}
			run = append(run, autoscaler.New(autoscaler.Config{Kube: cfg.Kube, HyperSDK: cfg.HyperSDK, KubeVirt: cfg.KubeVirt,
				Samples:        autoscaler.HistoryAPI{Client: cfg.HyperSDK.HypersdkV1alpha1().RESTClient(), Step: o.RecordInterval},
				NewRecommender: newRecommender, Interval: o.Autoscaler.Interval, Window: o.Autoscaler.Window}).Run)
		}
	}
	if o.MetricsAddress != "" {
		if err := serveMetrics(ctx, o.MetricsAddress, &o.Metrics, prometheus.Gatherers{reg, legacyregistry.DefaultGatherer}); err != nil {
			return err
		}
	}
	klog.InfoS("Running controllers", "controllers", on, "leaderElect", o.LeaderElect)
	runControllers := func(ctx context.Context) {
		var wg sync.WaitGroup
		for i, fn := range run {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(ctx); err != nil {
					klog.ErrorS(err, "Controller stopped", "controller", on[i])
				}
			}()
		}
		wg.Wait()
	}
	if !o.LeaderElect {
		runControllers(ctx)
		return nil
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, o.LeaseNamespace, "hypersdk-controller",
		cfg.Kube.CoreV1(), cfg.Kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: o.Identity})
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
			OnStoppedLeading: func() { klog.InfoS("Lost the leader lease", "identity", o.Identity) },
		},
	})
	return nil
}

// newRecorder opens the history store and builds the recorder. With a
// Prometheus store the recorder's exporter is what Prometheus scrapes; with
// SQLite the exporter is served too, so a Prometheus can be added later.
func newRecorder(ctx context.Context, restCfg *rest.Config, cfg operations.ExecutorConfig, interval time.Duration,
	historyOpts *historystore.Options, provider carbon.Provider, reg *prometheus.Registry) (*recorder.Recorder, error) {
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
	metrics, err := metricsclient.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	return recorder.New(recorder.Config{
		SamplerConfig: recorder.SamplerConfig{Kube: cfg.Kube, KubeVirt: cfg.KubeVirt, Metrics: metrics,
			Carbon: provider, Prices: cost.DefaultModel()},
		Interval: interval, Store: store, Exporter: exporter, Registerer: reg,
	})
}

// metricsHandler serves /metrics; with a client CA, only to clients with a
// certificate it signed: the recorder's series name every VM of every
// namespace with its usage and cost, which hypersdk.io's RBAC guards.
func metricsHandler(tlsOpts *tlsserve.Options, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	if tlsOpts.ClientCAFile != "" {
		return tlsOpts.RequireClientCert(mux, "/metrics")
	}
	return mux
}

// serveMetrics serves /metrics on address (over TLS when configured) until
// ctx ends.
func serveMetrics(ctx context.Context, address string, tlsOpts *tlsserve.Options, gatherer prometheus.Gatherer) error {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", address, err)
	}
	if tlsOpts.Enabled() {
		if ln, err = tlsOpts.Listener(ctx, ln); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: metricsHandler(tlsOpts, gatherer), ReadHeaderTimeout: 10 * time.Second}
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
