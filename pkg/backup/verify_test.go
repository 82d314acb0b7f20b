package backup

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/sandbox/guest"
)

// guestDialer connects to a simulated guest over a pipe.
type guestDialer struct{ info guest.Info }

func (d guestDialer) Dial(ctx context.Context, _, _ string, _ console.Kind) (io.ReadWriteCloser, error) {
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		_ = guest.Serve(context.Background(), server, func() guest.Info { return d.info }, clock.RealClock{})
	}()
	return client, nil
}

func TestCheckConsole(t *testing.T) {
	for _, tc := range []struct {
		name  string
		info  guest.Info
		v     v1alpha1.BackupVerification
		ok    bool
		shows string
	}{
		{"login prompt", guest.Info{Hostname: "db-verify"}, v1alpha1.BackupVerification{ExpectedOutput: "login:"}, true, "db-verify login:"},
		{"command", guest.Info{Hostname: "db-verify", CPUs: 3},
			v1alpha1.BackupVerification{Username: "fedora", Command: "nproc", ExpectedOutput: "3"}, true, "[fedora@db-verify ~]$ nproc"},
		// The command's own echo must not count as its output.
		{"output only in the echo", guest.Info{Hostname: "db-verify"},
			v1alpha1.BackupVerification{Username: "fedora", Command: "echo", ExpectedOutput: "echo"}, false, "$ echo"},
		{"kernel panic", guest.Info{Hostname: "db-verify", Panic: "VFS: Unable to mount root fs"},
			v1alpha1.BackupVerification{ExpectedOutput: "login:"}, false, "Kernel panic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Scheduler{cfg: Config{Dialer: guestDialer{info: tc.info}}}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			ok, out, _ := s.check(ctx, "ns", "vm", &tc.v)
			if ok != tc.ok || !strings.Contains(out, tc.shows) {
				t.Errorf("ok %v, console %q; want %v showing %q", ok, out, tc.ok, tc.shows)
			}
		})
	}
}

func TestScratchNames(t *testing.T) {
	short := scratchName("nightly-db-1796092800")
	long := scratchName("a-schedule-with-a-long-name-" + strings.Repeat("vm", 20) + "-1796092800")
	for _, name := range []string{short, long} {
		if len(name) > 63 || !strings.HasSuffix(name, scratchSuffix) {
			t.Errorf("scratch VM %q: %d characters, or not named as one", name, len(name))
		}
	}
	if short != "nightly-db-1796092800-verify" || long == scratchName("a-schedule-with-a-long-name-"+strings.Repeat("vm", 20)+"-1796092801") {
		t.Errorf("scratch names %q, %q: want the snapshot's name, or a distinct hash when cut", short, long)
	}
}
