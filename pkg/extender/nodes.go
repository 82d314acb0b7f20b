package extender

import (
	"maps"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/gpu"
	"github.com/hypersdk/hypersdk/pkg/nodesnapshot"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// nodeState is what the extender keeps per node between requests: the parts
// of a placement.NodeSnapshot that change only with the Node object, plus
// the sums of the VM pods bound to it, kept up to date by pod events so that
// no request has to walk every pod. The sums cover VM pods only: they feed
// GPU bookkeeping and, when usage is unknown, pressure; whether a node has
// room at all is checked by kube-scheduler before the extender is asked.
type nodeState struct {
	static       placement.NodeSnapshot
	preferAvoid  []corev1.Taint // PreferNoSchedule taints, which kube-scheduler scores
	requestedCPU float64
	requestedMem float64
	// named holds the pods here whose annotation names their GPU devices
	// (gpusHeld checks the names against what they ask for).
	named map[types.UID]gpuClaim
	// unnamed counts, per extended resource, what the pods here that name
	// no devices ask for (placed without the extender: while it was down,
	// by another scheduler, before HyperSDK was installed).
	unnamed map[string]int64
	pods    int // bound pods counted in the sums
}

// gpuClaim is a pod's hold on its node's GPUs: the devices its annotation
// names and the extended resources it asks for.
type gpuClaim struct {
	devices  []string
	requests map[string]int64
}

// boundPod is what one bound pod adds to its node.
type boundPod struct {
	node     string
	cpu, mem float64
	gpuClaim
	// assumed marks a pod the scheduler has reserved a node for and not
	// yet bound (see assume): the pod cache has not seen it there.
	assumed bool
}

// nodeCache holds every node's state. Event handlers write it; requests read
// it under the read lock.
type nodeCache struct {
	prices cost.Model

	mu    sync.RWMutex
	nodes map[string]*nodeState
	pods  map[types.UID]boundPod
	// gpuResources are the extended resource names of GPUs seen in any
	// inventory: a pod requesting one of them asks for GPUs.
	gpuResources map[corev1.ResourceName]bool
}

func newNodeCache(prices cost.Model) *nodeCache {
	return &nodeCache{prices: prices, nodes: map[string]*nodeState{}, pods: map[types.UID]boundPod{},
		gpuResources: map[corev1.ResourceName]bool{}}
}

// setNode records a node's static facts; pods already counted stay.
func (c *nodeCache) setNode(node *corev1.Node) {
	s := nodesnapshot.Static(node, c.prices)
	var preferAvoid []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			preferAvoid = append(preferAvoid, t)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range s.GPUs {
		if d.ResourceName != "" {
			c.gpuResources[corev1.ResourceName(d.ResourceName)] = true
		}
	}
	st, ok := c.nodes[node.Name]
	if !ok {
		st = &nodeState{}
		c.nodes[node.Name] = st
	}
	st.static, st.preferAvoid = s, preferAvoid
}

// avoidedByTaint reports whether any named node has a PreferNoSchedule
// taint the tolerations do not tolerate.
func (c *nodeCache) avoidedByTaint(names []string, tolerations []corev1.Toleration) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, name := range names {
		st, ok := c.nodes[name]
		if !ok {
			continue
		}
		for i := range st.preferAvoid {
			if !corev1helpers.TolerationsTolerateTaint(klog.Background(), tolerations, &st.preferAvoid[i], false) {
				return true
			}
		}
	}
	return false
}

// deleteNode forgets a node's own facts. The sums of the pods bound to it
// stay while any is: a Node object deleted and made again (a kubelet
// registering anew) still runs them, and their GPU devices are still
// taken; their own delete events subtract them, and the last one drops
// the node.
func (c *nodeCache) deleteNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.nodes[name]
	if !ok {
		return
	}
	if st.pods == 0 {
		delete(c.nodes, name)
		return
	}
	st.static, st.preferAvoid = placement.NodeSnapshot{}, nil
}

