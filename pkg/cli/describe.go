package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

func newVMDescribeCommand(e *env) *cobra.Command {
	const recent = 10
	return &cobra.Command{
		Use:               "describe NAME",
		Short:             "Show a VM's spec, status, conditions and its ten latest operations",
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			vm, err := c.HypersdkV1alpha1().VirtualMachines(ns).Get(ctx, args[0], metav1.GetOptions{})
			if err != nil {
				return err
			}
			// The VM's operations, selected by the server; as kubectl
			// describe does with the events it cannot read, a refusal is
			// shown in their place, not made the command's error.
			ops, err := c.HypersdkV1alpha1().VMOperations(ns).List(ctx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("spec.vmName", vm.Name).String()})
			var mine []v1alpha1.VMOperation
			if err == nil {
				mine = ops.Items
				sort.Slice(mine, func(i, j int) bool { return mine[j].CreationTimestamp.Before(&mine[i].CreationTimestamp) })
				if len(mine) > recent {
					mine = mine[:recent]
				}
			}
			return describe(e.streams.Out, vm, mine, err)
		},
	}
}

// describe prints vm and its latest operations, or why they could not be
// listed (opsErr).
func describe(out io.Writer, vm *v1alpha1.VirtualMachine, ops []v1alpha1.VMOperation, opsErr error) error {
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	line := func(k string, v interface{}) { fmt.Fprintf(w, "%s:\t%v\n", k, v) }
	line("Name", vm.Name)
	line("Namespace", vm.Namespace)
	line("Labels", orNone(joinMap(vm.Labels)))
	line("Created", age(vm.CreationTimestamp)+" ago")
	line("CPUs", vm.Spec.CPUs)
	if vm.Spec.Memory != nil {
		line("Memory", vm.Spec.Memory.String())
	}
	switch {
	case vm.Spec.Image != "":
		line("Image", vm.Spec.Image)
	case vm.Spec.Source != nil && vm.Spec.Source.PersistentVolumeClaim != "":
		line("Root disk", "claim "+vm.Spec.Source.PersistentVolumeClaim)
	case vm.Spec.Source != nil && vm.Spec.Source.DataVolume != "":
		line("Root disk", "DataVolume "+vm.Spec.Source.DataVolume)
	}
	for _, g := range vm.Spec.GPUs {
		line("GPU", fmt.Sprintf("%s x%d", g.DeviceName, g.Count))
	}
	line("Status", orNone(string(vm.Status.Phase)))
	line("Node", orNone(vm.Status.NodeName))
	line("IPs", orNone(strings.Join(vm.Status.IPs, ", ")))
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "Conditions:")
	w = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "  TYPE\tSTATUS\tREASON\tMESSAGE")
	for _, c := range vm.Status.Conditions {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, orNone(c.Reason), orNone(c.Message))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "Operations:")
	if opsErr != nil {
		fmt.Fprintf(out, "  <unable to list: %s>\n", oneLine(opsErr))
		return nil
	}
	if len(ops) == 0 {
		fmt.Fprintln(out, "  <none>")
		return nil
	}
	w = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "  NAME\tTYPE\tPHASE\tPROGRESS\tMESSAGE\tAGE")
	for _, op := range ops {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%d%%\t%s\t%s\n", op.Name, op.Spec.Type, orNone(string(op.Status.Phase)),
			op.Status.Progress, orNone(op.Status.Message), age(op.CreationTimestamp))
	}
	return w.Flush()
}

func joinMap(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
