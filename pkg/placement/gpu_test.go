package placement

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/gpu"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// a100x4 is a server of four PCIe A100s whose inventory annotation gives
// the wiring: NVLink bridges join gpu0-gpu1 (NUMA 0) and gpu2-gpu3 (NUMA 1).
var a100x4 = []gpu.Device{
	{ID: "gpu0", Model: "A100", ResourceName: "nvidia.com/A100", NUMANode: 0, NVLinkPeers: []string{"gpu1"}},
	{ID: "gpu1", Model: "A100", ResourceName: "nvidia.com/A100", NUMANode: 0, NVLinkPeers: []string{"gpu0"}},
	{ID: "gpu2", Model: "A100", ResourceName: "nvidia.com/A100", NUMANode: 1, NVLinkPeers: []string{"gpu3"}},
	{ID: "gpu3", Model: "A100", ResourceName: "nvidia.com/A100", NUMANode: 1, NVLinkPeers: []string{"gpu2"}},
}

// t4x2 is a 2×T4 server: no NVLink, one device per NUMA node.
var t4x2 = []gpu.Device{
	{ID: "gpu0", Model: "T4", ResourceName: "nvidia.com/T4", NUMANode: 0},
	{ID: "gpu1", Model: "T4", ResourceName: "nvidia.com/T4", NUMANode: 1},
}

// nvswitch8 is an 8-GPU server with NVLink between all devices, gpu0-3 on
// NUMA 0 and gpu4-7 on NUMA 1.
func nvswitch8() []gpu.Device {
	devs := make([]gpu.Device, 8)
	for i := range devs {
		devs[i] = gpu.Device{ID: fmt.Sprintf("gpu%d", i), Model: "H100", ResourceName: "nvidia.com/H100", NUMANode: i / 4}
		for j := range 8 {
			if j != i {
				devs[i].NVLinkPeers = append(devs[i].NVLinkPeers, fmt.Sprintf("gpu%d", j))
			}
		}
	}
	return devs
}

// vgpuT4x2 is two T4s each cut into two T4-8Q instances.
var vgpuT4x2 = []gpu.Device{
	{ID: "gpu0-T4-8Q-0", Model: "T4", ResourceName: "nvidia.com/GRID_T4-8Q", NUMANode: gpu.NUMAUnknown, Parent: "gpu0", Profile: "T4-8Q"},
	{ID: "gpu0-T4-8Q-1", Model: "T4", ResourceName: "nvidia.com/GRID_T4-8Q", NUMANode: gpu.NUMAUnknown, Parent: "gpu0", Profile: "T4-8Q"},
	{ID: "gpu1-T4-8Q-0", Model: "T4", ResourceName: "nvidia.com/GRID_T4-8Q", NUMANode: gpu.NUMAUnknown, Parent: "gpu1", Profile: "T4-8Q"},
	{ID: "gpu1-T4-8Q-1", Model: "T4", ResourceName: "nvidia.com/GRID_T4-8Q", NUMANode: gpu.NUMAUnknown, Parent: "gpu1", Profile: "T4-8Q"},
}

// timeSliced is n time-sliced shares of T4s, on no known NUMA node, then
// one A100 (the last device).
func timeSliced(n int) []gpu.Device {
	devs := make([]gpu.Device, n, n+1)
	for i := range devs {
		devs[i] = gpu.Device{ID: fmt.Sprintf("t4-%d", i), Model: "T4", ResourceName: "nvidia.com/T4", NUMANode: gpu.NUMAUnknown}
	}
	return append(devs, gpu.Device{ID: "a100", Model: "A100", ResourceName: "nvidia.com/A100", NUMANode: gpu.NUMAUnknown})
}

// TestFitGPUsPastSixtyFour: a node with more devices than the bitsets hold
// (time-sliced GPUs) still gives a VM a free device past the 64th, and
// counts the ones it leaves out as free.
func TestFitGPUsPastSixtyFour(t *testing.T) {
	devs := timeSliced(80)
	var taken []string
	for i := range 70 {
		taken = append(taken, fmt.Sprintf("t4-%d", i))
	}
	for _, tc := range []struct {
		name      string
		reqs      []GPURequest
		want      []string
		freeAfter int
	}{
		{"the first 70 shares taken", []GPURequest{{Model: "T4", Count: 2}}, []string{"t4-70", "t4-71"}, 9},
		{"the device after them all", []GPURequest{{Model: "A100", Count: 1}}, []string{"a100"}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			costs := make([]cost.GPUCount, len(tc.reqs))
			fit, ok, failed, free := fitGPUs(devs, assigned(taken...), tc.reqs, GPUBinpack, costs)
			if !ok {
				t.Fatalf("refused: %s", gpuReason(tc.reqs[failed], free))
			}
			if got := appendIDs(nil, fit.devs, fit.devices); !slices.Equal(got, tc.want) {
				t.Errorf("devices %v, want %v", got, tc.want)
			}
			if fit.freeAfter != tc.freeAfter || fit.total != len(devs) {
				t.Errorf("%d of %d free after, want %d of %d", fit.freeAfter, fit.total, tc.freeAfter, len(devs))
			}
		})
	}
}

