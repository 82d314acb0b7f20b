package placementaudit

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// TestForgetsPodsDeletedUnseen: a pod whose deletion the informer missed
// (it comes as a tombstone after a relist) is forgotten like any other, so
// the pods reported do not grow without end.
func TestForgetsPodsDeletedUnseen(t *testing.T) {
	a := &Auditor{seen: map[types.UID]bool{"a": true, "b": true}}
	a.forget(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "a"}})
	a.forget(cache.DeletedFinalStateUnknown{Key: "ns/b", Obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "b"}}})
	if len(a.seen) != 0 {
		t.Errorf("pods still remembered after their deletion: %v", a.seen)
	}
}
