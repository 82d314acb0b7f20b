//go:build !windows

package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// sizeChanges says when the terminal may have changed size: at every
// SIGWINCH, until ctx ends.
func sizeChanges(ctx context.Context) <-chan struct{} {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	changes := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(winch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-winch:
				select {
				case changes <- struct{}{}:
				default:
				}
			}
		}
	}()
	return changes
}
