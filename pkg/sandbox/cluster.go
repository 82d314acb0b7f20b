package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/fleet"
	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
	"github.com/hypersdk/hypersdk/pkg/sandbox/usage"
)

// DemoNamespace holds the demo VMs.
const DemoNamespace = "demo"

// startKwok runs kwok for the annotated nodes with the stages hack/tools-bin.sh
// prepared, on a pod network big enough for thousands of VMs.
func (sb *Sandbox) startKwok() error {
	p, err := process.Start("kwok", sb.ControlPlane.LogDir, filepath.Join(sb.cfg.ControlPlaneBinDir, "kwok"), []string{
		"--kubeconfig=" + sb.Kubeconfig,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + fleet.KwokAnnotation + "=fake",
		"--config=" + filepath.Join(sb.cfg.ControlPlaneBinDir, "kwok-stages.yaml"),
		"--cidr=10.128.0.0/12",
		"--node-lease-duration-seconds=40",
		// At INFO kwok logs every lease renewal and node patch: 100 MB in
		// 15 minutes with 5,000 nodes.
		"--v=WARN",
	}, nil)
	if err != nil {
		return err
	}
	sb.procs = append(sb.procs, p)
	return nil
}

// createNodes writes the fleet's Node objects; kwok makes them Ready. Nodes
// are written by several workers on a client of their own: at the default
// client rate (5 QPS) a fleet of 5,000 took 17 minutes.
func (sb *Sandbox) createNodes(ctx context.Context) error {
	cfg := rest.CopyConfig(sb.Admin)
	cfg.QPS, cfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	plan := fleet.Plan(sb.cfg.Nodes)
	errs := make([]error, len(plan))
	workqueue.ParallelizeUntil(ctx, 8, len(plan), func(i int) {
		_, err := client.CoreV1().Nodes().Create(ctx, plan[i].Object(), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			errs[i] = fmt.Errorf("creating node %s: %w", plan[i].Name, err)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

// waitNodesSchedulable waits until every node is Ready and the node
// lifecycle controller has lifted its not-ready taint.
func (sb *Sandbox) waitNodesSchedulable(ctx context.Context, client kubernetes.Interface) error {
	return process.Poll(ctx, sb.cfg.StartTimeout, func(ctx context.Context) error {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes.Items {
			if nodeSchedulable(&n) {
				ready++
			}
		}
		if ready < sb.cfg.Nodes {
			return fmt.Errorf("%d of %d nodes schedulable", ready, sb.cfg.Nodes)
		}
		return nil
	})
}

func nodeSchedulable(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == fleet.FakeNodeTaintKey {
			continue // every VM pod tolerates it
		}
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// DemoVM is the i-th demo virtual machine: sizes and load profiles vary,
// chosen from the seed.
func DemoVM(seed int64, i int) *kvv1.VirtualMachine {
	sizes := []struct {
		cpus uint32
		mem  string
	}{{1, "2Gi"}, {2, "4Gi"}, {2, "8Gi"}, {4, "8Gi"}, {4, "16Gi"}}
	size := sizes[(int(seed)+i)%len(sizes)]
	images := []string{"quay.io/containerdisks/fedora:41", "quay.io/containerdisks/ubuntu:24.04", "quay.io/containerdisks/centos-stream:9"}
	name := "demo-" + strconv.Itoa(i+1)
	profile := usage.Pick(seed, i)
	mem := resource.MustParse(size.mem)
	return &kvv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: DemoNamespace,
			Labels:      map[string]string{"app.kubernetes.io/part-of": "hypersdk-demo"},
			Annotations: map[string]string{usage.Annotation: profile.String()},
		},
		Spec: kvv1.VirtualMachineSpec{
			RunStrategy: ptr.To(kvv1.RunStrategyAlways),
			Template: &kvv1.VirtualMachineInstanceTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      map[string]string{"kubevirt.io/domain": name},
					Annotations: map[string]string{usage.Annotation: profile.String()},
				},
				Spec: kvv1.VirtualMachineInstanceSpec{
					Domain: kvv1.DomainSpec{
						CPU:    &kvv1.CPU{Sockets: size.cpus, Cores: 1, Threads: 1, MaxSockets: 4 * size.cpus},
						Memory: &kvv1.Memory{Guest: &mem},
						Devices: kvv1.Devices{Disks: []kvv1.Disk{{Name: kubevirt.RootDiskName,
							DiskDevice: kvv1.DiskDevice{Disk: &kvv1.DiskTarget{Bus: kvv1.DiskBusVirtio}}}}},
					},
					Volumes: []kvv1.Volume{{Name: kubevirt.RootDiskName, VolumeSource: kvv1.VolumeSource{
						ContainerDisk: &kvv1.ContainerDiskSource{Image: images[i%len(images)]},
					}}},
				},
			},
		},
	}
}

// createDemoVMs creates the demo VMs and waits until all run.
func (sb *Sandbox) createDemoVMs(ctx context.Context, client kubernetes.Interface, kv kubevirt.Clientset) error {
	if sb.cfg.VMs == 0 {
		return nil
	}
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: DemoNamespace},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	for i := 0; i < sb.cfg.VMs; i++ {
		if _, err := kv.KubevirtV1().VirtualMachines(DemoNamespace).Create(ctx, DemoVM(sb.cfg.Seed, i), metav1.CreateOptions{}); err != nil &&
			!apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating demo VM: %w", err)
		}
	}
	return WaitVMIsRunning(ctx, kv, DemoNamespace, sb.cfg.VMs, sb.cfg.StartTimeout)
}

// WaitVMIsRunning waits until n instances in namespace (all when empty) run.
func WaitVMIsRunning(ctx context.Context, kv kubevirt.Clientset, namespace string, n int, timeout time.Duration) error {
	return process.Poll(ctx, timeout, func(ctx context.Context) error {
		list, err := kv.KubevirtV1().VirtualMachineInstances(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		running := 0
		for _, vmi := range list.Items {
			if vmi.Status.Phase == kvv1.Running {
				running++
			}
		}
		if running < n {
			return errors.New(strconv.Itoa(running) + " of " + strconv.Itoa(n) + " VMs running")
		}
		return nil
	})
}
