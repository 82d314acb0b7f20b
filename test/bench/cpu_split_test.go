package bench

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/hypersdk/hypersdk/pkg/sandbox"
)

// pathProcesses are the processes a VM view request, a console or a display
// crosses on either path: a pprof profile shows one process, the split
// between them shows which one to profile.
var pathProcesses = []string{"kube-apiserver", "hypersdk-apiserver", "hypersdk-kubevirt-simulator", "etcd"}

// benchmarkClients names this process in a CPU split: the benchmark's own
// clients, which decode, count and time what the paths deliver on the same
// cores.
const benchmarkClients = "benchmark clients"

// cpuSplit reads the CPU seconds spent so far by pathProcesses, this
// process and the whole machine.
type cpuSplit struct {
	process map[string]float64
	machine machineTime
	at      time.Time
}

func readCPUSplit(b *testing.B) cpuSplit {
	process := processCPU(b, pathProcesses)
	process[benchmarkClients] = cpuSeconds(b, os.Getpid())
	return cpuSplit{process: process, machine: machineCPU(b), at: time.Now()}
}

// per formats the CPU time each process spent since before, in
// milliseconds per unit of work done meanwhile, and how busy the machine
// was: on a saturated machine latency is queueing for a core.
func (after cpuSplit) per(before cpuSplit, work float64, unit string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "CPU ms per %s:", unit)
	for _, name := range append(slices.Clone(pathProcesses), benchmarkClients) {
		fmt.Fprintf(&s, " %s %.2f,", name, 1000*(after.process[name]-before.process[name])/work)
	}
	busy := after.machine.busy - before.machine.busy
	wall := after.at.Sub(before.at).Seconds()
	fmt.Fprintf(&s, " whole machine %.2f (%.2f cores busy over %.1f s)", 1000*busy/work, busy/wall, wall)
	return s.String()
}

// profilePaths starts CPU profiles of kube-apiserver and hypersdk-apiserver
// into dir (nothing when dir is empty; the sandbox must run with
// Profiling); the returned func waits for them.
func profilePaths(b *testing.B, sb *sandbox.Sandbox, dir, batch string) func() {
	if dir == "" {
		return func() {}
	}
	client := func(cfg *rest.Config) *http.Client {
		c, err := rest.HTTPClientFor(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	hyper := sb.APIServerConfig()
	return profileAll(b, dir, batch, map[string]profileTarget{
		"kube-apiserver":     {client(sb.Admin), sb.Admin.Host},
		"hypersdk-apiserver": {client(hyper), hyper.Host},
	})
}
