package placementaudit

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

func newAuditor(t *testing.T) *Auditor {
	t.Helper()
	a, err := New(kubefake.NewClientset(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestForgetsPodsDeletedUnseen: a pod whose deletion the informer missed
// (it comes as a tombstone after a relist) is forgotten like any other, so
// the pods reported do not grow without end.
func TestForgetsPodsDeletedUnseen(t *testing.T) {
	a := newAuditor(t)
	a.seen = map[types.UID]bool{"a": true, "b": true}
	a.forget(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "a"}})
	a.forget(cache.DeletedFinalStateUnknown{Key: "ns/b", Obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "b"}}})
	if len(a.seen) != 0 || testutil.ToFloat64(a.running) != 0 {
		t.Errorf("pods still remembered after their deletion: %v, gauge %v", a.seen, testutil.ToFloat64(a.running))
	}
}

// TestABindingIsReportedOnce: a pod bound without the extender is reported
// (event and counter) by the controller that sees it bound, not again by
// the one after a restart or a change of leader, which finds it in its
// informer's first list and counts it in the gauge of degraded pods alone;
// a pod bound after that list is reported.
func TestABindingIsReportedOnce(t *testing.T) {
	pod := func(uid string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "virt-launcher-" + uid, UID: types.UID(uid)},
			Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "compute", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{kvmResource: resource.MustParse("1")}}}}},
		}
	}
	for _, tc := range []struct {
		name           string
		listed         bool // bound when the informer first listed
		events, counts int
	}{
		{"seen bound", false, 1, 1},
		{"bound in the first list", true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuditor(t)
			rec := record.NewFakeRecorder(10)
			a.check(context.Background(), rec, pod("a"), tc.listed)
			a.check(context.Background(), rec, pod("a"), false) // an update
			if len(rec.Events) != tc.events || int(testutil.ToFloat64(a.degraded)) != tc.counts || testutil.ToFloat64(a.running) != 1 {
				t.Errorf("%d events, counter %v, gauge %v; want %d, %d, 1", len(rec.Events), testutil.ToFloat64(a.degraded),
					testutil.ToFloat64(a.running), tc.events, tc.counts)
			}
			a.check(context.Background(), rec, pod("b"), false)
			if len(rec.Events) != tc.events+1 || int(testutil.ToFloat64(a.degraded)) != tc.counts+1 || testutil.ToFloat64(a.running) != 2 {
				t.Errorf("a pod bound since: %d events, counter %v, gauge %v; want %d, %d, 2", len(rec.Events),
					testutil.ToFloat64(a.degraded), testutil.ToFloat64(a.running), tc.events+1, tc.counts+1)
			}
		})
	}
}
