package autoscaler

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

// Sample is one usage sample and the allocation it was taken under.
type Sample struct {
	rightsizing.Sample
	Allocation rightsizing.Resources
}

// SampleSource reads a VM's usage samples in (start, end].
type SampleSource interface {
	Samples(ctx context.Context, namespace, vm string, start, end time.Time) ([]Sample, error)
}

// HistoryAPI reads samples from virtualmachines/history through
// kube-apiserver, so the autoscaler works with whichever store the
// recorder writes (SQLite in the API server's pod, or Prometheus) and reads
// only what its service account may.
type HistoryAPI struct {
	// Client is the hypersdk.io REST client.
	Client rest.Interface
	// Step is the recorder's interval: one point per recorded sample.
	Step time.Duration
}

// pointsPerQuery stays under the history API's limit on points per query.
const pointsPerQuery = history.MaxPoints - 1000

// Samples queries the window in chunks the history API accepts. Points
// where both usages are exactly zero are dropped: the recorder writes those
// for VMs without a running guest, and a stopped VM's zeros are no evidence
// of what it needs when it runs.
func (h HistoryAPI) Samples(ctx context.Context, namespace, vm string, start, end time.Time) ([]Sample, error) {
	var out []Sample
	chunk := h.Step * pointsPerQuery
	for from := start; from.Before(end); from = from.Add(chunk) {
		to := from.Add(chunk)
		if to.After(end) {
			to = end
		}
		// The first point due is a step after what was read: none is due
		// yet when less than a step has passed.
		first := from.Add(h.Step)
		if first.After(to) {
			break
		}
		var res v1alpha1.VirtualMachineHistory
		err := h.Client.Get().Namespace(namespace).Resource("virtualmachines").Name(vm).SubResource("history").
			Param("start", first.UTC().Format(time.RFC3339)).Param("end", to.UTC().Format(time.RFC3339)).
			Param("step", h.Step.String()).Param("fields", strings.Join(fields, ",")).
			Do(ctx).Into(&res)
		if err != nil {
			return nil, fmt.Errorf("reading the history of VM %s/%s: %w", namespace, vm, err)
		}
		out = append(out, join(res.Series)...)
	}
	return out, nil
}

// fields are the series a sample is made of.
var fields = []string{history.FieldCPUUsage, history.FieldMemoryUsage, history.FieldCPUAllocated, history.FieldMemoryAllocated}

// join pairs the points of the four fields taken at the same time.
func join(series []v1alpha1.HistorySeries) []Sample {
	byField := map[string]map[int64]float64{}
	var cpu []v1alpha1.HistoryPoint
	for _, s := range series {
		if s.Field == history.FieldCPUUsage {
			cpu = s.Points
		}
		byField[s.Field] = map[int64]float64{}
		for _, p := range s.Points {
			byField[s.Field][p.Time.UnixMilli()] = p.Value
		}
	}
	var out []Sample
	for _, p := range cpu {
		t := p.Time.UnixMilli()
		m, ok := byField[history.FieldMemoryUsage][t]
		if !ok || (p.Value == 0 && m == 0) {
			continue
		}
		out = append(out, Sample{
			Sample: rightsizing.Sample{Time: p.Time.Time, CPUCores: p.Value, MemoryBytes: m},
			Allocation: rightsizing.Resources{CPUs: int32(math.Round(byField[history.FieldCPUAllocated][t])),
				MemoryBytes: int64(byField[history.FieldMemoryAllocated][t])},
		})
	}
	return out
}
