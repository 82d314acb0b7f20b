package apiserver

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/kube-openapi/pkg/common"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	netutils "k8s.io/utils/net"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	generatedopenapi "github.com/hypersdk/hypersdk/generated/openapi"
	"github.com/hypersdk/hypersdk/pkg/carbonflags"
	"github.com/hypersdk/hypersdk/pkg/cloudprices"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/historystore"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	"github.com/hypersdk/hypersdk/pkg/recorder"
	"github.com/hypersdk/hypersdk/pkg/vmmetrics"
)

const etcdPathPrefix = "/registry/hypersdk.io"

// Options are the command-line options of hypersdk-apiserver.
type Options struct {
	Recommended *genericoptions.RecommendedOptions
	// History is the store virtualmachines/history and clusterhistories read.
	History historystore.Options
	// KubeAPIQPS and KubeAPIBurst limit the server's own requests to
	// kube-apiserver (prechecks, writes to KubeVirt objects). client-go's
	// default of 5 per second made operation POSTs queue behind each other.
	KubeAPIQPS   float32
	KubeAPIBurst int
	// Carbon is the carbon intensity provider the metrics APIs read.
	Carbon carbonflags.Options
	// MetricsSampleTTL is how long one sample of every VM answers the
	// metrics APIs.
	MetricsSampleTTL time.Duration
	// CloudPricesDir holds public cloud price lists that replace the built-in
	// ones of virtualmachines/cost's comparison.
	CloudPricesDir string

	scheme *runtime.Scheme
	codecs serializer.CodecFactory
}

// NewOptions returns options with their defaults.
func NewOptions() *Options {
	scheme, codecs := NewScheme()
	o := &Options{
		Recommended:      genericoptions.NewRecommendedOptions(etcdPathPrefix, codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)),
		KubeAPIQPS:       100,
		KubeAPIBurst:     200,
		MetricsSampleTTL: 10 * time.Second,
		scheme:           scheme,
		codecs:           codecs,
	}
	o.Recommended.Etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(
		v1alpha1.SchemeGroupVersion, schema.GroupKind{Group: v1alpha1.GroupName})
	return o
}

// Flags returns the options as named flag sets, so --help prints sections.
func (o *Options) Flags() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	o.Recommended.Etcd.AddFlags(fss.FlagSet("etcd"))
	o.Recommended.SecureServing.AddFlags(fss.FlagSet("secure serving"))
	o.Recommended.Authentication.AddFlags(fss.FlagSet("authentication"))
	o.Recommended.Authorization.AddFlags(fss.FlagSet("authorization"))
	o.Recommended.Audit.AddFlags(fss.FlagSet("auditing"))
	o.Recommended.Features.AddFlags(fss.FlagSet("features"))
	kubeAPI := fss.FlagSet("kubernetes API")
	o.Recommended.CoreAPI.AddFlags(kubeAPI)
	kubeAPI.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Requests per second this server makes to kube-apiserver at most (client-side rate limit).")
	kubeAPI.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Requests this server may make to kube-apiserver in a burst above --kube-api-qps.")
	o.Recommended.Admission.AddFlags(fss.FlagSet("admission"))
	o.Recommended.EgressSelector.AddFlags(fss.FlagSet("egress selector"))
	o.Recommended.Traces.AddFlags(fss.FlagSet("traces"))
	o.History.AddFlags(fss.FlagSet("history"))
	metrics := fss.FlagSet("metrics APIs")
	o.Carbon.AddFlags(metrics)
	metrics.DurationVar(&o.MetricsSampleTTL, "metrics-sample-ttl", o.MetricsSampleTTL,
		"How long one reading of every VM's usage answers custom.metrics.k8s.io and external.metrics.k8s.io.")
	fss.FlagSet("cost").StringVar(&o.CloudPricesDir, "cloud-prices-dir", "",
		"Directory of public cloud price lists (*.csv, see pkg/cloudprices) that virtualmachines/cost compares a VM with, replacing the built-in lists; it must hold at least one.")
	return fss
}

// AddFlags adds every option to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	for _, f := range o.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
}

