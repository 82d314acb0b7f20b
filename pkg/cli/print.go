package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/util/jsonpath"
	"k8s.io/kubectl/pkg/cmd/get"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// output prints objects in the format -o names: a table (the default),
// wide, csv, any of cli-runtime's printers (json, yaml, name, jsonpath,
// go-template), or kubectl's custom-columns.
type output struct {
	scheme    *runtime.Scheme
	flags     *genericclioptions.PrintFlags
	noHeaders bool
	sortBy    string
	// allNamespaces adds a namespace column to tables.
	allNamespaces bool
	// single is set when one object was asked for by name: the object
	// formats print it, not a list holding it.
	single bool
}

// tableFormats are the formats output draws itself.
var tableFormats = []string{"table", "wide", "csv"}

func newOutput() *output {
	s := newScheme()
	return &output{scheme: s, flags: genericclioptions.NewPrintFlags("").WithTypeSetter(s)}
}

// setKind fills in obj's apiVersion and kind, which typed clients leave out.
func (o *output) setKind(obj runtime.Object) error {
	gvks, _, err := o.scheme.ObjectKinds(obj)
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	return nil
}

// newScheme knows hypersdk.io's kinds and KubeVirt's snapshots, so printed objects say what they are.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(v1alpha1.AddToScheme(s))
	utilruntime.Must(snapshotv1.AddToScheme(s))
	return s
}

func (o *output) addFlags(cmd *cobra.Command) {
	o.flags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = "Output format: table (default), wide, csv, json, yaml, name, jsonpath=..., jsonpath-file=..., go-template=..., custom-columns=NAME:.path,..., custom-columns-file=..."
	cmd.Flags().BoolVar(&o.noHeaders, "no-headers", false, "Leave out the header line of table, wide and csv output.")
}

// addSortFlag adds --sort-by to a command whose rows it orders; example is
// a JSONPath on one of them.
func (o *output) addSortFlag(cmd *cobra.Command, example string) {
	cmd.Flags().StringVar(&o.sortBy, "sort-by", "", "Sort by a JSONPath expression on the rows, e.g. '"+example+"' (numbers and quantities compare by value).")
}

// scope is the namespace to list in: every one with -A, which also adds a
// namespace column to tables; else ns.
func (o *output) scope(ns string, allNamespaces bool) string {
	if allNamespaces {
		o.allNamespaces = true
		return metav1.NamespaceAll
	}
	return ns
}

// errNamedAcrossNamespaces is kubectl's answer to names with -A: a name
// means one object, and there is no path for one across namespaces.
var errNamedAcrossNamespaces = errors.New("a resource cannot be retrieved by name across all namespaces")

// checkNamed refuses names with -A, or with a selector or filter (an
// object that is there but filtered out would otherwise read as not
// found), as kubectl does.
func checkNamed(names []string, allNamespaces, filtered bool) error {
	switch {
	case len(names) == 0:
		return nil
	case allNamespaces:
		return errNamedAcrossNamespaces
	case filtered:
		return errors.New("name cannot be provided when a selector is specified")
	}
	return nil
}

func (o *output) format() string { return *o.flags.OutputFormat }

func (o *output) table() bool {
	switch o.format() {
	case "", "table", "wide", "csv":
		return true
	}
	return false
}

// printer is cli-runtime's printer for a format output does not draw, or
// kubectl's for custom-columns; it fails at once on a format nobody knows.
func (o *output) printer() (printers.ResourcePrinter, error) {
	if o.table() {
		return nil, nil
	}
	columns := &get.CustomColumnsPrintFlags{NoHeaders: o.noHeaders}
	format, spec, _ := strings.Cut(o.format(), "=")
	if slices.Contains(columns.AllowedFormats(), format) {
		columns.TemplateArgument = spec
		return columns.ToPrinter(format)
	}
	p, err := o.flags.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		allowed := append(append(append([]string{}, tableFormats...), o.flags.AllowedFormats()...), columns.AllowedFormats()...)
		return nil, fmt.Errorf("unknown output format %q: use one of %s", o.format(), strings.Join(allowed, ", "))
	}
	return p, err
}

