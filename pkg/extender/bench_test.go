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
// sends it) on fleets of the sandbox's shape. The API calls go to a fake
// clientset: this isolates the extender from the API server.
func BenchmarkVerbs(b *testing.B) {
	for _, n := range []int{500, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			kube := fake.NewClientset()
			carbonProvider, err := carbon.NewFixedProvider(clock.RealClock{}, map[string]float64{"ES": 150, "US-CAL-CISO": 200, "NO": 30})
			if err != nil {
				b.Fatal(err)
			}
			e, err := New(Config{Kube: kube, HyperSDK: hypersdkfake.NewClientset(), Metrics: metricsfake.NewSimpleClientset(),
				Carbon: carbonProvider, Prices: cost.DefaultModel(), Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			names := make([]string, 0, n)
			for _, fn := range fleet.Plan(n) {
				node, err := fn.Object()
				if err != nil {
					b.Fatal(err)
				}
				e.nodes.setNode(node)
				names = append(names, node.Name)
			}
			e.synced = nil // caches filled by hand
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
				args.NodeNames = filtered.NodeNames
				var prio extenderv1.HostPriorityList
				post(b, h, "/prioritize", args, &prio)
				if _, err := kube.CoreV1().Pods("ns").Create(context.Background(), pod.DeepCopy(), metav1.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
				var bind extenderv1.ExtenderBindingResult
				post(b, h, "/bind", extenderv1.ExtenderBindingArgs{PodName: pod.Name, PodNamespace: "ns", PodUID: pod.UID, Node: prio[0].Host}, &bind)
				if bind.Error != "" {
					b.Fatal(bind.Error)
				}
			}
		})
	}
}

func post(b *testing.B, h http.Handler, path string, in, out any) {
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
