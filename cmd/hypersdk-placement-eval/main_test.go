package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// carbonData is the real traces, seen from this package's directory.
const carbonData = "../../../shared/data/carbon"

func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"format", []string{"--format=xml"}, "--format"},
		{"nodes", []string{"--nodes=0"}, "--nodes"},
		{"start", []string{"--start=June"}, "--start"},
		{"load", []string{"--load=2", "--carbon-data=" + carbonData}, "load"},
		{"missing traces", []string{"--carbon-data=" + t.TempDir()}, "carbon trace"},
		{"trace years", []string{"--start=2022-12-20", "--carbon-data=" + carbonData}, "simulation needs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%v) = %v, want an error about %s", tc.args, err, tc.want)
			}
		})
	}
}

func TestPlanWithoutGPUNodes(t *testing.T) {
	for _, tc := range []struct {
		gpuNodes  bool
		wantNodes int
	}{{true, 12}, {false, 8}} {
		o := options{nodes: 12, gpuNodes: tc.gpuNodes}
		plan := o.plan()
		if len(plan) != tc.wantNodes {
			t.Errorf("--gpu-nodes=%v: %d nodes, want %d", tc.gpuNodes, len(plan), tc.wantNodes)
		}
		for _, n := range plan {
			if !tc.gpuNodes && len(n.Type.GPUs) > 0 {
				t.Errorf("--gpu-nodes=false kept GPU server %s", n.Name)
			}
		}
	}
}

func TestRunPrintsEveryStrategy(t *testing.T) {
	if _, err := os.Stat(carbonData); err != nil {
		t.Skipf("no carbon traces next to the repository: %v", err)
	}
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"table", []string{"default-scheduler", "hypersdk ", "hypersdk-carbon", "hypersdk-forecast", "oracle", "TRUE FUTURE", "vs default-scheduler"}},
		{"csv", []string{"strategy,carbon_signal,placed", "\noracle,TRUE FUTURE (offline),"}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var out bytes.Buffer
			args := []string{"--carbon-data=" + carbonData, "--nodes=6", "--days=2", "--format=" + tc.format}
			if err := run(context.Background(), args, &out, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
