package extender

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"

	hypersdkfake "github.com/hypersdk/hypersdk/generated/clientset/versioned/fake"
	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"k8s.io/utils/clock"
)

// BenchmarkVerbs measures the extender's own cost per pod (filter,
// prioritize and bind through its HTTP handler, with JSON as kube-scheduler
// sends it) on fleets of the sandbox's shape, choosing in filter or not
// (then kube-scheduler skips prioritize, as here). The API calls go to a
// fake clientset: this isolates the extender from the API server.
func BenchmarkVerbs(b *testing.B) {
	for _, tc := range []struct {
		nodes  int
		choose bool
	}{{500, false}, {500, true}, {5000, false}, {5000, true}} {
		n := tc.nodes
		b.Run(fmt.Sprintf("nodes=%d/choose-in-filter=%t", n, tc.choose), func(b *testing.B) {
			e, kube, names := fleetExtender(b, n, tc.choose)
			h := e.Handler(prometheus.NewRegistry())
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "virt-launcher-x", Namespace: "ns",
				Labels: map[string]string{"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": "x"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "compute", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2304Mi"),
						"devices.kubevirt.io/kvm": resource.MustParse("1")}}}}}}
			b.ResetTimer()
			for i := range b.N {
				pod.UID = k8stypes.UID(fmt.Sprint("uid-", i))
				pod.Name = fmt.Sprint("virt-launcher-", i)
				args := extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names}
				var filtered extenderv1.ExtenderFilterResult
				post(b, h, "/filter", args, &filtered)
				node := (*filtered.NodeNames)[0]
				if len(*filtered.NodeNames) > 1 {
					args.NodeNames = filtered.NodeNames
					var prio extenderv1.HostPriorityList
					post(b, h, "/prioritize", args, &prio)
					node = prio[0].Host
				}
				if _, err := kube.CoreV1().Pods("ns").Create(context.Background(), pod.DeepCopy(), metav1.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
				var bind extenderv1.ExtenderBindingResult
				post(b, h, "/bind", extenderv1.ExtenderBindingArgs{PodName: pod.Name, PodNamespace: "ns", PodUID: pod.UID, Node: node}, &bind)
				if bind.Error != "" {
					b.Fatal(bind.Error)
				}
			}
		})
	}
}

// BenchmarkPluginCycle measures one pod's scheduling cycle as
// hypersdk-scheduler's plugin runs it (a Cycle: Filter on the nodes
// kube-scheduler visits until it has found enough feasible ones, then
// Score over those), against the extender's verbs called in process (as
// the plugin did before Cycle: filter evaluating every node, then
// prioritize's ranking of the kept ones). Kept: kube-scheduler's default
// share for the fleet's size (50% - nodes/125, at least 100 nodes), as
// percentageOfNodesToScore leaves them. The visited nodes are the kept
// ones and the infeasible nodes among those kube-scheduler went through on
// the way (here, in fleet order).
func BenchmarkPluginCycle(b *testing.B) {
	for _, n := range []int{500, 5000} {
		e, _, names := fleetExtender(b, n, false)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "virt-launcher-x", Namespace: "ns",
			Labels: map[string]string{"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": "x"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "compute", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2304Mi")}}}}}}
		ctx := context.Background()
		res := e.Filter(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
		share := max(50-n/125, 5)
		want := min(max(n*share/100, min(100, n)), len(*res.NodeNames))
		var visited, kept []string
		for _, name := range names {
			if len(kept) == want {
				break
			}
			visited = append(visited, name)
			if _, failed := res.FailedNodes[name]; !failed {
				kept = append(kept, name)
			}
		}
		for _, mode := range []string{"cycle", "extender-verbs"} {
			b.Run(fmt.Sprintf("nodes=%d/visited=%d/scored=%d/%s", n, len(visited), len(kept), mode), func(b *testing.B) {
				b.ReportAllocs()
				for i := range b.N {
					pod.UID = k8stypes.UID(fmt.Sprint("uid-", i))
					if mode == "cycle" {
						c := e.NewCycle(ctx, pod)
						for _, name := range visited {
							c.Filter(name)
						}
						c.Score(kept)
					} else {
						e.Filter(ctx, &extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
						e.score(ctx, pod, kept)
					}
				}
			})
		}
	}
}

// vmPod is a virt-launcher pod in namespace ns with the UID "uid-<name>",
// its compute container requesting requests.
func vmPod(name string, requests corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: k8stypes.UID("uid-" + name),
		Labels: map[string]string{"kubevirt.io": "virt-launcher"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "compute", Resources: corev1.ResourceRequirements{Requests: requests}}}}}
}

// fleetExtender is an extender over the sandbox's fleet of n nodes, with
// fixed carbon intensities and fake clients, its caches filled by hand.
func fleetExtender(tb testing.TB, n int, choose bool) (*Extender, *fake.Clientset, []string) {
	tb.Helper()
	kube := fake.NewClientset()
	carbonProvider, err := carbon.NewFixedProvider(clock.RealClock{}, map[string]float64{"ES": 150, "US-CAL-CISO": 200, "NO": 30})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := New(Config{Kube: kube, HyperSDK: hypersdkfake.NewClientset(), Metrics: metricsfake.NewSimpleClientset(),
		Carbon: carbonProvider, Prices: cost.DefaultModel(), Registerer: prometheus.NewRegistry(), ChooseInFilter: choose})
	if err != nil {
		tb.Fatal(err)
	}
	names := make([]string, 0, n)
	for _, fn := range fleet.Plan(n) {
		e.nodes.setNode(fn.Object())
		names = append(names, fn.Name)
	}
	e.synced = nil
	return e, kube, names
}

func post(b testing.TB, h http.Handler, path string, in, out any) {
	b.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		b.Fatal(err)
	}
}