// setPod counts a bound, unfinished pod on its node, or uncounts it. An
// event of a pod still pending keeps what the scheduler assumed for it.
func (c *nodeCache) setPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	finished := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if pod.Spec.NodeName == "" && c.pods[pod.UID].assumed && !finished {
		return
	}
	c.removePodLocked(pod.UID)
	if pod.Spec.NodeName == "" || finished {
		return
	}
	b := boundPod{node: pod.Spec.NodeName}
	for _, ctr := range pod.Spec.Containers {
		b.cpu += ctr.Resources.Requests.Cpu().AsApproximateFloat64()
		b.mem += ctr.Resources.Requests.Memory().AsApproximateFloat64()
	}
	b.gpuClaim = claimOf(pod)
	c.addPodLocked(pod.UID, b)
}

// claimOf is what pod holds of its node's GPUs: what it asks for, and the
// devices its annotation names, which count only as far as it asks for
// their resource (gpusHeld): the annotation is the pod's own, which whoever
// may make or change a pod writes.
func claimOf(pod *corev1.Pod) gpuClaim {
	cl := gpuClaim{requests: deviceRequests(pod)}
	if ids := pod.Annotations[gpu.AssignedAnnotation]; ids != "" {
		cl.devices = strings.Split(ids, ",")
	}
	return cl
}

// deviceRequests counts the extended resources a pod asks for, by name
// (by its limit, which its request equals when given). Which of them are
// GPUs is not known here (the node naming them may not have been seen yet):
// a snapshot counts those a node's devices have.
func deviceRequests(pod *corev1.Pod) map[string]int64 {
	var out map[string]int64
	for _, ctr := range pod.Spec.Containers {
		asked := map[corev1.ResourceName]int64{}
		for _, list := range []corev1.ResourceList{ctr.Resources.Limits, ctr.Resources.Requests} {
			for name, q := range list {
				if strings.Contains(string(name), "/") { // not cpu, memory and the like
					asked[name] = max(asked[name], q.Value())
				}
			}
		}
		for name, n := range asked {
			if n > 0 {
				if out == nil {
					out = map[string]int64{}
				}
				out[string(name)] += n
			}
		}
	}
	return out
}

// assume counts a pod on node with the GPU devices chosen for it before
// its bind reaches the pod cache, as kube-scheduler assumes pods: pods
// scored meanwhile see the devices taken. The pod's next event as bound
// replaces the assumption; forget drops it when the bind does not happen.
func (c *nodeCache) assume(pod *corev1.Pod, node string, devices []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.assumeLocked(pod, node, devices)
}

func (c *nodeCache) assumeLocked(pod *corev1.Pod, node string, devices []string) {
	c.removePodLocked(pod.UID)
	b := boundPod{node: node, gpuClaim: gpuClaim{devices: devices, requests: deviceRequests(pod)}, assumed: true}
	for _, ctr := range pod.Spec.Containers {
		b.cpu += ctr.Resources.Requests.Cpu().AsApproximateFloat64()
		b.mem += ctr.Resources.Requests.Memory().AsApproximateFloat64()
	}
	c.addPodLocked(pod.UID, b)
}

// claim assumes pod onto node with devices, as assume does, when none of
// the devices is held by another pod, checked and taken under one lock:
// binds run concurrently, and two pods scored before either was bound may
// have been picked the same devices. It reports whether it took them.
func (c *nodeCache) claim(pod *corev1.Pod, node string, devices []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.nodes[node]
	if !ok {
		return len(devices) == 0
	}
	own := c.pods[pod.UID]
	held := gpusHeld(st.static.GPUs, st.named, nil, func(uid types.UID) bool { return uid == pod.UID && own.node == node })
	for _, id := range devices {
		if held[id] {
			return false
		}
	}
	if own.node == node && !own.assumed {
		return true // already seen bound here
	}
	c.assumeLocked(pod, node, devices)
	return true
}

// forget drops an assumption; a pod the cache has seen bound stays.
func (c *nodeCache) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pods[uid].assumed {
		c.removePodLocked(uid)
	}
}

