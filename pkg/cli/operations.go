package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
)

// operationCommand is a VM subcommand that posts to a VM's operation
// subresource: its flags fill the options body.
type operationCommand struct {
	sub, short string
	// flags registers the options' flags and returns the body they make.
	flags func(cmd *cobra.Command) func() (interface{}, error)
}

var operationCommands = []operationCommand{
	{"start", "Start a stopped VM", func(cmd *cobra.Command) func() (interface{}, error) {
		spec := &v1alpha1.StartSpec{}
		cmd.Flags().BoolVar(&spec.Paused, "paused", false, "Start with the CPUs paused.")
		return func() (interface{}, error) { return spec, nil }
	}},
	{"stop", "Stop a running VM", func(cmd *cobra.Command) func() (interface{}, error) {
		grace := cmd.Flags().Int64("grace-period", -1, "Seconds the guest gets to shut down (the VM's own when negative).")
		return func() (interface{}, error) {
			spec := &v1alpha1.StopSpec{}
			if *grace >= 0 {
				spec.GracePeriodSeconds = grace
			}
			return spec, nil
		}
	}},
	{"restart", "Restart a running VM", func(cmd *cobra.Command) func() (interface{}, error) {
		grace := cmd.Flags().Int64("grace-period", -1, "Seconds the guest gets to shut down (the VM's own when negative).")
		return func() (interface{}, error) {
			spec := &v1alpha1.RestartSpec{}
			if *grace >= 0 {
				spec.GracePeriodSeconds = grace
			}
			return spec, nil
		}
	}},
	{"migrate", "Move a running VM to another node (live when its storage allows)", func(cmd *cobra.Command) func() (interface{}, error) {
		spec := &v1alpha1.MigrateSpec{}
		cmd.Flags().StringVar(&spec.TargetNode, "node", "", "Node to move to (else the scheduler picks one).")
		cmd.Flags().StringToStringVar(&spec.NodeSelector, "node-selector", nil, "Labels the target node must have, key=value,...")
		cmd.Flags().BoolVar(&spec.AllowColdMigration, "allow-cold", false, "Stop and start the VM elsewhere when it cannot move live.")
		return func() (interface{}, error) { return spec, nil }
	}},
	{"clone", "Copy a VM (or one of its snapshots) to a new VM", func(cmd *cobra.Command) func() (interface{}, error) {
		spec := &v1alpha1.CloneSpec{}
		cmd.Flags().StringVar(&spec.TargetName, "target", "", "Name of the new VM (required).")
		cmd.Flags().StringVar(&spec.TargetNamespace, "target-namespace", "", "Namespace of the new VM (the source's when empty).")
		cmd.Flags().StringVar(&spec.SnapshotRef, "from-snapshot", "", "Clone this VirtualMachineSnapshot of the VM instead of the VM.")
		cmd.Flags().BoolVar(&spec.LinkedClone, "linked", false, "Share the source's disks copy-on-write (CSI clone) instead of copying them.")
		cmd.Flags().BoolVar(&spec.PowerOnAfter, "power-on", false, "Start the new VM when it is made.")
		cmd.Flags().BoolVar(&spec.NewMACAddresses, "new-macs", false, "Give the new VM's interfaces new MAC addresses.")
		return func() (interface{}, error) {
			if spec.TargetName == "" {
				return nil, fmt.Errorf("--target is required: the name of the new VM")
			}
			return spec, nil
		}
	}},
	{"resize", "Change a VM's vCPUs or memory (live where KubeVirt can)", func(cmd *cobra.Command) func() (interface{}, error) {
		cpus := cmd.Flags().Int32("cpus", 0, "New number of vCPUs.")
		memory := cmd.Flags().String("memory", "", "New guest memory, a quantity such as 8Gi.")
		policy := cmd.Flags().String("restart-policy", "", "Restart to apply what cannot change live: Never, IfNeeded (the server's default when empty).")
		return func() (interface{}, error) {
			spec := &v1alpha1.ResizeSpec{RestartPolicy: v1alpha1.ResizeRestartPolicy(*policy)}
			if *cpus != 0 {
				spec.CPUs = ptr.To(*cpus)
			}
			if *memory != "" {
				q, err := resource.ParseQuantity(*memory)
				if err != nil {
					return nil, fmt.Errorf("--memory %q is not a quantity (such as 512Mi or 8Gi)", *memory)
				}
				spec.Memory = &q
			}
			return spec, nil
		}
	}},
	snapshotOperation,
	restoreOperation,
}

// restoreOperation is both vm restore and (with the VM read from the
// snapshot) snapshot restore.
var restoreOperation = operationCommand{"restore", "Bring a VM back to one of its snapshots, or make a new VM from it",
	func(cmd *cobra.Command) func() (interface{}, error) {
		spec := &v1alpha1.RestoreSpec{}
		cmd.Flags().StringVar(&spec.SnapshotName, "snapshot", "", "The VM's VirtualMachineSnapshot to restore (required).")
		cmd.Flags().StringVar(&spec.TargetName, "as-new", "", "Restore as a new, stopped VM of this name and leave the VM as it is.")
		return func() (interface{}, error) {
			if spec.SnapshotName == "" {
				return nil, fmt.Errorf("--snapshot is required: the snapshot to restore")
			}
			return spec, nil
		}
	}}

