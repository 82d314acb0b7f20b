package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

func newSnapshotCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "snapshot",
		Aliases: []string{"snapshots", "snap"},
		Short:   "Take, list, restore and delete VM snapshots (KubeVirt VirtualMachineSnapshots)",
	}
	create := newOperationCommand(e, snapshotOperation)
	create.Use = "create NAME"
	create.Short = "Take a snapshot of the VM NAME (the same operation as vm snapshot)"
	cmd.AddCommand(create, newSnapshotListCommand(e), newSnapshotDeleteCommand(e), newSnapshotRestoreCommand(e))
	return cmd
}

func newSnapshotListCommand(e *env) *cobra.Command {
	var (
		vm, labels    string
		allNamespaces bool
	)
	out := newOutput()
	cmd := &cobra.Command{
		Use:     "list [NAME...]",
		Aliases: []string{"get"},
		Short:   "List snapshots, or get the named ones",
		Long: `List KubeVirt VirtualMachineSnapshots, or get the named ones. -l is selected
by the API server; --vm is applied here to what it returns.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := out.printer(); err != nil {
				return err
			}
			if err := checkNamed(args, allNamespaces, vm != "" || labels != ""); err != nil {
				return err
			}
			ns, kv, err := e.kubeVirtIn()
			if err != nil {
				return err
			}
			ns = out.scope(ns, allNamespaces)
			list, err := kv.SnapshotV1beta1().VirtualMachineSnapshots(ns).List(cmd.Context(), metav1.ListOptions{LabelSelector: labels})
			if err != nil {
				return err
			}
			named := namesOf(args)
			var items []runtime.Object
			for i := range list.Items {
				s := &list.Items[i]
				if named.match(s.Name) && (vm == "" || s.Spec.Source.Name == vm) {
					items = append(items, s)
				}
			}
			out.single = len(args) == 1
			return out.printFound(e.streams.Out, e.streams.ErrOut, ns, items, snapshotColumns,
				named, "virtualmachinesnapshots.snapshot.kubevirt.io")
		},
	}
	out.addFlags(cmd)
	out.addSortFlag(cmd, ".metadata.creationTimestamp")
	cmd.Flags().StringVar(&vm, "vm", "", "Only snapshots of this VM (client-side).")
	cmd.Flags().StringVarP(&labels, "selector", "l", "", "Label selector (server-side).")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "List snapshots in every namespace.")
	return cmd
}

var snapshotColumns = columns{
	names: []string{"NAME", "VM", "PHASE", "READY", "AGE"},
	wide:  []string{"INDICATIONS", "DESCRIPTION", "ERROR"},
	row: func(item any, wide bool) []any {
		s := item.(*snapshotv1.VirtualMachineSnapshot)
		phase, ready := "<none>", false
		var indications []string
		errMsg := "<none>"
		if st := s.Status; st != nil {
			phase = orNone(string(st.Phase))
			ready = st.ReadyToUse != nil && *st.ReadyToUse
			for _, i := range st.Indications {
				indications = append(indications, string(i))
			}
			if st.Error != nil && st.Error.Message != nil {
				errMsg = *st.Error.Message
			}
		}
		cells := []any{s.Name, s.Spec.Source.Name, phase, ready, age(s.CreationTimestamp)}
		if wide {
			cells = append(cells, orNone(strings.Join(indications, ",")), orNone(s.Annotations[descriptionAnnot]), errMsg)
		}
		return cells
	},
}

func newSnapshotDeleteCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete snapshots (and, as KubeVirt's deletion policy says, their contents)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, kv, err := e.kubeVirtIn()
			if err != nil {
				return err
			}
			return e.deleteEach(args, "virtualmachinesnapshot.snapshot.kubevirt.io", func(name string) error {
				return kv.SnapshotV1beta1().VirtualMachineSnapshots(ns).Delete(cmd.Context(), name, metav1.DeleteOptions{})
			})
		},
	}
}

func newSnapshotRestoreCommand(e *env) *cobra.Command {
	var (
		asNew string
		w     waitFlags
	)
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT",
		Short: "Bring the snapshot's VM back to it, or make a new VM from it (the same operation as vm restore)",
		Long: `Bring the snapshot's VM back to it (a running VM is stopped, restored and
started again), or with --as-new make a new, stopped VM from it and leave the
VM as it is. The request is a Restore VMOperation on the snapshot's VM; with
--wait the command follows it and exits non-zero unless it succeeds.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, kv, err := e.kubeVirtIn()
			if err != nil {
				return err
			}
			snap, err := kv.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(cmd.Context(), args[0], metav1.GetOptions{})
			if err != nil {
				return err
			}
			if snap.Spec.Source.Kind != "VirtualMachine" {
				return fmt.Errorf("snapshot %s is of a %s, not a VirtualMachine", args[0], snap.Spec.Source.Kind)
			}
			return postOperation(cmd.Context(), e, &w, snap.Spec.Source.Name, "restore",
				&v1alpha1.RestoreSpec{SnapshotName: args[0], TargetName: asNew})
		},
	}
	cmd.Flags().StringVar(&asNew, "as-new", "", "Restore as a new, stopped VM of this name and leave the VM as it is.")
	w.addFlags(cmd)
	return cmd
}

// kubeVirtIn returns the namespace the flags name and KubeVirt's clientset
// for the flags' cluster and user.
func (e *env) kubeVirtIn() (string, kubevirt.Clientset, error) {
	ns, err := e.namespace()
	if err != nil {
		return "", nil, err
	}
	cfg, err := e.flags.ToRESTConfig()
	if err != nil {
		return "", nil, err
	}
	kv, err := kubevirt.NewClientset(cfg)
	return ns, kv, err
}