// columns describe a table of one kind of row.
type columns struct {
	names, wide []string
	row         func(item any, wide bool) []any
}

// print writes items in the chosen format: json, yaml and templates get a
// v1 List holding them, each with its apiVersion and kind (or the object
// itself when one was named), as kubectl get does, so the output can be
// applied again.
func (o *output) print(w io.Writer, items []runtime.Object, cols columns) error {
	if err := o.sort(items); err != nil {
		return err
	}
	if !o.table() {
		p, err := o.printer()
		if err != nil {
			return err
		}
		if o.format() == "name" {
			for _, item := range items {
				if err := p.PrintObj(item, w); err != nil {
					return err
				}
			}
			return nil
		}
		if o.single && len(items) == 1 {
			return p.PrintObj(items[0], w) // as kubectl get NAME prints the object
		}
		list := &metav1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}, Items: make([]runtime.RawExtension, len(items))}
		for i, item := range items {
			item = item.DeepCopyObject()
			if err := o.setKind(item); err != nil {
				return err
			}
			list.Items[i] = runtime.RawExtension{Object: item}
		}
		return p.PrintObj(list, w)
	}
	rows := make([]any, len(items))
	for i, item := range items {
		rows[i] = item
	}
	return o.printRows(w, rows, cols, nil)
}

// printRows draws items as a table or csv; lead, when set, gives extra
// leading cells per item (a watch's event type and time). Items that are
// API objects, or say which object they describe, give the namespace
// column of -A.
func (o *output) printRows(w io.Writer, items []any, cols columns, lead func(int) (names []string, cells []any)) error {
	wide := o.format() == "wide"
	names := cols.names
	if wide {
		names = append(append([]string{}, names...), cols.wide...)
	}
	var leadNames []string
	if lead != nil && len(items) > 0 {
		leadNames, _ = lead(0)
	}
	t := &metav1.Table{}
	for _, n := range append(append([]string{}, leadNames...), names...) {
		t.ColumnDefinitions = append(t.ColumnDefinitions, metav1.TableColumnDefinition{Name: n, Type: "string"})
	}
	for i, item := range items {
		cells := cols.row(item, wide)
		if lead != nil {
			_, l := lead(i)
			cells = append(l, cells...)
		}
		row := metav1.TableRow{Cells: cells}
		switch it := item.(type) {
		case runtime.Object:
			row.Object = runtime.RawExtension{Object: it}
		case interface{ object() runtime.Object }:
			row.Object = runtime.RawExtension{Object: it.object()}
		}
		t.Rows = append(t.Rows, row)
	}
	if o.format() == "csv" {
		return o.csv(w, t)
	}
	return printers.NewTablePrinter(printers.PrintOptions{NoHeaders: o.noHeaders, WithNamespace: o.allNamespaces}).PrintObj(t, w)
}

