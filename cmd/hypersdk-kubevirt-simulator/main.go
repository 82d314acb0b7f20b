// Command hypersdk-kubevirt-simulator plays KubeVirt's part in the sandbox,
// where no VM can run: it acts on KubeVirt objects as virt-controller and
// virt-handler would, through the API server only, and serves what real
// clusters get from virt-api and metrics-server: the console and VNC
// subresources (subresources.kubevirt.io) and usage (metrics.k8s.io).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	generatedopenapi "github.com/hypersdk/hypersdk/generated/openapi"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/sandbox/consoleapi"
	"github.com/hypersdk/hypersdk/pkg/sandbox/kubevirtsim"
	"github.com/hypersdk/hypersdk/pkg/sandbox/metricsapi"
	"github.com/hypersdk/hypersdk/pkg/sandbox/simclock"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hypersdk-kubevirt-simulator:", err)
		os.Exit(1)
	}
}

type options struct {
	kubeconfig string
	qps        float64
	simEpoch   string
	simStart   string
	speed      float64
	sim        kubevirtsim.Config
	serving    *genericoptions.SecureServingOptionsWithLoopback
}

func run() error {
	o := options{serving: genericoptions.NewSecureServingOptions().WithLoopback()}
	fs := pflag.NewFlagSet("hypersdk-kubevirt-simulator", pflag.ExitOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Path of the kubeconfig to reach the cluster with (also used for delegated authentication and authorization).")
	fs.Float64Var(&o.qps, "kube-api-qps", 1000, "Client QPS towards the API server.")
	fs.DurationVar(&o.sim.StepDelay, "step-delay", 200*time.Millisecond, "How long one simulated migration or hotplug step takes.")
	fs.BoolVar(&o.sim.LiveUpdate, "live-update", true, "Simulate KubeVirt's LiveUpdate rollout strategy: hotplug CPU and memory within maxSockets/maxGuest.")
	fs.IntVar(&o.sim.Workers, "workers", 4, "Workers per simulated controller.")
	fs.StringVar(&o.simEpoch, "sim-epoch", "", "Real time (RFC3339) at which simulated time is --sim-start; now when empty. Give every sandbox component the same.")
	fs.StringVar(&o.simStart, "sim-start", "2022-06-01T00:00:00Z", "Simulated time (RFC3339) at --sim-epoch.")
	fs.Float64Var(&o.speed, "speed", 1, "Simulated seconds per real second, for load profiles.")
	o.serving.AddFlags(fs)
	goflags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(goflags)
	fs.AddGoFlagSet(goflags)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	ctx := genericapiserver.SetupSignalContext()
	return o.run(ctx)
}

func (o *options) run(ctx context.Context) error {
	restCfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	restCfg.QPS, restCfg.Burst = float32(o.qps), int(2*o.qps)
	if o.sim.Kube, err = kubernetes.NewForConfig(restCfg); err != nil {
		return err
	}
	if o.sim.KubeVirt, err = kubevirt.NewClientset(restCfg); err != nil {
		return err
	}
	if o.sim.CDI, err = kubevirt.NewCDIClientset(restCfg); err != nil {
		return err
	}
	if o.sim.VolumeSnapshots, err = kubevirt.NewVolumeSnapshotClientset(restCfg); err != nil {
		return err
	}
	epoch := time.Now()
	if o.simEpoch != "" {
		if epoch, err = time.Parse(time.RFC3339Nano, o.simEpoch); err != nil {
			return fmt.Errorf("--sim-epoch: %w", err)
		}
	}
	start, err := time.Parse(time.RFC3339, o.simStart)
	if err != nil {
		return fmt.Errorf("--sim-start: %w", err)
	}
	o.sim.SimClock = simclock.Clock{Epoch: epoch, Start: start, Speed: o.speed}
	sim := kubevirtsim.New(o.sim)

	server, err := o.server(sim)
	if err != nil {
		return err
	}
	go func() {
		if err := server.PrepareRun().RunWithContext(ctx); err != nil {
			klog.ErrorS(err, "API server stopped")
		}
	}()
	return sim.Run(ctx)
}

// server builds the aggregated API server of metrics.k8s.io and
// subresources.kubevirt.io, with delegated authentication and authorization.
func (o *options) server(sim *kubevirtsim.Simulator) (*genericapiserver.GenericAPIServer, error) {
	scheme := runtime.NewScheme()
	metricsapi.AddToScheme(scheme)
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	scheme.AddUnversionedTypes(schema.GroupVersion{Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
	codecs := serializer.NewCodecFactory(scheme)

	cfg := genericapiserver.NewRecommendedConfig(codecs)
	if err := o.serving.ApplyTo(&cfg.SecureServing, &cfg.LoopbackClientConfig); err != nil {
		return nil, fmt.Errorf("serving options: %w", err)
	}
	authn := genericoptions.NewDelegatingAuthenticationOptions()
	authn.RemoteKubeConfigFile = o.kubeconfig
	if err := authn.ApplyTo(&cfg.Authentication, cfg.SecureServing, nil); err != nil {
		return nil, fmt.Errorf("authentication: %w", err)
	}
	authz := genericoptions.NewDelegatingAuthorizationOptions()
	authz.RemoteKubeConfigFile = o.kubeconfig
	if err := authz.ApplyTo(&cfg.Authorization); err != nil {
		return nil, fmt.Errorf("authorization: %w", err)
	}
	namer := openapi.NewDefinitionNamer(scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIConfig.Info.Title = "KubeVirt simulator"
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config.Info.Title = "KubeVirt simulator"
	cfg.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	cfg.FeatureGate = utilfeature.DefaultFeatureGate
	// virt-api keeps console and VNC sessions for as long as they last.
	cfg.LongRunningFunc = console.LongRunning()
	server, err := cfg.Complete().New("hypersdk-kubevirt-simulator", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	if err := metricsapi.Install(server, scheme, codecs, sim); err != nil {
		return nil, err
	}
	consoleapi.Install(server, sim, clock.RealClock{})
	return server, nil
}
