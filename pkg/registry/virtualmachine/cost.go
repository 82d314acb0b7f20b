package virtualmachine

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/cloudprices"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/placement"
)

// VMSampler gives the latest sample of one VM (vmmetrics.Provider: the same
// readings the metrics APIs serve).
type VMSampler interface {
	VMSample(ctx context.Context, namespace, name string) (history.VMSample, time.Time, error)
}

// CostREST serves virtualmachines/cost: the VM's cost now, from the latest
// sample, and today's and the month's, from history.
type CostREST struct {
	vms     *REST
	sampler VMSampler
	store   history.Store
	clouds  []cloudprices.List
	clock   clock.Clock
}

var _ rest.Getter = &CostREST{}

// NewCostREST returns the storage of virtualmachines/cost.
func NewCostREST(vms *REST, sampler VMSampler, store history.Store, clouds []cloudprices.List) *CostREST {
	return &CostREST{vms: vms, sampler: sampler, store: store, clouds: clouds, clock: clock.RealClock{}}
}

func (r *CostREST) New() runtime.Object { return &hypersdk.VirtualMachineCost{} }
func (r *CostREST) Destroy()            {}

// Get answers the cost of a VM, with its size priced at the public clouds'.
func (r *CostREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.vms.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	vm := obj.(*hypersdk.VirtualMachine)
	out, err := r.CostOf(ctx, vm, r.clock.Now())
	if err != nil {
		return nil, err
	}
	out.CloudComparison = compareClouds(r.clouds, vm.Spec)
	return out, nil
}

// compareClouds prices the VM's size at the cheapest instance type that fits
// it in each price list, cheapest first; lists with none that fits are left
// out.
func compareClouds(lists []cloudprices.List, spec hypersdk.VirtualMachineSpec) []hypersdk.CloudInstancePrice {
	size := cloudprices.Size{VCPUs: float64(spec.CPUs), GPUs: map[string]int{}}
	if spec.Memory != nil {
		size.MemoryGiB = float64(spec.Memory.Value()) / (1 << 30)
	}
	for _, g := range spec.GPUs {
		size.GPUs[g.DeviceName] += int(g.Count)
	}
	var out []hypersdk.CloudInstancePrice
	for _, l := range lists {
		in, ok := l.Nearest(size)
		if !ok {
			continue
		}
		out = append(out, hypersdk.CloudInstancePrice{Cloud: l.Cloud, Region: l.Region, InstanceType: in.Type,
			VCPUs: int32(in.VCPUs), MemoryBytes: int64(in.MemoryGiB * (1 << 30)), GPUs: int32(in.GPUs), GPUModel: in.GPUModel,
			PricePerHour: in.PerHour, Currency: l.Currency, PriceListDate: l.Date.Format(time.DateOnly), Source: l.Source})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].PricePerHour < out[j].PricePerHour })
	return out
}

