package autoscaler

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
	kvfake "kubevirt.io/client-go/kubevirt/fake"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	hyperfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
)

// TestTargetReadFailureKeepsRecentChanges: a pass that cannot read its
// target keeps the recent changes that cooldown and the daily limit count;
// a target that is gone takes them with it. Neither moves lastEvaluated,
// which the recommendation subresource shows as the targets' age.
func TestTargetReadFailureKeepsRecentChanges(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 10, 5, 0, 0, time.UTC)
	vma := &v1alpha1.VirtualMachineAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec:       v1alpha1.VirtualMachineAutoscalerSpec{TargetRef: v1alpha1.AutoscalerTargetRef{Kind: "VirtualMachine", Name: "vm"}},
		Status: v1alpha1.VirtualMachineAutoscalerStatus{VirtualMachines: []v1alpha1.VirtualMachineRecommendationStatus{{
			Name: "vm", Changes: []metav1.Time{metav1.NewTime(now.Add(-5 * time.Minute))}}},
			LastEvaluated: &metav1.Time{Time: now.Add(-time.Hour)}},
	}
	for _, tc := range []struct {
		name   string
		err    error
		kept   bool
		reason string
	}{
		{"a read that fails", errors.New("etcdserver: request timed out"), true, "TargetUnreadable"},
		{"a target that is gone", nil, false, "TargetNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hyper := hyperfake.NewSimpleClientset(vma.DeepCopy())
			kv := kvfake.NewSimpleClientset() // no VM called vm: NotFound
			if tc.err != nil {
				kv.PrependReactor("get", "virtualmachines", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.err
				})
			}
			a := New(Config{HyperSDK: hyper, KubeVirt: kv, Clock: testingclock.NewFakeClock(now)})
			if err := a.sync(ctx, vma); err != nil {
				t.Fatal(err)
			}
			got, err := hyper.HypersdkV1alpha1().VirtualMachineAutoscalers("ns").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if kept := len(got.Status.VirtualMachines) == 1 && len(got.Status.VirtualMachines[0].Changes) == 1; kept != tc.kept {
				t.Errorf("entries %+v, want the recent change kept: %v", got.Status.VirtualMachines, tc.kept)
			}
			// Nothing was recommended at this pass.
			if !got.Status.LastEvaluated.Equal(vma.Status.LastEvaluated) {
				t.Errorf("lastEvaluated %v, want the last recommendation's %v", got.Status.LastEvaluated, vma.Status.LastEvaluated)
			}
			if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Reason != tc.reason {
				t.Errorf("conditions %+v, want reason %s", got.Status.Conditions, tc.reason)
			}
		})
	}
}