// csv writes a table as comma-separated values with a header line, the
// namespace first when listing all namespaces.
func (o *output) csv(w io.Writer, t *metav1.Table) error {
	cw := csv.NewWriter(w)
	if !o.noHeaders {
		var header []string
		if o.allNamespaces {
			header = append(header, "namespace")
		}
		for _, c := range t.ColumnDefinitions {
			header = append(header, strings.ToLower(c.Name))
		}
		if err := cw.Write(header); err != nil {
			return err
		}
	}
	for _, r := range t.Rows {
		var rec []string
		if o.allNamespaces {
			ns := ""
			if m, err := meta.Accessor(r.Object.Object); err == nil {
				ns = m.GetNamespace()
			}
			rec = append(rec, ns)
		}
		for _, c := range r.Cells {
			rec = append(rec, fmt.Sprint(c))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// sort orders items by the --sort-by JSONPath: numbers and quantities by
// value, anything else as text; items without the field come first.
func (o *output) sort(items []runtime.Object) error {
	return sortByPath(o.sortBy, items, func(it runtime.Object) any { return it })
}

// sortRows orders rows that are not API objects by --sort-by, on what
// value gives for each (a pointer to the struct the row shows).
func (o *output) sortRows(rows []any, value func(any) any) error {
	return sortByPath(o.sortBy, rows, value)
}

// sortByPath orders items by the JSONPath expr evaluated on value(item).
func sortByPath[T any](expr string, items []T, value func(T) any) error {
	if expr == "" {
		return nil
	}
	path := expr
	if !strings.HasPrefix(path, "{") {
		path = "{" + path + "}"
	}
	jp := jsonpath.New("sort-by").AllowMissingKeys(true)
	if err := jp.Parse(path); err != nil {
		return fmt.Errorf("--sort-by %q: %w", expr, err)
	}
	keys := make([]string, len(items))
	for i, item := range items {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(value(item))
		if err != nil {
			return err
		}
		var b strings.Builder
		if err := jp.Execute(&b, u); err != nil {
			return fmt.Errorf("--sort-by %q: %w", expr, err)
		}
		keys[i] = b.String()
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return less(keys[idx[a]], keys[idx[b]]) })
	sorted := make([]T, len(items))
	for i, j := range idx {
		sorted[i] = items[j]
	}
	copy(items, sorted)
	return nil
}

func less(a, b string) bool {
	if x, err := strconv.ParseFloat(a, 64); err == nil {
		if y, err := strconv.ParseFloat(b, 64); err == nil {
			return x < y
		}
	}
	if x, err := resource.ParseQuantity(a); err == nil {
		if y, err := resource.ParseQuantity(b); err == nil {
			return x.Cmp(y) < 0
		}
	}
	return a < b
}

func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// nameSet is the names a list or get asks for; empty asks for all.
type nameSet map[string]bool

func namesOf(args []string) nameSet {
	n := nameSet{}
	for _, a := range args {
		n[a] = true
	}
	return n
}

func (n nameSet) match(name string) bool { return len(n) == 0 || n[name] }

// missing reports the names not among items, one line each as kubectl get
// does, and fails when there are any; the caller prints the items it found
// first.
func (n nameSet) missing(errOut io.Writer, items []runtime.Object, resource string) error {
	return lastError(errOut, n.notFound(items, resource))
}

// notFound is an error for each name not among items, in name order.
func (n nameSet) notFound(items []runtime.Object, resource string) []error {
	found := map[string]bool{}
	for _, it := range items {
		if m, err := meta.Accessor(it); err == nil {
			found[m.GetName()] = true
		}
	}
	var absent []string
	for name := range n {
		if !found[name] {
			absent = append(absent, name)
		}
	}
	sort.Strings(absent)
	errs := make([]error, len(absent))
	for i, name := range absent {
		// As the server says it, so it prints as kubectl prints a 404.
		errs[i] = apierrors.NewNotFound(schema.ParseGroupResource(resource), name)
	}
	return errs
}

// lastError writes every error but the last to errOut as Run writes an
// error, and returns the last, so each is one line of stderr.
func lastError(errOut io.Writer, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs[:len(errs)-1] {
		fmt.Fprintln(errOut, errorLine(err))
	}
	return errs[len(errs)-1]
}

// noneFound tells errOut, as kubectl get does, that a list matched nothing,
// so an empty table is not mistaken for a command that did not run. Machine
// formats print their empty list instead.
func (o *output) noneFound(errOut io.Writer, ns string, found int) {
	if found > 0 || !(o.format() == "" || o.format() == "table" || o.format() == "wide") {
		return
	}
	if ns == metav1.NamespaceAll {
		fmt.Fprintln(errOut, "No resources found")
		return
	}
	fmt.Fprintf(errOut, "No resources found in %s namespace.\n", ns)
}

// printFound ends a get or list as kubectl get does: the items found are
// printed, then each name not found is reported and fails the command, and
// a list that found nothing says so.
func (o *output) printFound(out, errOut io.Writer, ns string, items []runtime.Object, cols columns, named nameSet, resource string) error {
	if len(items) > 0 || len(named) == 0 {
		if err := o.print(out, items, cols); err != nil {
			return err
		}
	}
	if len(named) == 0 {
		o.noneFound(errOut, ns, len(items))
	}
	return named.missing(errOut, items, resource)
}
