package kubevirtsim

import (
	"context"
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/gpu"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

// syncVMI moves an instance through KubeVirt's phases by its launcher pod:
// Pending -> Scheduling (pod created) -> Scheduled (pod bound) -> Running
// (pod running), and Failed when its pod dies under it.
func (s *Simulator) syncVMI(ctx context.Context, key cache.ObjectName) error {
	obj, exists, err := s.vmiInformer.GetIndexer().GetByKey(key.String())
	if err != nil {
		return err
	}
	if !exists {
		// The garbage collector would remove the pods too; do it now.
		return s.deletePods(ctx, s.launcherPods(key.Namespace, key.Name))
	}
	vmi := obj.(*kvv1.VirtualMachineInstance)
	if vmi.DeletionTimestamp != nil {
		return s.deletePods(ctx, s.launcherPods(key.Namespace, key.Name))
	}
	if vmi.IsFinal() {
		return nil
	}
	updated := vmi.DeepCopy()
	if err := s.advanceVMI(ctx, updated); err != nil {
		return err
	}
	s.hotplugStatus(key, updated)
	if equality.Semantic.DeepEqual(vmi.Status, updated.Status) && equality.Semantic.DeepEqual(vmi.Labels, updated.Labels) &&
		equality.Semantic.DeepEqual(vmi.Annotations, updated.Annotations) {
		return nil
	}
	_, err = s.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(vmi.Namespace).Update(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (s *Simulator) advanceVMI(ctx context.Context, vmi *kvv1.VirtualMachineInstance) error {
	pod := s.activePod(vmi)
	switch {
	case pod == nil && vmi.Status.Phase == kvv1.Running && !s.migrating(vmi):
		s.setPhase(vmi, kvv1.Failed)
		vmi.Status.Reason = "PodTerminating"
		setCondition(vmi, kvv1.VirtualMachineInstanceReady, corev1.ConditionFalse, "PodTerminating", "the virt-launcher pod is gone", s.now())
		return nil
	case pod == nil:
		// The pod cache may not have the pod an earlier pass created yet
		// (the VMI's own update can arrive first, or that update failed);
		// KubeVirt guards this with expectations, the simulator asks the
		// API and adopts what it finds. The pod's add event requeues the VMI.
		live, err := s.liveLauncherPod(ctx, vmi, "")
		if err != nil {
			return err
		}
		if live != nil {
			s.setPhase(vmi, kvv1.Scheduling)
			vmi.Status.ActivePods = map[types.UID]string{live.UID: ""}
			return nil
		}
		// A pass on an older version of the instance would create a pod
		// nobody owns: one a migration has just moved to its target pod
		// (the source going, the move not yet in the cache) has no pod this
		// pass knows, and the update that then fails on the stale version
		// cannot take the created pod back. The API showed no live pod
		// above; the newer version's event requeues the instance.
		current, err := cacheCurrent(ctx, s.cfg.KubeVirt.KubevirtV1().VirtualMachineInstances(vmi.Namespace).Get, vmi)
		if err != nil || !current {
			return err
		}
		created, err := s.cfg.Kube.CoreV1().Pods(vmi.Namespace).Create(ctx, launcherPod(vmi), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating virt-launcher pod: %w", err)
		}
		klog.FromContext(ctx).V(2).Info("Created virt-launcher pod", "vmi", klog.KObj(vmi), "pod", created.Name)
		s.setPhase(vmi, kvv1.Scheduling)
		vmi.Status.ActivePods = map[types.UID]string{created.UID: ""}
		return nil
	case podFinished(pod):
		s.setPhase(vmi, kvv1.Failed)
		vmi.Status.Reason = "PodFailed"
		setCondition(vmi, kvv1.VirtualMachineInstanceReady, corev1.ConditionFalse, "PodFailed", "the virt-launcher pod stopped", s.now())
		return nil
	case pod.Spec.NodeName == "":
		s.setPhase(vmi, kvv1.Scheduling)
		if msg, ok := unschedulable(pod); ok {
			setCondition(vmi, kvv1.VirtualMachineInstanceConditionType(corev1.PodScheduled), corev1.ConditionFalse,
				corev1.PodReasonUnschedulable, msg, s.now())
		}
		return nil
	case !podRunning(pod):
		if vmi.Status.Phase != kvv1.Running {
			s.setPhase(vmi, kvv1.Scheduled)
			vmi.Status.NodeName = pod.Spec.NodeName
		}
		removeCondition(vmi, kvv1.VirtualMachineInstanceConditionType(corev1.PodScheduled))
		return nil
	}
	// Running on pod.
	if vmi.Status.Phase != kvv1.Running {
		s.setPhase(vmi, kvv1.Running)
		topo := &kvv1.CPUTopology{Sockets: 1, Cores: 1, Threads: 1}
		if c := vmi.Spec.Domain.CPU; c != nil {
			topo = &kvv1.CPUTopology{Sockets: max(c.Sockets, 1), Cores: max(c.Cores, 1), Threads: max(c.Threads, 1)}
		}
		vmi.Status.CurrentCPUTopology = topo
		if m := guestMemory(vmi); m != nil {
			cur, req := m.DeepCopy(), m.DeepCopy()
			vmi.Status.Memory = &kvv1.MemoryStatus{GuestAtBoot: m, GuestCurrent: &cur, GuestRequested: &req}
		}
		if vmi.ShouldStartPaused() {
			// The domain is created with its CPUs stopped, as virt-launcher
			// does for startStrategy Paused; it stays so until unpaused.
			setCondition(vmi, kvv1.VirtualMachineInstancePaused, corev1.ConditionTrue, pausedByUser, "started paused (startStrategy Paused)", s.now())
		}
	}
	vmi.Status.NodeName = pod.Spec.NodeName
	vmi.Status.ActivePods = map[types.UID]string{pod.UID: pod.Spec.NodeName}
	if vmi.Labels == nil {
		vmi.Labels = map[string]string{}
	}
	vmi.Labels["kubevirt.io/nodeName"] = pod.Spec.NodeName
	if devices := s.gpuDevices(vmi, pod); devices != "" {
		if vmi.Annotations == nil {
			vmi.Annotations = map[string]string{}
		}
		vmi.Annotations[gpu.AssignedAnnotation] = devices
	}
	vmi.Status.LauncherContainerImageVersion = launcherImage
	vmi.Status.Interfaces = []kvv1.VirtualMachineInstanceNetworkInterface{{
		Name: "default", InterfaceName: "eth0", IP: pod.Status.PodIP, IPs: podIPs(pod),
		MAC: macFor(vmi.UID), InfoSource: "domain, guest-agent", LinkState: "up", QueueCount: 1,
	}}
	now := s.now()
	setCondition(vmi, kvv1.VirtualMachineInstanceReady, corev1.ConditionTrue, "", "", now)
	if hasGuestAgent(vmi) {
		setCondition(vmi, kvv1.VirtualMachineInstanceAgentConnected, corev1.ConditionTrue, "", "", now)
	}
	if reason, msg := s.notMigratable(vmi); reason != "" {
		setCondition(vmi, kvv1.VirtualMachineInstanceIsMigratable, corev1.ConditionFalse, reason, msg, now)
	} else {
		setCondition(vmi, kvv1.VirtualMachineInstanceIsMigratable, corev1.ConditionTrue, "", "", now)
	}
	return nil
}

// pausedByUser is the reason virt-handler gives a Paused condition it did
// not pause for an I/O error.
const pausedByUser = "PausedByUser"

// NoGuestAgentAnnotation on a VM's template (value "true") makes its
// simulated guest one without qemu-guest-agent: no AgentConnected condition,
// and snapshots taken without freezing the file systems.
const NoGuestAgentAnnotation = "sandbox.hypersdk.io/no-guest-agent"

func hasGuestAgent(vmi *kvv1.VirtualMachineInstance) bool {
	return vmi.Annotations[NoGuestAgentAnnotation] != "true"
}

// liveLauncherPod is a launcher pod of vmi that the API has, whatever the
// cache says: the migration target pod of migration when it is set, else
// the pod the VMI runs in. Pods being deleted do not count.
func (s *Simulator) liveLauncherPod(ctx context.Context, vmi *kvv1.VirtualMachineInstance, migration types.UID) (*corev1.Pod, error) {
	pods, err := s.cfg.Kube.CoreV1().Pods(vmi.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: kubevirt.CreatedByLabel + "=" + string(vmi.UID)})
	if err != nil {
		return nil, fmt.Errorf("listing virt-launcher pods of %s: %w", vmi.Name, err)
	}
	for i, pod := range pods.Items {
		if pod.DeletionTimestamp == nil && pod.Labels[MigrationJobLabel] == string(migration) {
			return &pods.Items[i], nil
		}
	}
	return nil, nil
}

// activePod is the pod the instance runs in: the one named in activePods,
// else the one launcher pod that is not a migration target.
func (s *Simulator) activePod(vmi *kvv1.VirtualMachineInstance) *corev1.Pod {
	var candidate *corev1.Pod
	for _, pod := range s.launcherPods(vmi.Namespace, vmi.Name) {
		if pod.Labels[kubevirt.CreatedByLabel] != string(vmi.UID) || pod.DeletionTimestamp != nil {
			continue
		}
		if _, ok := vmi.Status.ActivePods[pod.UID]; ok {
			return pod
		}
		if pod.Labels[MigrationJobLabel] == "" {
			candidate = pod
		}
	}
	if len(vmi.Status.ActivePods) > 0 && candidate != nil {
		// Its recorded pod is gone; a pod that is not recorded is not ours.
		return nil
	}
	return candidate
}

// notMigratable gives KubeVirt's reason when a volume cannot move live: a
// persistent volume claim that is not ReadWriteMany.
func (s *Simulator) notMigratable(vmi *kvv1.VirtualMachineInstance) (reason, message string) {
	for _, v := range vmi.Spec.Volumes {
		claim, ok := kubevirt.ClaimOf(v)
		if !ok {
			continue
		}
		pvc, err := s.cfg.Kube.CoreV1().PersistentVolumeClaims(vmi.Namespace).Get(context.Background(), claim, metav1.GetOptions{})
		if err == nil && hasAccessMode(pvc, corev1.ReadWriteMany) {
			continue
		}
		return kvv1.VirtualMachineInstanceReasonDisksNotMigratable,
			fmt.Sprintf("cannot migrate VMI: PVC %s is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)", claim)
	}
	return "", ""
}

func hasAccessMode(pvc *corev1.PersistentVolumeClaim, mode corev1.PersistentVolumeAccessMode) bool {
	for _, m := range pvc.Spec.AccessModes {
		if m == mode {
			return true
		}
	}
	return false
}

func (s *Simulator) deletePods(ctx context.Context, pods []*corev1.Pod) error {
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		err := s.cfg.Kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting pod %s: %w", pod.Name, err)
		}
	}
	return nil
}

