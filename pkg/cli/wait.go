package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hypersdkclient "github.com/hypersdk/hypersdk/generated/clientset/versioned"
)

// waitFlags say whether and how a command follows the operation it made.
type waitFlags struct {
	wait         bool
	showProgress bool
	timeout      time.Duration
}

func (w *waitFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "Follow the operation to its end; exit non-zero unless it succeeds.")
	w.addFollowFlags(cmd)
}

func (w *waitFlags) addFollowFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&w.showProgress, "show-progress", false, "While following, show phase, progress, message and elapsed time: a bar on a terminal, a line per change otherwise (implies --wait).")
	cmd.Flags().Var((*nonNegative)(&w.timeout), "timeout", "Give up following after this long (0: no limit); the operation goes on (a limit implies --wait).")
}

// nonNegative is a duration flag that refuses a negative value when parsed:
// --timeout=-1s would else follow nothing and exit 0, as if it had waited.
type nonNegative time.Duration

func (n *nonNegative) String() string {
	if *n == 0 {
		return "0" // no limit, which the help leaves unsaid as pflag's own durations do
	}
	return time.Duration(*n).String()
}
func (n *nonNegative) Type() string { return "duration" }

func (n *nonNegative) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	*n = nonNegative(d)
	return nil
}

// following reports whether the operation is to be followed: --wait, or a
// flag that only means something while following.
func (w *waitFlags) following() bool {
	return w.wait || w.showProgress || w.timeout > 0
}

// follow watches op (relisting if the watch expires) until it ends,
// reporting progress as asked, and returns an error carrying the
// operation's message unless it Succeeded.
func (w *waitFlags) follow(ctx context.Context, e *env, c hypersdkclient.Interface, op *v1alpha1.VMOperation) error {
	if w.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.timeout)
		defer cancel()
	}
	ops := c.HypersdkV1alpha1().VMOperations(op.Namespace)
	selector := fields.OneTermEqualSelector("metadata.name", op.Name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return ops.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return ops.Watch(ctx, o)
		},
	}
	// The informer below retries a refused list or watch for ever, only
	// logging it: asked once first, a refusal is the command's error, as
	// kubectl wait's is.
	last := op
	// Why following ended early: --timeout passed, or an interrupt.
	cut := func() error {
		why := "interrupted"
		if w.timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			why = fmt.Sprintf("gave up after %s", w.timeout)
		}
		return fmt.Errorf("%s waiting for operation %s, which goes on (%s %d%%: %s)", why, op.Name,
			orNone(string(last.Status.Phase)), last.Status.Progress, orNone(last.Status.Message))
	}
	list, err := lw.ListWithContext(ctx, metav1.ListOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return cut()
		}
		return err
	}
	probe, err := lw.WatchWithContext(ctx, metav1.ListOptions{ResourceVersion: list.(*v1alpha1.VMOperationList).ResourceVersion})
	if err != nil {
		if ctx.Err() != nil {
			return cut()
		}
		return err
	}
	probe.Stop()
	p := newProgress(e.streams.Out, w.showProgress)
	quiet, ended := quietLoggerFor(ctx)
	// An operation gone before the informer's first list (deleted when its
	// time to live passed) would never send an event.
	// The informer's list may be served from a cache a little behind, so
	// one missing there is read from the server before it is called gone.
	gone := func(store cache.Store) (bool, error) {
		if _, exists, err := store.GetByKey(op.Namespace + "/" + op.Name); err != nil || exists {
			return false, err
		}
		if _, err := ops.Get(ctx, op.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, nil // there, or unreadable: its events will tell
		}
		ended.Store(true)
		return false, apierrors.NewNotFound(v1alpha1.Resource("vmoperations"), op.Name)
	}
	_, err = watchtools.UntilWithSync(quiet, cache.ToListWatcherWithWatchListSemantics(lw, c), &v1alpha1.VMOperation{}, gone, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			ended.Store(true)
			return false, fmt.Errorf("operation %s was deleted before it ended", op.Name)
		}
		cur, ok := ev.Object.(*v1alpha1.VMOperation)
		if !ok {
			return false, nil
		}
		last = cur
		p.show(cur)
		final := cur.Status.Phase.Final()
		ended.Store(final)
		return final, nil
	})
	p.done()
	if wait.Interrupted(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return cut()
	}
	if err != nil {
		return err
	}
	if last.Status.Phase != v1alpha1.VMOperationSucceeded {
		return fmt.Errorf("operation %s %s: %s", op.Name, last.Status.Phase, last.Status.Message)
	}
	fmt.Fprintf(e.streams.Out, "vmoperation.hypersdk.io/%s %s: %s\n", op.Name, last.Status.Phase, last.Status.Message)
	return nil
}

// progress reports an operation as it goes: a bar redrawn in place on a
// terminal, else a line whenever phase, progress or message change; nothing
// unless asked.
type progress struct {
	w        io.Writer
	enabled  bool
	terminal bool
	start    time.Time
	last     string
}

func newProgress(w io.Writer, enabled bool) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, enabled: enabled, terminal: ok && term.IsTerminal(int(f.Fd())), start: time.Now()}
}

const barWidth = 30

func (p *progress) show(op *v1alpha1.VMOperation) {
	if !p.enabled {
		return
	}
	state := fmt.Sprintf("%s %d%% %s", orNone(string(op.Status.Phase)), op.Status.Progress, op.Status.Message)
	if state == p.last {
		return
	}
	p.last = state
	elapsed := time.Since(p.start).Round(time.Second)
	if !p.terminal {
		fmt.Fprintf(p.w, "%s %s\n", elapsed, state)
		return
	}
	filled := int(op.Status.Progress) * barWidth / 100
	filled = min(max(filled, 0), barWidth)
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %3d%% %-9s %s (%s)", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled),
		op.Status.Progress, op.Status.Phase, op.Status.Message, elapsed)
}

// done ends the bar's line.
func (p *progress) done() {
	if p.enabled && p.terminal && p.last != "" {
		fmt.Fprintln(p.w)
	}
}