func (c *nodeCache) addPodLocked(uid types.UID, b boundPod) {
	c.pods[uid] = b
	st, ok := c.nodes[b.node]
	if !ok {
		// The pod's node event may come later; keep the sums meanwhile.
		st = &nodeState{}
		c.nodes[b.node] = st
	}
	st.requestedCPU += b.cpu
	st.requestedMem += b.mem
	st.pods++
	if len(b.devices) > 0 {
		if st.named == nil {
			st.named = map[types.UID]gpuClaim{}
		}
		st.named[uid] = b.gpuClaim
		return
	}
	for r, n := range b.requests {
		if st.unnamed == nil {
			st.unnamed = map[string]int64{}
		}
		st.unnamed[r] += n
	}
}

func (c *nodeCache) deletePod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removePodLocked(uid)
}

func (c *nodeCache) removePodLocked(uid types.UID) {
	b, ok := c.pods[uid]
	if !ok {
		return
	}
	delete(c.pods, uid)
	if st, ok := c.nodes[b.node]; ok {
		st.requestedCPU -= b.cpu
		st.requestedMem -= b.mem
		st.pods--
		if len(b.devices) > 0 {
			delete(st.named, uid)
		} else {
			for r, n := range b.requests {
				if st.unnamed[r] -= n; st.unnamed[r] <= 0 {
					delete(st.unnamed, r)
				}
			}
		}
		if st.pods == 0 && st.static.Name == "" {
			delete(c.nodes, b.node) // the node is gone, and now its last pod
		}
	}
}

// isGPU reports whether a requested resource is a GPU model's.
func (c *nodeCache) isGPU(name corev1.ResourceName) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gpuResources[name]
}

// snapshots returns a snapshot per named node, filling usage and carbon from
// the given sources; unknown lists names the cache has never seen.
func (c *nodeCache) snapshots(names []string, usage map[string]nodeUsage, intensity func(zone string) (float64, bool)) (out []placement.NodeSnapshot, unknown []string) {
	out = make([]placement.NodeSnapshot, 0, len(names))
	c.mu.RLock()
	for _, name := range names {
		s, ok := c.snapshotLocked(name, usage)
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		out = append(out, s)
	}
	c.mu.RUnlock()
	// Not under the lock: a zone's intensity may wait on the carbon
	// source, and pod and node events, and binds, must not wait with it.
	for i := range out {
		if out[i].Zone != "" {
			out[i].CarbonIntensity, out[i].CarbonKnown = intensity(out[i].Zone)
		}
	}
	return out, unknown
}

// filterSnapshot returns one node's snapshot with its usage but not its
// carbon intensity, or why the node is ruled out without one: the cache
// has never seen it, or it is a spot node and the VM forbids spot. It
// looks the node up once: the scheduler framework asks this for every node
// it visits, and at 2,000 nodes the lookups by name were most of the
// filter's time (docs/performance.md).
func (c *nodeCache) filterSnapshot(name string, usage map[string]nodeUsage, noSpot bool) (placement.NodeSnapshot, string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, ok := c.nodes[name]
	if !ok || st.static.Name == "" {
		return placement.NodeSnapshot{}, unknownNodeReason
	}
	if noSpot && st.static.CapacityType == cost.Spot {
		return placement.NodeSnapshot{}, placement.SpotNodeReason
	}
	return snapshotOf(st, name, usage), ""
}

// apply changes snap, node's snapshot, as changes leave it: a removed pod
// the cache counts there gives back its requests and GPU devices; an
// added one takes its requests and the devices it holds (claimOf). The
// sums are of VM pods, so other pods change nothing.
func (c *nodeCache) apply(snap *placement.NodeSnapshot, node string, changes *PodChanges) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := c.nodes[node]
	if st == nil {
		return
	}
	gone := map[types.UID]bool{}
	// GPUs' holders are recounted below, on nodes that have any.
	gpus := len(snap.GPUs) > 0
	var unnamed map[string]int64
	if gpus {
		unnamed = map[string]int64{}
		maps.Copy(unnamed, st.unnamed)
	}
	for _, uid := range changes.removed {
		b, ok := c.pods[uid]
		if !ok || b.node != node {
			continue
		}
		gone[uid] = true
		snap.RequestedCPU -= b.cpu
		snap.RequestedMemory -= b.mem
		if gpus && len(b.devices) == 0 {
			for r, n := range b.requests {
				unnamed[r] -= n
			}
		}
	}
	named, cloned := st.named, false
	for _, pod := range changes.added {
		if !isLauncher(pod) {
			continue
		}
		if b, ok := c.pods[pod.UID]; ok && b.node == node {
			continue // counted already
		}
		for _, ctr := range pod.Spec.Containers {
			snap.RequestedCPU += ctr.Resources.Requests.Cpu().AsApproximateFloat64()
			snap.RequestedMemory += ctr.Resources.Requests.Memory().AsApproximateFloat64()
		}
		if !gpus {
			continue
		}
		cl := claimOf(pod)
		if len(cl.devices) == 0 {
			for r, n := range cl.requests {
				unnamed[r] += n
			}
			continue
		}
		if !cloned {
			named, cloned = maps.Clone(st.named), true // st's own is the cache's
			if named == nil {
				named = map[types.UID]gpuClaim{}
			}
		}
		named[pod.UID] = cl
	}
	if gpus {
		snap.GPUsAssigned = gpusHeld(snap.GPUs, named, unnamed, func(uid types.UID) bool { return gone[uid] })
	}
}

