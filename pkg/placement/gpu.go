package placement

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/gpu"
)

// maxDevices bounds the devices considered per node: device sets are bitmasks.
const maxDevices = 64

// Locality is how closely a VM's devices are connected.
type Locality int

const (
	// LocalityNone: the VM has no GPUs.
	LocalityNone Locality = iota
	// LocalityMixed: the devices span NUMA nodes without NVLink between all.
	LocalityMixed
	// LocalitySameNUMA: the devices hang off one NUMA node, not all NVLinked.
	LocalitySameNUMA
	// LocalityNVLink: every pair of devices is NVLink-connected, across NUMA
	// nodes.
	LocalityNVLink
	// LocalityNVLinkSameNUMA: every pair is NVLink-connected and all hang
	// off one NUMA node, as is any single device.
	LocalityNVLinkSameNUMA
)

func (l Locality) String() string {
	switch l {
	case LocalityNone:
		return "none"
	case LocalityMixed:
		return "mixed"
	case LocalitySameNUMA:
		return "same-numa"
	case LocalityNVLink:
		return "nvlink"
	case LocalityNVLinkSameNUMA:
		return "nvlink-same-numa"
	}
	return fmt.Sprintf("Locality(%d)", int(l))
}

// localityScore rates l for GPUScore. NVLink matters most, since GPU-to-GPU
// traffic over PCIe is an order of magnitude slower; one NUMA node then
// spares the host-to-device traffic a socket hop.
func localityScore(l Locality) float64 {
	switch l {
	case LocalityNVLinkSameNUMA:
		return 100
	case LocalityNVLink:
		return 90
	case LocalitySameNUMA:
		return 50
	}
	return 0
}

// GPUScore rates a GPU placement that leaves freeAfter of a node's devices
// free:
//
//	GPU = (2 × L + P) / 3
//	L = 100 all pairs NVLink on one NUMA node (or one device)
//	  |  90 all pairs NVLink across NUMA nodes
//	  |  50 one NUMA node, not all NVLinked
//	  |   0 mixed
//	P = 100 × (1 − freeAfter / devices)   binpack: fill partly used servers
//	P = 100 × freeAfter / devices         spread: prefer the emptiest
//
// Locality weighs double because it decides the VM's own speed, while
// packing only shapes what later VMs find.
func GPUScore(l Locality, freeAfter, devices int, policy GPUPolicy) float64 {
	var free float64
	if devices > 0 {
		free = float64(freeAfter) / float64(devices)
	}
	p := maxScore * (1 - free)
	if policy == GPUSpread {
		p = maxScore * free
	}
	return (2*localityScore(l) + p) / 3
}

// topology is a node's devices as bitmasks over their indices.
type topology struct {
	free uint64
	// peers[i] holds the NVLink peers of device i; numa[i] the devices of
	// its group (sameGroup), itself included: binpack fills a group, spread
	// empties them, so shared-GPU instances pack onto one physical GPU.
	peers, numa [maxDevices]uint64
}

// sameGroup reports whether a and b are grouped for locality and packing:
// instances of one shared GPU (its siblings), else whole devices on one
// known NUMA node. A device of unknown NUMA node is grouped with none.
func sameGroup(a, b *gpu.Device) bool {
	if a.Parent != "" || b.Parent != "" {
		return a.Parent == b.Parent
	}
	return a.NUMANode == b.NUMANode && a.NUMANode != gpu.NUMAUnknown
}

// init fills t for devs, of which assigned are taken.
func (t *topology) init(devs []gpu.Device, assigned map[string]bool) {
	for i := range devs {
		if !assigned[devs[i].ID] {
			t.free |= 1 << i
		}
		for j := range devs {
			if j == i || sameGroup(&devs[i], &devs[j]) {
				t.numa[i] |= 1 << j
			}
			if j != i && slices.Contains(devs[i].NVLinkPeers, devs[j].ID) {
				// Links are symmetric even if one side omits them.
				t.peers[i] |= 1 << j
				t.peers[j] |= 1 << i
			}
		}
	}
}

// gpuFit is where a VM's GPUs would go on a node.
type gpuFit struct {
	devs      []gpu.Device // the node's devices the fit indexes: NodeSnapshot.GPUs, or its first 64 that matter
	devices   uint64       // chosen, by index in devs
	locality  Locality
	freeAfter int
	total     int
}

// fitGPUs chooses devices for each request in turn and fills costs[i] with
// the model and count of request i for pricing. When a request cannot be
// met it returns ok false, the request's index and how many matching
// devices were free.
func fitGPUs(devs []gpu.Device, assigned map[string]bool, reqs []GPURequest, policy GPUPolicy, costs []cost.GPUCount) (fit gpuFit, ok bool, failed, free int) {
	total, dropped := len(devs), 0
	if len(devs) > maxDevices {
		devs, dropped = firstThatMatter(devs, assigned, reqs)
	}
	var t topology // on the stack: fitGPUs runs for every GPU node
	t.init(devs, assigned)
	fit = gpuFit{devs: devs, locality: LocalityNVLinkSameNUMA, total: total}
	avail := t.free
	for i, r := range reqs {
		costs[i] = cost.GPUCount{}
		if r.Count <= 0 {
			continue
		}
		var cand uint64
		for c := avail; c != 0; c &= c - 1 {
			if j := bits.TrailingZeros64(c); r.matches(&devs[j]) {
				cand |= 1 << j
			}
		}
		if n := bits.OnesCount64(cand); n < r.Count {
			return gpuFit{}, false, i, n
		}
		set, loc := t.bestSet(cand, avail, r.Count, policy)
		avail &^= set
		fit.devices |= set
		fit.locality = min(fit.locality, loc)
		costs[i] = cost.GPUCount{Model: devs[bits.TrailingZeros64(set)].Model, Count: float64(r.Count)}
		if devs[bits.TrailingZeros64(set)].Parent != "" {
			costs[i].Count = 0
			for c := set; c != 0; c &= c - 1 {
				costs[i].Count += gpu.Share(devs, bits.TrailingZeros64(c))
			}
		}
	}
	fit.freeAfter = bits.OnesCount64(avail) + dropped
	return fit, true, 0, 0
}

