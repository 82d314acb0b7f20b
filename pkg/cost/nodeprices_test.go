package cost

import (
	"math"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hypersdk/hypersdk/pkg/gpu"
)

// testModel has round numbers so expected prices can be checked by hand.
var testModel = Model{
	OnDemand: Prices{CPUCoreHour: 0.04, MemoryGiBHour: 0.005, GPUHour: map[string]float64{"A100": 3}, DefaultGPUHour: 1},
	Spot:     Prices{CPUCoreHour: 0.01, MemoryGiBHour: 0.001, GPUHour: map[string]float64{"A100": 1}, DefaultGPUHour: 0.5},
}

// node builds a node with cpu cores, memGiB GiB, the given GPU inventory,
// labels and annotations.
func node(t *testing.T, cpu, memGiB int64, devices []gpu.Device, labels, annotations map[string]string) *corev1.Node {
	t.Helper()
	ann := map[string]string{}
	for k, v := range annotations {
		ann[k] = v
	}
	if len(devices) > 0 {
		inv, err := gpu.FormatInventory(devices)
		if err != nil {
			t.Fatal(err)
		}
		ann[gpu.InventoryAnnotation] = inv
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(cpu, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memGiB<<30, resource.BinarySI),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: labels, Annotations: ann},
		Status:     corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
}

func a100s(n int) []gpu.Device {
	out := make([]gpu.Device, n)
	for i := range out {
		out[i] = gpu.Device{ID: "gpu" + string(rune('0'+i)), Model: "A100", ResourceName: "nvidia.com/A100"}
	}
	return out
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }

func samePricing(a, b NodePricing) bool {
	if !approx(a.CPUCoreHour, b.CPUCoreHour) || !approx(a.MemoryGiBHour, b.MemoryGiBHour) ||
		!approx(a.DefaultGPUHour, b.DefaultGPUHour) || len(a.GPUHour) != len(b.GPUHour) {
		return false
	}
	for i := range a.GPUHour {
		if a.GPUHour[i].Model != b.GPUHour[i].Model || !approx(a.GPUHour[i].Hour, b.GPUHour[i].Hour) {
			return false
		}
	}
	return true
}

