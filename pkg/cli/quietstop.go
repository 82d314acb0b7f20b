package cli

import (
	"context"
	"sync/atomic"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

// quietAfterEnd is the logger of the informer that follows an operation.
// When the operation ends (or the wait is given up) the informer stops, and
// its watch can end with "context canceled" before the stop is seen, which
// client-go reports as a warning ("watch ended with error"). A command that
// succeeded must not print it, and a script reading its stderr must not see
// it. So once the follow is over, the informer's logs are dropped; until
// then (a watch the server refuses, a list that fails) they reach klog.
type quietAfterEnd struct {
	logr.LogSink
	ctx   context.Context
	ended *atomic.Bool
}

// quietLoggerFor returns ctx with that logger in it, and the flag that ends
// its output: set it before the follow stops the informer.
func quietLoggerFor(ctx context.Context) (context.Context, *atomic.Bool) {
	ended := &atomic.Bool{}
	// One frame more (this sink's) between the caller and klog's sink.
	sink := quietAfterEnd{LogSink: klog.FromContext(ctx).WithCallDepth(1).GetSink(), ctx: ctx, ended: ended}
	return klog.NewContext(ctx, logr.New(sink)), ended
}

func (q quietAfterEnd) over() bool { return q.ended.Load() || q.ctx.Err() != nil }

func (q quietAfterEnd) Enabled(level int) bool { return !q.over() && q.LogSink.Enabled(level) }

func (q quietAfterEnd) Info(level int, msg string, kv ...any) {
	if !q.over() {
		q.LogSink.Info(level, msg, kv...)
	}
}

func (q quietAfterEnd) Error(err error, msg string, kv ...any) {
	if !q.over() {
		q.LogSink.Error(err, msg, kv...)
	}
}

func (q quietAfterEnd) WithValues(kv ...any) logr.LogSink {
	q.LogSink = q.LogSink.WithValues(kv...)
	return q
}

func (q quietAfterEnd) WithName(name string) logr.LogSink {
	q.LogSink = q.LogSink.WithName(name)
	return q
}
