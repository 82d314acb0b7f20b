package virtualmachine

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/clock"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/history"
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
	clock   clock.Clock
}

var _ rest.Getter = &CostREST{}

// NewCostREST returns the storage of virtualmachines/cost.
func NewCostREST(vms *REST, sampler VMSampler, store history.Store) *CostREST {
	return &CostREST{vms: vms, sampler: sampler, store: store, clock: clock.RealClock{}}
}

func (r *CostREST) New() runtime.Object { return &hypersdk.VirtualMachineCost{} }
func (r *CostREST) Destroy()            {}

// Get answers the cost of a VM; a VM without a sample (not running yet)
// costs nothing now, and a source that cannot be read is an error, never
// a zero.
func (r *CostREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	vm, err := r.vms.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	created := vm.(*hypersdk.VirtualMachine).CreationTimestamp.Time
	now := r.clock.Now()
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
	}
	day := now.UTC().Truncate(24 * time.Hour)
	month := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	if out.Today, err = r.spent(ctx, namespace, name, created, day, now); err != nil {
		return nil, err
	}
	if out.MonthToDate, err = r.spent(ctx, namespace, name, created, month, now); err != nil {
		return nil, err
	}
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

// spent integrates the recorded cost per hour over (from, now], one point a
// minute (the average of the samples in the minute before it), so a 2s and
// a 5m recorder interval and downsampled history all add up to the same cost.
func (r *CostREST) spent(ctx context.Context, namespace, name string, created, from, now time.Time) (float64, error) {
	if horizon := now.Add(-r.store.Retention()).Add(costStep); from.Before(horizon) {
		from = horizon
	}
	var points []history.Point
	chunk := costStep * (history.MaxPoints - 1)
	for start := from.Truncate(costStep).Add(costStep); !start.After(now); start = start.Add(chunk) {
		end := start.Add(chunk - costStep)
		if end.After(now) {
			end = now
		}
		series, err := r.store.QueryVM(ctx, history.Query{Namespace: namespace, Name: name, Start: start, End: end,
			Step: costStep, Fields: []string{history.FieldCostPerHour}})
		if err != nil {
			return 0, fmt.Errorf("reading the cost history of VM %s/%s: %w", namespace, name, err)
		}
		for _, s := range series {
			points = append(points, s.Points...)
		}
	}
	return integrate(points, created), nil
}

// integrate sums value × the time each point stands for: the gap since the
// point before it, or, for the first point after an outage, the gap to the
// point after it (the recorder's interval), else one step; never more than
// the VM has existed.
func integrate(points []history.Point, created time.Time) float64 {
	total := 0.0
	for i, p := range points {
		gap := costStep
		switch {
		case i > 0 && p.Time.Sub(points[i-1].Time) <= maxSampleGap:
			gap = p.Time.Sub(points[i-1].Time)
		case i+1 < len(points) && points[i+1].Time.Sub(p.Time) <= maxSampleGap:
			gap = points[i+1].Time.Sub(p.Time)
		}
		if lived := p.Time.Sub(created); lived >= 0 && lived < gap {
			gap = lived
		}
		total += p.Value * gap.Hours()
	}
	return total
}
