package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
)

// vmFields are what a VM is created from, by flags or by the form.
type vmFields struct {
	name, namespace   string
	cpus              int32
	memory            string
	image, template   string
	claim, dataVolume string
	// blank is the size of a new empty disk; storageClass its class.
	blank, storageClass string
	gpus                []string
	labels              map[string]string
	// running is --running when given; nil keeps the template's (else
	// stopped).
	running *bool
}

const (
	defaultCPUs   = 2
	defaultMemory = "2Gi"
	defaultImage  = "quay.io/containerdisks/fedora:41"
	// defaultBlankSize is the interactive form's suggestion for a blank disk.
	defaultBlankSize = "20Gi"
)

func newVMCreateCommand(e *env) *cobra.Command {
	f := vmFields{}
	var interactive, running bool
	var dryRun, catalog string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a VM from flags, a template, or an interactive form",
		Long: `Create a VM (virtualmachines.hypersdk.io) booting from an image, an existing
claim or DataVolume, a new blank disk, or a template (kubectl hyper template
list), with CPUs, memory and GPUs (model=count). --interactive asks for each
field on the terminal with defaults, checks the answers with the server (a
dry run) and asks for confirmation; without a terminal it refuses.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dryRun != "none" && dryRun != "server" && dryRun != "client" {
				return fmt.Errorf(`--dry-run=%q: must be "none", "server" or "client"`, dryRun)
			}
			if interactive && dryRun != "none" {
				return errors.New("--dry-run with --interactive: the form already checks the VM with a server dry run, and answering no creates nothing")
			}
			if cmd.Flags().Changed("running") {
				f.running = &running
			}
			if len(args) == 1 {
				f.name = args[0]
			}
			ns, c, err := e.clientIn()
			if err != nil {
				return err
			}
			if f.namespace == "" {
				f.namespace = ns
			}
			ctx := cmd.Context()
			if interactive {
				return e.createInteractively(ctx, c, &f, catalog)
			}
			if f.name == "" {
				return fmt.Errorf("name the VM: kubectl hyper vm create NAME, or --interactive")
			}
			vm, err := e.vmFrom(ctx, &f, catalog)
			if err != nil {
				return err
			}
			if dryRun == "client" {
				// As kubectl: built here, sent nowhere.
				_, err = fmt.Fprintf(e.streams.Out, "virtualmachine.hypersdk.io/%s created (dry run)\n", vm.Name)
				return err
			}
			opts := metav1.CreateOptions{}
			if dryRun == "server" {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			created, err := c.HypersdkV1alpha1().VirtualMachines(f.namespace).Create(ctx, vm, opts)
			if err != nil {
				return err
			}
			suffix := "created"
			if dryRun == "server" {
				suffix = "created (server dry run)"
			}
			_, err = fmt.Fprintf(e.streams.Out, "virtualmachine.hypersdk.io/%s %s\n", created.Name, suffix)
			return err
		},
	}
	fl := cmd.Flags()
	fl.Int32Var(&f.cpus, "cpus", 0, fmt.Sprintf("vCPUs (%d, or the template's, when not given).", defaultCPUs))
	fl.StringVar(&f.memory, "memory", "", fmt.Sprintf("Guest memory, a quantity (%s, or the template's, when not given).", defaultMemory))
	fl.StringVar(&f.image, "image", "", "Container disk image to boot from ("+defaultImage+" when no other source is given).")
	fl.StringVar(&f.template, "template", "", "Start from this template; other flags given override its fields (--gpu its GPUs).")
	fl.StringVar(&f.claim, "claim", "", "Boot from this PersistentVolumeClaim.")
	fl.StringVar(&f.dataVolume, "data-volume", "", "Boot from this DataVolume.")
	fl.StringVar(&f.blank, "blank", "", "Give the VM a new empty disk of this size (e.g. 20Gi), to install a guest on.")
	fl.StringVar(&f.storageClass, "storage-class", "", "Storage class of the --blank disk (the cluster's default when empty).")
	fl.StringArrayVar(&f.gpus, "gpu", nil, "GPUs as model=count, e.g. nvidia.com/GA100_A100_SXM4_40GB=2 or nvidia.com/GRID_T4-8Q=1 (repeatable).")
	fl.StringToStringVarP(&f.labels, "labels", "l", nil, "Labels, key=value,...")
	fl.BoolVar(&running, "running", false, "Start the VM once created (the template's choice, else stopped, when not given).")
	fl.BoolVarP(&interactive, "interactive", "i", false, "Ask for each field on the terminal.")
	fl.StringVar(&dryRun, "dry-run", "none", `"server" has the server check the VM without creating it; "client" only builds it; "none" creates it.`)
	fl.Lookup("dry-run").NoOptDefVal = "server"
	fl.StringVar(&catalog, "catalog-namespace", defaultTemplateHome, "Namespace of the template ConfigMaps.")
	return cmd
}

// vmFrom builds the VM the fields describe, on top of a template if one is
// named.
func (e *env) vmFrom(ctx context.Context, f *vmFields, catalog string) (*v1alpha1.VirtualMachine, error) {
	vm := &v1alpha1.VirtualMachine{}
	if f.template != "" {
		ts, err := e.templates(ctx, catalog)
		if err != nil {
			return nil, err
		}
		t, ok := ts[f.template]
		if !ok {
			return nil, fmt.Errorf("template %q not found (kubectl hyper template list)", f.template)
		}
		vm.Spec = *t.vm.Spec.DeepCopy()
		vm.Labels = t.vm.Labels
	}
	vm.Name, vm.Namespace = f.name, f.namespace
	for k, v := range f.labels {
		if vm.Labels == nil {
			vm.Labels = map[string]string{}
		}
		vm.Labels[k] = v
	}
	if f.cpus != 0 {
		vm.Spec.CPUs = f.cpus
	} else if vm.Spec.CPUs == 0 {
		vm.Spec.CPUs = defaultCPUs
	}
	switch {
	case f.memory != "":
		q, err := resource.ParseQuantity(f.memory)
		if err != nil {
			return nil, fmt.Errorf("--memory %q is not a quantity (such as 512Mi or 4Gi)", f.memory)
		}
		vm.Spec.Memory = &q
	case vm.Spec.Memory == nil:
		vm.Spec.Memory = ptr.To(resource.MustParse(defaultMemory))
	}
	var sources []string
	for flag, v := range map[string]string{"--image": f.image, "--claim": f.claim, "--data-volume": f.dataVolume, "--blank": f.blank} {
		if v != "" {
			sources = append(sources, flag)
		}
	}
	if len(sources) > 1 {
		slices.Sort(sources)
		return nil, fmt.Errorf("%s: a VM boots from one source; give one of --image, --claim, --data-volume and --blank", strings.Join(sources, " and "))
	}
	if f.storageClass != "" && f.blank == "" {
		return nil, errors.New("--storage-class is the class of the --blank disk: give --blank too")
	}
	switch {
	case f.blank != "":
		size, err := resource.ParseQuantity(f.blank)
		if err != nil {
			return nil, fmt.Errorf("--blank %q is not a quantity (such as 20Gi)", f.blank)
		}
		vm.Spec.Image, vm.Spec.Source = "", &v1alpha1.VirtualMachineSource{Blank: &v1alpha1.BlankDisk{Size: size, StorageClassName: f.storageClass}}
	case f.claim != "":
		vm.Spec.Image, vm.Spec.Source = "", &v1alpha1.VirtualMachineSource{PersistentVolumeClaim: f.claim}
	case f.dataVolume != "":
		vm.Spec.Image, vm.Spec.Source = "", &v1alpha1.VirtualMachineSource{DataVolume: f.dataVolume}
	case f.image != "":
		vm.Spec.Image, vm.Spec.Source = f.image, nil
	case vm.Spec.Image == "" && vm.Spec.Source == nil:
		vm.Spec.Image = defaultImage
	}
	if len(f.gpus) > 0 {
		vm.Spec.GPUs = nil // --gpu replaces the template's GPUs
	}
	for _, g := range f.gpus {
		model, count, ok := strings.Cut(g, "=")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n < 1 || model == "" {
			return nil, fmt.Errorf("--gpu %q: want model=count, e.g. nvidia.com/GRID_T4-8Q=1", g)
		}
		vm.Spec.GPUs = append(vm.Spec.GPUs, v1alpha1.GPURequest{DeviceName: model, Count: int32(n)})
	}
	switch {
	case f.running != nil:
		vm.Spec.Running = ptr.To(*f.running)
	case vm.Spec.Running == nil:
		vm.Spec.Running = ptr.To(false)
	}
	return vm, nil
}

// createInteractively asks for each field with a default, has the server
// check the VM (a dry run; on a refusal it says why and asks again), shows
// it, and creates it once confirmed.
func (e *env) createInteractively(ctx context.Context, c hypersdkclient.Interface, f *vmFields, catalog string) error {
	in, ok := e.streams.In.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return fmt.Errorf("--interactive needs a terminal; without one give the fields as flags (kubectl hyper vm create NAME --cpus ... --memory ...)")
	}
	w := e.streams.Out
	r := newPrompter(ctx, in, w)
	source := initialSource(f)
	if f.image == "" {
		f.image = defaultImage
	}
	for {
		var err error
		fields := []struct {
			prompt string
			value  *string
		}{{"Name", &f.name}, {"Namespace", &f.namespace}}
		for _, q := range fields {
			if *q.value, err = r.ask(q.prompt, *q.value); err != nil {
				return err
			}
		}
		// The source first: a template's size is the size's default.
		if source, err = r.ask("Source (image, template, claim, data-volume, blank)", source); err != nil {
			return err
		}
		if err := askSource(r, source, f); err != nil {
			return err
		}
		var from *v1alpha1.VirtualMachine
		if f.template != "" {
			// One that cannot be read is vmFrom's to report.
			if ts, err := e.templates(ctx, catalog); err == nil {
				from = ts[f.template].vm
			}
		}
		formSize(f, from)
		cpus, err := r.ask("CPUs", strconv.Itoa(int(f.cpus)))
		if err != nil {
			return err
		}
		n, convErr := strconv.Atoi(cpus)
		if convErr != nil || n < 1 {
			fmt.Fprintf(w, "  CPUs must be a whole number above 0, not %q\n", cpus)
			continue
		}
		f.cpus = int32(n)
		if f.memory, err = r.ask("Memory", f.memory); err != nil {
			return err
		}
		gpus, err := r.ask("GPUs (model=count, empty for none)", strings.Join(f.gpus, ","))
		if err != nil {
			return err
		}
		f.gpus = nil
		if gpus != "" {
			f.gpus = strings.Split(gpus, ",")
		}
		vm, err := e.vmFrom(ctx, f, catalog)
		if err == nil {
			_, err = c.HypersdkV1alpha1().VirtualMachines(f.namespace).Create(ctx, vm, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		}
		if err != nil {
			fmt.Fprintf(w, "  The server refuses this VM: %s\n  Try again (Enter keeps an answer).\n", oneLine(err))
			continue
		}
		summary, err := yaml.Marshal(vm.Spec)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\nVirtualMachine %s/%s:\n%s", vm.Namespace, vm.Name, indent(string(summary)))
		yes, err := r.ask("Create it? (yes/no)", "no")
		if err != nil {
			return err
		}
		if yes != "yes" && yes != "y" {
			fmt.Fprintln(w, "Nothing created.")
			return nil
		}
		created, err := c.HypersdkV1alpha1().VirtualMachines(vm.Namespace).Create(ctx, vm, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "virtualmachine.hypersdk.io/%s created\n", created.Name)
		return err
	}
}

// formSize gives the form's CPUs and memory, where no flag or earlier
// answer did, the template's size, else HyperSDK's defaults: keeping them
// keeps the template's size.
func formSize(f *vmFields, template *v1alpha1.VirtualMachine) {
	cpus, memory := int32(defaultCPUs), defaultMemory
	if template != nil {
		if template.Spec.CPUs > 0 {
			cpus = template.Spec.CPUs
		}
		if template.Spec.Memory != nil {
			memory = template.Spec.Memory.String()
		}
	}
	if f.cpus == 0 {
		f.cpus = cpus
	}
	if f.memory == "" {
		f.memory = memory
	}
}

// initialSource is the form's first answer for the source: the one the
// flags gave (--template, --claim, --data-volume, --blank), else an image.
func initialSource(f *vmFields) string {
	switch {
	case f.template != "":
		return "template"
	case f.claim != "":
		return "claim"
	case f.dataVolume != "":
		return "data-volume"
	case f.blank != "":
		return "blank"
	}
	return "image"
}

// askSource asks for what the chosen source needs and keeps only that
// source in f.
func askSource(r *prompter, source string, f *vmFields) error {
	image, template, claim, dataVolume, blank := f.image, f.template, f.claim, f.dataVolume, f.blank
	f.image, f.template, f.claim, f.dataVolume, f.blank = "", "", "", "", ""
	if source != "blank" {
		f.storageClass = "" // the class of a blank disk: none is asked for
	}
	var err error
	switch source {
	case "template":
		f.template, err = r.ask("Template", template)
	case "claim":
		f.claim, err = r.ask("Claim", claim)
	case "data-volume":
		f.dataVolume, err = r.ask("DataVolume", dataVolume)
	case "blank":
		if blank == "" {
			blank = defaultBlankSize
		}
		f.blank, err = r.ask("Disk size", blank)
	default:
		f.image, err = r.ask("Image", image)
	}
	return err
}

// prompter asks questions on a terminal. A read from a terminal cannot be
// interrupted, so the lines are read on their own goroutine and a question
// also ends when ctx does: Ctrl-C leaves the form at once instead of after
// the next Enter.
type prompter struct {
	ctx   context.Context
	w     io.Writer
	lines chan promptLine
}

type promptLine struct {
	text string
	err  error
}

func newPrompter(ctx context.Context, in io.Reader, w io.Writer) *prompter {
	p := &prompter{ctx: ctx, w: w, lines: make(chan promptLine)}
	go func() {
		defer close(p.lines)
		r := bufio.NewReader(in)
		for {
			text, err := r.ReadString('\n')
			select {
			case p.lines <- promptLine{text, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// ask prompts with a default and returns the answer, or the default for an
// empty one.
func (p *prompter) ask(prompt, def string) (string, error) {
	fmt.Fprintf(p.w, "%s [%s]: ", prompt, def)
	var l promptLine
	select {
	case <-p.ctx.Done():
		fmt.Fprintln(p.w)
		return "", fmt.Errorf("interrupted at %q: nothing created", prompt)
	case got, ok := <-p.lines:
		if !ok {
			got.err = io.EOF
		}
		l = got
	}
	if l.err != nil && (l.err != io.EOF || l.text == "") {
		return "", fmt.Errorf("reading the answer to %q: %w", prompt, l.err)
	}
	if text := strings.TrimSpace(l.text); text != "" {
		return text, nil
	}
	return def, nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}