func (s *Simulator) now() metav1.Time { return metav1.NewTime(s.cfg.Clock.Now()) }

func (s *Simulator) setPhase(vmi *kvv1.VirtualMachineInstance, phase kvv1.VirtualMachineInstancePhase) {
	if vmi.Status.Phase == phase {
		return
	}
	vmi.Status.Phase = phase
	vmi.Status.PhaseTransitionTimestamps = append(vmi.Status.PhaseTransitionTimestamps,
		kvv1.VirtualMachineInstancePhaseTransitionTimestamp{Phase: phase, PhaseTransitionTimestamp: s.now()})
}

func setCondition(vmi *kvv1.VirtualMachineInstance, typ kvv1.VirtualMachineInstanceConditionType, status corev1.ConditionStatus, reason, message string, now metav1.Time) {
	for i := range vmi.Status.Conditions {
		c := &vmi.Status.Conditions[i]
		if c.Type != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = status, reason, message
		return
	}
	vmi.Status.Conditions = append(vmi.Status.Conditions, kvv1.VirtualMachineInstanceCondition{
		Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: now,
	})
}

func removeCondition(vmi *kvv1.VirtualMachineInstance, typ kvv1.VirtualMachineInstanceConditionType) {
	out := vmi.Status.Conditions[:0]
	for _, c := range vmi.Status.Conditions {
		if c.Type != typ {
			out = append(out, c)
		}
	}
	vmi.Status.Conditions = out
}

func hasCondition(vmi *kvv1.VirtualMachineInstance, typ kvv1.VirtualMachineInstanceConditionType) bool {
	for _, c := range vmi.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func podIPs(pod *corev1.Pod) []string {
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = []string{pod.Status.PodIP}
	}
	return ips
}

// macFor derives a stable locally administered MAC address from a UID.
func macFor(uid types.UID) string {
	h := fnv.New64a()
	h.Write([]byte(uid))
	b := h.Sum(nil)
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4])
}
