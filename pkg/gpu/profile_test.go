package gpu

import (
	"fmt"
	"testing"
)

func TestParseProfile(t *testing.T) {
	for _, tc := range []struct {
		resource string
		want     Profile
		ok       bool
		err      bool
		perGPU   map[int64]int
	}{
		{"nvidia.com/GRID_T4-8Q", Profile{Name: "T4-8Q", Model: "T4", MemoryGB: 8}, true, false, map[int64]int{16: 2}},
		{"GRID_T4-1Q", Profile{Name: "T4-1Q", Model: "T4", MemoryGB: 1}, true, false, map[int64]int{16: 16}},
		{"nvidia.com/NVIDIA_L4-6Q", Profile{Name: "L4-6Q", Model: "L4", MemoryGB: 6}, true, false, map[int64]int{24: 4}},
		{"nvidia.com/GRID_A100-3-20C", Profile{Name: "A100-3-20C", Model: "A100", MemoryGB: 20, ComputeSlices: 3}, true, false,
			map[int64]int{40: 2}},
		{"nvidia.com/mig-1g.5gb", Profile{Name: "1g.5gb", MemoryGB: 5, ComputeSlices: 1}, true, false, map[int64]int{40: 7}},
		{"nvidia.com/mig-2g.20gb", Profile{Name: "2g.20gb", MemoryGB: 20, ComputeSlices: 2}, true, false, map[int64]int{80: 3}},
		{"nvidia.com/mig-7g.40gb", Profile{Name: "7g.40gb", MemoryGB: 40, ComputeSlices: 7}, true, false, map[int64]int{40: 1}},
		// One compute slice with two memory slices; the same name on 40 and
		// 80 GB boards; the rounded slices of 94 and 141 GB boards; A30's
		// four slices.
		{"nvidia.com/mig-1g.20gb", Profile{Name: "1g.20gb", MemoryGB: 20, ComputeSlices: 1}, true, false, map[int64]int{80: 4}},
		{"nvidia.com/mig-1g.10gb", Profile{Name: "1g.10gb", MemoryGB: 10, ComputeSlices: 1}, true, false, map[int64]int{40: 4, 80: 7}},
		{"nvidia.com/mig-3g.47gb", Profile{Name: "3g.47gb", MemoryGB: 47, ComputeSlices: 3}, true, false, map[int64]int{94: 2}},
		{"nvidia.com/mig-7g.141gb", Profile{Name: "7g.141gb", MemoryGB: 141, ComputeSlices: 7}, true, false, map[int64]int{141: 1}},
		{"nvidia.com/mig-1g.6gb", Profile{Name: "1g.6gb", MemoryGB: 6, ComputeSlices: 1}, true, false, map[int64]int{24: 4}},
		// Whole GPUs are not profiles.
		{"nvidia.com/GA100_A100_SXM4_40GB", Profile{}, false, false, nil},
		{"nvidia.com/TU104GL_Tesla_T4", Profile{}, false, false, nil},
		{"nvidia.com/gpu", Profile{}, false, false, nil},
		// Profiles that break their rules.
		{"nvidia.com/GRID_T4-5Q", Profile{Name: "T4-5Q", Model: "T4", MemoryGB: 5}, true, true, nil},
		{"nvidia.com/GRID_Z9-4Q", Profile{Name: "Z9-4Q", Model: "Z9", MemoryGB: 4}, true, true, nil},
		{"nvidia.com/mig-5g.25gb", Profile{Name: "5g.25gb", MemoryGB: 25, ComputeSlices: 5}, true, true, nil},
		{"nvidia.com/mig-3g.10gb", Profile{Name: "3g.10gb", MemoryGB: 10, ComputeSlices: 3}, true, true, nil},
		{"nvidia.com/mig-2g.15gb", Profile{Name: "2g.15gb", MemoryGB: 15, ComputeSlices: 2}, true, true, nil},
	} {
		t.Run(tc.resource, func(t *testing.T) {
			p, ok, err := ParseProfile(tc.resource)
			if p != tc.want || ok != tc.ok || (err != nil) != tc.err {
				t.Fatalf("got %+v, %v, %v; want %+v, %v, error %v", p, ok, err, tc.want, tc.ok, tc.err)
			}
			for board, want := range tc.perGPU {
				if got, err := p.PerGPU(board); err != nil || got != want {
					t.Errorf("PerGPU(%d) = %d, %v; want %d", board, got, err, want)
				}
			}
		})
	}
	if _, err := (Profile{Name: "3g.20gb", MemoryGB: 20, ComputeSlices: 3}).PerGPU(80); err == nil {
		t.Error("3g.20gb fits an 80 GB GPU, whose 3-slice profile is 3g.40gb")
	}
}

// TestNodeDevicesSharedProfiles: instances are dealt to physical GPUs by
// their profile's rules, after the node's whole GPUs.
func TestNodeDevicesSharedProfiles(t *testing.T) {
	n := gpuNode(map[string]string{ProductLabel: "Tesla-T4", MemoryLabel: "15360", CountLabel: "3"}, nil,
		map[string]string{"nvidia.com/TU104GL_Tesla_T4": "1", "nvidia.com/GRID_T4-8Q": "4"})
	devs, err := NodeDevices(n)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range devs {
		got = append(got, fmt.Sprintf("%s<%s>%s/%s/%d", d.ID, d.Parent, d.Profile, d.Model, d.MemoryMiB))
	}
	want := []string{"gpu0<>/T4/15360",
		"gpu1-T4-8Q-0<gpu1>T4-8Q/T4/8192", "gpu1-T4-8Q-1<gpu1>T4-8Q/T4/8192",
		"gpu2-T4-8Q-0<gpu2>T4-8Q/T4/8192", "gpu2-T4-8Q-1<gpu2>T4-8Q/T4/8192"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("devices\n %v\nwant\n %v", got, want)
	}

	mig := gpuNode(map[string]string{ProductLabel: "NVIDIA-A100-SXM4-40GB", MemoryLabel: "40960"}, nil,
		map[string]string{"nvidia.com/mig-3g.20gb": "3"})
	devs, err = NodeDevices(mig)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 3 || devs[1].Parent != "gpu0" || devs[2].Parent != "gpu1" || devs[2].Model != "A100" || devs[2].Profile != "3g.20gb" {
		t.Fatalf("MIG devices %+v", devs)
	}

	unknown := gpuNode(nil, nil, map[string]string{"nvidia.com/GRID_Z9-4Q": "2"})
	devs, err = NodeDevices(unknown)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || devs[0].Parent == devs[1].Parent {
		t.Fatalf("instances of unknown rules share a GPU: %+v", devs)
	}
}
