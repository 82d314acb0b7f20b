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
	case err != nil:
		return nil, err
	default:
		out.SampledAt = metav1.NewTime(at)
		out.Node, out.Zone, out.CostPerHour, out.CarbonIntensity = s.Node, s.Zone, s.CostPerHour, s.CarbonIntensity
		out.CPUAllocatedCores, out.CPUUsageCores = s.CPUAllocatedCores, s.CPUUsageCores
		out.MemoryAllocatedBytes, out.MemoryUsageBytes = s.MemoryAllocatedBytes, s.MemoryUsageBytes
		out.CarbonGramsPerHour = placement.RecordedVMGramsPerHour(s.CarbonIntensity, s.CPUAllocatedCores, s.CPUUsageCores)
	}
	day := now.UTC().Truncate(24 * time.Hour)
	month := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	points, err := r.recorded(ctx, namespace, name, month, now)
	if err != nil {
		return nil, err
	}
	created := vm.CreationTimestamp.Time
	monthSpent := integrate(points, created)
	out.MonthToDate, out.CarbonGramsMonthToDate = monthSpent.cost, monthSpent.carbonGrams
	todaySpent := integrate(since(points, day), created)
	out.Today, out.CarbonGramsToday = todaySpent.cost, todaySpent.carbonGrams
	return out, nil
}

// costStep is the resolution costs are integrated at, and maxSampleGap the
// longest time one recorded point stands for: a recorder interval or a
// downsampled hour. A longer gap is an outage (or the VM did not exist), and
// the point after it stands for one step only.
const (
	costStep     = time.Minute
	maxSampleGap = time.Hour + costStep
)

// ratePoint is what a VM cost and emitted per hour at one evaluation time.
type ratePoint struct {
	at                time.Time
	cost, carbonGrams float64
}

// recorded reads the VM's cost and emission rates over (from, now], one
// point a minute (the average of the samples in the minute before it), so a
// 2s and a 5m recorder interval and downsampled history all add up alike.
func (r *CostREST) recorded(ctx context.Context, namespace, name string, from, now time.Time) ([]ratePoint, error) {
	if horizon := now.Add(-r.store.Retention()).Add(costStep); from.Before(horizon) {
		from = horizon
	}
	fields := []string{history.FieldCostPerHour, history.FieldCarbonIntensity, history.FieldCPUAllocated, history.FieldCPUUsage}
	var points []ratePoint
	chunk := costStep * (history.MaxPoints - 1)
	for start := from.Truncate(costStep).Add(costStep); !start.After(now); start = start.Add(chunk) {
		end := start.Add(chunk - costStep)
		if end.After(now) {
			end = now
		}
		series, err := r.store.QueryVM(ctx, history.Query{Namespace: namespace, Name: name, Start: start, End: end,
			Step: costStep, Fields: fields})
		if err != nil {
			return nil, fmt.Errorf("reading the cost history of VM %s/%s: %w", namespace, name, err)
		}
		points = append(points, rates(series)...)
	}
	return points, nil
}

// rates joins the series of one query by time: the fields of a VM are
// recorded together, so their points share evaluation times.
func rates(series []history.Series) []ratePoint {
	values := map[string]map[time.Time]float64{}
	for _, s := range series {
		m := make(map[time.Time]float64, len(s.Points))
		for _, p := range s.Points {
			m[p.Time] = p.Value
		}
		values[s.Field] = m
	}
	var out []ratePoint
	for _, s := range series {
		if s.Field != history.FieldCostPerHour {
			continue
		}
		for _, p := range s.Points {
			out = append(out, ratePoint{at: p.Time, cost: p.Value, carbonGrams: placement.RecordedVMGramsPerHour(
				values[history.FieldCarbonIntensity][p.Time], values[history.FieldCPUAllocated][p.Time], values[history.FieldCPUUsage][p.Time])})
		}
	}
	return out
}

// since is the tail of points (in time order) after from.
func since(points []ratePoint, from time.Time) []ratePoint {
	i := sort.Search(len(points), func(i int) bool { return points[i].at.After(from) })
	return points[i:]
}

// spent is an integral of rates over time: currency and gCO2eq.
type spent struct{ cost, carbonGrams float64 }

// integrate sums rate × the time each point stands for: the gap since the
// point before it, or, for the first point after an outage, the gap to the
// point after it (the recorder's interval), else one step; never more than
// the VM has existed.
func integrate(points []ratePoint, created time.Time) spent {
	var total spent
	for i, p := range points {
		gap := costStep
		switch {
		case i > 0 && p.at.Sub(points[i-1].at) <= maxSampleGap:
			gap = p.at.Sub(points[i-1].at)
		case i+1 < len(points) && points[i+1].at.Sub(p.at) <= maxSampleGap:
			gap = points[i+1].at.Sub(p.at)
		}
		if lived := p.at.Sub(created); lived >= 0 && lived < gap {
			gap = lived
		}
		total.cost += p.cost * gap.Hours()
		total.carbonGrams += p.carbonGrams * gap.Hours()
	}
	return total
}
