// Package kubevirtsim simulates what KubeVirt does below the Kubernetes API,
// so every HyperSDK feature can be shown end to end where no VM can run. It
// follows KubeVirt's object model, names and phases: a VirtualMachine gets a
// VirtualMachineInstance, which gets a virt-launcher pod that the real
// kube-scheduler places and kwok runs; migrations move an instance to a new
// pod; snapshots, restores, clones and pools act on the same objects as
// virt-controller. It talks to the cluster only through the API server.
package kubevirtsim

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/guest"
	"github.com/hypersdk/hypersdk/pkg/sandbox/simclock"
)

// Labels KubeVirt puts on virt-launcher pods.
const (
	MigrationJobLabel   = "kubevirt.io/migrationJobUID"
	launcherImage       = "quay.io/kubevirt/virt-launcher:v1.9.0"
	launcherContainer   = "compute"
	defaultStepDelay    = 200 * time.Millisecond
	defaultWorkers      = 4
	memoryOverheadBytes = 256 << 20
)

// Config of a Simulator.
type Config struct {
	Kube     kubernetes.Interface
	KubeVirt kubevirt.Clientset
	// CDI and VolumeSnapshots are the storage APIs KubeVirt's disks use.
	CDI             kubevirt.CDIClientset
	VolumeSnapshots kubevirt.VolumeSnapshotClientset
	// Clock stamps conditions and timestamps; the real clock when nil.
	Clock clock.Clock
	// SimClock is the simulated time load profiles follow.
	SimClock simclock.Clock
	// StepDelay is how long a simulated migration or hotplug step takes.
	StepDelay time.Duration
	// LiveUpdate is KubeVirt's vmRolloutStrategy LiveUpdate: CPU and memory
	// changes within maxSockets / maxGuest are hotplugged instead of
	// waiting for a restart.
	LiveUpdate bool
	// Workers per controller.
	Workers int
}

// Simulator runs the simulated KubeVirt controllers.
type Simulator struct {
	cfg Config

	kubeInformers    informers.SharedInformerFactory
	clusterInformers informers.SharedInformerFactory
	pods             corelisters.PodLister
	nodes            corelisters.NodeLister
	nodeInformer     cache.SharedIndexInformer
	podInformer      cache.SharedIndexInformer
	vmInformer       cache.SharedIndexInformer
	vmiInformer      cache.SharedIndexInformer
	migInformer      cache.SharedIndexInformer
	snapshotInformer cache.SharedIndexInformer
	restoreInformer  cache.SharedIndexInformer
	cloneInformer    cache.SharedIndexInformer
	poolInformer     cache.SharedIndexInformer
	pvcInformer      cache.SharedIndexInformer
	pvInformer       cache.SharedIndexInformer
	dvInformer       cache.SharedIndexInformer
	classInformer    cache.SharedIndexInformer

	controllers []*controller
	vms         *controller
	vmis        *controller
	migrations  *controller
	snapshots   *controller
	restores    *controller
	clones      *controller
	pools       *controller
	claims      *controller
	volumes     *controller
	dataVolumes *controller
	profiles    *controller

	usbMu sync.Mutex
	// usbBuses are the USB buses of VMIs with client USB redirection, by
	// VMI UID: a restarted VMI gets an empty bus.
	usbBuses map[types.UID]*guest.USBBus
}

