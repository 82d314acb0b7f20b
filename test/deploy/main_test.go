// Package deploy tests HyperSDK as a cluster admin installs it: every
// component started from `kubectl apply -k artifacts/deploy`, exactly as its
// manifest says, its pods run by the sandbox's host node.
package deploy

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/hypersdk/hypersdk/pkg/sandbox"
	"github.com/hypersdk/hypersdk/test/framework"
)

// env is the sandbox every test in this package shares.
var env *framework.Env

func TestMain(m *testing.M) {
	// The host node runs each container in namespaces of its own and routes
	// its pods' addresses, as a kubelet and a CNI plugin do: root only.
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "deploy tests run HyperSDK's pods as a kubelet would, which needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
		os.Exit(1)
	}
	var stop func()
	var err error
	env, stop, err = framework.Setup(context.Background(), func(cfg *sandbox.Config) {
		cfg.Deploy = true
		cfg.Nodes = 3
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy setup:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}
