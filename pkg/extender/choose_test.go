package extender

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"

	"github.com/hypersdk/hypersdk/pkg/placement"
	"github.com/hypersdk/hypersdk/pkg/placementrecord"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
)

// TestChooseInFilter goes through the HTTP handler as kube-scheduler does:
// a VM pod without soft preferences gets the model's best node alone from
// filter, and its bind records the whole evaluation; a pod with a
// preference, or a node with a PreferNoSchedule taint it does not
// tolerate, leaves the ranking to prioritize.
func TestChooseInFilter(t *testing.T) {
	e, kube, names := fleetExtender(t, 30, true)
	bound := recordBindings(kube)
	h := e.Handler(prometheus.NewRegistry())
	newPod := func(name string) *corev1.Pod {
		return vmPod(name, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"),
			"devices.kubevirt.io/kvm": resource.MustParse("1")})
	}
	filter := func(pod *corev1.Pod, names []string) []string {
		t.Helper()
		var res extenderv1.ExtenderFilterResult
		post(t, h, "/filter", extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names}, &res)
		if res.Error != "" {
			t.Fatal(res.Error)
		}
		return *res.NodeNames
	}

	plain := newPod("plain")
	best := e.evaluate(context.Background(), plain, names)
	// The filter rules out the spot nodes, fallbacks while others fit.
	best.decision.Scores = slices.DeleteFunc(best.decision.Scores, func(s placement.NodeScore) bool { return s.SpotFallback })
	if len(best.decision.Scores) < 4 {
		t.Fatalf("want a field of feasible nodes, got %d", len(best.decision.Scores))
	}
	got := filter(plain, names)
	if len(got) != 1 || got[0] != best.decision.Scores[0].Node {
		t.Fatalf("filter kept %v, want only the best node %s", got, best.decision.Scores[0].Node)
	}
	if _, err := kube.CoreV1().Pods("ns").Create(context.Background(), plain.DeepCopy(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var res extenderv1.ExtenderBindingResult
	post(t, h, "/bind", extenderv1.ExtenderBindingArgs{PodName: plain.Name, PodNamespace: "ns", PodUID: plain.UID, Node: got[0]}, &res)
	if res.Error != "" {
		t.Fatal(res.Error)
	}
	if len(*bound) != 1 || (*bound)[0].Target.Name != got[0] {
		t.Fatalf("bindings %+v, want one to %s", *bound, got[0])
	}
	d, ok, err := placementrecord.Decode((*bound)[0].Annotations)
	if err != nil || !ok {
		t.Fatalf("decision annotation: ok %t, %v", ok, err)
	}
	if d.Node != got[0] || len(d.Candidates) != DefaultCandidates || d.Candidates[0].Node != got[0] ||
		d.Candidates[1].Node != best.decision.Scores[1].Node {
		t.Fatalf("recorded decision %+v, want the %d best of the filter's evaluation", d, DefaultCandidates)
	}

	preferring := newPod("preferring")
	preferring.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 10,
			Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "topology.kubernetes.io/region", Operator: corev1.NodeSelectorOpIn, Values: []string{"NO"}}}}}}}}
	if got := filter(preferring, names); len(got) != len(best.decision.Scores) {
		t.Errorf("pod with a preferred node affinity: filter kept %d nodes, want all %d feasible", len(got), len(best.decision.Scores))
	}
	spreading := newPod("spreading")
	spreading.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1,
		TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway}}
	if got := filter(spreading, names); len(got) != len(best.decision.Scores) {
		t.Errorf("pod with a soft topology spread: filter kept %d nodes, want all", len(got))
	}

	// A PreferNoSchedule taint among the candidates is kube-scheduler's to
	// weigh, unless the pod tolerates it.
	var tainted *corev1.Node
	for _, fn := range fleet.Plan(30) {
		if fn.Name == names[0] {
			tainted = fn.Object()
		}
	}
	tainted.Spec.Taints = []corev1.Taint{{Key: "maintenance", Value: "soon", Effect: corev1.TaintEffectPreferNoSchedule}}
	e.nodes.setNode(tainted)
	if got := filter(newPod("untolerating"), names); len(got) != len(best.decision.Scores) {
		t.Errorf("untolerated PreferNoSchedule taint: filter kept %d nodes, want all", len(got))
	}
	tolerating := newPod("tolerating")
	tolerating.Spec.Tolerations = []corev1.Toleration{{Key: "maintenance", Operator: corev1.TolerationOpExists}}
	if got := filter(tolerating, names); len(got) != 1 {
		t.Errorf("tolerated PreferNoSchedule taint: filter kept %d nodes, want the best alone", len(got))
	}
}

