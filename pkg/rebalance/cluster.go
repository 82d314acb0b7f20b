package rebalance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/nodesnapshot"
	"github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/placementpolicy"
)

// cluster is what one pass reads, once for every policy.
type cluster struct {
	nodes []corev1.Node
	// requested sums the requests of the unfinished pods bound to each node.
	requested map[string][2]float64
	// nodeUsage is metrics.k8s.io's; nil when it could not be read.
	nodeUsage    map[string][2]float64
	nodeUsageErr error
	// vmUsageErr says why the VMs' usage could not be read, if not.
	vmUsageErr error
	// podUsage is each launcher pod's usage, by namespace/pod name; vmPods
	// are each VM's running launcher pods (two during a migration), and
	// vmRequests its requests (what the scheduler extender places by), by
	// namespace/VM name.
	podUsage, vmRequests map[string][2]float64
	vmPods               map[string][]*corev1.Pod
	// launchers are each VM's running launcher pod, by namespace/name:
	// what a migration's target pod must fit is its tolerations and node
	// affinity.
	launchers map[string]*corev1.Pod
	// boundTo are the nodes each VM's bound launcher pods are on, running
	// or not, by namespace/name: a migration's target pod counts in its
	// node's requests from its bind on.
	boundTo map[string][]string
	vmis    []kvv1.VirtualMachineInstance
	// vms are the KubeVirt VMs by namespace/name, for labels and the
	// exclusion annotation.
	vms map[string]*kvv1.VirtualMachine
	// intensity caches zone intensities by zone and horizon.
	intensity map[string]zoneIntensity
	// emptying are the nodes the Automatic policies' maintenance windows
	// empty now, with their state, whether or not their taint is written.
	emptying map[string]string
	// placement are the PlacementPolicies: each VM is ranked with the one
	// the scheduler extender would place it with.
	placement []*v1alpha1.PlacementPolicy
	// starts are the VMs that started over the last DisplacementWindow,
	// running or departed, as the controller saw them.
	starts []Start
	// migrations are every Migrate VMOperation, any policy's or anyone's,
	// listed before the VM instances: one that ends between the two lists
	// is still seen in flight, never as a finished move whose VM the
	// instances still show on its old node. The pass adds what each policy
	// starts, so the policies after it see those moves too.
	migrations []v1alpha1.VMOperation
	// pending are the VirtualMachineInstanceMigrations not ended, anyone's
	// (virtctl migrate, a node drain's evictions): KubeVirt may hold one
	// back before the instance says it moves, and it takes a slot then too.
	pending []kvv1.VirtualMachineInstanceMigration
}

// running is where and when each running VM instance started, by UID.
func (cl *cluster) running() map[types.UID]Start {
	out := make(map[types.UID]Start, len(cl.vmis))
	for i := range cl.vmis {
		vmi := &cl.vmis[i]
		if vmi.Status.Phase != kvv1.Running || vmi.Status.NodeName == "" {
			continue
		}
		out[vmi.UID] = Start{Node: vmi.Status.NodeName, At: vmi.CreationTimestamp.Time,
			CPUCores: cl.vmRequests[vmi.Namespace+"/"+vmi.Name][0]}
	}
	return out
}

type zoneIntensity struct {
	value float64
	err   error
	// stale says the value is the last reading before the carbon source
	// stopped answering, for the hour at.
	stale bool
	at    time.Time
}

