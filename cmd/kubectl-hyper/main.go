// Command kubectl-hyper is the kubectl plugin for HyperSDK VMs: kubectl finds
// it on PATH and runs it for `kubectl hyper ...`.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/hypersdk/hypersdk/pkg/cli"
)

func main() {
	os.Exit(cli.Run(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:]))
}
