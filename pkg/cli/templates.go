package cli

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/artifacts"
)

// Templates are VMs to start from: the examples shipped in
// artifacts/examples, and a catalogue of ConfigMaps labelled
// templateLabel whose templateKey holds a VirtualMachine (a ConfigMap
// wins over an example of the same name).
const (
	templateLabel       = "hypersdk.io/vm-template"
	templateKey         = "template"
	descriptionAnnot    = "hypersdk.io/description"
	defaultTemplateHome = "hypersdk-system"
)

// template is one catalogue entry.
type template struct {
	name, source string
	vm           *v1alpha1.VirtualMachine
}

// templates reads the built-in examples and the catalogue in namespace;
// a catalogue that cannot be read (no access, no namespace) leaves the
// examples, and says why on warn.
func (e *env) templates(ctx context.Context, namespace string) (map[string]template, error) {
	out := map[string]template{}
	err := fs.WalkDir(artifacts.FS, "examples", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" {
			return err
		}
		data, err := fs.ReadFile(artifacts.FS, p)
		if err != nil {
			return err
		}
		var vm v1alpha1.VirtualMachine
		if err := yaml.Unmarshal(data, &vm); err != nil || vm.Kind != "VirtualMachine" {
			return nil // other kinds of example
		}
		out[vm.Name] = template{name: vm.Name, source: "artifacts/" + p, vm: &vm}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cfg, err := e.flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cms, err := kube.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: templateLabel})
	if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
		fmt.Fprintf(e.streams.ErrOut, "warning: the template catalogue in %s cannot be read (%s); showing the built-in ones\n", namespace, oneLine(err))
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, cm := range cms.Items {
		var vm v1alpha1.VirtualMachine
		if err := yaml.UnmarshalStrict([]byte(cm.Data[templateKey]), &vm); err != nil {
			fmt.Fprintf(e.streams.ErrOut, "warning: template %s/%s is not a VirtualMachine: %v\n", cm.Namespace, cm.Name, err)
			continue
		}
		if vm.Annotations == nil {
			vm.Annotations = map[string]string{}
		}
		if d := cm.Annotations[descriptionAnnot]; d != "" {
			vm.Annotations[descriptionAnnot] = d
		}
		out[cm.Name] = template{name: cm.Name, source: "configmap/" + cm.Namespace + "/" + cm.Name, vm: &vm}
	}
	return out, nil
}

func newTemplateCommand(e *env) *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:     "template",
		Aliases: []string{"templates"},
		Short:   "VM templates: artifacts/examples, and ConfigMaps labelled " + templateLabel,
	}
	cmd.PersistentFlags().StringVar(&home, "catalog-namespace", defaultTemplateHome, "Namespace of the template ConfigMaps.")
	out := newOutput()
	list := &cobra.Command{
		Use:   "list",
		Short: "List templates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := out.printer(); err != nil {
				return err
			}
			ts, err := e.templates(cmd.Context(), home)
			if err != nil {
				return err
			}
			var names []string
			for n := range ts {
				names = append(names, n)
			}
			sort.Strings(names)
			var rows []any
			for _, n := range names {
				rows = append(rows, ts[n])
			}
			if !out.table() {
				var items []runtime.Object
				for _, n := range names {
					vm := ts[n].vm.DeepCopy()
					vm.Name = n
					items = append(items, vm)
				}
				return out.print(e.streams.Out, items, vmColumns)
			}
			if err := out.sortRows(rows, func(r any) any { return r.(template).vm }); err != nil {
				return err
			}
			return out.printRows(e.streams.Out, rows, templateColumns, nil)
		},
	}
	out.addFlags(list)
	out.addSortFlag(list, ".spec.cpus")
	getOut := newOutput()
	*getOut.flags.OutputFormat = "yaml"
	get := &cobra.Command{
		Use:   "get NAME",
		Short: "Print a template (YAML by default), ready for kubectl create -f -",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := e.templates(cmd.Context(), home)
			if err != nil {
				return err
			}
			t, ok := ts[args[0]]
			if !ok {
				return fmt.Errorf("template %q not found", args[0])
			}
			p, err := getOut.printer()
			if err != nil {
				return err
			}
			if p == nil {
				return fmt.Errorf("template get prints json, yaml, name or a template, not %q", getOut.format())
			}
			return p.PrintObj(t.vm, e.streams.Out)
		},
	}
	getOut.addFlags(get)
	cmd.AddCommand(list, get)
	return cmd
}

var templateColumns = columns{
	names: []string{"NAME", "CPUS", "MEMORY", "IMAGE", "SOURCE", "DESCRIPTION"},
	row: func(obj any, _ bool) []any {
		t := obj.(template)
		mem := "<none>"
		if t.vm.Spec.Memory != nil {
			mem = t.vm.Spec.Memory.String()
		}
		return []any{t.name, t.vm.Spec.CPUs, mem, orNone(t.vm.Spec.Image), t.source, orNone(t.vm.Annotations[descriptionAnnot])}
	},
}