// read lists what every policy needs.
func (c *Controller) read(ctx context.Context) (*cluster, error) {
	cl := &cluster{requested: map[string][2]float64{}, podUsage: map[string][2]float64{}, vmRequests: map[string][2]float64{},
		vmPods:    map[string][]*corev1.Pod{},
		boundTo:   map[string][]string{},
		launchers: map[string]*corev1.Pod{}, vms: map[string]*kvv1.VirtualMachine{}, intensity: map[string]zoneIntensity{}}
	ops, err := c.cfg.HyperSDK.HypersdkV1alpha1().VMOperations(metav1.NamespaceAll).List(ctx,
		metav1.ListOptions{FieldSelector: "spec.type=" + string(v1alpha1.VMOperationMigrate)})
	if err != nil {
		return nil, fmt.Errorf("listing migrate operations: %w", err)
	}
	cl.migrations = ops.Items
	nodes, err := c.cfg.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	cl.nodes = nodes.Items
	pods, err := c.cfg.Kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		var r [2]float64
		for _, ctr := range pod.Spec.Containers {
			r[0] += ctr.Resources.Requests.Cpu().AsApproximateFloat64()
			r[1] += ctr.Resources.Requests.Memory().AsApproximateFloat64()
		}
		sum := cl.requested[pod.Spec.NodeName]
		cl.requested[pod.Spec.NodeName] = [2]float64{sum[0] + r[0], sum[1] + r[1]}
		if vm := pod.Labels[kubevirt.VMNameLabel]; vm != "" {
			cl.boundTo[pod.Namespace+"/"+vm] = append(cl.boundTo[pod.Namespace+"/"+vm], pod.Spec.NodeName)
		}
		if vm := pod.Labels[kubevirt.VMNameLabel]; vm != "" && pod.Status.Phase == corev1.PodRunning {
			// During a migration both pods run; either gives the requests,
			// tolerations and affinity.
			cl.vmRequests[pod.Namespace+"/"+vm] = r
			cl.launchers[pod.Namespace+"/"+vm] = pod
			cl.vmPods[pod.Namespace+"/"+vm] = append(cl.vmPods[pod.Namespace+"/"+vm], pod)
		}
	}
	if nm, err := c.cfg.Metrics.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{}); err != nil {
		cl.nodeUsageErr = fmt.Errorf("reading node usage from metrics.k8s.io: %w", err)
	} else {
		cl.nodeUsage = make(map[string][2]float64, len(nm.Items))
		for _, m := range nm.Items {
			cl.nodeUsage[m.Name] = [2]float64{m.Usage.Cpu().AsApproximateFloat64(), m.Usage.Memory().AsApproximateFloat64()}
		}
	}
	if pm, err := c.cfg.Metrics.MetricsV1beta1().PodMetricses(metav1.NamespaceAll).List(ctx,
		metav1.ListOptions{LabelSelector: kubevirt.VMNameLabel}); err != nil {
		cl.vmUsageErr = fmt.Errorf("reading VM usage from metrics.k8s.io: %w", err)
	} else {
		for _, m := range pm.Items {
			var u [2]float64
			for _, ctr := range m.Containers {
				u[0] += ctr.Usage.Cpu().AsApproximateFloat64()
				u[1] += ctr.Usage.Memory().AsApproximateFloat64()
			}
			cl.podUsage[m.Namespace+"/"+m.Name] = u
		}
	}
	vmis, err := c.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing VM instances: %w", err)
	}
	cl.vmis = vmis.Items
	vmims, err := c.cfg.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing VM instance migrations: %w", err)
	}
	instances := map[string]bool{}
	for i := range cl.vmis {
		instances[cl.vmis[i].Namespace+"/"+cl.vmis[i].Name] = true
	}
	for _, m := range vmims.Items {
		// One being deleted is being aborted (or was never begun), and one
		// whose instance is gone moves nothing: KubeVirt fails them. One
		// that did begin is in flight by its instance's migration state.
		if m.Status.Phase != kvv1.MigrationSucceeded && m.Status.Phase != kvv1.MigrationFailed &&
			m.DeletionTimestamp == nil && instances[m.Namespace+"/"+m.Spec.VMIName] {
			cl.pending = append(cl.pending, m)
		}
	}
	vms, err := c.cfg.KubeVirt.KubevirtV1().VirtualMachines(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing VMs: %w", err)
	}
	for i := range vms.Items {
		cl.vms[vms.Items[i].Namespace+"/"+vms.Items[i].Name] = &vms.Items[i]
	}
	policies, err := c.cfg.HyperSDK.HypersdkV1alpha1().PlacementPolicies().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing placement policies: %w", err)
	}
	for i := range policies.Items {
		cl.placement = append(cl.placement, &policies.Items[i])
	}
	return cl, nil
}

// selectorOrEverything is ls as a selector; none selects everything.
func selectorOrEverything(ls *metav1.LabelSelector) (labels.Selector, error) {
	if ls == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(ls)
}

