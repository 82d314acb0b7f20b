// Package hostnode is a node of the sandbox whose pods really run: a small
// kubelet that runs the containers of the pods bound to its Node as local
// processes (pkg/sandbox/container gives each its own root, volumes, user
// and hostname), reports their status and readiness from their probes,
// restarts them, and ends them when their pod is deleted; a kube-proxy that
// forwards every Service's ClusterIP and port to its ready pods; and a
// provisioner of PersistentVolumes on local directories. With it the sandbox
// runs HyperSDK exactly as artifacts/deploy describes it: kube-controller-
// manager makes the pods of its Deployments and StatefulSets, kube-scheduler
// binds them here (the simulated fleet is tainted), and everything reaches
// everything through the manifests' own Services and certificates.
//
// Networking stays on this machine: every pod gets an address of its own in
// PodCIDR, a range routed to this machine as a whole (see route.go), and
// binds it (the manifests bind $(POD_IP)); Services get ClusterIPs in a
// loopback range (kube-apiserver's --service-cluster-ip-range) on which the
// proxy listens; each pod's /etc/hosts names the Services and the pods of
// headless Services, as cluster DNS would. Like a kubelet, it needs root.
package hostnode

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// Image is what the node knows of a container image: where its one binary
// is on this machine and how the image would run it.
type Image struct {
	// Binary is the host file standing in for the image's binary.
	Binary string
	// Path is the binary's path in the image; a container command naming it
	// by base name (found on the image's PATH) runs it too.
	Path string
	// Entrypoint is the image's ENTRYPOINT, used when a container has no
	// command.
	Entrypoint []string
	// Env is the image's ENV.
	Env []string
	// User is the image's USER, when the pod does not set one.
	User int64
}

// Config of a Node.
type Config struct {
	Kube kubernetes.Interface
	// Name of the Node object.
	Name string
	// Dir holds pods' volumes and root file systems, and PersistentVolumes.
	Dir string
	// LogDir gets one log file per container.
	LogDir string
	// SandboxBin is the hypersdk-sandbox binary, which starts containers.
	SandboxBin string
	// Images by repository (the image reference without tag or digest).
	Images map[string]Image
	// PodCIDR is where pod addresses come from: a loopback range.
	PodCIDR netip.Prefix
	// APIServer is host:port of kube-apiserver, the endpoint of the
	// default/kubernetes Service (which has none of its own here).
	APIServer string
	// StorageClass is the default StorageClass the provisioner serves.
	StorageClass string
}

// Node runs pods bound to it.
type Node struct {
	cfg Config

	factory    informers.SharedInformerFactory
	nodePods   informers.SharedInformerFactory
	services   corelisters.ServiceLister
	pods       corelisters.PodLister
	synced     []cache.InformerSynced
	proxy      *proxy
	ips        *addresses
	mu         sync.Mutex
	workers    map[types.UID]*podWorker
	workerDone sync.WaitGroup

	startedMu sync.Mutex
	started   map[string]Started // the last start of each pod/container

	registered chan struct{} // closed once the Node is Ready
}

// New returns a node; Run registers it and runs its pods.
func New(cfg Config) (*Node, error) {
	n := &Node{cfg: cfg, workers: map[types.UID]*podWorker{}, ips: newAddresses(cfg.PodCIDR), started: map[string]Started{},
		registered: make(chan struct{})}
	n.factory = informers.NewSharedInformerFactory(cfg.Kube, 0)
	n.nodePods = informers.NewSharedInformerFactoryWithOptions(cfg.Kube, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.Name).String()
	}))
	svc := n.factory.Core().V1().Services()
	pods := n.nodePods.Core().V1().Pods()
	pvcs := n.factory.Core().V1().PersistentVolumeClaims()
	n.services, n.pods = svc.Lister(), pods.Lister()
	n.synced = []cache.InformerSynced{svc.Informer().HasSynced, pods.Informer().HasSynced, pvcs.Informer().HasSynced}
	n.proxy = newProxy(n.services, n.pods, cfg.APIServer)
	return n, nil
}

