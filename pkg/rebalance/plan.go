package rebalance

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// Node is one node in the policy's scope.
type Node struct {
	// Snapshot carries allocatable (zero when cordoned), the requests of
	// every pod on the node, measured usage, the zone's intensity (as the
	// carbon trigger compares it), prices and GPUs.
	Snapshot      placement.NodeSnapshot
	Labels        map[string]string
	Unschedulable bool
	// Taints are the node's: a VM goes only where it tolerates those that
	// keep pods off (NoSchedule, NoExecute), as kube-scheduler places the
	// migration's target pod. They include other policies' maintenance
	// taints and the node lifecycle controller's not-ready ones.
	Taints []corev1.Taint
	// Devices are the device plugins' resources the node has some of
	// (devices.kubevirt.io/kvm, ...): a node without virt-handler's has
	// none, and a VM's target pod there would wait.
	Devices map[corev1.ResourceName]bool
	// Pinned are the VMs here (namespace/name) the policy selects but
	// leaves out of every plan: passed-through GPUs or host devices pin
	// them to the node's hardware. Emptying the node says they stay.
	Pinned []string
}

// VM is one running VM the policy selects, on a node in its scope.
type VM struct {
	Namespace, Name, Node string
	// Devices are the device plugins' resources its target pod asks for.
	Devices []corev1.ResourceName
	// Request holds the VM's requests and measured usage; UsageKnown says
	// the usage was measured (metrics.k8s.io has its launcher pod).
	Request        placement.VMRequest
	UsageKnown     bool
	LiveMigratable bool
	// Excluded VMs (hypersdk.io/rebalance-exclude) never move.
	Excluded bool
	// Refused, when set, says why the policy's requester may not migrate
	// the VM: it stays, and leaves the limits' slots to others.
	Refused string
	// Started is when the VM's instance started, for its expected life.
	Started time.Time
	// Tolerations and Affinity are its launcher pod's (Affinity holds its
	// node selector too; nil takes every node): the target pod of a
	// migration is the same pod elsewhere, so a node they rule out is no
	// target.
	Tolerations []corev1.Toleration
	Affinity    *nodeaffinity.RequiredNodeAffinity
	// CooldownUntil: the VM migrated lately (by any policy or person), and
	// moves for savings or pressure only after this; emptying a node
	// ignores it.
	CooldownUntil time.Time
	// BackoffUntil: the VM's last migration failed or was cancelled, and
	// it moves for no reason before this (failureBackoff).
	BackoffUntil time.Time
	// Placement is the PlacementPolicy that governs the VM, mapped onto
	// the model; Input.Placement when nil.
	Placement *placement.Policy
}

// Flight is a migration still running: the policy's, another's or
// someone's.
type Flight struct {
	Namespace, VMName, From, To string
	// Own says the policy being planned started it.
	Own bool
	// Booked says a pod of the VM is bound to To, so To's requests count
	// the VM already; until then the planner books them there itself, or
	// two moves could both count on the room the first one takes.
	Booked bool
}

// Input is everything one pass knows; Compute does no I/O.
type Input struct {
	Now      time.Time
	Nodes    []Node
	VMs      []VM
	InFlight []Flight
	// VMUsageUnknown says the VMs' own usage could not be read: the
	// pressure trigger cannot tell what a move relieves, and moves none.
	VMUsageUnknown bool
	// Armed is the status's record of since when each trigger condition
	// has held.
	Armed map[string]time.Time
	// Placement ranks candidate nodes, as for a new VM, for the VMs
	// without a policy of their own.
	Placement placement.Policy
	// Starts lists every VM that started on the nodes over the last
	// DisplacementWindow, running or departed, whatever the policy
	// selects: the arrivals that take a zone's free CPU. Nil counts the
	// VMs above that started then; they are only those still running,
	// and most VMs started in a day end within it, so arrivals would look
	// several times slower than they are.
	Starts []Start
}

// Start is where and when a VM started, and what it requested.
type Start struct {
	Node     string
	At       time.Time
	CPUCores float64
}

// Plan is the outcome of one pass.
type Plan struct {
	// Moves to start now, within the limits, emptying nodes first.
	Moves []v1alpha1.RebalanceMove
	// Armed is the new record of trigger conditions.
	Armed map[string]time.Time
	// Maintenance maps each node a maintenance window empties to its state:
	// MaintenanceDraining before the window, MaintenanceOpen in it.
	Maintenance map[string]string
	// Held says why VMs that should move do not, one line each.
	Held []string
}

