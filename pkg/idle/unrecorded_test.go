package idle

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
	"github.com/hypersdk/hypersdk/pkg/autoscaler"
	"github.com/hypersdk/hypersdk/pkg/rightsizing"
)

// noHistory is a history with no sample of any VM, as when nothing
// records it.
type noHistory struct{}

func (noHistory) Samples(context.Context, string, string, time.Time, time.Time) ([]autoscaler.Sample, error) {
	return nil, nil
}

// gappy is an idle VM's history at every minute of the last two days but
// for four hours, as when the recorder was down.
type gappy struct{ now time.Time }

func (g gappy) Samples(_ context.Context, _, _ string, start, end time.Time) ([]autoscaler.Sample, error) {
	var out []autoscaler.Sample
	for at := start.Truncate(time.Minute).Add(time.Minute); !at.After(end); at = at.Add(time.Minute) {
		if at.After(g.now.Add(-10*time.Hour)) && at.Before(g.now.Add(-6*time.Hour)) {
			continue
		}
		out = append(out, autoscaler.Sample{Sample: rightsizing.Sample{Time: at, CPUCores: 0.01}, Allocation: rightsizing.Resources{CPUs: 2}})
	}
	return out, nil
}

// TestUnrecordedVMsAreNotJudged: a VM running all through the window with
// not one sample, or with hours of it unrecorded, makes the policy say its
// signal is missing, not "0 idle VMs"; a VM that has only just started
// does not.
func TestUnrecordedVMsAreNotJudged(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	policy := &v1alpha1.IdleVMPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 1},
		Spec: v1alpha1.IdleVMPolicySpec{Window: &metav1.Duration{Duration: 24 * time.Hour}, CPUThresholdPercent: 5}}
	vm := func(name string, readySince time.Time) *v1alpha1.VirtualMachine {
		return &v1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
			Status: v1alpha1.VirtualMachineStatus{Phase: v1alpha1.VirtualMachineRunning, Conditions: []metav1.Condition{{
				Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.NewTime(readySince)}}}}
	}
	for _, tc := range []struct {
		name    string
		vm      *v1alpha1.VirtualMachine
		history autoscaler.SampleSource
		ready   metav1.ConditionStatus
	}{
		{"running for two days", vm("old", now.Add(-48*time.Hour)), noHistory{}, metav1.ConditionFalse},
		{"started a minute ago", vm("new", now.Add(-time.Minute)), noHistory{}, metav1.ConditionTrue},
		{"running for two days, four hours unrecorded", vm("old", now.Add(-48*time.Hour)), gappy{now}, metav1.ConditionFalse},
		{"started eight hours ago, recorded since", vm("new", now.Add(-8*time.Hour)), gappy{now.Add(-8 * time.Hour)}, metav1.ConditionTrue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hyper := hyperfake.NewSimpleClientset(policy.DeepCopy(), tc.vm)
			f, err := New(Config{HyperSDK: hyper, Samples: tc.history, SampleStep: time.Minute, Clock: clocktesting.NewFakeClock(now)})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := f.sync(ctx, policy); err != nil {
				t.Fatal(err)
			}
			got, err := hyper.HypersdkV1alpha1().IdleVMPolicies("ns").Get(ctx, "p", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := meta.FindStatusCondition(got.Status.Conditions, ConditionReady)
			if c == nil || c.Status != tc.ready {
				t.Fatalf("Ready %+v, want %s", c, tc.ready)
			}
			if tc.ready == metav1.ConditionFalse && (c.Reason != "SignalMissing" || !strings.Contains(c.Message, tc.vm.Name)) {
				t.Errorf("Ready %+v: want SignalMissing naming %s", c, tc.vm.Name)
			}
		})
	}
}