func assigned(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func TestFitGPUs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		devs      []gpu.Device
		assigned  map[string]bool
		reqs      []GPURequest
		policy    GPUPolicy
		want      []string
		locality  Locality
		freeAfter int
		reason    string
	}{
		{"pair on empty server", a100x4, nil, []GPURequest{{Model: "A100", Count: 2}}, GPUBinpack,
			[]string{"gpu0", "gpu1"}, LocalityNVLinkSameNUMA, 2, ""},
		{"pair on empty server, spread", a100x4, nil, []GPURequest{{Model: "A100", Count: 2}}, GPUSpread,
			[]string{"gpu0", "gpu1"}, LocalityNVLinkSameNUMA, 2, ""},
		{"pair beside a used device", a100x4, assigned("gpu0"), []GPURequest{{Model: "A100", Count: 2}}, GPUBinpack,
			[]string{"gpu2", "gpu3"}, LocalityNVLinkSameNUMA, 1, ""},
		{"by resource name", a100x4, nil, []GPURequest{{ResourceName: "nvidia.com/A100", Count: 2}}, GPUBinpack,
			[]string{"gpu0", "gpu1"}, LocalityNVLinkSameNUMA, 2, ""},
		{"binpack fills the broken pair", a100x4, assigned("gpu0"), []GPURequest{{Model: "A100", Count: 1}}, GPUBinpack,
			[]string{"gpu1"}, LocalityNVLinkSameNUMA, 2, ""},
		{"spread takes the emptiest NUMA node", a100x4, assigned("gpu0"), []GPURequest{{Model: "A100", Count: 1}}, GPUSpread,
			[]string{"gpu2"}, LocalityNVLinkSameNUMA, 2, ""},
		{"only split devices left", a100x4, assigned("gpu0", "gpu2"), []GPURequest{{Model: "A100", Count: 2}}, GPUBinpack,
			[]string{"gpu1", "gpu3"}, LocalityMixed, 0, ""},
		{"three of a pair-linked server", a100x4, nil, []GPURequest{{Model: "A100", Count: 3}}, GPUBinpack,
			[]string{"gpu0", "gpu1", "gpu2"}, LocalityMixed, 1, ""},
		{"no NVLink", t4x2, nil, []GPURequest{{Model: "T4", Count: 2}}, GPUBinpack,
			[]string{"gpu0", "gpu1"}, LocalityMixed, 0, ""},
		{"NVSwitch keeps one NUMA node", nvswitch8(), assigned("gpu0"), []GPURequest{{Model: "H100", Count: 4}}, GPUBinpack,
			[]string{"gpu4", "gpu5", "gpu6", "gpu7"}, LocalityNVLinkSameNUMA, 3, ""},
		{"sandbox HGX board: any pair, NUMA unknown", fleet.GPUA100.GPUs, assigned("gpu1"), []GPURequest{{Model: "A100", Count: 2}}, GPUBinpack,
			[]string{"gpu0", "gpu2"}, LocalityNVLink, 1, ""},
		{"sandbox HGX board: one device is local to itself", fleet.GPUA100.GPUs, nil, []GPURequest{{Model: "A100", Count: 1}}, GPUSpread,
			[]string{"gpu0"}, LocalityNVLinkSameNUMA, 3, ""},
		{"sandbox T4 server", fleet.GPUT4.GPUs, nil, []GPURequest{{Model: "T4", Count: 2}}, GPUBinpack,
			[]string{"gpu0", "gpu1"}, LocalityMixed, 0, ""},
		{"binpack shares the GPU a vGPU already runs on", vgpuT4x2, assigned("gpu1-T4-8Q-0"),
			[]GPURequest{{ResourceName: "nvidia.com/GRID_T4-8Q", Count: 1}}, GPUBinpack, []string{"gpu1-T4-8Q-1"}, LocalityNVLinkSameNUMA, 2, ""},
		{"spread takes the idle GPU", vgpuT4x2, assigned("gpu1-T4-8Q-0"),
			[]GPURequest{{ResourceName: "nvidia.com/GRID_T4-8Q", Count: 1}}, GPUSpread, []string{"gpu0-T4-8Q-0"}, LocalityNVLinkSameNUMA, 2, ""},
		{"a full GPU sends the next instance to the other", vgpuT4x2, assigned("gpu0-T4-8Q-0", "gpu0-T4-8Q-1"),
			[]GPURequest{{ResourceName: "nvidia.com/GRID_T4-8Q", Count: 1}}, GPUBinpack, []string{"gpu1-T4-8Q-0"}, LocalityNVLinkSameNUMA, 1, ""},
		{"NVSwitch across NUMA nodes", nvswitch8(), assigned("gpu0", "gpu4"), []GPURequest{{Model: "H100", Count: 4}}, GPUBinpack,
			[]string{"gpu1", "gpu2", "gpu3", "gpu5"}, LocalityNVLink, 2, ""},
		{"two requests", a100x4, nil, []GPURequest{{Model: "A100", Count: 1}, {Model: "A100", Count: 2}}, GPUBinpack,
			[]string{"gpu0", "gpu2", "gpu3"}, LocalityNVLinkSameNUMA, 1, ""},
		{"too few free", a100x4, assigned("gpu1"), []GPURequest{{Model: "A100", Count: 4}}, GPUBinpack,
			nil, 0, 0, "not enough free A100 GPUs: VM requests 4, node has 3 free"},
		{"wrong model", a100x4, nil, []GPURequest{{Model: "T4", Count: 1}}, GPUBinpack,
			nil, 0, 0, "not enough free T4 GPUs: VM requests 1, node has 0 free"},
		{"no GPUs", nil, nil, []GPURequest{{ResourceName: "nvidia.com/A100", Count: 1}}, GPUBinpack,
			nil, 0, 0, "not enough free nvidia.com/A100 GPUs: VM requests 1, node has 0 free"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			costs := make([]cost.GPUCount, len(tc.reqs))
			fit, ok, failed, free := fitGPUs(tc.devs, tc.assigned, tc.reqs, tc.policy, costs)
			reason := ""
			if !ok {
				reason = gpuReason(tc.reqs[failed], free)
			}
			if reason != tc.reason {
				t.Fatalf("reason %q, want %q", reason, tc.reason)
			}
			if reason != "" {
				return
			}
			if got := appendIDs(nil, fit.devs, fit.devices); !slices.Equal(got, tc.want) {
				t.Errorf("devices %v, want %v", got, tc.want)
			}
			if fit.locality != tc.locality {
				t.Errorf("locality %v, want %v", fit.locality, tc.locality)
			}
			if fit.freeAfter != tc.freeAfter || fit.total != len(tc.devs) {
				t.Errorf("%d of %d free after, want %d of %d", fit.freeAfter, fit.total, tc.freeAfter, len(tc.devs))
			}
			for i, r := range tc.reqs {
				if want := float64(r.Count) * gpu.Share(tc.devs, 0); costs[i].Count != want || costs[i].Model != tc.devs[0].Model {
					t.Errorf("priced request %d as %+v", i, costs[i])
				}
			}
		})
	}
}