// Validate returns every problem with the options at once.
func (o *Options) Validate() error {
	errs := o.Recommended.Validate()
	if o.MetricsSampleTTL <= 0 {
		errs = append(errs, fmt.Errorf("--metrics-sample-ttl must be positive, got %s", o.MetricsSampleTTL))
	}
	if o.KubeAPIQPS <= 0 || o.KubeAPIBurst < 1 {
		errs = append(errs, fmt.Errorf("--kube-api-qps and --kube-api-burst must be positive, got %g and %d", o.KubeAPIQPS, o.KubeAPIBurst))
	}
	errs = append(errs, o.History.Validate()...)
	return utilerrors.NewAggregate(errs)
}

// openAPIDefinitions are hypersdk.io's and the metrics APIs' types.
func openAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	defs := generatedopenapi.GetOpenAPIDefinitions(ref)
	for k, v := range vmmetrics.OpenAPIDefinitions(ref) {
		if _, ok := defs[k]; !ok {
			defs[k] = v
		}
	}
	return defs
}

// Config builds the server configuration from the options.
func (o *Options) Config() (*Config, error) {
	if err := o.Recommended.SecureServing.MaybeDefaultWithSelfSignedCerts(
		"localhost", nil, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed serving certificate: %w", err)
	}
	generic := genericapiserver.NewRecommendedConfig(o.codecs)
	generic.Serializer = jsonAndYAML{o.codecs}
	namer := openapi.NewDefinitionNamer(o.scheme, vmmetrics.Scheme)
	generic.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openAPIDefinitions, namer)
	generic.OpenAPIConfig.Info.Title = "HyperSDK"
	generic.OpenAPIConfig.Info.Version = v1alpha1.SchemeGroupVersion.Version
	generic.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openAPIDefinitions, namer)
	generic.OpenAPIV3Config.Info.Title = "HyperSDK"
	generic.OpenAPIV3Config.Info.Version = v1alpha1.SchemeGroupVersion.Version
	// Without this the request deadline ends every console after a minute.
	generic.LongRunningFunc = console.LongRunning()
	generic.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	generic.FeatureGate = utilfeature.DefaultFeatureGate
	if err := o.Recommended.ApplyTo(generic); err != nil {
		return nil, fmt.Errorf("applying options: %w", err)
	}
	clientConfig := rest.CopyConfig(generic.ClientConfig)
	clientConfig.QPS, clientConfig.Burst = o.KubeAPIQPS, o.KubeAPIBurst
	kv, err := kubevirt.NewClientset(clientConfig)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(clientConfig)
	if err != nil {
		return nil, err
	}
	cdi, err := kubevirt.NewCDIClientset(clientConfig)
	if err != nil {
		return nil, err
	}
	history, err := o.History.Open(context.Background(), true)
	if err != nil {
		return nil, fmt.Errorf("history store: %w", err)
	}
	metrics, err := metricsclient.NewForConfig(clientConfig)
	if err != nil {
		return nil, err
	}
	carbonProvider, err := o.Carbon.Provider(legacyregistry.Registerer())
	if err != nil {
		return nil, fmt.Errorf("carbon provider: %w", err)
	}
	prices := cost.DefaultModel()
	clouds, err := cloudprices.BuiltIn()
	if o.CloudPricesDir != "" {
		clouds, err = cloudprices.LoadDir(o.CloudPricesDir)
	}
	if err != nil {
		return nil, err
	}
	sampler, err := recorder.NewSampler(recorder.SamplerConfig{Kube: kube, KubeVirt: kv, Metrics: metrics,
		Carbon: carbonProvider, Prices: prices})
	if err != nil {
		return nil, err
	}
	return &Config{
		GenericConfig: generic,
		ExtraConfig: ExtraConfig{
			Scheme:       o.scheme,
			Codecs:       o.codecs,
			KubeVirt:     kv,
			CDI:          cdi,
			Kube:         kube,
			ClientConfig: clientConfig,
			History:      history,
			Sampler:      sampler,
			Metrics:      vmmetrics.NewProvider(sampler, o.MetricsSampleTTL, nil),
			Prices:       prices,
			CloudPrices:  clouds,
		},
	}, nil
}