// Maintenance states of a node, the values of the hypersdk.io/maintenance
// taint.
const (
	MaintenanceDraining = "draining"
	MaintenanceOpen     = "open"
)

// Armed keys.
func pressureKey(node string) string   { return "pressure/" + node }
func carbonKey(from, to string) string { return "carbon/" + from + "/" + to }

// planner is one Compute call's working state.
type planner struct {
	spec  *v1alpha1.RebalancePolicySpec
	in    *Input
	plan  Plan
	nodes map[string]*nodeState
	// budget is how many more migrations may start in the cluster.
	budget int
	moved  map[string]bool
	names  []string // of nodes, sorted
	// scratch holds best's candidates between calls: a pass over thousands
	// of VMs would otherwise copy every node's snapshot for each.
	scratch []placement.NodeSnapshot
	// arrivalRate and zoneFree are per zone, computed when first needed;
	// add forgets zoneFree, which each move changes.
	arrivalRate, zoneFree map[string]float64
	// high is the Pressure trigger's high threshold, 0 without one: a
	// carbon or cost move that pushed its target over it would be undone
	// by the next pressure move.
	high float64
}

// nodeState is a node as the moves planned so far leave it.
type nodeState struct {
	*Node
	flights int
	// evacuate says why the node must be emptied; empty if not.
	evacuate string
	vms      []*VM
}