// New returns a simulator; Run starts it.
func New(cfg Config) *Simulator {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.StepDelay == 0 {
		cfg.StepDelay = defaultStepDelay
	}
	if cfg.Workers == 0 {
		cfg.Workers = defaultWorkers
	}
	s := &Simulator{cfg: cfg, usbBuses: map[types.UID]*guest.USBBus{}}
	// Only virt-launcher pods matter to KubeVirt.
	s.kubeInformers = informers.NewSharedInformerFactoryWithOptions(cfg.Kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = kubevirt.LauncherLabel + "=" + kubevirt.LauncherLabelValue
		}))
	s.podInformer = s.kubeInformers.Core().V1().Pods().Informer()
	s.pods = s.kubeInformers.Core().V1().Pods().Lister()
	// Nodes and storage come from a factory without the launcher-pod filter.
	nodeFactory := informers.NewSharedInformerFactory(cfg.Kube, 0)
	s.clusterInformers = nodeFactory
	s.nodeInformer = nodeFactory.Core().V1().Nodes().Informer()
	s.nodes = nodeFactory.Core().V1().Nodes().Lister()
	s.pvcInformer = nodeFactory.Core().V1().PersistentVolumeClaims().Informer()
	s.pvInformer = nodeFactory.Core().V1().PersistentVolumes().Informer()
	s.classInformer = nodeFactory.Storage().V1().StorageClasses().Informer()
	utilruntime.Must(s.podInformer.AddIndexers(cache.Indexers{byVMI: podByVMI}))
	s.vmInformer = kubevirt.NewVirtualMachineInformer(cfg.KubeVirt, 0)
	s.vmiInformer = kubevirt.NewVirtualMachineInstanceInformer(cfg.KubeVirt, 0)
	s.migInformer = kubevirt.NewMigrationInformer(cfg.KubeVirt, 0)
	s.snapshotInformer = kubevirt.NewSnapshotInformer(cfg.KubeVirt, 0)
	s.restoreInformer = kubevirt.NewRestoreInformer(cfg.KubeVirt, 0)
	s.cloneInformer = kubevirt.NewCloneInformer(cfg.KubeVirt, 0)
	s.poolInformer = kubevirt.NewPoolInformer(cfg.KubeVirt, 0)
	s.dvInformer = kubevirt.NewDataVolumeInformer(cfg.CDI, 0)

	s.vms = s.newController("vm", s.syncVM)
	s.vmis = s.newController("vmi", s.syncVMI)
	s.migrations = s.newController("migration", s.syncMigration)
	s.snapshots = s.newController("snapshot", s.syncSnapshot)
	s.restores = s.newController("restore", s.syncRestore)
	s.clones = s.newController("clone", s.syncClone)
	s.pools = s.newController("pool", s.syncPool)
	s.claims = s.newController("claim", s.syncClaim)
	s.volumes = s.newController("volume", s.syncVolume)
	s.dataVolumes = s.newController("datavolume", s.syncDataVolume)
	s.profiles = s.newController("storageprofile", s.syncStorageProfile)
	s.onChange(s.classInformer, s.profiles.enqueue)

	s.onChange(s.pvcInformer, func(obj interface{}) {
		s.claims.enqueue(obj)
		enqueueOwner(s.dataVolumes, obj, "DataVolume")
	})
	s.onChange(s.pvInformer, s.volumes.enqueue)
	s.onChange(s.dvInformer, func(obj interface{}) {
		s.dataVolumes.enqueue(obj)
		enqueueOwner(s.vms, obj, "VirtualMachine")
	})

	s.onChange(s.vmInformer, func(obj interface{}) {
		s.vms.enqueue(obj)
		s.enqueuePoolOf(obj)
	})
	s.onChange(s.snapshotInformer, s.snapshots.enqueue)
	s.onChange(s.restoreInformer, s.restores.enqueue)
	s.onChange(s.cloneInformer, s.clones.enqueue)
	s.onChange(s.poolInformer, s.pools.enqueue)
	s.onChange(s.vmiInformer, func(obj interface{}) {
		s.vmis.enqueue(obj)
		s.vms.enqueue(obj) // a VMI has its VM's name
		s.enqueueMigrationsOf(obj)
	})
	s.onChange(s.podInformer, func(obj interface{}) {
		if key, ok := vmiKeyOfPod(obj); ok {
			s.vmis.queue.Add(key)
			s.enqueueMigrationsOfKey(key)
		}
	})
	s.onChange(s.migInformer, s.migrations.enqueue)
	return s
}

