package schedulerplugin

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"

	hypersdkfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
	"github.com/hypersdk/hypersdk/pkg/extender"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// TestPreemptionChangesStayInTheirCopy: kube-scheduler asks the plugin to
// count pods removed from or added to a node (a preemption's victims,
// nominated pods) in a copy of the cycle state, one copy per node it
// tries; what one copy counts is not in the cycle's own state nor in
// another copy.
func TestPreemptionChangesStayInTheirCopy(t *testing.T) {
	p := &Plugin{}
	if p.PreFilterExtensions() == nil {
		t.Fatal("no PreFilterExtensions: a preemption could never find room the model counts")
	}
	launcher := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name),
			Labels: map[string]string{kubevirt.LauncherLabel: kubevirt.LauncherLabelValue}}}
	}
	node := framework.NewNodeInfo()
	node.SetNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	victim, err := framework.NewPodInfo(launcher("victim"))
	if err != nil {
		t.Fatal(err)
	}
	state := framework.NewCycleState()
	state.Write(cycleKey, &cycleState{})
	tried, other := state.Clone(), state.Clone()
	if st := p.RemovePod(context.Background(), tried, launcher("preemptor"), victim, node); !st.IsSuccess() {
		t.Fatal(st.AsError())
	}
	changes := func(s fwk.CycleState) int {
		c, err := s.Read(cycleKey)
		if err != nil {
			t.Fatal(err)
		}
		return len(c.(*cycleState).changes)
	}
	if changes(tried) != 1 || changes(state) != 0 || changes(other) != 0 {
		t.Errorf("nodes with changes: tried %d, cycle %d, other copy %d; want 1, 0, 0", changes(tried), changes(state), changes(other))
	}
}

// TestNotSyncedIsUnresolvable: before its caches are synced the plugin
// turns VM pods away as no preemption can help (DefaultPreemption would
// otherwise try every node with a cycle state PreFilter never wrote, and
// fail with an error at every attempt).
func TestNotSyncedIsUnresolvable(t *testing.T) {
	ext, err := extender.New(extender.Config{Kube: kubefake.NewClientset(), HyperSDK: hypersdkfake.NewClientset(),
		Metrics: metricsfake.NewSimpleClientset()})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns",
		Labels: map[string]string{kubevirt.LauncherLabel: kubevirt.LauncherLabelValue}}}
	_, st := (&Plugin{ext: ext}).PreFilter(context.Background(), framework.NewCycleState(), pod, nil)
	if st.Code() != fwk.UnschedulableAndUnresolvable {
		t.Errorf("unsynced: %v, want UnschedulableAndUnresolvable", st)
	}
}