func TestNodePrices(t *testing.T) {
	spot := map[string]string{CapacityTypeLabel: "spot"}
	for _, tc := range []struct {
		name        string
		node        *corev1.Node
		want        NodePricing
		wantErr     string
		wholeTotal  float64 // if non-zero, pricing the full shape must give this back
		wholeShapeG float64 // A100s in the shape for the wholeTotal check
	}{
		{
			name: "defaults on-demand",
			node: node(t, 4, 8, nil, nil, nil),
			want: NodePricing{CPUCoreHour: 0.04, MemoryGiBHour: 0.005, DefaultGPUHour: 1},
		},
		{
			name: "defaults spot",
			node: node(t, 4, 8, nil, spot, nil),
			want: NodePricing{CPUCoreHour: 0.01, MemoryGiBHour: 0.001, DefaultGPUHour: 0.5},
		},
		{
			// table: 4×0.04 + 8×0.005 = 0.20, so k = 0.10/0.20 = 0.5.
			name:       "whole price split by table weights",
			node:       node(t, 4, 8, nil, nil, map[string]string{PriceAnnotation: "0.10"}),
			want:       NodePricing{CPUCoreHour: 0.02, MemoryGiBHour: 0.0025, DefaultGPUHour: 0.5},
			wholeTotal: 0.10,
		},
		{
			// table: 4×0.04 + 8×0.005 + 2×3 = 6.2, k = 12.4/6.2 = 2.
			name:        "whole price split across GPUs",
			node:        node(t, 4, 8, a100s(2), nil, map[string]string{PriceAnnotation: "12.4"}),
			want:        NodePricing{CPUCoreHour: 0.08, MemoryGiBHour: 0.01, GPUHour: []GPUPrice{{"A100", 6}}, DefaultGPUHour: 2},
			wholeTotal:  12.4,
			wholeShapeG: 2,
		},
		{
			// spot table: 4×0.01 + 8×0.001 = 0.048; price 0.096 → k = 2, not discounted again.
			name:       "spot whole price is taken as paid",
			node:       node(t, 4, 8, nil, spot, map[string]string{PriceAnnotation: "0.096"}),
			want:       NodePricing{CPUCoreHour: 0.02, MemoryGiBHour: 0.002, DefaultGPUHour: 1},
			wholeTotal: 0.096,
		},
		{
			// CPU annotated: 4×0.05 = 0.20 fixed; memory gets 0.28-0.20 = 0.08
			// over 8 GiB×0.005 = 0.04, so k = 2.
			name:       "component annotation with whole price",
			node:       node(t, 4, 8, nil, nil, map[string]string{PriceAnnotation: "0.28", CPUPriceAnnotation: "0.05"}),
			want:       NodePricing{CPUCoreHour: 0.05, MemoryGiBHour: 0.01, DefaultGPUHour: 2},
			wholeTotal: 0.28,
		},
		{
			name: "component annotations without whole price",
			node: node(t, 4, 8, a100s(1), nil, map[string]string{MemoryPriceAnnotation: "0.002", GPUPriceAnnotation: "2.5"}),
			want: NodePricing{CPUCoreHour: 0.04, MemoryGiBHour: 0.002, GPUHour: []GPUPrice{{"A100", 2.5}}, DefaultGPUHour: 2.5},
		},
		{
			name: "every component annotated ignores whole price",
			node: node(t, 4, 8, nil, nil, map[string]string{PriceAnnotation: "9", CPUPriceAnnotation: "0.1", MemoryPriceAnnotation: "0.01", GPUPriceAnnotation: "1"}),
			want: NodePricing{CPUCoreHour: 0.1, MemoryGiBHour: 0.01, DefaultGPUHour: 1},
		},
		{
			// 3 × 0.1 is 0.30000000000000004 in binary.
			name: "components adding up to the whole price",
			node: node(t, 3, 8, nil, nil, map[string]string{PriceAnnotation: "0.3", CPUPriceAnnotation: "0.1", MemoryPriceAnnotation: "0"}),
			want: NodePricing{CPUCoreHour: 0.1, MemoryGiBHour: 0, DefaultGPUHour: 1},
		},
		{
			name:    "components above whole price",
			node:    node(t, 4, 8, nil, nil, map[string]string{PriceAnnotation: "0.1", CPUPriceAnnotation: "1"}),
			wantErr: "more than the node price",
		},
		{
			name:    "bad price annotation",
			node:    node(t, 4, 8, nil, nil, map[string]string{PriceAnnotation: "cheap"}),
			wantErr: `annotation hypersdk.io/price-per-hour="cheap"`,
		},
		{
			name:    "negative price annotation",
			node:    node(t, 4, 8, nil, nil, map[string]string{GPUPriceAnnotation: "-1"}),
			wantErr: "non-negative",
		},
		{
			name:    "bad capacity type",
			node:    node(t, 4, 8, nil, map[string]string{CapacityTypeLabel: "reserved"}, nil),
			wantErr: `label hypersdk.io/capacity-type="reserved"`,
		},
		{
			// A bad inventory: the GPUs the node publishes are priced, as
			// placement reads them (none here), not no price at all.
			name: "bad inventory",
			node: node(t, 4, 8, nil, nil, map[string]string{gpu.InventoryAnnotation: "{"}),
			want: NodePricing{CPUCoreHour: 0.04, MemoryGiBHour: 0.005, DefaultGPUHour: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := testModel.NodePrices(tc.node)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !samePricing(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if tc.wholeTotal != 0 {
				gpus := []GPUCount{{"A100", tc.wholeShapeG}}
				if total := VMCostPerHour(got, 4, 8<<30, gpus, 0, 0); !approx(total, tc.wholeTotal) {
					t.Errorf("full shape costs %v, want the node price %v", total, tc.wholeTotal)
				}
			}
		})
	}
}

func TestNodePricesExtendedResourceGPUs(t *testing.T) {
	n := node(t, 4, 8, nil, nil, map[string]string{PriceAnnotation: "8.4"})
	n.Status.Capacity["nvidia.com/gpu"] = resource.MustParse("2")
	n.Status.Capacity["nvidia.com/A100"] = resource.MustParse("1")
	got, err := testModel.NodePrices(n)
	if err != nil {
		t.Fatal(err)
	}
	// table: 0.16 + 0.04 + 1×3 (A100) + 2×1 (default "gpu") = 5.2 → k = 8.4/5.2.
	k := 8.4 / 5.2
	want := NodePricing{CPUCoreHour: 0.04 * k, MemoryGiBHour: 0.005 * k, GPUHour: []GPUPrice{{"A100", 3 * k}, {"gpu", k}}, DefaultGPUHour: k}
	if !samePricing(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestNodePricesNil(t *testing.T) {
	if _, err := DefaultModel().NodePrices(nil); err == nil {
		t.Fatal("want error for nil node")
	}
}

func TestCapacityTypeOf(t *testing.T) {
	for _, tc := range []struct {
		label   string
		set     bool
		want    CapacityType
		wantErr bool
	}{
		{set: false, want: OnDemand},
		{label: "", set: true, want: OnDemand},
		{label: "on-demand", set: true, want: OnDemand},
		{label: "spot", set: true, want: Spot},
		{label: "Spot", set: true, want: Spot}, // as clouds spell it
		{label: "preemptible", set: true, wantErr: true},
	} {
		labels := map[string]string{}
		if tc.set {
			labels[CapacityTypeLabel] = tc.label
		}
		got, err := CapacityTypeOf(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: labels}})
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("label %q (set %v): got %q, %v; want %q, error %v", tc.label, tc.set, got, err, tc.want, tc.wantErr)
		}
	}
}
