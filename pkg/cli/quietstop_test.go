package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"
)

// The informer that follows an operation logs through klog until the follow
// is over, then says nothing: its watch ending on the stop is not news.
func TestQuietLoggerDropsOnlyWhatComesAfterTheEnd(t *testing.T) {
	var got []string
	base := funcr.New(func(prefix, args string) { got = append(got, prefix+" "+args) }, funcr.Options{})
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), base))
	defer cancel()

	quiet, ended := quietLoggerFor(ctx)
	logger := klog.FromContext(quiet)
	logger.Info("list failed")
	logger.WithName("reflector").WithValues("type", "VMOperation").Error(errors.New("forbidden"), "watch refused")
	ended.Store(true)
	logger.Info("Warning: watch ended with error")
	logger.WithName("reflector").Error(errors.New("context canceled"), "after the end")

	text := strings.Join(got, "\n")
	if len(got) != 2 || !strings.Contains(text, "list failed") || !strings.Contains(text, "watch refused") ||
		!strings.Contains(text, "reflector") || !strings.Contains(text, "VMOperation") {
		t.Errorf("before the end, want both lines with their name and values; got %q", got)
	}
	if strings.Contains(text, "watch ended") || strings.Contains(text, "after the end") {
		t.Errorf("after the end, want nothing; got %q", got)
	}

	got = nil
	quiet, _ = quietLoggerFor(ctx)
	cancel()
	klog.FromContext(quiet).Info("Warning: watch ended with error")
	if len(got) != 0 {
		t.Errorf("after the command's context ended, want nothing; got %q", got)
	}
}
