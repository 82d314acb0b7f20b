// Command hypersdk-kubevirt-simulator plays KubeVirt's part in the sandbox,
// where no VM can run: it acts on KubeVirt objects as virt-controller and
// virt-handler would, through the API server only.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/kubevirtsim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-kubevirt-simulator:", err)
		os.Exit(1)
	}
}

func run() error {
	kubeconfig := flag.String("kubeconfig", "", "Path of the kubeconfig to reach the cluster with.")
	var cfg kubevirtsim.Config
	flag.DurationVar(&cfg.StepDelay, "step-delay", 200*time.Millisecond, "How long one simulated migration or hotplug step takes.")
	flag.BoolVar(&cfg.LiveUpdate, "live-update", true, "Simulate KubeVirt's LiveUpdate rollout strategy: hotplug CPU and memory within maxSockets/maxGuest.")
	flag.IntVar(&cfg.Workers, "workers", 4, "Workers per simulated controller.")
	qps := flag.Float64("kube-api-qps", 200, "Client QPS towards the API server.")
	// Imported packages may have registered klog's flags already.
	if flag.Lookup("v") == nil {
		klog.InitFlags(nil)
	}
	flag.Parse()

	restCfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	restCfg.QPS, restCfg.Burst = float32(*qps), int(2**qps)
	if cfg.Kube, err = kubernetes.NewForConfig(restCfg); err != nil {
		return err
	}
	if cfg.KubeVirt, err = kubevirt.NewClientset(restCfg); err != nil {
		return err
	}
	ctx := genericapiserver.SetupSignalContext()
	return kubevirtsim.New(cfg).Run(ctx)
}
