package cli

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// TestWatchGoesOnWhenTheServerEndsIt: a watch the server closes is started
// again from the last version seen, and the events after it are printed.
func TestWatchGoesOnWhenTheServerEndsIt(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent") // no --request-timeout
	streams, _, stdout, _ := genericiooptions.NewTestIOStreams()
	e := &env{flags: genericclioptions.NewConfigFlags(false), streams: streams}
	out := newOutput()
	*out.flags.OutputFormat = "name"
	vm := func(name, rv string) *v1alpha1.VirtualMachine {
		return &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: rv}}
	}
	first, second := watch.NewFake(), watch.NewFake()
	var from []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(_ context.Context, rv string) (watch.Interface, error) {
		from = append(from, rv)
		if len(from) == 1 {
			return first, nil
		}
		return second, nil
	}
	go func() {
		first.Add(vm("a", "11"))
		first.Stop() // the server's timeout
		second.Modify(vm("a", "12"))
		second.Add(vm("b", "13"))
		cancel()
	}()
	if err := watchEvents(ctx, e, out, nil, "10", start, vmColumns, func(runtime.Object) bool { return true }); err != nil {
		t.Fatal(err)
	}
	got := stdout.String()
	for _, want := range []string{"ADDED", "MODIFIED", "virtualmachine.hypersdk.io/b"} {
		if !strings.Contains(got, want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
	if strings.Join(from, ",") != "10,11" {
		t.Errorf("watches started from %v, want the list's 10, then the last event's 11", from)
	}
}