// TestFailedBindIsCounted: a bind that fails is answered (kube-scheduler
// reads the error from the result) but counted as failed, not ok: with an
// ignorable extender kube-scheduler then binds the pod without HyperSDK.
func TestFailedBindIsCounted(t *testing.T) {
	e, _, names := fleetExtender(t, 3, false)
	h := e.Handler(prometheus.NewRegistry())
	var res extenderv1.ExtenderBindingResult
	post(t, h, "/bind", extenderv1.ExtenderBindingArgs{PodName: "gone", PodNamespace: "ns", PodUID: "u", Node: names[0]}, &res)
	if res.Error == "" {
		t.Fatal("bind of a pod that does not exist: no error")
	}
	if failed, ok := testutil.ToFloat64(e.metrics.requests.WithLabelValues("bind", "failed")), testutil.ToFloat64(e.metrics.requests.WithLabelValues("bind", "ok")); failed != 1 || ok != 0 {
		t.Errorf("bind requests: %v failed, %v ok; want 1 failed", failed, ok)
	}
}

// TestBindAfterAnotherAttemptUsesThatAttempt: a scheduling attempt that
// filtered and prioritized but never bound (a PreBind failed) leaves its
// decision behind; the next attempt, filtered to one node (so not
// prioritized), binds with its own evaluation, not the earlier one's.
func TestBindAfterAnotherAttemptUsesThatAttempt(t *testing.T) {
	e, kube, names := fleetExtender(t, 30, false)
	bound := recordBindings(kube)
	h := e.Handler(prometheus.NewRegistry())
	pod := vmPod("retried", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"),
		"devices.kubevirt.io/kvm": resource.MustParse("1")})
	if _, err := kube.CoreV1().Pods("ns").Create(context.Background(), pod.DeepCopy(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var filtered extenderv1.ExtenderFilterResult
	post(t, h, "/filter", extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names}, &filtered)
	var scores extenderv1.HostPriorityList
	post(t, h, "/prioritize", extenderv1.ExtenderArgs{Pod: pod, NodeNames: filtered.NodeNames}, &scores)
	if len(scores) < 2 {
		t.Fatalf("first attempt scored %d nodes, want several", len(scores))
	}
	only := []string{(*filtered.NodeNames)[len(*filtered.NodeNames)-1]}
	post(t, h, "/filter", extenderv1.ExtenderArgs{Pod: pod, NodeNames: &only}, &filtered)
	var res extenderv1.ExtenderBindingResult
	post(t, h, "/bind", extenderv1.ExtenderBindingArgs{PodName: pod.Name, PodNamespace: "ns", PodUID: pod.UID, Node: only[0]}, &res)
	if res.Error != "" || len(*bound) != 1 {
		t.Fatalf("bind: %q, %d bindings", res.Error, len(*bound))
	}
	d, ok, err := placementrecord.Decode((*bound)[0].Annotations)
	if err != nil || !ok {
		t.Fatalf("decision annotation: ok %t, %v", ok, err)
	}
	if len(d.Candidates) != 1 || d.Candidates[0].Node != only[0] {
		t.Errorf("recorded candidates %+v, want %s alone, the second attempt's", d.Candidates, only[0])
	}
}

// recordBindings collects the bindings created through kube.
func recordBindings(kube *fake.Clientset) *[]*corev1.Binding {
	var bound []*corev1.Binding
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "binding" {
			bound = append(bound, a.(k8stesting.CreateAction).GetObject().(*corev1.Binding))
		}
		return false, nil, nil
	})
	return &bound
}

// TestPrioritizeWithoutAPodIsTheCallersMistake: a prioritize call lacking
// the pod or the node names is a 400 counted as a bad request, not an
// extender error (a 500).
func TestPrioritizeWithoutAPodIsTheCallersMistake(t *testing.T) {
	e, _, _ := fleetExtender(t, 3, false)
	h := e.Handler(prometheus.NewRegistry())
	for _, body := range []string{`{}`, `{"pod":{"metadata":{"name":"p"}}}`} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/prioritize", bytes.NewReader([]byte(body))))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("prioritize %s: %d %s, want 400", body, rec.Code, rec.Body)
		}
	}
	if n := testutil.ToFloat64(e.metrics.requests.WithLabelValues("prioritize", "bad_request")); n != 2 {
		t.Errorf("%v prioritize calls counted as bad requests, want 2", n)
	}
}