func TestGPUScore(t *testing.T) {
	for _, tc := range []struct {
		name               string
		l                  Locality
		freeAfter, devices int
		policy             GPUPolicy
		want               float64
	}{
		{"NVLink pair, binpack", LocalityNVLinkSameNUMA, 1, 4, GPUBinpack, (200 + 75) / 3.0},
		{"NVLink pair, spread", LocalityNVLinkSameNUMA, 1, 4, GPUSpread, (200 + 25) / 3.0},
		{"NVLink across NUMA, fills server", LocalityNVLink, 0, 8, GPUBinpack, (180 + 100) / 3.0},
		{"same NUMA, fills server", LocalitySameNUMA, 0, 2, GPUBinpack, (100 + 100) / 3.0},
		{"mixed, half free, spread", LocalityMixed, 2, 4, GPUSpread, 50 / 3.0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := GPUScore(tc.l, tc.freeAfter, tc.devices, tc.policy); !approx(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLowerIndices(t *testing.T) {
	for _, tc := range []struct {
		a, b uint64
		want bool
	}{
		{0b0011, 0b1100, true},  // {0,1} before {2,3}
		{0b1100, 0b0011, false}, // {2,3} after {0,1}
		{0b0101, 0b0110, true},  // {0,2} before {1,2}
		{0b0110, 0b0110, false}, // equal
	} {
		if got := lowerIndices(tc.a, tc.b); got != tc.want {
			t.Errorf("lowerIndices(%b, %b) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