// snapshotOperation is both vm snapshot and snapshot create.
var snapshotOperation = operationCommand{"snapshot", "Take a snapshot of a VM", func(cmd *cobra.Command) func() (interface{}, error) {
	spec := &v1alpha1.SnapshotSpec{}
	cmd.Flags().StringVar(&spec.Name, "name", "", "Name of the snapshot (derived from the operation when empty).")
	cmd.Flags().StringVar(&spec.Description, "description", "", "Kept on the snapshot.")
	cmd.Flags().BoolVar(&spec.Quiesce, "quiesce", false, "Require the guest file systems to be frozen (needs the guest agent).")
	return func() (interface{}, error) { return spec, nil }
}}

func newOperationCommand(e *env, op operationCommand) *cobra.Command {
	var w waitFlags
	var body func() (interface{}, error)
	cmd := &cobra.Command{
		Use:   op.sub + " NAME",
		Short: op.short,
		Long: op.short + `.

The request becomes a VMOperation (kubectl hyper op get NAME). With --wait the
command follows it by watch to its end and exits non-zero, with the
operation's message, when it fails, is cancelled or --timeout passes.`,
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := body()
			if err != nil {
				return err
			}
			return postOperation(cmd.Context(), e, &w, args[0], op.sub, b)
		},
	}
	body = op.flags(cmd)
	w.addFlags(cmd)
	return cmd
}

// postOperation posts body to the VM's operation subresource sub, says which
// VMOperation it became and, with --wait, follows it.
func postOperation(ctx context.Context, e *env, w *waitFlags, vm, sub string, body interface{}) error {
	ns, c, err := e.clientIn()
	if err != nil {
		return err
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	created := &v1alpha1.VMOperation{}
	err = c.HypersdkV1alpha1().RESTClient().Post().Namespace(ns).Resource("virtualmachines").Name(vm).
		SubResource(sub).SetHeader("Content-Type", "application/json").Body(data).Do(ctx).Into(created)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.streams.Out, "vmoperation.hypersdk.io/%s created\n", created.Name)
	if !w.following() {
		return nil
	}
	return w.follow(ctx, e, c, created)
}

func exactlyOneVM(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("name exactly one VM, got %d: %s", len(args), strings.Join(args, " "))
	}
	return nil
}

func newOpCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "op",
		Aliases: []string{"ops", "operation", "operations"},
		Short:   "List, follow and cancel VM operations (vmoperations.hypersdk.io)",
	}
	cmd.AddCommand(newOpListCommand(e, "list"), newOpListCommand(e, "get"), newOpWaitCommand(e), newOpCancelCommand(e))
	return cmd
}

var opColumns = columns{
	names: []string{"NAME", "VM", "TYPE", "PHASE", "PROGRESS", "MESSAGE", "AGE"},
	wide:  []string{"REQUESTER", "STARTED", "COMPLETED"},
	row: func(obj any, wide bool) []any {
		op := obj.(*v1alpha1.VMOperation)
		cells := []any{op.Name, op.Spec.VMName, string(op.Spec.Type), orNone(string(op.Status.Phase)),
			fmt.Sprintf("%d%%", op.Status.Progress), orNone(op.Status.Message), age(op.CreationTimestamp)}
		if wide {
			requester := ""
			if op.Spec.Requester != nil {
				requester = op.Spec.Requester.Username
			}
			cells = append(cells, orNone(requester), timeOrNone(op.Status.StartTime), timeOrNone(op.Status.CompletionTime))
		}
		return cells
	},
}

func timeOrNone(t *metav1.Time) string {
	if t == nil {
		return "<none>"
	}
	return t.UTC().Format(time.RFC3339)
}