// input builds a policy's view: the nodes it selects with their requests,
// usage and zone intensity, and the running VMs on them it selects.
// missing lists signals a trigger needs that could not be read.
//
// stale names the zones whose intensity is a reading kept after the carbon
// source stopped answering, when the carbon or cost trigger weighs it: the
// plan stands on it, and says so.
func (c *Controller) input(ctx context.Context, cl *cluster, p *v1alpha1.RebalancePolicy) (in *Input, missing, stale []string, err error) {
	nodeSel, err := selectorOrEverything(p.Spec.NodeSelector)
	if err != nil {
		return nil, nil, nil, err
	}
	vmSel, err := selectorOrEverything(p.Spec.VMSelector)
	if err != nil {
		return nil, nil, nil, err
	}
	var carbonTrigger *v1alpha1.CarbonTrigger
	carbonNeeded := false // the carbon and cost triggers weigh grams
	for i := range p.Spec.Triggers {
		switch t := &p.Spec.Triggers[i]; t.Type {
		case v1alpha1.RebalanceCarbon:
			carbonTrigger, carbonNeeded = t.Carbon, true
		case v1alpha1.RebalanceCost:
			carbonNeeded = true
		case v1alpha1.RebalancePressure:
			if cl.nodeUsageErr != nil {
				missing = append(missing, cl.nodeUsageErr.Error())
			}
			if cl.vmUsageErr != nil {
				missing = append(missing, cl.vmUsageErr.Error())
			}
		}
	}
	in = &Input{Now: c.cfg.Clock.Now(), Placement: placement.DefaultPolicy(), Armed: map[string]time.Time{}, Starts: cl.starts,
		VMUsageUnknown: cl.vmUsageErr != nil}
	for _, a := range p.Status.Armed {
		in.Armed[a.Key] = a.Since.Time
	}
	inScope, unknownZones, staleZones, nodeIndex := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]int{}
	for i := range cl.nodes {
		node := &cl.nodes[i]
		if !nodeSel.Matches(labels.Set(node.Labels)) {
			continue
		}
		inScope[node.Name] = true
		s := nodesnapshot.Static(node, c.cfg.Prices)
		r := cl.requested[node.Name]
		s.RequestedCPU, s.RequestedMemory = r[0], r[1]
		if u, ok := cl.nodeUsage[node.Name]; ok {
			s.UsageCPU, s.UsageMemory, s.UsageKnown = u[0], u[1], true
		}
		if s.Zone != "" {
			zi := c.zoneIntensity(ctx, cl, s.Zone, carbonTrigger)
			s.CarbonIntensity, s.CarbonKnown = zi.value, zi.err == nil
			if zi.err != nil && carbonNeeded && !unknownZones[s.Zone] {
				// Once per zone: a zone's outage would otherwise be said
				// once per node, in a status rewritten at every pass.
				unknownZones[s.Zone] = true
				missing = append(missing, fmt.Sprintf("carbon intensity of zone %s: %v", s.Zone, zi.err))
			}
			if zi.err == nil && zi.stale && carbonNeeded && !staleZones[s.Zone] {
				staleZones[s.Zone] = true
				stale = append(stale, fmt.Sprintf("zone %s (the reading for %s)", s.Zone, zi.at.UTC().Format(time.RFC3339)))
			}
		}
		nodeIndex[node.Name] = len(in.Nodes)
		devices := map[corev1.ResourceName]bool{}
		for name, q := range node.Status.Allocatable {
			if operations.ExtendedResource(name) && !q.IsZero() {
				devices[name] = true
			}
		}
		taints := node.Spec.Taints
		if state, ok := cl.emptying[node.Name]; ok && !slices.ContainsFunc(taints, func(t corev1.Taint) bool { return t.Key == TaintKey }) {
			// A policy empties it (another, or this one) whose requester
			// may taint it, and the taint is not on it: its write failed.
			// Moves keep off it all the same.
			taints = append(slices.Clone(taints), taintFor(state))
		}
		in.Nodes = append(in.Nodes, Node{Snapshot: s, Labels: node.Labels, Unschedulable: node.Spec.Unschedulable, Taints: taints,
			Devices: devices})
	}
	for i := range cl.vmis {
		vmi := &cl.vmis[i]
		key := vmi.Namespace + "/" + vmi.Name
		vm := cl.vms[key]
		if vmi.Status.Phase != kvv1.Running || !inScope[vmi.Status.NodeName] || vm == nil || !vmSel.Matches(labels.Set(vm.Labels)) {
			continue
		}
		if len(vmi.Spec.Domain.Devices.GPUs) > 0 || len(vmi.Spec.Domain.Devices.HostDevices) > 0 ||
			len(kubevirt.HotpluggedUSB(vmi.Annotations)) > 0 {
			// Passed-through devices pin a VM to its node's hardware, as
			// do USB devices its node's agent lends it.
			if i, ok := nodeIndex[vmi.Status.NodeName]; ok {
				in.Nodes[i].Pinned = append(in.Nodes[i].Pinned, key)
			}
			continue
		}
		req := cl.vmRequests[key]
		u, usageKnown := cl.vmUsageOn(key, vmi.Status.NodeName)
		reason, _ := operations.NotMigratable(vmi)
		// The instance's labels are its launcher pod's, which the
		// extender selects the policy by.
		pol, _ := placementpolicy.Select(cl.placement, vmi.Labels)
		// What a target must fit: what KubeVirt builds the target pod
		// from, and the launcher pod's tolerations.
		from, cold := operations.MigrationSpec(vmi, vm)
		target := operations.TargetPod(from, cold, cl.launchers[key])
		var affinity *nodeaffinity.RequiredNodeAffinity
		if len(target.Spec.NodeSelector) > 0 || target.Spec.Affinity != nil {
			a := nodeaffinity.GetRequiredNodeAffinity(target)
			affinity = &a
		}
		// The spot label is read where the extender reads it, on the
		// launcher pod (the template's labels, as the instance has them).
		podLabels := vmi.Labels
		if pod := cl.launchers[key]; pod != nil {
			podLabels = pod.Labels
		}
		var devices []corev1.ResourceName
		for _, c := range target.Spec.Containers {
			devices = append(devices, slices.Collect(maps.Keys(c.Resources.Requests))...)
		}
		in.VMs = append(in.VMs, VM{Namespace: vmi.Namespace, Name: vmi.Name, Node: vmi.Status.NodeName, Devices: devices,
			Tolerations: target.Spec.Tolerations, Affinity: affinity,
			Request: placement.VMRequest{Namespace: vmi.Namespace, Name: vmi.Name, CPUCores: req[0],
				MemoryBytes: req[1], Labels: vm.Labels, UsageCPU: u[0], UsageMemory: u[1],
				AllowSpot: podLabels[placement.AllowSpotLabel] == "true", NoSpot: podLabels[placement.AllowSpotLabel] == "false"},
			UsageKnown:     usageKnown,
			LiveMigratable: reason == "",
			Excluded:       vm.Annotations[v1alpha1.RebalanceExcludeAnnotation] == "true" || vmi.Annotations[v1alpha1.RebalanceExcludeAnnotation] == "true",
			Started:        vmi.CreationTimestamp.Time,
			Placement:      &pol,
		})
	}
	return in, missing, stale, nil
}

