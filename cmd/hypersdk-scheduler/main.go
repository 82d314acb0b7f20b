// Command hypersdk-scheduler is kube-scheduler with HyperSDK's placement
// compiled in as the HyperSDKPlacement framework plugin (see
// pkg/schedulerplugin), for clusters that can run a second scheduler. It
// takes every kube-scheduler flag, plus the extender's flags for carbon
// intensity and node usage; profiles enable the plugin by name.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/hypersdk/hypersdk/pkg/schedulerplugin"
)

func main() {
	opts := schedulerplugin.NewOptions()
	cmd := app.NewSchedulerCommand(app.WithPlugin(schedulerplugin.Name, schedulerplugin.Factory(opts)))
	cmd.Use = "hypersdk-scheduler"
	opts.AddFlags(cmd.Flags())
	os.Exit(cli.Run(cmd))
}
