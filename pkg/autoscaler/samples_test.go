package autoscaler

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

func TestJoinPairsPointsAndDropsStoppedOnes(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(s int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(s) * time.Second)) }
	got := join([]v1alpha1.HistorySeries{
		{Field: history.FieldMemoryUsage, Points: []v1alpha1.HistoryPoint{{Time: at(0), Value: 2e9}, {Time: at(10), Value: 0}, {Time: at(30), Value: 3e9}}},
		{Field: history.FieldCPUUsage, Points: []v1alpha1.HistoryPoint{{Time: at(0), Value: 0.5}, {Time: at(10), Value: 0}, {Time: at(20), Value: 1}, {Time: at(30), Value: 0}}},
		{Field: history.FieldCPUAllocated, Points: []v1alpha1.HistoryPoint{{Time: at(0), Value: 4}, {Time: at(30), Value: 2}}},
	})
	// t=10: both zero (no guest running); t=20: no memory point.
	if len(got) != 2 || got[0].CPUCores != 0.5 || got[0].MemoryBytes != 2e9 || !got[1].Time.Equal(at(30).Time) ||
		got[1].CPUCores != 0 || got[1].MemoryBytes != 3e9 || got[0].Allocation.CPUs != 4 || got[1].Allocation.CPUs != 2 {
		t.Errorf("join = %+v", got)
	}
}

func TestLimitsNeverBelowWhatAResizeAccepts(t *testing.T) {
	zero := int32(0)
	l := limitsOf(v1alpha1.VirtualMachineAutoscalerSpec{MinAllowed: &v1alpha1.AutoscalerResources{CPUs: &zero}})
	if l.Min.CPUs != 1 || l.Min.MemoryBytes != 1<<30 || l.Max.CPUs != 0 {
		t.Errorf("limits = %+v, want at least 1 vCPU and 1Gi, no maximum", l)
	}
}

// startsRecorder is a SampleSource with no samples that records the
// starts it was asked for.
type startsRecorder struct{ starts []time.Time }

func (r *startsRecorder) Samples(_ context.Context, _, _ string, start, _ time.Time) ([]Sample, error) {
	r.starts = append(r.starts, start)
	return nil, nil
}

// TestReadsNeverStartBeforeTheWindow: a VM that records no sample (stopped,
// so its zeros are dropped) does not hold the read mark back: a pass 40
// days later reads only the window, which the store still keeps.
func TestReadsNeverStartBeforeTheWindow(t *testing.T) {
	src := &startsRecorder{}
	window := 8 * 24 * time.Hour
	a := New(Config{Samples: src, Window: window, NewRecommender: rightsizing.NewVM})
	vma := &v1alpha1.VirtualMachineAutoscaler{ObjectMeta: metav1.ObjectMeta{UID: "u"}}
	vm := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns"}}
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{now, now.Add(40 * 24 * time.Hour)} {
		if _, err := a.feed(context.Background(), vma, vm, at); err != nil {
			t.Fatal(err)
		}
		if got := src.starts[len(src.starts)-1]; got.Before(at.Add(-window)) {
			t.Errorf("pass at %s read from %s, before the %s window", at, got, window)
		}
	}
}

// TestAVMMadeAgainIsReadAfresh: a VM deleted and made again under its name
// gets a recommender of its own, which reads the history from its creation,
// not on from the old one's.
func TestAVMMadeAgainIsReadAfresh(t *testing.T) {
	src := &startsRecorder{}
	a := New(Config{Samples: src, Window: 8 * 24 * time.Hour, NewRecommender: rightsizing.NewVM})
	vma := &v1alpha1.VirtualMachineAutoscaler{ObjectMeta: metav1.ObjectMeta{UID: "u"}}
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	old := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", UID: "old",
		CreationTimestamp: metav1.NewTime(now.Add(-30 * 24 * time.Hour))}}
	if _, err := a.feed(context.Background(), vma, old, now); err != nil {
		t.Fatal(err)
	}
	again := &kvv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", UID: "new",
		CreationTimestamp: metav1.NewTime(now.Add(50 * time.Minute))}}
	t2, err := a.feed(context.Background(), vma, again, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := src.starts[1]; !got.Equal(again.CreationTimestamp.Time) {
		t.Errorf("the VM made again was read from %s, want from its creation %s", got, again.CreationTimestamp.Time)
	}
	if t1, _ := a.feed(context.Background(), vma, old, now.Add(time.Hour)); t1 == t2 {
		t.Error("the old VM and the new one share a recommender")
	}
	// A pass that finds the new one alone forgets the old one's.
	a.forgetOthers(vma.UID, []*kvv1.VirtualMachine{again})
	if _, kept := a.vms[vmKey{vma.UID, old.UID}]; kept || len(a.vms) != 1 {
		t.Errorf("recommenders %v after the old VM went, want the new one's alone", a.vms)
	}
}