// Run runs the controllers until ctx ends.
func (s *Simulator) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("component", "kubevirt-simulator")
	ctx = klog.NewContext(ctx, logger)
	s.kubeInformers.Start(ctx.Done())
	kubevirtInformers := []cache.SharedIndexInformer{s.vmInformer, s.vmiInformer, s.migInformer,
		s.snapshotInformer, s.restoreInformer, s.cloneInformer, s.poolInformer}
	s.clusterInformers.Start(ctx.Done())
	kubevirtInformers = append(kubevirtInformers, s.dvInformer)
	synced := []cache.InformerSynced{s.podInformer.HasSynced, s.nodeInformer.HasSynced, s.pvcInformer.HasSynced,
		s.pvInformer.HasSynced, s.classInformer.HasSynced}
	for _, inf := range kubevirtInformers {
		go inf.RunWithContext(ctx)
		synced = append(synced, inf.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("KubeVirt simulator: informers did not sync: %w", ctx.Err())
	}
	logger.Info("KubeVirt simulator running")
	var wg sync.WaitGroup
	for _, c := range s.controllers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx, s.cfg.Workers)
		}()
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// enqueueOwner queues the controlling owner of kind of obj on c.
func enqueueOwner(c *controller, obj interface{}, kind string) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(m); ref != nil && ref.Kind == kind {
		c.queue.Add(cache.ObjectName{Namespace: m.GetNamespace(), Name: ref.Name})
	}
}

func (s *Simulator) onChange(inf cache.SharedIndexInformer, fn func(interface{})) {
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    fn,
		UpdateFunc: func(_, obj interface{}) { fn(obj) },
		DeleteFunc: fn,
	})
	utilruntime.Must(err)
}

const byVMI = "byVMI"

// podByVMI indexes launcher pods by namespace/VMI name.
func podByVMI(obj interface{}) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if name := pod.Labels[kubevirt.VMNameLabel]; name != "" {
		return []string{pod.Namespace + "/" + name}, nil
	}
	return nil, nil
}

func vmiKeyOfPod(obj interface{}) (cache.ObjectName, bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels[kubevirt.VMNameLabel] == "" {
		return cache.ObjectName{}, false
	}
	return cache.ObjectName{Namespace: pod.Namespace, Name: pod.Labels[kubevirt.VMNameLabel]}, true
}

// launcherPods returns the virt-launcher pods of a VMI.
func (s *Simulator) launcherPods(namespace, vmi string) []*corev1.Pod {
	objs, err := s.podInformer.GetIndexer().ByIndex(byVMI, namespace+"/"+vmi)
	if err != nil {
		return nil
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		pods = append(pods, o.(*corev1.Pod))
	}
	return pods
}

// cacheCurrent reports whether the API still has the version of obj that
// the cache gave a pass; get reads it from the API. A pass asks before it
// creates a pod, which an update failing on a stale version cannot undo.
func cacheCurrent[T metav1.Object](ctx context.Context, get func(context.Context, string, metav1.GetOptions) (T, error), obj metav1.Object) (bool, error) {
	fresh, err := get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	return fresh.GetResourceVersion() == obj.GetResourceVersion(), nil
}

// controller is one work queue with its sync function.
type controller struct {
	name  string
	queue workqueue.TypedRateLimitingInterface[cache.ObjectName]
	sync  func(ctx context.Context, key cache.ObjectName) error
}

func (s *Simulator) newController(name string, sync func(context.Context, cache.ObjectName) error) *controller {
	c := &controller{
		name: name,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[cache.ObjectName](20*time.Millisecond, 5*time.Second),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "kubevirt-sim-" + name}),
		sync: sync,
	}
	s.controllers = append(s.controllers, c)
	return c
}

func (c *controller) enqueue(obj interface{}) {
	key, err := cache.DeletionHandlingObjectToName(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

func (c *controller) run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.work, time.Second)
	}
	<-ctx.Done()
}

func (c *controller) work(ctx context.Context) {
	for {
		key, quit := c.queue.Get()
		if quit {
			return
		}
		if err := c.sync(ctx, key); err != nil {
			klog.FromContext(ctx).V(2).Info("Retrying", "controller", c.name, "key", key.String(), "err", err)
			c.queue.AddRateLimited(key)
		} else {
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

// after requeues key once d has passed: simulated work that takes time.
func (c *controller) after(key cache.ObjectName, d time.Duration) {
	c.queue.AddAfter(key, d)
}
