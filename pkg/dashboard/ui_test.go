package dashboard

import (
	"io/fs"
	"testing"
)

// TestUIEmbedsTheBrowserLibraries: the binary carries the libraries the
// console and VNC pages import (hack/dashboard-ui.sh puts them in
// ui/vendor, which git does not hold); without them those pages break, and
// a binary built without running it must not pass for a good one.
func TestUIEmbedsTheBrowserLibraries(t *testing.T) {
	for _, path := range []string{"ui/vendor/xterm.mjs", "ui/vendor/xterm.css", "ui/vendor/novnc/core/rfb.js"} {
		if _, err := fs.Stat(uiFiles, path); err != nil {
			t.Errorf("%s is not embedded (run make ui): %v", path, err)
		}
	}
}
