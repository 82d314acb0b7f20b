// Package placementaudit notices VMs placed without HyperSDK's scheduler
// extender. The extender is ignorable, so when it is down kube-scheduler
// places virt-launcher pods on its own; this controller makes that visible
// with an event on the pod's VMI and a metric, since the extender that would
// say so is the component that is missing.
package placementaudit

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/placementrecord"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/promutil"
)

// Reason of the event on a VMI placed without the extender.
const Reason = "PlacementDegraded"

// Auditor watches virt-launcher pods.
type Auditor struct {
	kube     kubernetes.Interface
	degraded prometheus.Counter
	running  prometheus.Gauge

	mu   sync.Mutex
	seen map[types.UID]bool // degraded pods known, reported or not
}

// New returns an auditor whose metrics are registered with reg (if not nil).
func New(kube kubernetes.Interface, reg prometheus.Registerer) (*Auditor, error) {
	a := &Auditor{kube: kube, seen: map[types.UID]bool{},
		degraded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hypersdk_placement_degraded_total",
			Help: "virt-launcher pods bound without a decision of HyperSDK's scheduler extender, since this controller began.",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hypersdk_placement_degraded_pods",
			Help: "virt-launcher pods existing now that were bound without a decision of HyperSDK's scheduler extender.",
		})}
	if err := promutil.Register(reg, a.degraded, a.running); err != nil {
		return nil, fmt.Errorf("placement audit: %w", err)
	}
	return a, nil
}

// Run watches until ctx ends.
func (a *Auditor) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(a.kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = kubevirt.LauncherSelector }))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "hypersdk-controller"})
	inf := factory.Core().V1().Pods().Informer()
	check := func(obj any, listed bool) {
		if pod, ok := obj.(*corev1.Pod); ok {
			a.check(ctx, recorder, pod, listed)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    check,
		UpdateFunc: func(_, obj any) { check(obj, false) },
		DeleteFunc: func(obj any) { a.forget(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

// forget drops a deleted pod from the pods reported, also when the
// informer missed its deletion and hands over its last known state.
func (a *Auditor) forget(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		a.mu.Lock()
		delete(a.seen, pod.UID)
		a.running.Set(float64(len(a.seen)))
		a.mu.Unlock()
	}
}

// check reports a bound pod that carries no placement decision, once: when
// it is seen bound, not again at every start of the controller. A pod
// already bound in the informer's first list (listed) was reported by the
// controller before (a restart, another leader), or bound while none ran;
// the gauge counts it, the event and the counter do not.
func (a *Auditor) check(ctx context.Context, recorder record.EventRecorder, pod *corev1.Pod, listed bool) {
	if pod.Spec.NodeName == "" || !requestsKVM(pod) {
		return
	}
	if _, ok := pod.Annotations[placementrecord.Annotation]; ok {
		return
	}
	a.mu.Lock()
	if a.seen[pod.UID] {
		a.mu.Unlock()
		return
	}
	a.seen[pod.UID] = true
	a.running.Set(float64(len(a.seen)))
	a.mu.Unlock()
	if listed {
		return
	}
	a.degraded.Inc()
	msg := fmt.Sprintf("pod %s was bound to %s without HyperSDK's scheduler extender: carbon, cost, pressure and GPU topology were not considered",
		pod.Name, pod.Spec.NodeName)
	klog.FromContext(ctx).Info("Placement degraded", "pod", klog.KObj(pod), "node", pod.Spec.NodeName)
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
	for _, o := range pod.OwnerReferences {
		if o.Kind == "VirtualMachineInstance" {
			ref = &corev1.ObjectReference{Kind: o.Kind, APIVersion: kvv1.GroupVersion.String(), Namespace: pod.Namespace, Name: o.Name, UID: o.UID}
		}
	}
	recorder.Event(ref, corev1.EventTypeWarning, Reason, msg)
}

// kvmResource is what the extender manages: only pods asking for it are
// sent to the extender, so only they can be placed without it.
const kvmResource corev1.ResourceName = "devices.kubevirt.io/kvm"

func requestsKVM(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if _, ok := c.Resources.Requests[kvmResource]; ok {
			return true
		}
		if _, ok := c.Resources.Limits[kvmResource]; ok {
			return true
		}
	}
	return false
}