func newOpListCommand(e *env, use string) *cobra.Command {
	var (
		allNamespaces bool
		watchFlag     bool
		vm, phase     string
		labels        string
	)
	out := newOutput()
	cmd := &cobra.Command{
		Use:   use + " [NAME...]",
		Short: "List operations, or get the named ones",
		Long: `List operations, or get the named ones.

--vm, --phase and -l are selected by the API server. With --watch, every
change is printed with its event type and time until interrupted; an
operation that leaves the phase asked for is DELETED from the watch.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := out.printer(); err != nil {
				return err
			}
			if err := checkNamed(args, allNamespaces, vm != "" || phase != "" || labels != ""); err != nil {
				return err
			}
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			ns = out.scope(ns, allNamespaces)
			ops := c.HypersdkV1alpha1().VMOperations(ns)
			ctx := cmd.Context()
			named := namesOf(args)
			keep := func(obj runtime.Object) bool {
				op, ok := obj.(*v1alpha1.VMOperation)
				return ok && named.match(op.Name)
			}
			// --vm and --phase select on the server: a watch then says
			// DELETED when an operation leaves the phase asked for.
			var selected []fields.Selector
			if vm != "" {
				selected = append(selected, fields.OneTermEqualSelector("spec.vmName", vm))
			}
			if phase != "" {
				selected = append(selected, fields.OneTermEqualSelector("status.phase", phase))
			}
			opts := metav1.ListOptions{LabelSelector: labels, FieldSelector: fields.AndSelectors(selected...).String()}
			if len(args) == 1 && watchFlag {
				// As kubectl get NAME --watch: the server then authorizes
				// the one name (a Role's resourceNames), and sends no other.
				// Without --watch one name is a get.
				opts.FieldSelector = fields.AndSelectors(append(selected, fields.OneTermEqualSelector("metadata.name", args[0]))...).String()
			}
			var list *v1alpha1.VMOperationList
			out.single = len(args) == 1
			if len(args) == 1 && labels == "" && len(selected) == 0 && !watchFlag {
				op, err := ops.Get(ctx, args[0], metav1.GetOptions{})
				if err != nil {
					return err
				}
				list = &v1alpha1.VMOperationList{Items: []v1alpha1.VMOperation{*op}}
				list.ResourceVersion = op.ResourceVersion
			} else if list, err = ops.List(ctx, opts); err != nil {
				return err
			}
			var items []runtime.Object
			for i := range list.Items {
				if keep(&list.Items[i]) {
					items = append(items, &list.Items[i])
				}
			}
			const resource = "vmoperations.hypersdk.io"
			if !watchFlag {
				return out.printFound(e.streams.Out, e.streams.ErrOut, ns, items, opColumns, named, resource)
			}
			if err := named.missing(e.streams.ErrOut, items, resource); err != nil {
				return err
			}
			// From the list's version, not a named object's own: that one
			// may be older than the server's watch history reaches.
			opts.TimeoutSeconds = e.watchTimeout()
			start := func(ctx context.Context, rv string) (watch.Interface, error) {
				o := opts
				o.ResourceVersion, o.AllowWatchBookmarks = rv, true
				return ops.Watch(ctx, o)
			}
			return watchEvents(ctx, e, out, items, list.ResourceVersion, start, opColumns, keep)
		},
	}
	out.addFlags(cmd)
	out.addSortFlag(cmd, ".metadata.creationTimestamp")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "List operations in every namespace.")
	cmd.Flags().BoolVarP(&watchFlag, "watch", "w", false, "After listing, print every change until interrupted.")
	cmd.Flags().StringVar(&vm, "vm", "", "Only operations on this VM (server-side).")
	cmd.Flags().StringVar(&phase, "phase", "", "Only operations in this phase: Pending, Running, Succeeded, Failed, Cancelled (server-side).")
	cmd.Flags().StringVarP(&labels, "selector", "l", "", "Label selector (server-side).")
	return cmd
}

func newOpWaitCommand(e *env) *cobra.Command {
	w := waitFlags{wait: true}
	cmd := &cobra.Command{
		Use:   "wait NAME",
		Short: "Follow an operation to its end",
		Long: `Follow an operation by watch to its end. The exit code is non-zero, with
the operation's message, when it fails, is cancelled or --timeout passes.`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			op, c, err := getOperation(cmd.Context(), e, args[0])
			if err != nil {
				return err
			}
			return w.follow(cmd.Context(), e, c, op)
		},
	}
	w.addFollowFlags(cmd)
	return cmd
}

func newOpCancelCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel NAME",
		Short: "Ask an operation to stop (a migration is aborted; a half-made clone is removed)",
		Args:  exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			ops := c.HypersdkV1alpha1().VMOperations(ns)
			op, err := ops.Get(cmd.Context(), args[0], metav1.GetOptions{})
			if err != nil {
				return err
			}
			if op.Status.Phase.Final() {
				return fmt.Errorf("operation %s already %s: there is nothing to cancel", op.Name, op.Status.Phase)
			}
			if _, err := ops.Patch(cmd.Context(), args[0], types.MergePatchType, []byte(`{"spec":{"cancel":true}}`), metav1.PatchOptions{}); err != nil {
				return err
			}
			fmt.Fprintf(e.streams.Out, "vmoperation.hypersdk.io/%s cancel requested\n", args[0])
			return nil
		},
	}
	return cmd
}

func exactlyOneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("name exactly one operation, got %d", len(args))
	}
	return nil
}

func getOperation(ctx context.Context, e *env, name string) (*v1alpha1.VMOperation, hypersdkclient.Interface, error) {
	ns, c, err := e.clientIn()
	if err != nil {
		return nil, nil, err
	}
	op, err := c.HypersdkV1alpha1().VMOperations(ns).Get(ctx, name, metav1.GetOptions{})
	return op, c, err
}