// Compute plans one pass of policy spec over in.
func Compute(spec *v1alpha1.RebalancePolicySpec, in *Input) (Plan, error) {
	p := &planner{spec: spec, in: in, nodes: make(map[string]*nodeState, len(in.Nodes)), moved: map[string]bool{},
		plan: Plan{Armed: map[string]time.Time{}, Maintenance: map[string]string{}},
		// A policy's limit on top of the running ones.
		budget: int(spec.MaxInFlight) - len(in.InFlight)}
	for i := range in.Nodes {
		n := in.Nodes[i] // a copy: planned moves change the snapshot
		p.nodes[n.Snapshot.Name] = &nodeState{Node: &n}
	}
	p.names = slices.Sorted(maps.Keys(p.nodes))
	vms := make(map[string]*VM, len(in.VMs))
	for i := range in.VMs {
		vm := &in.VMs[i]
		vms[vm.Namespace+"/"+vm.Name] = vm
		if st, ok := p.nodes[vm.Node]; ok {
			st.vms = append(st.vms, vm)
		}
	}
	for _, f := range in.InFlight {
		key := f.Namespace + "/" + f.VMName
		p.moved[key] = true
		for _, name := range []string{f.From, f.To} {
			if st, ok := p.nodes[name]; ok {
				st.flights++
			}
		}
		// A VM on its way out no longer loads its source, though its
		// source pod is still measured until the migration ends.
		if vm, ok := vms[key]; ok {
			if src, ok := p.nodes[f.From]; ok {
				src.Snapshot.UsageCPU = max(0, src.Snapshot.UsageCPU-vm.Request.UsageCPU)
				src.Snapshot.UsageMemory = max(0, src.Snapshot.UsageMemory-vm.Request.UsageMemory)
			}
			if dst, ok := p.nodes[f.To]; ok {
				dst.Snapshot.UsageCPU += vm.Request.UsageCPU
				dst.Snapshot.UsageMemory += vm.Request.UsageMemory
				if !f.Booked {
					dst.Snapshot.RequestedCPU += vm.Request.CPUCores
					dst.Snapshot.RequestedMemory += vm.Request.MemoryBytes
				}
			}
		}
	}
	for _, st := range p.nodes {
		slices.SortFunc(st.vms, func(a, b *VM) int {
			return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
	}
	if err := p.markEvacuations(); err != nil {
		return Plan{}, err
	}
	p.evacuate()
	for _, t := range spec.Triggers {
		if t.Type == v1alpha1.RebalancePressure && t.Pressure != nil {
			p.high = float64(t.Pressure.HighThresholdPercent)
		}
	}
	for i := range spec.Triggers {
		t := &spec.Triggers[i]
		switch t.Type {
		case v1alpha1.RebalancePressure:
			p.pressure(t.Pressure)
		case v1alpha1.RebalanceCarbon:
			p.carbon(t.Carbon)
		case v1alpha1.RebalanceCost:
			p.cost(t.Cost)
		}
	}
	return p.plan, nil
}

// markEvacuations finds the nodes maintenance windows and drains empty.
func (p *planner) markEvacuations() error {
	nodes := make(map[string]labels.Set, len(p.nodes))
	for name, st := range p.nodes {
		nodes[name] = st.Labels
	}
	windows, err := windowNodes(p.spec, p.in.Now, nodes)
	if err != nil {
		return err
	}
	for name, w := range windows {
		p.plan.Maintenance[name] = w.state
		p.nodes[name].evacuate = w.reason
	}
	for i := range p.spec.Triggers {
		t := &p.spec.Triggers[i]
		if t.Type != v1alpha1.RebalanceDrain || t.Drain == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(t.Drain.NodeSelector)
		if err != nil {
			return fmt.Errorf("triggers[%d] node selector: %w", i, err)
		}
		for _, name := range p.nodeNames() {
			if st := p.nodes[name]; st.Unschedulable && st.evacuate == "" && sel.Matches(labels.Set(st.Labels)) {
				st.evacuate = "node " + name + " is cordoned for draining"
			}
		}
	}
	return nil
}

// evacuate moves every VM off the nodes to empty, anywhere the placement
// model ranks best, cooldown or not: the node is going away.
func (p *planner) evacuate() {
	for _, name := range p.nodeNames() {
		st := p.nodes[name]
		if st.evacuate == "" {
			continue
		}
		trigger := v1alpha1.RebalanceDrain
		if _, ok := p.plan.Maintenance[name]; ok {
			trigger = v1alpha1.RebalanceMaintenance
		}
		for _, vm := range st.Pinned {
			p.plan.Held = append(p.plan.Held, fmt.Sprintf("%s: passed-through devices pin it to node %s, which is being emptied", vm, name))
		}
		for _, vm := range st.vms {
			if !p.movable(vm, false) {
				continue
			}
			score, target, ok := p.best(vm, func(*nodeState) bool { return true }, rankPlacement, true, nil)
			if !ok {
				p.hold(vm, "no node can take it")
				continue
			}
			p.add(vm, target, trigger, st.evacuate, score)
		}
	}
}

// pressure is descheduler's LowNodeUtilization on measured use: nodes above
// the high threshold for long enough give VMs, the busiest first, to nodes
// below the low one, until they are back under the high one, without
// pushing a receiver over it.
func (p *planner) pressure(t *v1alpha1.PressureTrigger) {
	if t == nil {
		return
	}
	high, low := float64(t.HighThresholdPercent), float64(t.LowThresholdPercent)
	var over []*nodeState
	under := map[string]bool{}
	for _, name := range p.nodeNames() {
		st := p.nodes[name]
		cpu, mem, known := utilization(&st.Snapshot)
		if !known {
			continue
		}
		key := pressureKey(name)
		switch {
		case cpu > high || mem > high:
			since := p.arm(key)
			if p.in.Now.Sub(since) >= t.For.Duration && st.evacuate == "" {
				over = append(over, st)
			}
		case cpu < low && mem < low && st.evacuate == "" && !st.Unschedulable:
			under[name] = true
		}
	}
	slices.SortStableFunc(over, func(a, b *nodeState) int {
		ac, am, _ := utilization(&a.Snapshot)
		bc, bm, _ := utilization(&b.Snapshot)
		return cmp.Compare(max(bc, bm), max(ac, am))
	})
	if p.in.VMUsageUnknown && len(over) > 0 {
		// What a move would take off the node is the VM's usage: without
		// it every VM would seem to take nothing, and VMs would move until
		// the limits ran out.
		for _, st := range over {
			p.plan.Held = append(p.plan.Held, fmt.Sprintf("node %s is over %v%% but the VMs' usage is unknown", st.Snapshot.Name, high))
		}
		return
	}
	for _, st := range over {
		vms := slices.Clone(st.vms)
		slices.SortStableFunc(vms, func(a, b *VM) int { return cmp.Compare(b.Request.UsageCPU, a.Request.UsageCPU) })
		for _, vm := range vms {
			cpu, mem, _ := utilization(&st.Snapshot)
			if cpu <= high && mem <= high {
				break
			}
			if !p.movable(vm, true) {
				continue
			}
			if !vm.UsageKnown {
				// What moving it would take off the node is unknown: it
				// could take nothing, and the next VM would move too.
				p.hold(vm, fmt.Sprintf("node %s is over %v%% but the VM's usage is not measured yet", st.Snapshot.Name, high))
				continue
			}
			stays := func(n *nodeState) bool {
				if !under[n.Snapshot.Name] {
					return false
				}
				c, m, _ := utilizationWith(n, vm)
				return c <= high && m <= high
			}
			score, target, ok := p.best(vm, stays, rankPlacement, true, nil)
			if !ok {
				p.hold(vm, fmt.Sprintf("node %s is over %v%% but no node under %v%% can take the VM", st.Snapshot.Name, high, low))
				continue
			}
			p.add(vm, target, v1alpha1.RebalancePressure, fmt.Sprintf("node %s at %.0f%% CPU, %.0f%% memory, above %v%% for %s",
				st.Snapshot.Name, cpu, mem, high, p.in.Now.Sub(p.plan.Armed[pressureKey(st.Snapshot.Name)]).Round(time.Second)), score)
		}
	}
}

// carbon moves VMs to a zone that has been cleaner than theirs by more
// than the threshold for long enough, when the grams saved over the VM's
// remaining life beat the move's. Each pair of zones is armed on its own
// ("carbon/<from>/<to>"), so a VM only moves to a zone that has itself
// been cleaner for the trigger's whole For: two zones whose order swings
// within the day never arm against each other unless a swing lasts.
func (p *planner) carbon(t *v1alpha1.CarbonTrigger) {
	if t == nil {
		return
	}
	zones := map[string]float64{}
	for _, st := range p.nodes {
		if s := &st.Snapshot; s.Zone != "" && s.CarbonKnown {
			zones[s.Zone] = s.CarbonIntensity
		}
	}
	threshold := float64(t.ThresholdPercent)
	names := slices.Sorted(maps.Keys(zones))
	// fired[from] lists the zones VMs of from may move to now.
	fired := map[string]map[string]bool{}
	for _, from := range names {
		for _, to := range names {
			if from == to || zones[from] <= 0 {
				continue
			}
			gap := (zones[from] - zones[to]) / zones[from] * 100
			key := carbonKey(from, to)
			since, armed := p.in.Armed[key]
			switch {
			case gap > threshold:
				since, armed = p.arm(key), true
			case gap >= threshold/2 && armed:
				// Hysteresis: between half the threshold and the threshold
				// an armed pair stays armed, an unarmed one stays unarmed.
				p.plan.Armed[key] = since
			default:
				armed = false
			}
			if armed && p.in.Now.Sub(since) >= t.For.Duration {
				if fired[from] == nil {
					fired[from] = map[string]bool{}
				}
				fired[from][to] = true
			}
		}
	}
	for _, name := range p.nodeNames() {
		st := p.nodes[name]
		from := st.Snapshot.Zone
		if len(fired[from]) == 0 || st.evacuate != "" {
			continue
		}
		cleaner := func(n *nodeState) bool { return fired[from][n.Snapshot.Zone] }
		for _, vm := range st.vms {
			if !p.movable(vm, true) {
				continue
			}
			p.consider(vm, st, cleaner, rankGrams, p.spec.CostBudgetPercent, v1alpha1.RebalanceCarbon, func(saved savings) (bool, string) {
				to := p.nodes[saved.target.Node].Snapshot.Zone
				life := saved.life
				saved.life = p.horizon(life, to)
				if saved.life*saved.grams <= saved.mig.Grams {
					return false, ""
				}
				why := fmt.Sprintf("zone %s at %.0f g/kWh has been %.0f%% cleaner than %s for %s; saves %.2f gCO2eq/h over %s, the move costs %.1f g",
					to, zones[to], (zones[from]-zones[to])/zones[from]*100, from, p.in.Now.Sub(p.plan.Armed[carbonKey(from, to)]).Round(time.Second),
					saved.grams, time.Duration(saved.life*float64(time.Hour)).Round(time.Minute), saved.mig.Grams)
				if saved.life < life {
					why += fmt.Sprintf(" (VMs arriving in %s or dirtier zones would take its free CPUs by then; the VM's expected life is %s)",
						to, time.Duration(life*float64(time.Hour)).Round(time.Minute))
				}
				if b := p.spec.CostBudgetPercent; b != nil {
					why += fmt.Sprintf("; $%.4f/h against $%.4f/h here, within the %d%% cost budget", saved.target.CostPerHour, saved.now.CostPerHour, *b)
				}
				return p.pays(saved), why
			})
		}
	}
}

// DisplacementWindow is how far back arrivals into a zone are counted.
const DisplacementWindow = 24 * time.Hour

// arrivals is, per zone, the CPU cores per hour of the VMs that would
// have taken its free CPU: those that started over the last
// DisplacementWindow (Input.Starts) in the zone or in any zone at least as
// dirty. The placement model ranks a cleaner zone first, so a VM that
// started in a dirtier one went there for want of room in the cleaner, and
// would have taken any room a move leaves it. Starts in cleaner zones, and
// in zones of unknown intensity, are not counted against it.
func (p *planner) arrivals() map[string]float64 {
	started := map[string]float64{}
	count := func(node string, at time.Time, cpu float64) {
		st, ok := p.nodes[node]
		if !ok || at.IsZero() || p.in.Now.Sub(at) > DisplacementWindow {
			return
		}
		started[st.Snapshot.Zone] += cpu / DisplacementWindow.Hours()
	}
	if p.in.Starts == nil {
		for i := range p.in.VMs {
			vm := &p.in.VMs[i]
			count(vm.Node, vm.Started, vm.Request.CPUCores)
		}
	}
	for _, s := range p.in.Starts {
		count(s.Node, s.At, s.CPUCores)
	}
	intensity := map[string]float64{}
	for _, st := range p.nodes {
		if s := &st.Snapshot; s.CarbonKnown {
			intensity[s.Zone] = s.CarbonIntensity
		}
	}
	out := make(map[string]float64, len(intensity))
	for zone := range intensity {
		for from, rate := range started {
			if ci, known := intensity[from]; from == zone || known && ci >= intensity[zone] {
				out[zone] += rate
			}
		}
	}
	for zone, rate := range started {
		if _, known := intensity[zone]; !known {
			out[zone] = rate
		}
	}
	return out
}

// horizon is how long a VM moved into zone is expected to save: its
// remaining life, or less when arrivals would fill the zone's free CPU
// sooner (the room the move takes would then have gone to a new VM).
func (p *planner) horizon(life float64, zone string) float64 {
	if p.arrivalRate == nil {
		p.arrivalRate = p.arrivals()
	}
	rate := p.arrivalRate[zone]
	if rate <= 0 {
		return life
	}
	if p.zoneFree == nil {
		p.zoneFree = p.freeCPU()
	}
	return min(life, p.zoneFree[zone]/rate)
}

// freeCPU is each zone's unrequested CPU as the moves planned so far leave
// it, on the nodes that take VMs.
func (p *planner) freeCPU() map[string]float64 {
	out := map[string]float64{}
	for _, st := range p.nodes {
		if st.evacuate == "" && !st.Unschedulable {
			out[st.Snapshot.Zone] += max(0, st.Snapshot.AllocatableCPU-st.Snapshot.RequestedCPU)
		}
	}
	return out
}

// cost moves VMs to a node where they cost less by more than the
// threshold, when the dollars saved over their remaining life beat the
// move's. Without a carbon price the target must also save the VM enough
// grams over that life to pay for the migration's (see consider); with one,
// the move must pay with carbon charged at it.
func (p *planner) cost(t *v1alpha1.CostTrigger) {
	if t == nil {
		return
	}
	for _, name := range p.nodeNames() {
		st := p.nodes[name]
		if st.evacuate != "" {
			continue
		}
		for _, vm := range st.vms {
			if !p.movable(vm, true) {
				continue
			}
			p.consider(vm, st, func(*nodeState) bool { return true }, rankDollars, nil, v1alpha1.RebalanceCost, func(saved savings) (bool, string) {
				if saved.now.CostPerHour <= 0 || saved.dollars/saved.now.CostPerHour*100 <= float64(t.ThresholdPercent) ||
					saved.life*saved.dollars <= saved.mig.Dollars {
					return false, ""
				}
				return p.pays(saved), fmt.Sprintf("$%.4f/h cheaper (%.0f%%); saves $%.2f over %s, the move costs $%.4f; %+.2f gCO2eq/h",
					saved.dollars, saved.dollars/saved.now.CostPerHour*100, saved.life*saved.dollars,
					time.Duration(saved.life*float64(time.Hour)).Round(time.Minute), saved.mig.Dollars, -saved.grams)
			})
		}
	}
}

// savings compares a VM where it runs with a candidate target.
type savings struct {
	now, target    placement.NodeScore
	grams, dollars float64 // per hour
	life           float64 // hours
	mig            MigrationCost
}

// pays: with a carbon price, the move must also save money once emissions
// are charged at it.
func (p *planner) pays(s savings) bool {
	price := float64(p.spec.CarbonPricePerTonne) / 1e6 // dollars per gram
	if price == 0 {
		return true
	}
	return s.life*(s.dollars+s.grams*price) > s.mig.Dollars+s.mig.Grams*price
}

// consider moves vm to the best node among those ok accepts, ranked by
// rank and within budgetPercent (when set) of its cheapest option, if worth
// says the move is worth it.
func (p *planner) consider(vm *VM, src *nodeState, ok func(*nodeState) bool, rank ranking, budgetPercent *int32,
	trigger v1alpha1.RebalanceTriggerType, worth func(savings) (bool, string)) {
	here, known := p.scoreHere(vm, src)
	if !known || here.SpotFallback {
		// A VM on spot it does not allow got there because nothing else
		// fitted. Moved for a saving, it takes room on the nodes that the
		// next VMs without the label need: in the evaluation, kube-scheduler
		// with the rebalancer then rejected more VMs than alone (2 of 96
		// cases).
		return
	}
	life := remainingLife(vm.Started, p.in.Now).Hours()
	var keep func([]placement.NodeScore) func(*placement.NodeScore) bool
	switch {
	case budgetPercent != nil:
		keep = func(targets []placement.NodeScore) func(*placement.NodeScore) bool {
			limit := costLimit(here.CostPerHour, targets, *budgetPercent)
			return func(t *placement.NodeScore) bool { return t.CostPerHour <= limit }
		}
	case trigger == v1alpha1.RebalanceCost && p.spec.CarbonPricePerTonne == 0:
		// With no price on carbon nothing says what a gram is worth in
		// dollars, so a cost move does not trade one for the other: it
		// goes only where the grams the VM saves over its remaining life
		// pay for the migration's own. Left to dollars alone, cost moves
		// were the main reason the evaluation's rebalancer raised
		// emissions.
		keep = func([]placement.NodeScore) func(*placement.NodeScore) bool {
			return func(t *placement.NodeScore) bool {
				return p.horizon(life, p.nodes[t.Node].Snapshot.Zone)*(here.GramsCO2PerHour-t.GramsCO2PerHour) >= EstimateMigration(&vm.Request, *t, src.Snapshot.CarbonIntensity).Grams
			}
		}
	}
	// A cost move trades dollars against grams (no more grams without a
	// carbon price, grams charged at it with one): where either side's
	// intensity is unknown, its grams would read as 0 and the trade could
	// not be told, so it is not made.
	costMove := trigger == v1alpha1.RebalanceCost
	if costMove && !here.CarbonKnown {
		return
	}
	// Savings never move a VM onto spot capacity it does not allow, nor
	// onto a node whose price is unknown: the saving could not be stated.
	priced := func(targets []placement.NodeScore) func(*placement.NodeScore) bool {
		admit := func(*placement.NodeScore) bool { return true }
		if keep != nil {
			admit = keep(targets)
		}
		return func(t *placement.NodeScore) bool { return !t.PriceUnknown && (!costMove || t.CarbonKnown) && admit(t) }
	}
	target, node, found := p.best(vm, func(n *nodeState) bool { return ok(n) && p.staysUnderPressure(n, vm) }, rank, false, priced)
	if !found {
		return
	}
	s := savings{now: here, target: target, grams: here.GramsCO2PerHour - target.GramsCO2PerHour,
		dollars: here.CostPerHour - target.CostPerHour, life: life}
	s.mig = EstimateMigration(&vm.Request, target, src.Snapshot.CarbonIntensity)
	if yes, why := worth(s); yes {
		p.add(vm, node, trigger, why, target)
	}
}

// staysUnderPressure reports whether n, with vm's usage added, stays at or
// below the policy's Pressure high threshold (always, without one, or
// while n's usage is unknown). A VM whose usage is not measured yet could
// take n anywhere: it is not moved there.
func (p *planner) staysUnderPressure(n *nodeState, vm *VM) bool {
	if p.high == 0 {
		return true
	}
	if !vm.UsageKnown || p.in.VMUsageUnknown {
		return false
	}
	cpu, mem, known := utilizationWith(n, vm)
	return !known || cpu <= p.high && mem <= p.high
}

// utilizationWith is n's utilization with vm's usage added.
func utilizationWith(n *nodeState, vm *VM) (cpu, mem float64, known bool) {
	s := n.Snapshot
	s.UsageCPU += vm.Request.UsageCPU
	s.UsageMemory += vm.Request.UsageMemory
	return utilization(&s)
}

// scoreHere is how vm scores on its own node, the node taken without it,
// and without its policy's limits: a zone gone dirtier than the VM's
// MaxCarbonIntensity, or a node busier than its MaxNodeUtilization, is a
// node the VM is on and most needs to leave.
func (p *planner) scoreHere(vm *VM, src *nodeState) (placement.NodeScore, bool) {
	s := src.Snapshot
	s.RequestedCPU -= vm.Request.CPUCores
	s.RequestedMemory -= vm.Request.MemoryBytes
	s.UsageCPU = max(0, s.UsageCPU-vm.Request.UsageCPU)
	s.UsageMemory = max(0, s.UsageMemory-vm.Request.UsageMemory)
	if src.Unschedulable {
		return placement.NodeScore{}, false
	}
	policy := p.policyOf(vm)
	policy.MaxCarbonIntensity, policy.MaxNodeUtilization = 0, 0
	d := placement.Evaluate(vm.Request, []placement.NodeSnapshot{s}, policy)
	if len(d.Scores) == 0 {
		return placement.NodeScore{}, false
	}
	return d.Scores[0], true
}

// policyOf is the placement policy vm is ranked with: its own, as the
// scheduler extender would place it, else the input's.
func (p *planner) policyOf(vm *VM) placement.Policy {
	if vm.Placement != nil {
		return *vm.Placement
	}
	return p.in.Placement
}

// ranking orders feasible targets, best first.
type ranking func(a, b *placement.NodeScore) int

func rankPlacement(a, b *placement.NodeScore) int { return 0 } // Evaluate's own order
func rankGrams(a, b *placement.NodeScore) int {
	return cmp.Or(cmp.Compare(a.GramsCO2PerHour, b.GramsCO2PerHour), cmp.Compare(a.CostPerHour, b.CostPerHour))
}
func rankDollars(a, b *placement.NodeScore) int {
	return cmp.Or(cmp.Compare(a.CostPerHour, b.CostPerHour), cmp.Compare(a.GramsCO2PerHour, b.GramsCO2PerHour))
}

// costLimit is the most a VM may cost per hour within a budget of percent
// over its cheapest option: here, where it runs, or one of targets. A
// rounding margin keeps a target priced like the cheapest in budget, as
// placement's own budget does.
func costLimit(here float64, targets []placement.NodeScore, percent int32) float64 {
	cheapest := here
	for i := range targets {
		if !targets[i].PriceUnknown {
			cheapest = min(cheapest, targets[i].CostPerHour)
		}
	}
	return cheapest * (1 + float64(percent)/100) * (1 + 1e-9)
}

// best is the target for vm among the nodes ok accepts that are not its
// own, not being emptied, not cordoned, that vm fits and have a migration
// to spare, and
// keep, when set, admits given all feasible targets' scores. A spot node
// the VM does not allow is a target only with fallback, and then only as
// the scheduler would place the VM: when nothing else fits.
func (p *planner) best(vm *VM, ok func(*nodeState) bool, rank ranking, fallback bool, keep func([]placement.NodeScore) func(*placement.NodeScore) bool) (placement.NodeScore, string, bool) {
	cands := p.scratch[:0]
	for _, name := range p.nodeNames() {
		st := p.nodes[name]
		if name == vm.Node || st.evacuate != "" || st.Unschedulable || st.flights >= int(p.spec.MaxInFlightPerNode) ||
			!fits(vm, st.Node) || !ok(st) {
			continue
		}
		cands = append(cands, st.Snapshot)
	}
	p.scratch = cands
	d := placement.Evaluate(vm.Request, cands, p.policyOf(vm))
	if !fallback {
		d.Scores = slices.DeleteFunc(d.Scores, func(s placement.NodeScore) bool { return s.SpotFallback })
	}
	if len(d.Scores) == 0 {
		return placement.NodeScore{}, "", false
	}
	admit := func(*placement.NodeScore) bool { return true }
	if keep != nil {
		admit = keep(d.Scores)
	}
	// The first best by rank, Evaluate's order breaking ties.
	top := -1
	for i := range d.Scores {
		if !admit(&d.Scores[i]) {
			continue
		}
		if top < 0 || rank(&d.Scores[i], &d.Scores[top]) < 0 {
			top = i
		}
	}
	if top < 0 {
		return placement.NodeScore{}, "", false
	}
	return d.Scores[top], d.Scores[top].Node, true
}

// fits says whether kube-scheduler could put vm's target pod on n: every
// taint that keeps pods off is tolerated, the node has the devices it asks
// for, and the required node affinity (and node selector) match.
func fits(vm *VM, n *Node) bool {
	keepsOff := func(t *corev1.Taint) bool {
		// A maintenance taint keeps moves off even as PreferNoSchedule
		// (draining): another policy is emptying the node, and would
		// move the VM again.
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute || t.Key == TaintKey
	}
	if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), n.Taints, vm.Tolerations, keepsOff, true); untolerated {
		return false
	}
	for _, d := range vm.Devices {
		if !n.Devices[d] {
			return false
		}
	}
	if vm.Affinity == nil {
		return true
	}
	match, err := vm.Affinity.Match(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Snapshot.Name, Labels: n.Labels}})
	return err == nil && match
}

