// Command hypersdk-apiserver serves the hypersdk.io API group behind
// kube-apiserver's aggregation layer.
package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"
	cliflag "k8s.io/component-base/cli/flag"
	_ "k8s.io/component-base/logs/json/register"
	// rest_client_* metrics on /metrics, rest_client_rate_limiter_duration_seconds
	// among them: client-side throttling of this server's requests shows there.
	_ "k8s.io/component-base/metrics/prometheus/restclient"
	"k8s.io/component-base/term"

	"github.com/hypersdk/hypersdk/pkg/apiserver"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	os.Exit(cli.Run(newCommand(ctx)))
}

func newCommand(ctx context.Context) *cobra.Command {
	o := apiserver.NewOptions()
	cmd := &cobra.Command{
		Use:   "hypersdk-apiserver",
		Short: "Serve the hypersdk.io API: KubeVirt virtual machines and their operations",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			cfg, err := o.Config()
			if err != nil {
				return err
			}
			server, err := cfg.Complete().New()
			if err != nil {
				return err
			}
			return server.GenericAPIServer.PrepareRun().RunWithContext(cmd.Context())
		},
		SilenceUsage: true,
	}
	cmd.SetContext(ctx)
	fss := o.Flags()
	for _, fs := range fss.FlagSets {
		cmd.Flags().AddFlagSet(fs)
	}
	cols, _, _ := term.TerminalSize(cmd.OutOrStdout())
	cliflag.SetUsageAndHelpFunc(cmd, fss, cols)
	return cmd
}
