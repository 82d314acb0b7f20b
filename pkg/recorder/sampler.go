package recorder

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/carbon"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// SamplerConfig says where a Sampler reads from.
type SamplerConfig struct {
	Kube     kubernetes.Interface
	KubeVirt kubevirt.Clientset
	Metrics  metricsclient.Interface
	// Carbon gives zone intensities; nil records zero.
	Carbon carbon.Provider
	// Prices prices VMs on their node.
	Prices cost.Model
}

// Sampler reads what every VM uses, is given, where it runs, what that
// zone's grid emits and what the VM costs, at one moment: the history
// recorder stores its samples, and the metrics APIs for autoscalers serve
// them, so both tell the same story.
type Sampler struct {
	cfg SamplerConfig

	vms, vmis cache.SharedIndexInformer
	nodes     corelisters.NodeLister
	pods      corelisters.PodLister
	factories []informers.SharedInformerFactory
	synced    []cache.InformerSynced
}

// NewSampler checks cfg and builds a sampler; Start starts its caches.
func NewSampler(cfg SamplerConfig) (*Sampler, error) {
	if cfg.Kube == nil || cfg.KubeVirt == nil || cfg.Metrics == nil {
		return nil, errors.New("sampler: Kubernetes, KubeVirt and metrics clients are required")
	}
	nodes := informers.NewSharedInformerFactory(cfg.Kube, 0)
	launchers := informers.NewSharedInformerFactoryWithOptions(cfg.Kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = kubevirt.LauncherSelector }))
	nodeInf, podInf := nodes.Core().V1().Nodes(), launchers.Core().V1().Pods()
	s := &Sampler{
		cfg:       cfg,
		vms:       kubevirt.NewVirtualMachineInformer(cfg.KubeVirt, 0),
		vmis:      kubevirt.NewVirtualMachineInstanceInformer(cfg.KubeVirt, 0),
		nodes:     nodeInf.Lister(),
		pods:      podInf.Lister(),
		factories: []informers.SharedInformerFactory{nodes, launchers},
	}
	s.synced = []cache.InformerSynced{s.vms.HasSynced, s.vmis.HasSynced,
		nodeInf.Informer().HasSynced, podInf.Informer().HasSynced}
	return s, nil
}

// Start runs the caches until ctx ends and waits for them to fill.
func (s *Sampler) Start(ctx context.Context) error {
	go s.vms.Run(ctx.Done())
	go s.vmis.Run(ctx.Done())
	for _, f := range s.factories {
		f.Start(ctx.Done())
	}
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return fmt.Errorf("sampler caches did not sync: %w", ctx.Err())
	}
	return nil
}

// HasSynced reports whether the caches have filled.
func (s *Sampler) HasSynced() bool {
	for _, synced := range s.synced {
		if !synced() {
			return false
		}
	}
	return true
}

// VirtualMachine returns the cached KubeVirt VM, for its labels and owners.
func (s *Sampler) VirtualMachine(namespace, name string) (*kvv1.VirtualMachine, bool) {
	obj, ok, err := s.vms.GetStore().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	vm, ok := obj.(*kvv1.VirtualMachine)
	return vm, ok
}

// Carbon is the configured carbon intensity provider, nil when none is.
func (s *Sampler) Carbon() carbon.Provider { return s.cfg.Carbon }

// LauncherPods are the cached virt-launcher pods in namespace that selector
// matches.
func (s *Sampler) LauncherPods(namespace string, selector labels.Selector) ([]*corev1.Pod, error) {
	return s.pods.Pods(namespace).List(selector)
}
