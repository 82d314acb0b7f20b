package cli

import (
	"context"
	"time"
)

// sizeChanges says when the terminal may have changed size. Windows sends
// no signal for it, so the size is looked at twice a second; only a change
// reaches the console.
func sizeChanges(ctx context.Context) <-chan struct{} {
	changes := make(chan struct{}, 1)
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case changes <- struct{}{}:
				default:
				}
			}
		}
	}()
	return changes
}
