// Package cli is `kubectl hyper`: commands on HyperSDK's VMs and operations,
// built on cobra and cli-runtime so that the connection flags (--kubeconfig,
// --context, -n, --as, --request-timeout, ...) behave as kubectl's.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
)

// Run runs kubectl hyper with args and returns the process exit code: 0, or
// 1 after one line on stderr naming the problem.
func Run(streams genericiooptions.IOStreams, args []string) int {
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	// Ctrl-C ends a watch or a wait cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(streams.ErrOut, errorLine(err))
		return 1
	}
	return 0
}

// errorLine is an error as kubectl prints it: "Error from server
// (NotFound): ..." for what the server answered, with its Status message,
// "error: ..." for the rest.
func errorLine(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		// A server that cannot be reached is said as kubectl says it.
		if msg, ok := cmdutil.StandardErrorMessage(err); ok {
			return msg
		}
		return "error: " + oneLine(err)
	}
	switch reason := status.Status().Reason; {
	case reason == metav1.StatusReasonUnauthorized:
		return "error: You must be logged in to the server (" + oneLine(err) + ")"
	case reason != "":
		return "Error from server (" + string(reason) + "): " + oneLine(err)
	}
	return "Error from server: " + oneLine(err)
}

// oneLine is an error's text as one line. An API error's text is its
// Status message, which names the object and the field; what the command
// wrapped it in (what it was reading, and where) stays in front of it.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// deleteEach deletes every named object, as kubectl delete does: one that
// fails is reported on stderr and the others are still tried; the command
// fails if any did.
func (e *env) deleteEach(names []string, kind string, del func(name string) error) error {
	failed := 0
	for _, name := range names {
		if err := del(name); err != nil {
			fmt.Fprintln(e.streams.ErrOut, errorLine(err))
			failed++
			continue
		}
		fmt.Fprintf(e.streams.Out, "%s/%s deleted\n", kind, name)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d not deleted", failed, len(names))
	}
	return nil
}

// env is what every command shares: the connection flags and the streams.
type env struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
}

// client is the hypersdk.io clientset for the flags' cluster and user.
func (e *env) client() (hypersdkclient.Interface, error) {
	cfg, err := e.flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return hypersdkclient.NewForConfig(cfg)
}

// vmSubresource is a GET of a VM's subresource.
func vmSubresource(c hypersdkclient.Interface, ns, vm, sub string) *rest.Request {
	return c.HypersdkV1alpha1().RESTClient().Get().Namespace(ns).Resource("virtualmachines").Name(vm).SubResource(sub)
}

// getVMSubresource reads a VM's read-only subresource into obj and, unless
// the output is a table, prints it whole; done says it was printed. The
// output flags are checked before anything is read.
func (e *env) getVMSubresource(ctx context.Context, out *output, vm, sub string, obj runtime.Object) (ns string, done bool, err error) {
	printer, err := out.printer()
	if err != nil {
		return "", false, err
	}
	ns, c, err := e.clientIn()
	if err != nil {
		return "", false, err
	}
	if err := vmSubresource(c, ns, vm, sub).Do(ctx).Into(obj); err != nil {
		return "", false, err
	}
	if out.table() {
		return ns, false, nil
	}
	return ns, true, printer.PrintObj(obj, e.streams.Out)
}

// clientIn returns the namespace the flags name and a client.
func (e *env) clientIn() (string, hypersdkclient.Interface, error) {
	ns, err := e.namespace()
	if err != nil {
		return "", nil, err
	}
	c, err := e.client()
	return ns, c, err
}

// requestTimeout is --request-timeout (0 when unset or not a duration:
// the client then fails on it first).
func (e *env) requestTimeout() time.Duration {
	cfg, err := e.flags.ToRESTConfig()
	if err != nil {
		return 0
	}
	return cfg.Timeout
}

// watchTimeout is --request-timeout as a watch's timeoutSeconds, so the
// server ends the watch cleanly when it passes.
func (e *env) watchTimeout() *int64 {
	if t := e.requestTimeout(); t > 0 {
		secs := int64((t + time.Second - 1) / time.Second)
		return &secs
	}
	return nil
}

// namespace is the -n namespace, else the kubeconfig context's.
func (e *env) namespace() (string, error) {
	ns, _, err := e.flags.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// NewCommand returns the root command.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	e := &env{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	cmd := &cobra.Command{
		Use:           "kubectl-hyper",
		Short:         "Work with HyperSDK virtual machines and their operations",
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl hyper"},
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	e.flags.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(newVMCommand(e), newOpCommand(e), newConsoleCommand(e), newVNCCommand(e), newUSBCommand(e), newTemplateCommand(e), newSnapshotCommand(e),
		newCostReportCommand(e), newDashboardCommand(e), newClustersCommand(e))
	refuseUnknownSubcommands(cmd)
	return cmd
}

// refuseUnknownSubcommands makes every command group below the root (vm,
// op, ...) fail on a word that names none of its commands, as kubectl does.
// cobra checks that only at the root: a group that cannot run itself
// printed its help and exited 0 for "kubectl hyper vm strat".
func refuseUnknownSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		if !c.HasSubCommands() {
			continue
		}
		if !c.Runnable() {
			c.RunE = func(c *cobra.Command, args []string) error {
				if len(args) == 0 {
					return c.Help()
				}
				msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
				if s := c.SuggestionsFor(args[0]); len(s) > 0 {
					msg += "; did you mean " + strings.Join(s, " or ") + "?"
				}
				return errors.New(msg)
			}
		}
		refuseUnknownSubcommands(c)
	}
}
