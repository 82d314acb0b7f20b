package gpu

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Profile is a shape of a shared GPU: a time-sliced vGPU type (T4-8Q: 8 GB
// of a T4's 16, the compute shared by time), a MIG-backed vGPU type
// (A100-3-20C: three of seven compute slices, 20 GB) or a MIG device of
// GPU feature discovery's mixed strategy (mig-3g.20gb). Device plugins
// advertise each as its own extended resource, one unit per instance
// created on the node's GPUs; KubeVirt consumes vGPU types through
// permittedHostDevices.mediatedDevices.
type Profile struct {
	// Name is the profile as NVIDIA writes it: T4-8Q, A100-3-20C, 3g.20gb.
	Name string
	// Model is the physical GPU's model; empty for MIG devices, whose
	// resource names do not say (the node's product label does).
	Model string
	// MemoryGB is the instance's share of the board's memory.
	MemoryGB int64
	// ComputeSlices is the MIG compute slices of one instance (of seven);
	// zero for time-sliced vGPU, which shares all of them by time.
	ComputeSlices int
}

var (
	// vgpuName is a vGPU type as a resource name: GRID_T4-8Q, NVIDIA_L4-6Q,
	// GRID_A100-3-20C (MIG-backed).
	vgpuName = regexp.MustCompile(`^(?:GRID|NVIDIA)_([A-Za-z0-9]+)-(?:(\d)-)?(\d+)([ABCQ])$`)
	// migName is a MIG device resource of GFD's mixed strategy.
	migName = regexp.MustCompile(`^mig-(\d)g\.(\d+)gb$`)
)

// boardMemoryGB are the memory sizes each shareable model ships with; vGPU
// framebuffers are fractions of these nominal sizes, not of the slightly
// smaller figure the driver reports.
var boardMemoryGB = map[string][]int64{
	"T4": {16}, "A2": {16}, "A10": {24}, "A16": {16}, "A30": {24}, "A40": {48}, "L4": {24}, "L40": {48}, "L40S": {48},
	"V100": {16, 32}, "A100": {40, 80}, "H100": {80, 94}, "H200": {141},
}

// migProfiles are the MIG profiles of each board size, as NVIDIA's MIG
// user guide lists them, with how many instances of each one GPU holds.
// The memory in a name is not a fixed share of the board (a 1-slice
// instance takes one or two memory slices, and the 94 and 141 GB boards'
// slices are rounded), so the names are listed, not derived.
var migProfiles = map[int64]map[string]int{
	24:  {"1g.6gb": 4, "2g.12gb": 2, "4g.24gb": 1},                                             // A30
	40:  {"1g.5gb": 7, "1g.10gb": 4, "2g.10gb": 3, "3g.20gb": 2, "4g.20gb": 1, "7g.40gb": 1},   // A100 40 GB
	80:  {"1g.10gb": 7, "1g.20gb": 4, "2g.20gb": 3, "3g.40gb": 2, "4g.40gb": 1, "7g.80gb": 1},  // A100, H100 80 GB
	94:  {"1g.12gb": 7, "1g.24gb": 4, "2g.24gb": 3, "3g.47gb": 2, "4g.47gb": 1, "7g.94gb": 1},  // H100 94 GB
	141: {"1g.18gb": 7, "1g.35gb": 4, "2g.35gb": 3, "3g.71gb": 2, "4g.71gb": 1, "7g.141gb": 1}, // H200
}

// ParseProfile reads a shared-GPU profile from an extended resource name
// (with or without the nvidia.com/ prefix). ok is false for names that are
// not profiles (whole GPUs); err says why a name that looks like a profile
// breaks its model's rules.
func ParseProfile(resource string) (p Profile, ok bool, err error) {
	name := strings.TrimPrefix(resource, vendorPrefix)
	if m := migName.FindStringSubmatch(name); m != nil {
		c, _ := strconv.Atoi(m[1])
		gb, _ := strconv.ParseInt(m[2], 10, 64)
		p = Profile{Name: fmt.Sprintf("%dg.%dgb", c, gb), MemoryGB: gb, ComputeSlices: c}
		for _, profiles := range migProfiles {
			if _, ok := profiles[p.migName()]; ok {
				return p, true, nil
			}
		}
		return p, true, fmt.Errorf("MIG profile %s: no GPU has it (pairs %d compute slices with %d GB)", p.Name, c, gb)
	}
	m := vgpuName.FindStringSubmatch(name)
	if m == nil {
		return Profile{}, false, nil
	}
	gb, _ := strconv.ParseInt(m[3], 10, 64)
	p = Profile{Model: m[1], MemoryGB: gb}
	p.Name = fmt.Sprintf("%s-%d%s", p.Model, gb, m[4])
	if m[2] != "" {
		p.ComputeSlices, _ = strconv.Atoi(m[2])
		p.Name = fmt.Sprintf("%s-%d-%d%s", p.Model, p.ComputeSlices, gb, m[4])
	}
	boards, known := boardMemoryGB[p.Model]
	if !known {
		return p, true, fmt.Errorf("vGPU profile %s: unknown GPU model %s", p.Name, p.Model)
	}
	if !slices.ContainsFunc(boards, func(board int64) bool { _, err := p.PerGPU(board); return err == nil }) {
		return p, true, fmt.Errorf("vGPU profile %s: %s boards of %v GB cannot be divided into %d GB instances", p.Name, p.Model, boards, gb)
	}
	return p, true, nil
}

// PerGPU is how many instances of p one GPU with boardGB of memory holds.
func (p Profile) PerGPU(boardGB int64) (int, error) {
	if p.ComputeSlices > 0 {
		n, ok := migProfiles[boardGB][p.migName()]
		if !ok {
			return 0, fmt.Errorf("profile %s is not a MIG profile of a %d GB GPU", p.Name, boardGB)
		}
		return n, nil
	}
	if p.MemoryGB <= 0 || boardGB%p.MemoryGB != 0 {
		return 0, fmt.Errorf("profile %s does not divide a %d GB GPU", p.Name, boardGB)
	}
	return int(boardGB / p.MemoryGB), nil
}

// migName is the MIG profile p is or is backed by (a MIG-backed vGPU type
// A100-3-20C runs on a 3g.20gb instance).
func (p Profile) migName() string { return fmt.Sprintf("%dg.%dgb", p.ComputeSlices, p.MemoryGB) }

// boardGB picks the nominal memory of a model's board: the size closest to
// what the driver reports (labelMiB), the only size if there is one.
func boardGB(model string, labelMiB int64) (int64, bool) {
	boards := boardMemoryGB[model]
	if len(boards) == 0 {
		return 0, false
	}
	best := boards[0]
	for _, b := range boards[1:] {
		if abs(b<<10-labelMiB) < abs(best<<10-labelMiB) {
			best = b
		}
	}
	return best, true
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