// Run registers the Node and runs its pods, its proxy and its provisioner
// until ctx ends; then it stops every container.
func (n *Node) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("node", n.cfg.Name)
	ctx = klog.NewContext(ctx, logger)
	unroute, err := addLocalRoute(n.cfg.PodCIDR)
	if err != nil {
		return err
	}
	defer func() {
		if err := unroute(); err != nil {
			logger.Error(err, "Removing the route of the pod CIDR")
		}
	}()
	if err := n.register(ctx); err != nil {
		return err
	}
	n.factory.Start(ctx.Done())
	n.nodePods.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), n.synced...) {
		return fmt.Errorf("host node caches did not sync: %w", ctx.Err())
	}
	go wait.UntilWithContext(ctx, n.heartbeat, 10*time.Second)
	go wait.UntilWithContext(ctx, func(ctx context.Context) { n.proxy.sync(ctx) }, time.Second)
	prov := &provisioner{kube: n.cfg.Kube, claims: n.factory.Core().V1().PersistentVolumeClaims().Lister(),
		dir: filepath.Join(n.cfg.Dir, "volumes"), class: n.cfg.StorageClass}
	go wait.UntilWithContext(ctx, prov.sync, time.Second)
	logger.Info("Host node running")
	wait.UntilWithContext(ctx, n.syncPods, 500*time.Millisecond)
	n.proxy.close()
	n.workerDone.Wait()
	return nil
}

// register creates the Node, Ready, with room for HyperSDK's pods.
func (n *Node) register(ctx context.Context) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	now := metav1.Now()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.cfg.Name, Labels: map[string]string{
			"kubernetes.io/hostname": n.cfg.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"node.kubernetes.io/instance-type": "sandbox-host",
		}},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "the sandbox's host node runs pods as processes", LastHeartbeatTime: now, LastTransitionTime: now}},
			// No Hostname address: the name resolves nowhere, and
			// kube-apiserver would try it first.
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "hypersdk-sandbox", OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
	nodes := n.cfg.Kube.CoreV1().Nodes()
	if _, err := nodes.Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("registering node %s: %w", n.cfg.Name, err)
	}
	// kube-controller-manager annotates new nodes meanwhile: write the
	// status on the latest version.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := nodes.Get(ctx, n.cfg.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		latest.Status = node.Status
		_, err = nodes.UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("setting status of node %s: %w", n.cfg.Name, err)
	}
	close(n.registered)
	return nil
}

// Registered is closed once the Node is registered and Ready.
func (n *Node) Registered() <-chan struct{} { return n.registered }

// heartbeat renews the node's lease, as kubelets do.
func (n *Node) heartbeat(ctx context.Context) {
	leases := n.cfg.Kube.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, n.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.cfg.Name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(n.cfg.Name), LeaseDurationSeconds: ptr.To[int32](40),
				RenewTime: &now},
		}, metav1.CreateOptions{})
	} else if err == nil {
		lease.Spec.RenewTime = &now
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if err != nil && ctx.Err() == nil {
		klog.FromContext(ctx).V(2).Info("Renewing the node lease", "err", err)
	}
}

// syncPods starts a worker for every new pod bound here; workers end
// themselves when their pod is gone.
func (n *Node) syncPods(ctx context.Context) {
	pods, err := n.pods.List(everything)
	if err != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, pod := range pods {
		if _, ok := n.workers[pod.UID]; ok || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		w := newPodWorker(n, pod)
		n.workers[pod.UID] = w
		n.workerDone.Add(1)
		go func() {
			defer n.workerDone.Done()
			w.run(ctx)
			n.mu.Lock()
			delete(n.workers, pod.UID)
			n.mu.Unlock()
		}()
	}
}

// pod returns the current pod with uid, or nil when it is gone.
func (n *Node) pod(namespace, name string, uid types.UID) *corev1.Pod {
	pod, err := n.pods.Pods(namespace).Get(name)
	if err != nil || pod.UID != uid {
		return nil
	}
	return pod
}

func (n *Node) record(s Started) {
	n.startedMu.Lock()
	defer n.startedMu.Unlock()
	n.started[s.Pod+"/"+s.Container] = s
}

// Started returns how each container was last started, by
// namespace/pod/container.
func (n *Node) Started() map[string]Started {
	n.startedMu.Lock()
	defer n.startedMu.Unlock()
	return maps.Clone(n.started)
}

func (n *Node) podDir(pod *corev1.Pod) string {
	return filepath.Join(n.cfg.Dir, "pods", string(pod.UID))
}

func mkdir(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}
