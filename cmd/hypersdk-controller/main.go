// Command hypersdk-controller runs HyperSDK's controllers with leader
// election: today the VMOperation executor.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/operations"
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
	runControllers := func(ctx context.Context) {
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
