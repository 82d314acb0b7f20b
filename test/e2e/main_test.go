// Package e2e tests HyperSDK end to end on a real control plane: etcd,
// kube-apiserver, kube-controller-manager, kubectl, and HyperSDK's own
// servers behind the aggregation layer.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/hypersdk/hypersdk/test/framework"
)

// env is the sandbox every test in this package shares.
var env *framework.Env

func TestMain(m *testing.M) {
	var stop func()
	var err error
	env, stop, err = framework.Setup(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}