// movable: not excluded, not already moving, migratable (or cold moves
// allowed), not cooling down (unless the node is being emptied), and the
// limits leave room. Holds say why an otherwise due VM stays.
func (p *planner) movable(vm *VM, cooldown bool) bool {
	key := vm.Namespace + "/" + vm.Name
	switch {
	case vm.Excluded:
		p.hold(vm, "excluded by "+v1alpha1.RebalanceExcludeAnnotation)
		return false
	case vm.Refused != "":
		p.hold(vm, vm.Refused)
		return false
	case p.moved[key]:
		return false
	case !vm.LiveMigratable && !p.spec.AllowColdMigration:
		p.hold(vm, "cannot migrate live and the policy does not allow cold migration")
		return false
	case p.in.Now.Before(vm.BackoffUntil):
		p.hold(vm, "its last migration failed: tried again from "+vm.BackoffUntil.UTC().Format(time.RFC3339))
		return false
	case cooldown && p.in.Now.Before(vm.CooldownUntil):
		return false
	case p.budget <= 0:
		p.hold(vm, fmt.Sprintf("maxInFlight: %d migrations already planned or in flight", p.spec.MaxInFlight))
		return false
	case p.nodes[vm.Node].flights >= int(p.spec.MaxInFlightPerNode):
		p.hold(vm, fmt.Sprintf("maxInFlightPerNode: %d migrations already planned or in flight on node %s", p.spec.MaxInFlightPerNode, vm.Node))
		return false
	}
	return true
}

