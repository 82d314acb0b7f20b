package cli

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// vmUsage is one row of vm top: what a running VM's virt-launcher pod uses
// now, against what the VM was given.
type vmUsage struct {
	vm *v1alpha1.VirtualMachine
	// cpu and memory are nil while metrics.k8s.io has no sample of the pod.
	cpu, memory *resource.Quantity
}

func (u vmUsage) object() runtime.Object { return u.vm }

func newVMTopCommand(e *env) *cobra.Command {
	var (
		labels, sortBy string
		allNamespaces  bool
	)
	out := newOutput()
	cmd := &cobra.Command{
		Use:   "top [NAME...]",
		Short: "Show the CPU and memory running VMs use now",
		Long: `Show the CPU and memory running VMs use now, as metrics.k8s.io reports for
their virt-launcher pods (the pod on the VM's node while it migrates), and
the share of the VM's vCPUs and memory that is. -l is selected by the API
server. A VM whose pod has no sample yet shows <unknown>; when
metrics.k8s.io itself cannot be read the command fails. A named VM that is
not running, or not there, is a line of stderr after the rows, and the
command fails, as kubectl get does for names it cannot find.`,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch out.format() {
			case "", "table", "csv":
			default:
				return fmt.Errorf("unknown output format %q: use table or csv", out.format())
			}
			if sortBy != "" && sortBy != "cpu" && sortBy != "memory" {
				return fmt.Errorf("--sort-by %q: use cpu or memory", sortBy)
			}
			if err := checkNamed(args, allNamespaces, labels != ""); err != nil {
				return err
			}
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			ns = out.scope(ns, allNamespaces)
			cfg, err := e.flags.ToRESTConfig()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			vms, err := c.HypersdkV1alpha1().VirtualMachines(ns).List(ctx, metav1.ListOptions{LabelSelector: labels})
			if err != nil {
				return err
			}
			kube, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubevirt.LauncherSelector})
			if err != nil {
				return fmt.Errorf("listing virt-launcher pods: %w", err)
			}
			mc, err := metricsclient.NewForConfig(cfg)
			if err != nil {
				return err
			}
			podMetrics, err := mc.MetricsV1beta1().PodMetricses(ns).List(ctx, metav1.ListOptions{LabelSelector: kubevirt.LauncherSelector})
			if err != nil {
				return fmt.Errorf("reading metrics.k8s.io: %w", err)
			}
			// The pod that runs a VM is the one on the VM's node.
			type podKey struct{ namespace, vm, node string }
			podOf := map[types.NamespacedName]podKey{}
			for _, p := range pods.Items {
				podOf[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = podKey{p.Namespace, p.Labels[kubevirt.VMNameLabel], p.Spec.NodeName}
			}
			used := map[podKey][2]*resource.Quantity{}
			for _, pm := range podMetrics.Items {
				key, ok := podOf[types.NamespacedName{Namespace: pm.Namespace, Name: pm.Name}]
				if !ok || key.node == "" {
					continue
				}
				cpu, memory := resource.NewMilliQuantity(0, resource.DecimalSI), resource.NewQuantity(0, resource.BinarySI)
				for _, ct := range pm.Containers {
					cpu.Add(*ct.Usage.Cpu())
					memory.Add(*ct.Usage.Memory())
				}
				used[key] = [2]*resource.Quantity{cpu, memory}
			}
			named := namesOf(args)
			var rows []any
			var listed []runtime.Object
			var stopped []error
			for i := range vms.Items {
				vm := &vms.Items[i]
				if !named.match(vm.Name) {
					continue
				}
				listed = append(listed, vm)
				if vm.Status.NodeName == "" {
					if len(named) > 0 {
						stopped = append(stopped, fmt.Errorf("VM %q is %s: only a running VM has usage to show", vm.Name, orNone(string(vm.Status.Phase))))
					}
					continue
				}
				u := vmUsage{vm: vm}
				if q, ok := used[podKey{vm.Namespace, vm.Name, vm.Status.NodeName}]; ok {
					u.cpu, u.memory = q[0], q[1]
				}
				rows = append(rows, u)
			}
			sortUsage(rows, sortBy)
			if len(rows) > 0 || len(named) == 0 {
				if err := out.printRows(e.streams.Out, rows, topColumns, nil); err != nil {
					return err
				}
			}
			if len(named) == 0 {
				out.noneFound(e.streams.ErrOut, ns, len(rows))
			}
			return lastError(e.streams.ErrOut, append(named.notFound(listed, vmResource), stopped...))
		},
	}
	cmd.Flags().StringVarP(out.flags.OutputFormat, "output", "o", "", "Output format: table (default) or csv.")
	cmd.Flags().BoolVar(&out.noHeaders, "no-headers", false, "Leave out the header line.")
	cmd.Flags().StringVarP(&labels, "selector", "l", "", "Label selector (server-side).")
	cmd.Flags().StringVar(&sortBy, "sort-by", "", "Sort by cpu or memory, the largest first.")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "Show VMs in every namespace.")
	return cmd
}

// sortUsage orders rows by cpu or memory, the largest first and rows
// without a sample last, as kubectl top does.
func sortUsage(rows []any, by string) {
	if by == "" {
		return
	}
	value := func(r any) *resource.Quantity {
		u := r.(vmUsage)
		if by == "cpu" {
			return u.cpu
		}
		return u.memory
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := value(rows[i]), value(rows[j])
		if a == nil || b == nil {
			return a != nil
		}
		return a.Cmp(*b) > 0
	})
}

var topColumns = columns{
	names: []string{"NAME", "NODE", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"},
	row: func(item any, _ bool) []any {
		u := item.(vmUsage)
		if u.cpu == nil {
			return []any{u.vm.Name, u.vm.Status.NodeName, "<unknown>", "<unknown>", "<unknown>", "<unknown>"}
		}
		cpus := float64(u.vm.Status.AllocatedCPUs)
		if cpus == 0 {
			cpus = float64(u.vm.Spec.CPUs)
		}
		memory := 0.0
		if m := u.vm.Status.AllocatedMemory; m != nil {
			memory = m.AsApproximateFloat64()
		} else if m := u.vm.Spec.Memory; m != nil {
			memory = m.AsApproximateFloat64()
		}
		return []any{u.vm.Name, u.vm.Status.NodeName,
			fmt.Sprintf("%dm", u.cpu.MilliValue()), percent(float64(u.cpu.MilliValue())/1000, cpus),
			fmt.Sprintf("%dMi", u.memory.Value()/(1<<20)), percent(u.memory.AsApproximateFloat64(), memory)}
	},
}

func percent(used, of float64) string {
	if of <= 0 {
		return "<unknown>"
	}
	return fmt.Sprintf("%.0f%%", 100*used/of)
}
