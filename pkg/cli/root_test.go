package cli

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestRefusals: what kubectl refuses, kubectl hyper refuses before it
// calls any server (there is none here): a word that names no command of
// a group, names with -A, and a dry run of the interactive form (which
// would create the VM). A group alone prints its help.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"vm", "strat", "web-1"}, 1, "", `error: unknown command "strat" for "kubectl hyper vm"`},
		{[]string{"snapshot", "rm"}, 1, "", `error: unknown command "rm" for "kubectl hyper snapshot"`},
		{[]string{"vm"}, 0, "Available Commands:", ""},
		{[]string{"vm", "get", "web-1", "-A"}, 1, "", "error: a resource cannot be retrieved by name across all namespaces"},
		{[]string{"op", "list", "op-1", "-A"}, 1, "", "error: a resource cannot be retrieved by name across all namespaces"},
		{[]string{"snapshot", "list", "snap-1", "-A"}, 1, "", "error: a resource cannot be retrieved by name across all namespaces"},
		{[]string{"vm", "top", "web-1", "-A"}, 1, "", "error: a resource cannot be retrieved by name across all namespaces"},
		{[]string{"vm", "get", "web-1", "-l", "tier=db"}, 1, "", "error: name cannot be provided when a selector is specified"},
		{[]string{"vm", "list", "web-1", "--min-cpus", "2"}, 1, "", "error: name cannot be provided when a selector is specified"},
		{[]string{"op", "list", "op-1", "--phase", "Running"}, 1, "", "error: name cannot be provided when a selector is specified"},
		{[]string{"snapshot", "list", "snap-1", "--vm", "web-1"}, 1, "", "error: name cannot be provided when a selector is specified"},
		{[]string{"vm", "top", "web-1", "-l", "tier=db"}, 1, "", "error: name cannot be provided when a selector is specified"},
		{[]string{"vm", "create", "web-1", "--dry-run=maybe"}, 1, "", `error: --dry-run="maybe": must be "none", "server" or "client"`},
		{[]string{"vm", "create", "web-1", "--interactive", "--dry-run"}, 1, "", "error: --dry-run with --interactive"},
		{[]string{"vm", "stop", "web-1", "--timeout=-1s"}, 1, "", `invalid argument "-1s" for "--timeout" flag: must not be negative`},
		{[]string{"op", "wait", "op-1", "--timeout", "soon"}, 1, "", `invalid argument "soon" for "--timeout" flag`},
	} {
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		code := Run(streams, append(tc.args, "--kubeconfig", "/nonexistent"))
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errOut.String(), tc.err) {
			t.Errorf("kubectl hyper %s: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				strings.Join(tc.args, " "), code, out.String(), errOut.String(), tc.code, tc.out, tc.err)
		}
	}
}

// TestErrorLineKeepsContext: an API error the command wrapped is printed
// with what the command was doing, after kubectl's "Error from server".
func TestErrorLineKeepsContext(t *testing.T) {
	err := fmt.Errorf("reading metrics.k8s.io: %w", apierrors.NewServiceUnavailable("the server is currently unable to handle the request"))
	want := "Error from server (ServiceUnavailable): reading metrics.k8s.io: the server is currently unable to handle the request"
	if got := errorLine(err); got != want {
		t.Errorf("errorLine: %q, want %q", got, want)
	}
	if got := errorLine(apierrors.NewNotFound(schema.GroupResource{Group: "hypersdk.io", Resource: "virtualmachines"}, "web-1")); got !=
		`Error from server (NotFound): virtualmachines.hypersdk.io "web-1" not found` {
		t.Errorf("errorLine of a plain NotFound: %q", got)
	}
}

// TestUnreachableServer: a server that refuses the connection is said as
// kubectl says it.
func TestUnreachableServer(t *testing.T) {
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir()) // no ~/.kube/config either
	code := Run(streams, []string{"vm", "list", "-n", "default", "--server", "https://127.0.0.1:1", "--insecure-skip-tls-verify"})
	if code == 0 || !strings.Contains(errOut.String(), "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?") {
		t.Errorf("vm list against a closed port: exit %d, stderr %q", code, errOut.String())
	}
}
