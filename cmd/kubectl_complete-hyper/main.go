// Command kubectl_complete-hyper completes `kubectl hyper` on the command
// line: kubectl (1.26 and later) runs kubectl_complete-<plugin> from PATH
// with the words typed after the plugin's name when the shell's kubectl
// completion reaches one. It answers as kubectl-hyper's own hidden
// __complete command does.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/hypersdk/hypersdk/pkg/cli"
)

func main() {
	args := append([]string{"__complete"}, os.Args[1:]...)
	os.Exit(cli.Run(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, args))
}
