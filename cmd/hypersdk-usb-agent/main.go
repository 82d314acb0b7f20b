// Command hypersdk-usb-agent hot-plugs USB devices of its node into running
// VMs over KubeVirt's client USB redirection (see pkg/usbagent). It runs on
// every node as a DaemonSet (artifacts/deploy/components/usb-hotplug).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/usbagent"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-usb-agent:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := pflag.NewFlagSet("hypersdk-usb-agent", pflag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "Path of a kubeconfig; in-cluster configuration when empty.")
	nodeName := fs.String("node-name", os.Getenv("NODE_NAME"), "The node this agent serves (default $NODE_NAME, from the downward API).")
	source := fs.String("device-source", "usbredirect", `How devices are lent: "usbredirect" runs usbredir's usbredirect on the node's devices; "simulated" announces the devices the node's labels show without hardware (the sandbox's nodes).`)
	usbredirect := fs.String("usbredirect", "usbredirect", "Path of usbredirect, for --device-source=usbredirect.")
	connectTimeout := fs.Duration("usbredirect-connect-timeout", 30*time.Second, "How long usbredirect may take to open a device and connect.")
	goflags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(goflags)
	fs.AddGoFlagSet(goflags)
	if err := fs.Parse(os.Args[1:]); errors.Is(err, pflag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if *nodeName == "" {
		return errors.New("--node-name (or $NODE_NAME) is required")
	}
	if *connectTimeout <= 0 {
		return fmt.Errorf("--usbredirect-connect-timeout must be positive, got %v: every lend would time out at once", *connectTimeout)
	}
	cfg := usbagent.Config{NodeName: *nodeName}
	switch *source {
	case "usbredirect":
		cfg.Source = usbagent.Usbredirect{Path: *usbredirect, ConnectTimeout: *connectTimeout}
	case "simulated":
		cfg.Source = usbagent.Simulated{}
	default:
		return fmt.Errorf("--device-source=%q: want usbredirect or simulated", *source)
	}

	restCfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	if cfg.Kube, err = kubernetes.NewForConfig(restCfg); err != nil {
		return err
	}
	if cfg.KubeVirt, err = kubevirt.NewClientset(restCfg); err != nil {
		return err
	}
	cfg.Dialer = console.NewKubeVirtDialer(restCfg)
	return usbagent.New(cfg).Run(genericapiserver.SetupSignalContext())
}
