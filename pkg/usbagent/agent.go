// Package usbagent is hypersdk-usb-agent, which hot-plugs USB devices of
// its node into running VMs. KubeVirt cannot add a host device to a running
// instance, but it takes devices lent over client USB redirection; the
// agent is that client, on the node that has the device. HyperSDK's
// executor lists the devices on the VMI (pkg/kubevirt's hot-plug
// annotations), the agent opens one virtualmachineinstances/usbredir stream
// per device and reports each one Attached or Failed, and unplugs a device
// when it is unlisted or the instance leaves the node.
package usbagent

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// nodeNameLabel is the label KubeVirt puts on a VMI with its node's name.
const nodeNameLabel = "kubevirt.io/nodeName"

// Config is what an agent needs.
type Config struct {
	Kube     kubernetes.Interface
	KubeVirt kubevirt.Clientset
	// Dialer opens the VMIs' usbredir streams, with the agent's identity.
	Dialer console.Dialer
	// NodeName is the node the agent serves.
	NodeName string
	// Source lends the devices.
	Source Source
}

// Agent hot-plugs the devices listed on the VMIs of one node.
type Agent struct {
	cfg      Config
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[cache.ObjectName]

	mu       sync.Mutex
	sessions map[cache.ObjectName]map[string]*session
}

// session is one device lent to one instance.
type session struct {
	device hypersdk.USBDeviceRequest
	uid    types.UID
	cancel context.CancelFunc
	done   chan struct{}
	// state is the last report; empty while connecting. Guarded by Agent.mu.
	state kubevirt.USBHotplugState
	// lent says the device reached this instance, in this session or an
	// earlier one: a stream that breaks then (virt-handler or the API
	// server restarting) is lent again, retryAt on, after retries tries.
	// Guarded by Agent.mu.
	lent       bool
	retries    int
	retryAt    time.Time
	attachedAt time.Time
}

// relendSettled is how long a device lent again stays attached before its
// tries count from one again: a stream the other side drops at once is
// not lent every second for ever.
const relendSettled = time.Minute

// relendBackoff is how long a device that was lent and dropped waits
// before the retries'th try to lend it again.
func relendBackoff(retries int) time.Duration {
	return min(time.Second<<min(retries, 6), time.Minute)
}

// New returns an agent for cfg.NodeName; Run starts it.
func New(cfg Config) *Agent {
	vmis := cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(metav1.NamespaceAll)
	onNode := func(o *metav1.ListOptions) { o.LabelSelector = nodeNameLabel + "=" + cfg.NodeName }
	a := &Agent{
		cfg: cfg,
		// A client that declares it cannot stream a watch's initial list
		// (a fake) is listed first.
		informer: cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				onNode(&o)
				return vmis.List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				onNode(&o)
				return vmis.Watch(ctx, o)
			},
		}, cfg.KubeVirt), &kvv1.VirtualMachineInstance{}, 0, cache.Indexers{}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[cache.ObjectName](100*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "usb-hotplug"}),
		sessions: map[cache.ObjectName]map[string]*session{},
	}
	enqueue := func(obj interface{}) {
		if key, err := cache.DeletionHandlingObjectToName(obj); err == nil {
			a.queue.Add(key)
		}
	}
	_, err := a.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj interface{}) { enqueue(obj) }, DeleteFunc: enqueue,
	})
	utilruntime.Must(err)
	return a
}

// Run serves until ctx ends, then unplugs every device it lent.
func (a *Agent) Run(ctx context.Context) error {
	defer a.queue.ShutDown()
	go a.informer.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), a.informer.HasSynced) {
		return fmt.Errorf("watching the VMIs of node %s: %w", a.cfg.NodeName, ctx.Err())
	}
	klog.FromContext(ctx).Info("USB agent serving", "node", a.cfg.NodeName)
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for a.next(ctx) {
		}
	}, time.Second)
	<-ctx.Done()
	a.stopAll()
	return nil
}

func (a *Agent) next(ctx context.Context) bool {
	key, quit := a.queue.Get()
	if quit {
		return false
	}
	defer a.queue.Done(key)
	if err := a.sync(ctx, key); err != nil {
		klog.FromContext(ctx).Error(err, "Syncing USB hot-plug", "vmi", key)
		a.queue.AddRateLimited(key)
		return true
	}
	a.queue.Forget(key)
	return true
}

