package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// watchEnv is the plugin's environment with no kubeconfig, printing in
// format, with --request-timeout timeout when not empty.
func watchEnv(t *testing.T, format, timeout string) (*env, *output, *bytes.Buffer) {
	t.Helper()
	t.Setenv("KUBECONFIG", "/nonexistent")
	streams, _, stdout, _ := genericiooptions.NewTestIOStreams()
	flags := genericclioptions.NewConfigFlags(false)
	if timeout != "" {
		*flags.Timeout = timeout
	}
	out := newOutput()
	*out.flags.OutputFormat = format
	return &env{flags: flags, streams: streams}, out, stdout
}

// twoWatches starts first, then second for every later start, recording
// the versions they start from.
func twoWatches() (first, second *watch.FakeWatcher, from *[]string, start startWatch) {
	first, second, from = watch.NewFake(), watch.NewFake(), &[]string{}
	start = func(_ context.Context, rv string) (watch.Interface, error) {
		*from = append(*from, rv)
		if len(*from) == 1 {
			return first, nil
		}
		return second, nil
	}
	return first, second, from, start
}

// TestWatchGoesOnWhenTheServerEndsIt: a watch the server closes is started
// again from the last version seen, and the events after it are printed.
func TestWatchGoesOnWhenTheServerEndsIt(t *testing.T) {
	e, out, stdout := watchEnv(t, "name", "")
	vm := func(name, rv string) *v1alpha1.VirtualMachine {
		return &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: rv}}
	}
	first, second, from, start := twoWatches()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
	if strings.Join(*from, ",") != "10,11" {
		t.Errorf("watches started from %v, want the list's 10, then the last event's 11", *from)
	}
}

// TestWatchGoesOnUntilTheRequestTimeout: with --request-timeout, a watch
// the server ends before the timeout (a watcher it found too slow) is
// started again, and the command ends cleanly when the timeout passes.
func TestWatchGoesOnUntilTheRequestTimeout(t *testing.T) {
	e, out, stdout := watchEnv(t, "name", "2s")
	first, second, from, start := twoWatches()
	go func() {
		first.Add(&v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", ResourceVersion: "11"}})
		first.Stop() // closed early by the server
		second.Add(&v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns", ResourceVersion: "12"}})
	}()
	if err := watchEvents(context.Background(), e, out, nil, "10", start, vmColumns, func(runtime.Object) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.Contains(got, "virtualmachine.hypersdk.io/b") || strings.Join(*from, ",") != "10,11" {
		t.Errorf("output %q from watches at %v; want b, from a watch started again at 11", got, *from)
	}
}

// TestWatchFollowsTheClientSideFilters: a VM resized below --min-cpus
// leaves the watch as DELETED and comes back as ADDED; JSON events carry no
// managedFields unless asked.
func TestWatchFollowsTheClientSideFilters(t *testing.T) {
	e, out, stdout := watchEnv(t, "json", "")
	vm := func(cpus int32) *v1alpha1.VirtualMachine {
		return &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", ResourceVersion: "1",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}, Spec: v1alpha1.VirtualMachineSpec{CPUs: cpus}}
	}
	w := watch.NewFake()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		w.Modify(vm(1)) // below the filter: leaves
		w.Modify(vm(1)) // still below: nothing
		w.Modify(vm(4)) // back
		cancel()
	}()
	start := func(context.Context, string) (watch.Interface, error) { return w, nil }
	keep := func(obj runtime.Object) bool { return obj.(*v1alpha1.VirtualMachine).Spec.CPUs >= 2 }
	if err := watchEvents(ctx, e, out, []runtime.Object{vm(4)}, "1", start, vmColumns, keep); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var ev struct {
			Type   string                  `json:"type"`
			Object v1alpha1.VirtualMachine `json:"object"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if len(ev.Object.ManagedFields) != 0 {
			t.Errorf("event %s carries managedFields", ev.Type)
		}
		types = append(types, ev.Type)
	}
	if strings.Join(types, ",") != "ADDED,DELETED,ADDED" {
		t.Errorf("events %v, want ADDED, DELETED, ADDED", types)
	}
}

// TestWatchThatCannotStartAgainIsAnError: a watch the server ended and
// that cannot be started again (410 Gone: the history no longer reaches
// the version) ends the command with that error, not a panic.
func TestWatchThatCannotStartAgainIsAnError(t *testing.T) {
	e, out, _ := watchEnv(t, "name", "")
	first := watch.NewFake()
	starts := 0
	start := func(context.Context, string) (watch.Interface, error) {
		if starts++; starts == 1 {
			return first, nil
		}
		return nil, apierrors.NewResourceExpired("too old resource version: 10 (25)")
	}
	go first.Stop()
	err := watchEvents(context.Background(), e, out, nil, "10", start, vmColumns, func(runtime.Object) bool { return true })
	if !apierrors.IsResourceExpired(err) {
		t.Errorf("watchEvents: %v, want the 410", err)
	}
}

// TestWatchStartedAgainAsTheTimeoutPasses: a watch the server ended just
// before --request-timeout, whose new start fails because the timeout
// passed meanwhile (client-go answers a bare context deadline exceeded),
// ends the command cleanly, as the timeout does anywhere else.
func TestWatchStartedAgainAsTheTimeoutPasses(t *testing.T) {
	e, out, _ := watchEnv(t, "name", "2s")
	first := watch.NewFake()
	starts := 0
	start := func(ctx context.Context, _ string) (watch.Interface, error) {
		if starts++; starts == 1 {
			return first, nil
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	go first.Stop()
	if err := watchEvents(context.Background(), e, out, nil, "10", start, vmColumns, func(runtime.Object) bool { return true }); err != nil {
		t.Errorf("watchEvents: %v, want a clean end at the timeout", err)
	}
	if starts != 2 {
		t.Errorf("%d starts, want the watch started again once", starts)
	}
	// The first start as well.
	e, out, _ = watchEnv(t, "name", "1s")
	late := func(ctx context.Context, _ string) (watch.Interface, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err := watchEvents(context.Background(), e, out, nil, "10", late, vmColumns, func(runtime.Object) bool { return true }); err != nil {
		t.Errorf("watchEvents whose first start meets the timeout: %v, want a clean end", err)
	}
}

// TestInterruptedWatchEndsCleanly: an interrupt cancels the watch, and
// client-go reports the stream it cut as an error event; the command ends
// as interrupted, not with that error.
func TestInterruptedWatchEndsCleanly(t *testing.T) {
	e, out, _ := watchEnv(t, "name", "")
	// Both ready when the loop next looks: it picks one at random, so
	// the case is tried often enough to meet both orders.
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w := watch.NewFakeWithChanSize(1, false)
		w.Error(&metav1.Status{Status: metav1.StatusFailure, Message: "unable to decode an event from the watch stream: context canceled"})
		start := func(context.Context, string) (watch.Interface, error) { return w, nil }
		if err := watchEvents(ctx, e, out, nil, "10", start, vmColumns, func(runtime.Object) bool { return true }); err != nil {
			t.Fatalf("interrupted watch: %v, want a clean end", err)
		}
	}
}
