package sandbox

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/hypersdk/hypersdk/pkg/sandbox/hostnode"
	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
)

// Names of the deployment's host node and its storage.
const (
	HostNodeName     = "sandbox-host"
	hostStorageClass = "hypersdk-sandbox-host"
	imagePath        = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	nonRoot          = 65532
)

// Images says which binary stands in for each image artifacts/deploy names,
// and how the image runs it: HyperSDK's images as the Dockerfile builds them
// (the binary at /<name>, its entrypoint, the distroless nonroot user) and
// the upstream etcd and kube-scheduler images, built here from the same
// versions by hack/tools-bin.sh.
func Images(binDir, controlPlaneBinDir string) map[string]hostnode.Image {
	ours := func(name string) hostnode.Image {
		return hostnode.Image{Binary: filepath.Join(binDir, name), Path: "/" + name, Entrypoint: []string{"/" + name},
			Env: []string{imagePath}, User: nonRoot}
	}
	upstream := func(name string) hostnode.Image {
		return hostnode.Image{Binary: filepath.Join(controlPlaneBinDir, name), Path: "/usr/local/bin/" + name,
			Env: []string{imagePath}}
	}
	return map[string]hostnode.Image{
		"ghcr.io/hypersdk/hypersdk-apiserver":          ours("hypersdk-apiserver"),
		"ghcr.io/hypersdk/hypersdk-controller":         ours("hypersdk-controller"),
		"ghcr.io/hypersdk/hypersdk-scheduler-extender": ours("hypersdk-scheduler-extender"),
		"ghcr.io/hypersdk/hypersdk-dashboard":          ours("hypersdk-dashboard"),
		"ghcr.io/hypersdk/hypersdk-scheduler":          ours("hypersdk-scheduler"),
		"registry.k8s.io/etcd":                         upstream("etcd"),
		"registry.k8s.io/kube-scheduler":               upstream("kube-scheduler"),
	}
}

// startDeployment starts the host node, applies artifacts/deploy as a user
// would, and waits until hypersdk.io is served through the manifests' own
// Service and certificate.
func (sb *Sandbox) startDeployment(ctx, loopCtx context.Context, client kubernetes.Interface) error {
	if _, err := client.StorageV1().StorageClasses().Create(ctx, hostnode.StorageClass(hostStorageClass), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the host node's StorageClass: %w", err)
	}
	api, err := url.Parse(sb.Admin.Host)
	if err != nil {
		return err
	}
	// A kubelet's own client: its pods' volumes are read on every sync.
	nodeCfg := rest.CopyConfig(sb.Admin)
	nodeCfg.QPS, nodeCfg.Burst = 100, 200
	nodeClient, err := kubernetes.NewForConfig(nodeCfg)
	if err != nil {
		return err
	}
	node, err := hostnode.New(hostnode.Config{
		Kube:       nodeClient,
		Name:       HostNodeName,
		Dir:        filepath.Join(sb.cfg.Dir, "hostnode"),
		LogDir:     sb.ControlPlane.LogDir,
		SandboxBin: filepath.Join(sb.cfg.BinDir, "hypersdk-sandbox"),
		Images:     Images(sb.cfg.BinDir, sb.cfg.ControlPlaneBinDir),
		// RFC 2544's benchmarking range: private, and not loopback,
		// which EndpointSlices refuse.
		PodCIDR:      netip.MustParsePrefix("198.18.0.0/16"),
		APIServer:    api.Host,
		StorageClass: hostStorageClass,
	})
	if err != nil {
		return err
	}
	sb.HostNode = node
	stopped := make(chan error, 1)
	sb.loops.Add(1)
	go func() {
		defer sb.loops.Done()
		err := node.Run(loopCtx)
		if err != nil {
			klog.FromContext(loopCtx).Error(err, "Host node stopped")
		}
		stopped <- err
	}()
	select {
	case <-node.Registered():
	case err := <-stopped:
		return fmt.Errorf("host node: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	if _, err := sb.Kubectl(ctx, "apply", "--server-side", "-k", filepath.Join(sb.ArtifactsDir(), "deploy")); err != nil {
		return err
	}
	return sb.WaitAPIServiceAvailable(ctx, apiServiceName)
}

// WaitAPIServiceAvailable waits until kube-apiserver reports the APIService
// Available.
func (sb *Sandbox) WaitAPIServiceAvailable(ctx context.Context, name string) error {
	agg, err := aggregator.NewForConfig(sb.Admin)
	if err != nil {
		return err
	}
	var last error
	err = process.Poll(ctx, sb.cfg.StartTimeout, func(ctx context.Context) error {
		svc, err := agg.ApiregistrationV1().APIServices().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			last = err
			return err
		}
		if err != nil {
			return err
		}
		for _, c := range svc.Status.Conditions {
			if c.Type == apiregistrationv1.Available {
				if c.Status == apiregistrationv1.ConditionTrue {
					return nil
				}
				last = fmt.Errorf("%s: %s", c.Reason, c.Message)
				return last
			}
		}
		last = fmt.Errorf("no Available condition yet")
		return last
	})
	if err != nil {
		return fmt.Errorf("APIService %s not available: %w (last: %v)", name, err, last)
	}
	return nil
}
