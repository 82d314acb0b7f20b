// Command hypersdk-sandbox runs HyperSDK on a real local Kubernetes control
// plane and keeps it up until Ctrl-C or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/sandbox"
	"github.com/hypersdk/hypersdk/pkg/sandbox/container"
)

func main() {
	// The sandbox's host node starts each container as this binary with
	// "container-init <spec>", in namespaces of its own.
	if spec, ok := container.IsInit(os.Args); ok {
		err := container.Init(spec)
		fmt.Fprintln(os.Stderr, "hypersdk-sandbox container-init:", err)
		os.Exit(127)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-sandbox:", err)
		os.Exit(1)
	}
}

func run() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var cfg sandbox.Config
	flag.StringVar(&cfg.Dir, "dir", "_output/sandbox", "Working directory: kubeconfig, certificates, etcd data and logs.")
	flag.StringVar(&cfg.ControlPlaneBinDir, "control-plane-bin", os.Getenv("HYPERSDK_CONTROL_PLANE_BIN"),
		"Directory with etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl (hack/tools-bin.sh prints it).")
	flag.StringVar(&cfg.BinDir, "bin", filepath.Dir(self), "Directory with HyperSDK's binaries.")
	flag.DurationVar(&cfg.StartTimeout, "start-timeout", 3*time.Minute, "How long each start-up step may take.")
	flag.IntVar(&cfg.Nodes, "nodes", 6, "Simulated nodes (kwok), spread over the ES, US-CAL-CISO and NO grid zones.")
	flag.IntVar(&cfg.VMs, "vms", 8, "Demo VMs to start.")
	flag.Int64Var(&cfg.Seed, "seed", 1, "Seed of the demo VMs' sizes and load profiles.")
	flag.BoolVar(&cfg.Deploy, "deploy", false, "Run HyperSDK as artifacts/deploy installs it (kubectl apply -k), its pods on a host node of the sandbox; needs root.")
	flag.Float64Var(&cfg.Speed, "speed", 60, "Simulated seconds per real second, for carbon and usage traces (60: an hour of traces per real minute).")
	flag.StringVar(&cfg.CarbonDir, "carbon-data", "../shared/data/carbon", "Directory of Electricity Maps hourly carbon traces (<zone>_<year>_hourly.csv) to replay per zone; empty for none.")
	simStart := flag.String("sim-start", sandbox.DefaultSimStart.Format(time.RFC3339), "Simulated time at start-up (RFC3339), within the carbon traces.")
	// Imported packages may have registered klog's flags already.
	if flag.Lookup("v") == nil {
		klog.InitFlags(nil)
	}
	flag.Parse()
	if cfg.ControlPlaneBinDir == "" {
		return errors.New("--control-plane-bin is required (run hack/tools-bin.sh to build and print it)")
	}
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return err
	}
	if cfg.SimStart, err = time.Parse(time.RFC3339, *simStart); err != nil {
		return fmt.Errorf("--sim-start: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sb, err := sandbox.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer sb.Stop()
	fmt.Printf("HyperSDK sandbox ready: export KUBECONFIG=%s\n", sb.Kubeconfig)
	<-ctx.Done()
	fmt.Println("Stopping the sandbox")
	return nil
}
