package cli

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// TestPrompterEndsWithItsContext: a question waiting for a line that never
// comes ends when the context does (Ctrl-C), and answers, defaults and the
// end of input come through as before.
func TestPrompterEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	in, feed := io.Pipe()
	defer feed.Close()
	var out strings.Builder
	p := newPrompter(ctx, in, &out)
	go func() { io.WriteString(feed, "web\n\n") }()
	if got, err := p.ask("Name", "x"); got != "web" || err != nil {
		t.Fatalf("answer %q %v, want web", got, err)
	}
	if got, err := p.ask("CPUs", "2"); got != "2" || err != nil {
		t.Fatalf("empty answer %q %v, want the default 2", got, err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := p.ask("Memory", "2Gi")
		ended <- err
	}()
	cancel()
	select {
	case err := <-ended:
		if err == nil || !strings.Contains(err.Error(), "nothing created") {
			t.Errorf("cancelled question: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the question outlived its context")
	}

	p = newPrompter(context.Background(), strings.NewReader("last"), &out)
	if got, err := p.ask("Name", ""); got != "last" || err != nil {
		t.Errorf("a last line without a newline: %q %v", got, err)
	}
	if _, err := p.ask("Namespace", "default"); err == nil {
		t.Error("a question after the end of input was answered")
	}
}

// TestFormStartsFromTheSourceFlags: the interactive form's source is the
// one the flags gave, and keeping every answer keeps it; choosing another
// drops it.
func TestFormStartsFromTheSourceFlags(t *testing.T) {
	for _, tc := range []struct {
		flags  vmFields
		answer string // to the source question; the next is Enter
		want   vmFields
	}{
		{vmFields{claim: "pvc1", image: defaultImage}, "", vmFields{claim: "pvc1"}},
		{vmFields{dataVolume: "dv1", image: defaultImage}, "", vmFields{dataVolume: "dv1"}},
		{vmFields{template: "fedora", image: defaultImage}, "", vmFields{template: "fedora"}},
		{vmFields{dataVolume: "dv1", image: defaultImage}, "image", vmFields{image: defaultImage}},
		// A storage class given for a blank disk goes with it.
		{vmFields{blank: "20Gi", storageClass: "fast", image: defaultImage}, "image", vmFields{image: defaultImage}},
	} {
		f := tc.flags
		source := initialSource(&f)
		in, feed := io.Pipe()
		go func() { io.WriteString(feed, tc.answer+"\n\n") }()
		p := newPrompter(context.Background(), in, io.Discard)
		answer, err := p.ask("Source", source)
		if err == nil {
			err = askSource(p, answer, &f)
		}
		feed.Close()
		if err != nil || f.image != tc.want.image || f.template != tc.want.template || f.claim != tc.want.claim || f.dataVolume != tc.want.dataVolume ||
			f.storageClass != tc.want.storageClass {
			t.Errorf("flags %+v, answer %q: %+v (%v), want %+v", tc.flags, tc.answer, f, err, tc.want)
		}
	}
}

// TestFormSizeIsTheTemplates: the form's CPUs and memory default to the
// template's size, so keeping every answer creates the template's VM, and
// to HyperSDK's defaults without one; flags still decide.
func TestFormSizeIsTheTemplates(t *testing.T) {
	fedora := &v1alpha1.VirtualMachine{Spec: v1alpha1.VirtualMachineSpec{CPUs: 4, Memory: ptr.To(resource.MustParse("4Gi"))}}
	for _, tc := range []struct {
		flags    vmFields
		template *v1alpha1.VirtualMachine
		cpus     int32
		memory   string
	}{
		{vmFields{template: "fedora"}, fedora, 4, "4Gi"},
		{vmFields{}, nil, defaultCPUs, defaultMemory},
		{vmFields{template: "fedora", cpus: 8, memory: "16Gi"}, fedora, 8, "16Gi"},
	} {
		f := tc.flags
		formSize(&f, tc.template)
		if f.cpus != tc.cpus || f.memory != tc.memory {
			t.Errorf("flags %+v: form's size %d, %s; want %d, %s", tc.flags, f.cpus, f.memory, tc.cpus, tc.memory)
		}
	}
}

// TestCreateTakesOneSource: two boot sources, or a storage class without
// the blank disk it is for, are refused rather than one silently dropped.
func TestCreateTakesOneSource(t *testing.T) {
	e := &env{}
	for _, tc := range []struct {
		f    vmFields
		want string
	}{
		{vmFields{name: "web", image: "quay.io/x", blank: "20Gi"}, "--blank and --image"},
		{vmFields{name: "web", image: "quay.io/x", claim: "root"}, "--claim and --image"},
		{vmFields{name: "web", claim: "root", storageClass: "fast"}, "--storage-class"},
		{vmFields{name: "web", blank: "20Gi", storageClass: "fast"}, ""},
	} {
		_, err := e.vmFrom(context.Background(), &tc.f, "")
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
}