// CostOf is the cost of vm at now; a VM without a sample (not running yet)
// costs nothing now, and a source that cannot be read is an error, never
// a zero.
func (r *CostREST) CostOf(ctx context.Context, vm *hypersdk.VirtualMachine, now time.Time) (*hypersdk.VirtualMachineCost, error) {
	namespace, name := vm.Namespace, vm.Name
	out := &hypersdk.VirtualMachineCost{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, SampledAt: metav1.NewTime(now)}
	s, at, err := r.sampler.VMSample(ctx, namespace, name)
	switch {
	case apierrors.IsNotFound(err):
		out.CarbonGramsPerHour = ptr.To(0.0)
	case err != nil:
		return nil, err
	case s.Node != "" && !s.Priced:
		// A price the node does not give is unknown, not zero: a zero here
		// would go into cost reports, budgets and dashboards as free.
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("VM %s/%s runs on node %s, which has no price "+
			"(see its capacity type and hypersdk.io/price-per-hour annotation): its cost is unknown", namespace, name, s.Node))
	default:
		out.SampledAt = metav1.NewTime(at)
		out.Node, out.Zone, out.CostPerHour = s.Node, s.Zone, s.CostPerHour
		out.CPUAllocatedCores, out.CPUUsageCores = s.CPUAllocatedCores, s.CPUUsageCores
		out.MemoryAllocatedBytes, out.MemoryUsageBytes = s.MemoryAllocatedBytes, s.MemoryUsageBytes
		switch {
		case s.Node == "":
			out.CarbonGramsPerHour = ptr.To(0.0)
		case s.IntensityRead:
			// Without a reading the rate is unknown, and left out: a 0
			// would read as a VM that emits nothing. The power drawn
			// follows the CPU in use, so an unread usage leaves the rate
			// unknown too (a launcher pod metrics.k8s.io has not seen).
			out.CarbonIntensity = ptr.To(s.CarbonIntensity)
			if s.UsageRead {
				out.CarbonGramsPerHour = ptr.To(placement.RecordedVMGramsPerHour(s.CarbonIntensity, s.CPUAllocatedCores, s.CPUUsageCores))
			}
		}
	}
	day := now.UTC().Truncate(24 * time.Hour)
	month := history.MonthStart(now)
	cost, carbonGrams, err := r.recorded(ctx, namespace, name, month, now)
	if err != nil {
		return nil, history.AsStatus(err)
	}
	created := vm.CreationTimestamp.Time
	if from := r.horizon(now); month.Before(from) && created.Before(from) {
		// What the VM spent before the store's retention is not in it.
		out.MonthToDateFrom = &metav1.Time{Time: from}
	}
	out.MonthToDate, out.CarbonGramsMonthToDate = history.Integrate(cost, created), history.Integrate(carbonGrams, created)
	out.Today = history.Integrate(history.After(cost, day), created)
	out.CarbonGramsToday = history.Integrate(history.After(carbonGrams, day), created)
	return out, nil
}

// horizon is how far back the history store keeps the VM's rates, to the
// first whole integration step.
func (r *CostREST) horizon(now time.Time) time.Time {
	return now.Add(-r.store.Retention()).Add(history.IntegrationStep)
}

// recorded reads the VM's cost and emission rates (per hour) over (from,
// now], one point a minute (history.ReadRates).
func (r *CostREST) recorded(ctx context.Context, namespace, name string, from, now time.Time) (cost, carbonGrams []history.Point, err error) {
	if horizon := r.horizon(now); from.Before(horizon) {
		from = horizon
	}
	series, err := history.ReadRates(ctx, r.store.QueryVM, history.Query{Namespace: namespace, Name: name,
		Fields: []string{history.FieldCostPerHour, history.FieldCarbonIntensity, history.FieldCPUAllocated, history.FieldCPUUsage}}, from, now)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the cost history of VM %s/%s: %w", namespace, name, err)
	}
	// The fields of a VM are recorded together, so their points share
	// evaluation times.
	at := func(s history.Series) map[time.Time]float64 {
		m := make(map[time.Time]float64, len(s.Points))
		for _, p := range s.Points {
			m[p.Time] = p.Value
		}
		return m
	}
	intensity, allocated, used := at(series[1]), at(series[2]), at(series[3])
	cost = series[0].Points
	carbonGrams = make([]history.Point, 0, len(cost))
	for _, p := range cost {
		// A time without an intensity or a usage is a gap in the
		// emissions too, not an hour that emitted nothing (or drew idle
		// power only).
		g, read := intensity[p.Time]
		u, measured := used[p.Time]
		switch a, ok := allocated[p.Time]; {
		case ok && a == 0:
			// Stopped: no zone, so no intensity, and no emissions: a
			// known 0, not a gap the next running minute would be
			// charged for.
			carbonGrams = append(carbonGrams, history.Point{Time: p.Time})
		case read && measured:
			carbonGrams = append(carbonGrams, history.Point{Time: p.Time,
				Value: placement.RecordedVMGramsPerHour(g, a, u)})
		}
	}
	return cost, carbonGrams, nil
}
