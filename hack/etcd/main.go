// Command etcd is etcd's own server, for the test control plane: go.mod pins
// its module (etcd ships no Go module with a main package apart from its
// command-line tools), and hack/tools-bin.sh builds it with the control
// plane's other binaries.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