// add plans moving vm to target and books it on both nodes.
func (p *planner) add(vm *VM, target string, trigger v1alpha1.RebalanceTriggerType, reason string, score placement.NodeScore) {
	src, dst := p.nodes[vm.Node], p.nodes[target]
	move := v1alpha1.RebalanceMove{Namespace: vm.Namespace, VMName: vm.Name, FromNode: vm.Node, ToNode: target,
		Trigger: trigger, Reason: reason, ExpectedRemainingHours: round(remainingLife(vm.Started, p.in.Now).Hours())}
	if here, ok := p.scoreHere(vm, src); ok {
		move.SavedGramsCO2PerHour = round(here.GramsCO2PerHour - score.GramsCO2PerHour)
		move.SavedCostPerHour = round(here.CostPerHour - score.CostPerHour)
	}
	mig := EstimateMigration(&vm.Request, score, src.Snapshot.CarbonIntensity)
	move.MigrationGramsCO2, move.MigrationCost = round(mig.Grams), round(mig.Dollars)
	p.plan.Moves = append(p.plan.Moves, move)
	p.moved[vm.Namespace+"/"+vm.Name] = true
	p.budget--
	p.zoneFree = nil
	src.flights++
	dst.flights++
	src.Snapshot.RequestedCPU -= vm.Request.CPUCores
	src.Snapshot.RequestedMemory -= vm.Request.MemoryBytes
	src.Snapshot.UsageCPU = max(0, src.Snapshot.UsageCPU-vm.Request.UsageCPU)
	src.Snapshot.UsageMemory = max(0, src.Snapshot.UsageMemory-vm.Request.UsageMemory)
	dst.Snapshot.RequestedCPU += vm.Request.CPUCores
	dst.Snapshot.RequestedMemory += vm.Request.MemoryBytes
	dst.Snapshot.UsageCPU += vm.Request.UsageCPU
	dst.Snapshot.UsageMemory += vm.Request.UsageMemory
}

// arm records that the condition under key holds now, keeping since when.
func (p *planner) arm(key string) time.Time {
	since, ok := p.in.Armed[key]
	if !ok {
		since = p.in.Now
	}
	p.plan.Armed[key] = since
	return since
}

func (p *planner) hold(vm *VM, why string) {
	p.plan.Held = append(p.plan.Held, vm.Namespace+"/"+vm.Name+": "+why)
}

func (p *planner) nodeNames() []string { return p.names }

// utilization is a node's measured CPU and memory use in percent of
// allocatable; known is false without usage or allocatable.
func utilization(s *placement.NodeSnapshot) (cpu, mem float64, known bool) {
	if !s.UsageKnown || s.AllocatableCPU <= 0 || s.AllocatableMemory <= 0 {
		return 0, 0, false
	}
	return s.UsageCPU / s.AllocatableCPU * 100, s.UsageMemory / s.AllocatableMemory * 100, true
}

// round keeps six decimals: a migration's dollars are often a few cents
// of a cent.
func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }
