package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

func newVMCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "vm",
		Aliases: []string{"vms"},
		Short:   "List, inspect and operate virtual machines (virtualmachines.hypersdk.io)",
	}
	cmd.AddCommand(newVMListCommand(e, "list"), newVMListCommand(e, "get"), newVMDeleteCommand(e),
		newVMHistoryCommand(e), newVMPlacementCommand(e), newVMDescribeCommand(e), newVMCreateCommand(e), newVMTopCommand(e),
		newVMRecommendCommand(e), newVMCostCommand(e))
	for _, op := range operationCommands {
		cmd.AddCommand(newOperationCommand(e, op))
	}
	return cmd
}

// completeVMs completes the names of VMs not yet given, in the namespace
// the flags name.
func completeVMs(e *env) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, given []string, prefix string) ([]string, cobra.ShellCompDirective) {
		ns, c, err := e.clientIn()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		list, err := c.HypersdkV1alpha1().VirtualMachines(ns).List(cmd.Context(), metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		for _, vm := range list.Items {
			if strings.HasPrefix(vm.Name, prefix) && !slices.Contains(given, vm.Name) {
				names = append(names, vm.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func newVMDeleteCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:               "delete NAME...",
		Short:             "Delete VMs (their KubeVirt VirtualMachines, and with them the instances)",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			return e.deleteEach(args, "virtualmachine.hypersdk.io", func(name string) error {
				return c.HypersdkV1alpha1().VirtualMachines(ns).Delete(cmd.Context(), name, metav1.DeleteOptions{})
			})
		},
	}
}

// vmFilters select VMs. Labels, status and node are selected by the server;
// CPUs and memory, which it cannot select on, here.
type vmFilters struct {
	labels    string
	status    string
	node      string
	minCPUs   int32
	minMemory string
	memory    *resource.Quantity
}

func (f *vmFilters) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.labels, "selector", "l", "", "Label selector (server-side), e.g. app=web,tier!=db.")
	cmd.Flags().StringVar(&f.status, "status", "", "Only VMs in this phase, e.g. Running, Stopped (server-side, field status.phase).")
	cmd.Flags().StringVar(&f.node, "node", "", "Only VMs running on this node (server-side, field status.nodeName).")
	cmd.Flags().Int32Var(&f.minCPUs, "min-cpus", 0, "Only VMs with at least this many vCPUs (client-side).")
	cmd.Flags().StringVar(&f.minMemory, "min-memory", "", "Only VMs with at least this much memory, a quantity such as 4Gi (client-side).")
}

func (f *vmFilters) validate() error {
	if f.minCPUs < 0 {
		return fmt.Errorf("--min-cpus must not be negative, got %d", f.minCPUs)
	}
	if f.minMemory != "" {
		q, err := resource.ParseQuantity(f.minMemory)
		if err != nil {
			return fmt.Errorf("--min-memory %q is not a quantity (such as 512Mi or 4Gi)", f.minMemory)
		}
		f.memory = &q
	}
	return nil
}

// any reports whether a filter is set.
func (f *vmFilters) any() bool {
	return f.labels != "" || f.status != "" || f.node != "" || f.minCPUs > 0 || f.minMemory != ""
}

// listOptions carries the server-side filters.
func (f *vmFilters) listOptions() metav1.ListOptions {
	var sel []fields.Selector
	if f.status != "" {
		sel = append(sel, fields.OneTermEqualSelector("status.phase", f.status))
	}
	if f.node != "" {
		sel = append(sel, fields.OneTermEqualSelector("status.nodeName", f.node))
	}
	return metav1.ListOptions{LabelSelector: f.labels, FieldSelector: fields.AndSelectors(sel...).String()}
}

// match applies the client-side filters.
func (f *vmFilters) match(vm *v1alpha1.VirtualMachine) bool {
	if f.minCPUs > 0 && vm.Spec.CPUs < f.minCPUs {
		return false
	}
	if f.memory != nil && (vm.Spec.Memory == nil || vm.Spec.Memory.Cmp(*f.memory) < 0) {
		return false
	}
	return true
}

