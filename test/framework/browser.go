package framework

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium is Debian's browser, which make test installs (hack/chromium.sh).
const Chromium = "/usr/bin/chromium"

// NewBrowser starts a headless Chromium with a fresh profile, without the
// background connections this closed network refuses, and with extra
// options; it is closed when the test ends.
func NewBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("no browser at %s (%v): make test installs Debian's chromium with hack/chromium.sh", Chromium, err)
	}
	// The pages' libraries (xterm.js, noVNC) come from make ui and are
	// embedded when the dashboard is built from this tree: without them every
	// page would stay "loading" and each test wait out its deadline.
	if _, err := os.Stat(filepath.Join(RepoRoot(), "pkg", "dashboard", "ui", "vendor", "xterm.mjs")); err != nil {
		t.Fatalf("the dashboard's browser libraries are missing (%v): make test builds them first (make ui)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(Chromium), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	opts = append(opts, extra...)
	// Chromium sometimes exits before it serves DevTools (seen once, right
	// after the previous test's browser closed: "chrome failed to start"
	// with nothing but its usual dbus complaints); a fresh process is tried
	// twice more before the test gives up.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		browser, cancel := chromedp.NewContext(alloc)
		// The first action starts the browser, on a context without a deadline.
		if err = chromedp.Do(browser, chromedp.Navigate("about:blank")); err == nil {
			t.Cleanup(cancelAlloc)
			t.Cleanup(cancel)
			return browser
		}
		cancel()
		cancelAlloc()
		t.Logf("starting %s (attempt %d): %v", Chromium, attempt, err)
	}
	t.Fatalf("starting %s: %v", Chromium, err)
	return nil
}