func (c *nodeCache) snapshotLocked(name string, usage map[string]nodeUsage) (placement.NodeSnapshot, bool) {
	st, ok := c.nodes[name]
	if !ok || st.static.Name == "" {
		return placement.NodeSnapshot{}, false
	}
	return snapshotOf(st, name, usage), true
}

// snapshotOf is st's snapshot with name's usage; the cache's lock is held.
func snapshotOf(st *nodeState, name string, usage map[string]nodeUsage) placement.NodeSnapshot {
	s := st.static
	s.RequestedCPU, s.RequestedMemory = st.requestedCPU, st.requestedMem
	if len(st.named) > 0 || len(st.unnamed) > 0 {
		s.GPUsAssigned = gpusHeld(s.GPUs, st.named, st.unnamed, nil)
	}
	if u, ok := usage[name]; ok {
		s.UsageCPU, s.UsageMemory, s.UsageKnown = u.cpu, u.mem, true
	}
	return s
}

// gpusHeld returns the devices of gpus that pods hold (a new map: pod
// events change the cache's after its lock is released). A pod that names
// its devices holds those of a resource it asks for, as many as it asks
// for; what it asks for beyond them counts with unnamed, the requests of
// pods that name none: as many of the resource's free devices count as
// held, the last ones, so that the free count (and the fit and score built
// on it) is right; so does a device named by a second pod. Claims of the
// pods skip says are skipped.
func gpusHeld(gpus []gpu.Device, named map[types.UID]gpuClaim, unnamed map[string]int64, skip func(types.UID) bool) map[string]bool {
	if len(gpus) == 0 {
		return nil // most nodes: nothing to hold, and filters ask for every node
	}
	held := map[string]bool{}
	var left map[string]int64
	for uid, cl := range named {
		if skip != nil && skip(uid) {
			continue
		}
		used := map[string]int64{}
		for _, id := range cl.devices {
			i := slices.IndexFunc(gpus, func(d gpu.Device) bool { return d.ID == id })
			// A device another pod names too (two extender replicas that
			// each claimed it before seeing the other's bind) is held once;
			// the second claim counts as unnamed, so the free count stays
			// right and the next placements do not take one device more.
			if i < 0 || held[id] || used[gpus[i].ResourceName] >= cl.requests[gpus[i].ResourceName] {
				continue
			}
			held[id] = true
			used[gpus[i].ResourceName]++
		}
		for r, n := range cl.requests {
			if n > used[r] {
				if left == nil {
					left = maps.Clone(unnamed)
					if left == nil {
						left = map[string]int64{}
					}
				}
				left[r] += n - used[r]
			}
		}
	}
	if left == nil {
		left = unnamed
	}
	for r, n := range left {
		for i := len(gpus) - 1; i >= 0 && n > 0; i-- {
			if d := gpus[i]; d.ResourceName == r && !held[d.ID] {
				held[d.ID], n = true, n-1
			}
		}
	}
	return held
}

// zone returns a node's carbon zone, empty if unknown.
func (c *nodeCache) zone(name string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if st, ok := c.nodes[name]; ok {
		return st.static.Zone
	}
	return ""
}