// zoneIntensity is the intensity the carbon trigger compares a zone by:
// the forecast mean over its horizon when it asks for it, else the current
// value.
func (c *Controller) zoneIntensity(ctx context.Context, cl *cluster, zone string, t *v1alpha1.CarbonTrigger) zoneIntensity {
	if c.cfg.Carbon == nil {
		return zoneIntensity{err: fmt.Errorf("no carbon intensity source configured")}
	}
	var horizon time.Duration
	if t != nil && t.UseForecast && t.ForecastHorizon != nil {
		horizon = t.ForecastHorizon.Duration
	}
	key := zone + "/" + horizon.String()
	if zi, ok := cl.intensity[key]; ok {
		return zi
	}
	v, err := placement.ZoneReading(ctx, c.cfg.Carbon, zone, horizon)
	zi := zoneIntensity{value: v.GramsPerKWh, err: err, stale: v.Freshness == carbon.Stale, at: v.At}
	cl.intensity[key] = zi
	return zi
}

// vmUsageOn is the usage of VM key's launcher pod on node, the instance's:
// during a migration the target's pod runs too, and is not the load the
// source would shed. It is unknown until metrics.k8s.io has a sample of
// that pod (one just started has none yet).
func (cl *cluster) vmUsageOn(key, node string) ([2]float64, bool) {
	for _, pod := range cl.vmPods[key] {
		if pod.Spec.NodeName != node {
			continue
		}
		if u, ok := cl.podUsage[pod.Namespace+"/"+pod.Name]; ok {
			return u, true
		}
	}
	return [2]float64{}, false
}