func newVMListCommand(e *env, use string) *cobra.Command {
	var (
		filters       vmFilters
		allNamespaces bool
		watchFlag     bool
	)
	out := newOutput()
	cmd := &cobra.Command{
		Use:   use + " [NAME...]",
		Short: "List VMs, or get the named ones",
		Long: `List VMs, or get the named ones.

Filters combine with AND. -l, --status and --node are selected by the API
server; --min-cpus and --min-memory are applied here to what it returns.
With --watch, every change is printed with its event type (ADDED, MODIFIED,
DELETED) and time, in any output format, until interrupted.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filters.validate(); err != nil {
				return err
			}
			if _, err := out.printer(); err != nil {
				return err
			}
			if err := checkNamed(args, allNamespaces, filters.any()); err != nil {
				return err
			}
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			ns = out.scope(ns, allNamespaces)
			vms := c.HypersdkV1alpha1().VirtualMachines(ns)
			opts := filters.listOptions()
			if len(args) == 1 && watchFlag {
				// As kubectl get NAME --watch: the server then authorizes
				// the one name (a Role's resourceNames), and sends no other.
				// Without --watch one name is a get.
				opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", args[0]).String()
			}
			named := namesOf(args)
			keep := func(vm *v1alpha1.VirtualMachine) bool {
				return named.match(vm.Name) && filters.match(vm)
			}
			ctx := cmd.Context()
			var list *v1alpha1.VirtualMachineList
			out.single = len(args) == 1
			if len(args) == 1 && opts.LabelSelector == "" && opts.FieldSelector == "" && !watchFlag {
				// A watch starts from a list's version instead: a named
				// object's own may be older than the server's watch
				// history reaches.
				vm, err := vms.Get(ctx, args[0], metav1.GetOptions{})
				if err != nil {
					return err
				}
				list = &v1alpha1.VirtualMachineList{Items: []v1alpha1.VirtualMachine{*vm}}
				list.ResourceVersion = vm.ResourceVersion
			} else if list, err = vms.List(ctx, opts); err != nil {
				return err
			}
			var items []runtime.Object
			for i := range list.Items {
				if keep(&list.Items[i]) {
					items = append(items, &list.Items[i])
				}
			}
			if !watchFlag {
				return out.printFound(e.streams.Out, e.streams.ErrOut, ns, items, vmColumns, named, vmResource)
			}
			if err := named.missing(e.streams.ErrOut, items, vmResource); err != nil {
				return err
			}
			opts.TimeoutSeconds = e.watchTimeout()
			start := func(ctx context.Context, rv string) (watch.Interface, error) {
				o := opts
				o.ResourceVersion, o.AllowWatchBookmarks = rv, true
				return vms.Watch(ctx, o)
			}
			return watchEvents(ctx, e, out, items, list.ResourceVersion, start, vmColumns, func(obj runtime.Object) bool {
				vm, ok := obj.(*v1alpha1.VirtualMachine)
				return ok && keep(vm)
			})
		},
	}
	filters.addFlags(cmd)
	out.addFlags(cmd)
	out.addSortFlag(cmd, "{.status.allocatedCPUs}")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "List VMs in every namespace.")
	cmd.Flags().BoolVarP(&watchFlag, "watch", "w", false, "After listing, print every change until interrupted.")
	return cmd
}

// vmResource names hypersdk.io's VMs in messages as kubectl does.
const vmResource = "virtualmachines.hypersdk.io"

var vmColumns = columns{
	names: []string{"NAME", "STATUS", "CPUS", "MEMORY", "NODE", "AGE"},
	wide:  []string{"IP", "ALLOCATED-CPUS", "ALLOCATED-MEMORY", "IMAGE"},
	row: func(obj any, wide bool) []any {
		vm := obj.(*v1alpha1.VirtualMachine)
		mem := "<none>"
		if vm.Spec.Memory != nil {
			mem = vm.Spec.Memory.String()
		}
		cells := []any{vm.Name, orNone(string(vm.Status.Phase)), vm.Spec.CPUs, mem, orNone(vm.Status.NodeName), age(vm.CreationTimestamp)}
		if wide {
			allocMem := "<none>"
			if vm.Status.AllocatedMemory != nil {
				allocMem = vm.Status.AllocatedMemory.String()
			}
			cells = append(cells, orNone(strings.Join(vm.Status.IPs, ",")), vm.Status.AllocatedCPUs, allocMem, orNone(vm.Spec.Image))
		}
		return cells
	},
}

// startWatch starts a watch from a resourceVersion.
type startWatch func(ctx context.Context, resourceVersion string) (watch.Interface, error)

// rewatchPause is the least time between two watches the server ended.
const rewatchPause = time.Second

// watchEvents prints the listed items as ADDED (as kubectl get --watch
// --output-watch-events does), then each event that keep accepts of a
// watch started from the list's version rv, with its type and time, until
// ctx ends or --request-timeout passes. A watch the server ends before
// (its own timeout, or a watcher it found too slow) is started again from
// the last version seen, which bookmarks keep recent, so no change is
// missed; one whose history no longer reaches that version (410 Gone) is
// an error, so a script notices.
func watchEvents(ctx context.Context, e *env, out *output, listed []runtime.Object, rv string, start startWatch, cols columns, keep func(runtime.Object) bool) error {
	printer, err := out.printer()
	if err != nil {
		return err
	}
	if t := e.requestTimeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	headers := !out.noHeaders
	emit := func(ev watch.Event) error {
		now := time.Now().UTC().Format(time.RFC3339)
		if printer != nil {
			return printEvent(e.streams.Out, out, printer, ev, now)
		}
		o := *out
		o.noHeaders = !headers
		headers = false
		return o.printRows(e.streams.Out, []any{ev.Object}, cols, func(int) ([]string, []any) {
			return []string{"EVENT", "TIME"}, []any{string(ev.Type), now}
		})
	}
	shown := map[string]bool{} // namespace/name of what is shown as there
	for _, obj := range listed {
		shown[objectKey(obj)] = true
		if err := emit(watch.Event{Type: watch.Added, Object: obj}); err != nil {
			return err
		}
	}
	w, err := start(ctx, rv)
	if err != nil {
		if ctx.Err() != nil {
			return nil // the timeout passed while it started
		}
		return err
	}
	defer func() { w.Stop() }()
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				if ctx.Err() != nil {
					return nil // --request-timeout ended it, as it ends kubectl get --watch
				}
				w.Stop()
				if wait := rewatchPause - time.Since(started); wait > 0 {
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(wait):
					}
				}
				// The deferred Stop is of w: a failed start (nil watch) must
				// not replace it.
				next, err := start(ctx, rv)
				if err != nil {
					if ctx.Err() != nil {
						return nil // the timeout passed while it started again
					}
					return err
				}
				w, started = next, time.Now()
				continue
			}
			if ev.Type == watch.Error {
				if ctx.Err() != nil {
					// Cancelled (an interrupt): client-go reports the
					// stream it cut as an error event.
					return nil
				}
				return fmt.Errorf("watch: %w", apierrors.FromObject(ev.Object))
			}
			if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() != "" {
				rv = m.GetResourceVersion()
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			// An object the filters no longer take leaves the watch as
			// DELETED, and one they take again comes back as ADDED, as
			// with the server's own filters.
			key := objectKey(ev.Object)
			switch {
			case keep(ev.Object) && ev.Type != watch.Deleted:
				if !shown[key] {
					ev.Type = watch.Added
				}
				shown[key] = true
			case shown[key]:
				delete(shown, key)
				ev.Type = watch.Deleted
			default:
				continue
			}
			if err := emit(ev); err != nil {
				return err
			}
		}
	}
}

// objectKey is an object's namespace/name.
func objectKey(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetNamespace() + "/" + m.GetName()
}

// printEvent writes an event in an object format: {type, time, object} in
// json (a line each) and yaml (a document each), "TYPE TIME kind/name" for
// name, and the template's output for jsonpath and go-template.
func printEvent(w io.Writer, out *output, p printers.ResourcePrinter, ev watch.Event, now string) error {
	obj := ev.Object.DeepCopyObject()
	if err := out.setKind(obj); err != nil {
		return err
	}
	// As the json and yaml printers do: managedFields only when asked for.
	if m, err := meta.Accessor(obj); err == nil && (out.flags.JSONYamlPrintFlags == nil || !out.flags.JSONYamlPrintFlags.ShowManagedFields) {
		m.SetManagedFields(nil)
	}
	doc := map[string]interface{}{"type": ev.Type, "time": now, "object": obj}
	switch out.format() {
	case "json":
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "---\n%s", b)
		return err
	case "name":
		if _, err := fmt.Fprintf(w, "%s %s ", ev.Type, now); err != nil {
			return err
		}
	}
	return p.PrintObj(obj, w)
}