// firstThatMatter keeps maxDevices of a node with more (time-sliced GPUs,
// vGPU profiles of several boards): the free devices some request matches
// first, so a VM is not refused a device past the bitsets' reach, then the
// rest. It also returns how many free devices it left out.
func firstThatMatter(devs []gpu.Device, assigned map[string]bool, reqs []GPURequest) ([]gpu.Device, int) {
	wanted := func(d *gpu.Device) bool {
		return !assigned[d.ID] && slices.ContainsFunc(reqs, func(r GPURequest) bool { return r.Count > 0 && r.matches(d) })
	}
	kept := make([]gpu.Device, 0, maxDevices)
	for i := range devs {
		if len(kept) < maxDevices && wanted(&devs[i]) {
			kept = append(kept, devs[i])
		}
	}
	for i := range devs {
		if len(kept) < maxDevices && !wanted(&devs[i]) {
			kept = append(kept, devs[i])
		}
	}
	free := 0
	for i := range devs {
		if !assigned[devs[i].ID] {
			free++
		}
	}
	for i := range kept {
		if !assigned[kept[i].ID] {
			free--
		}
	}
	return kept, free
}

// bestSet picks count devices from cand, which holds at least count. It
// grows one set greedily from every candidate seed and keeps the best by
// locality, then by packing (binpack: from the NUMA nodes with the fewest
// free devices, keeping whole ones free; spread: the most), then the set
// with the lowest device index. Greedy growth from every seed finds the
// NVLink islands and NUMA nodes of real servers (pairs, quads, NVSwitch
// all-to-all) at O(n²·count) instead of enumerating all subsets.
func (t *topology) bestSet(cand, avail uint64, count int, policy GPUPolicy) (uint64, Locality) {
	var best uint64
	var bestLoc Locality
	var bestPack int
	for c := cand; c != 0; c &= c - 1 {
		set := t.grow(bits.TrailingZeros64(c), cand, avail, count, policy)
		loc, pack := t.locality(set), t.packing(set, avail)
		if best == 0 || loc > bestLoc ||
			loc == bestLoc && (packBetter(pack, bestPack, policy) || pack == bestPack && lowerIndices(set, best)) {
			best, bestLoc, bestPack = set, loc, pack
		}
	}
	return best, bestLoc
}

// grow adds devices to seed until the set has count, each time taking the
// candidate that is an NVLink peer of every device taken so far, else one on
// the seed's NUMA node, breaking ties by packing and then by lowest index.
func (t *topology) grow(seed int, cand, avail uint64, count int, policy GPUPolicy) uint64 {
	set := uint64(1) << seed
	for range count - 1 {
		next, nextRank, nextPack := -1, 0, 0
		for c := cand &^ set; c != 0; c &= c - 1 {
			j := bits.TrailingZeros64(c)
			rank := 0
			if t.peers[j]&set == set {
				rank += 2
			}
			if t.numa[seed]&(1<<j) != 0 {
				rank++
			}
			pack := bits.OnesCount64(avail & t.numa[j])
			if next < 0 || rank > nextRank || rank == nextRank && packBetter(pack, nextPack, policy) {
				next, nextRank, nextPack = j, rank, pack
			}
		}
		set |= 1 << next
	}
	return set
}

// locality classifies set.
func (t *topology) locality(set uint64) Locality {
	nvlink := true
	for c := set; c != 0; c &= c - 1 {
		i := bits.TrailingZeros64(c)
		if (t.peers[i]|1<<i)&set != set {
			nvlink = false
			break
		}
	}
	numa := t.numa[bits.TrailingZeros64(set)]&set == set
	switch {
	case nvlink && numa:
		return LocalityNVLinkSameNUMA
	case nvlink:
		return LocalityNVLink
	case numa:
		return LocalitySameNUMA
	}
	return LocalityMixed
}

// packing sums, over the devices of set, the free devices on their NUMA node.
func (t *topology) packing(set, avail uint64) int {
	n := 0
	for c := set; c != 0; c &= c - 1 {
		n += bits.OnesCount64(avail & t.numa[bits.TrailingZeros64(c)])
	}
	return n
}

// packBetter reports whether packing a beats b under policy.
func packBetter(a, b int, policy GPUPolicy) bool {
	if policy == GPUSpread {
		return a > b
	}
	return a < b
}

// lowerIndices reports whether set a comes before b in index order: the
// lowest device in one set but not the other is in a.
func lowerIndices(a, b uint64) bool {
	diff := a ^ b
	return diff != 0 && a&(diff&-diff) != 0
}

// appendIDs appends the IDs of the devices in set, in index order.
func appendIDs(ids []string, devs []gpu.Device, set uint64) []string {
	for c := set; c != 0; c &= c - 1 {
		ids = append(ids, devs[bits.TrailingZeros64(c)].ID)
	}
	return ids
}
