package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/dashboard"
)

func newDashboardCommand(e *env) *cobra.Command {
	var (
		path    string
		address string
		port    int
	)
	cmd := &cobra.Command{
		Use:     "dashboard",
		Aliases: []string{"dashboards"},
		Short:   "Serve the dashboard on localhost; save dashboards (hypersdk.io Dashboards)",
		Long: `Serve the dashboard on localhost. It reaches each cluster (kubectl hyper
clusters) with your own kubeconfig credentials, so you see and may do what
RBAC lets you; open the printed URL, which carries a token only this run
knows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.serveDashboard(cmd.Context(), e.clusterStore(path), address, port)
		},
	}
	cmd.Flags().StringVar(&path, "clusters-file", dashboard.DefaultClustersFile(), "The list of clusters to show (kubectl hyper clusters).")
	cmd.Flags().StringVar(&address, "address", "127.0.0.1", "Loopback address to listen on.")
	cmd.Flags().IntVar(&port, "port", 0, "Port to listen on; any free port when 0.")
	var template, vm, title string
	create := &cobra.Command{
		Use:   "create NAME --template " + strings.Join(dashboard.Templates, "|"),
		Short: "Save a dashboard made from a template in the namespace",
		Long: `Save a Dashboard made from a template: overview (VMs by phase, CPU and memory
used against allocated, operations, migrations, the VM list), carbon, cost, or
vm (one VM's resources, serial console and VNC; name it with --vm). The same
object can be written by hand and applied with kubectl apply.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ref *v1alpha1.DashboardVMReference
			if vm != "" {
				ref = &v1alpha1.DashboardVMReference{Name: vm}
			}
			spec, err := dashboard.FromTemplate(template, ref)
			if err != nil {
				return err
			}
			if title != "" {
				spec.Title = title
			}
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			created, err := c.HypersdkV1alpha1().Dashboards(ns).Create(cmd.Context(),
				&v1alpha1.Dashboard{ObjectMeta: metav1.ObjectMeta{Name: args[0]}, Spec: spec}, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.streams.Out, "dashboard.hypersdk.io/%s created\n", created.Name)
			return err
		},
	}
	create.Flags().StringVar(&template, "template", "overview", "Template: "+strings.Join(dashboard.Templates, ", ")+".")
	create.Flags().StringVar(&vm, "vm", "", "The VM of the vm template (in the namespace).")
	create.Flags().StringVar(&title, "title", "", "Title shown above the grid (the template's by default).")
	cmd.AddCommand(create)
	return cmd
}