// sync starts and stops the VMI's sessions to match its list and writes
// the report. Sessions being stopped stay reported until they end, so an
// unplug is done only when the guest has seen it.
func (a *Agent) sync(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := a.informer.GetStore().GetByKey(key.String())
	if err != nil {
		return err
	}
	var vmi *kvv1.VirtualMachineInstance
	var wanted []hypersdk.USBDeviceRequest
	if exists {
		vmi = obj.(*kvv1.VirtualMachineInstance)
		if vmi.Status.Phase == kvv1.Running && vmi.DeletionTimestamp == nil && vmi.Status.NodeName == a.cfg.NodeName {
			wanted = kubevirt.HotpluggedUSB(vmi.Annotations)
		}
	}

	a.mu.Lock()
	current := a.sessions[key]
	if current == nil {
		current = map[string]*session{}
		a.sessions[key] = current
	}
	want := map[string]hypersdk.USBDeviceRequest{}
	for _, d := range wanted {
		want[d.Name] = d
	}
	for name, s := range current {
		if d, ok := want[name]; ok && d == s.device && s.uid == vmi.UID {
			if ended(s) && s.lent && ctx.Err() == nil {
				// Still listed, once lent and dropped since: the guest
				// lost it without an unplug. Failures before the first
				// attach stay final: the executor unlists those.
				if wait := time.Until(s.retryAt); wait > 0 {
					a.queue.AddAfter(key, wait)
				} else {
					current[name] = a.start(ctx, key, vmi, d, s)
				}
			}
			continue
		}
		s.cancel()
		if ended(s) {
			delete(current, name)
		} // else still unplugging: reported until it ends
	}
	var reported map[string]kubevirt.USBHotplugState
	if vmi != nil { // gone (deleted, or off this node): nothing is wanted
		reported = kubevirt.HotplugStatus(vmi.Annotations)
	}
	for name, d := range want {
		if _, ok := current[name]; !ok {
			var prev *session
			if st := reported[name]; st.Phase == kubevirt.USBAttached {
				// Lent by this agent before it started again (an upgrade
				// rolling it with virt-handler): a failed lend is retried
				// as a dropped one is, not final, and the guest is
				// reported to have it until the new session says.
				prev = &session{state: st, lent: true, retries: -1}
			}
			current[name] = a.start(ctx, key, vmi, d, prev)
		}
	}
	report := map[string]kubevirt.USBHotplugState{}
	for name, s := range current {
		if s.state.Phase != "" {
			report[name] = s.state
		}
	}
	if len(current) == 0 {
		delete(a.sessions, key)
	}
	a.mu.Unlock()

	if vmi == nil || maps.Equal(report, kubevirt.HotplugStatus(vmi.Annotations)) {
		return nil
	}
	patch, err := kubevirt.HotplugStatusPatch(report)
	if err != nil {
		return err
	}
	_, err = a.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(key.Namespace).Patch(ctx, key.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// ended says whether s's session is over.
func ended(s *session) bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// start lends d to the instance in a session of its own, again after the
// session prev when it is not nil. Called with a.mu held.
func (a *Agent) start(ctx context.Context, key cache.ObjectName, vmi *kvv1.VirtualMachineInstance, d hypersdk.USBDeviceRequest, prev *session) *session {
	ctx, cancel := context.WithCancel(ctx)
	s := &session{device: d, uid: vmi.UID, cancel: cancel, done: make(chan struct{})}
	if prev != nil {
		s.state, s.lent, s.retries = prev.state, prev.lent, prev.retries+1
	}
	log := klog.FromContext(ctx).WithValues("vmi", key, "device", d.Name, "id", kubevirt.USBID(d))
	go func() {
		defer a.queue.Add(key)
		defer close(s.done)
		err := a.lend(ctx, key, d, func() {
			log.Info("Device attached")
			a.mu.Lock()
			s.lent, s.attachedAt = true, time.Now()
			a.mu.Unlock()
			a.report(key, s, kubevirt.USBHotplugState{Phase: kubevirt.USBAttached})
		})
		if ctx.Err() != nil {
			log.Info("Device unplugged")
			return
		}
		log.Error(err, "Lending the device failed")
		a.mu.Lock()
		if !s.attachedAt.IsZero() && time.Since(s.attachedAt) >= relendSettled {
			s.retries = 0
		}
		s.retryAt = time.Now().Add(relendBackoff(s.retries))
		a.mu.Unlock()
		a.report(key, s, kubevirt.USBHotplugState{Phase: kubevirt.USBFailed, Message: err.Error()})
	}()
	return s
}

// lend checks the node has the device, opens the usbredir stream and hands
// it to the source.
func (a *Agent) lend(ctx context.Context, key cache.ObjectName, d hypersdk.USBDeviceRequest, attached func()) error {
	node, err := a.cfg.Kube.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading node %s: %w", a.cfg.NodeName, err)
	}
	if !kubevirt.NodeHasUSB(node.Labels, d) {
		return fmt.Errorf("node %s shows no %s in its USB feature labels", a.cfg.NodeName, kubevirt.USBID(d))
	}
	stream, err := a.cfg.Dialer.Dial(ctx, key.Namespace, key.Name, console.USBRedir)
	if err != nil {
		return err
	}
	defer stream.Close()
	return a.cfg.Source.Lend(ctx, stream, d, attached)
}

// report records a session's state and has the VMI's report rewritten.
func (a *Agent) report(key cache.ObjectName, s *session, st kubevirt.USBHotplugState) {
	a.mu.Lock()
	s.state = st
	a.mu.Unlock()
	a.queue.Add(key)
}

// stopAll unplugs every device and waits until each session has ended.
func (a *Agent) stopAll() {
	a.mu.Lock()
	var all []*session
	for _, byName := range a.sessions {
		for _, s := range byName {
			s.cancel()
			all = append(all, s)
		}
	}
	a.mu.Unlock()
	for _, s := range all {
		<-s.done
	}
}
