// Package apiserver wires the hypersdk.io aggregated API server: options,
// configuration and the installed resources.
package apiserver

import (
	"errors"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/cloudprices"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/cost"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	ops "github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/recorder"
	"github.com/hypersdk/hypersdk/pkg/registry/backupschedule"
	"github.com/hypersdk/hypersdk/pkg/registry/budget"
	"github.com/hypersdk/hypersdk/pkg/registry/carbonscalingpolicy"
	"github.com/hypersdk/hypersdk/pkg/registry/costreport"
	"github.com/hypersdk/hypersdk/pkg/registry/dashboard"
	historyrest "github.com/hypersdk/hypersdk/pkg/registry/history"
	"github.com/hypersdk/hypersdk/pkg/registry/idlevmpolicy"
	"github.com/hypersdk/hypersdk/pkg/registry/placementpolicy"
	"github.com/hypersdk/hypersdk/pkg/registry/rebalancepolicy"
	"github.com/hypersdk/hypersdk/pkg/registry/virtualmachine"
	"github.com/hypersdk/hypersdk/pkg/registry/vmautoscaler"
	"github.com/hypersdk/hypersdk/pkg/registry/vmoperation"
	"github.com/hypersdk/hypersdk/pkg/vmmetrics"
)

// ExtraConfig is what HyperSDK adds to a generic API server's configuration.
type ExtraConfig struct {
	Scheme *runtime.Scheme
	Codecs serializer.CodecFactory
	// KubeVirt reaches the KubeVirt objects the VM view is computed from.
	KubeVirt kubevirt.Clientset
	// CDI tells how storage classes clone, for linked clones.
	CDI kubevirt.CDIClientset
	// Kube reaches the cluster for checks before operations (nodes, pods,
	// access reviews on behalf of the caller).
	Kube kubernetes.Interface
	// ClientConfig is the server's own identity towards the cluster, used to
	// dial guests through KubeVirt's console subresources.
	ClientConfig *restclient.Config
	// History answers virtualmachines/history and clusterhistories.
	History history.Store
	// Sampler reads VM usage for the metrics APIs; Metrics serves them.
	Sampler *recorder.Sampler
	Metrics *vmmetrics.Provider
	// Prices are the sampler's, for pricing the sizes a recommendation
	// compares.
	Prices cost.Model
	// CloudPrices are the public cloud price lists virtualmachines/cost
	// compares a VM's size with.
	CloudPrices []cloudprices.List
}

// Config is the whole configuration of the server.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig can only be made by Complete, so New always sees defaults.
type CompletedConfig struct {
	*completedConfig
}

// Server is a running hypersdk.io API server.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// Complete fills in defaults.
func (cfg *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{cfg.GenericConfig.Complete(), &cfg.ExtraConfig}}
}

// New builds the server and installs the hypersdk.io resources.
func (c completedConfig) New() (*Server, error) {
	if c.ExtraConfig.KubeVirt == nil || c.ExtraConfig.Kube == nil || c.ExtraConfig.History == nil ||
		c.ExtraConfig.Sampler == nil || c.ExtraConfig.Metrics == nil {
		return nil, errors.New("no KubeVirt or Kubernetes client, history store or VM metrics configured")
	}
	generic, err := c.GenericConfig.New("hypersdk-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("creating generic API server: %w", err)
	}
	scheme := c.ExtraConfig.Scheme

	if c.GenericConfig.Authorization.Authorizer == nil {
		return nil, errors.New("no authorizer configured: operations are authorized as their requester")
	}
	// The view's versions come from KubeVirt's own, so every replica (and
	// this process after a restart) hands out the same ones.
	views := virtualmachine.NewCache()
	admit := &ops.Admission{
		Authorizer: c.GenericConfig.Authorization.Authorizer,
		Precheck: &ops.Prechecker{Kube: c.ExtraConfig.Kube, KubeVirt: c.ExtraConfig.KubeVirt, CDI: c.ExtraConfig.CDI,
			Cache: kubevirt.CachedObjects{Cache: views}},
	}
	operations, operationStatus, err := vmoperation.NewREST(scheme, c.GenericConfig.RESTOptionsGetter, admit)
	if err != nil {
		return nil, err
	}
	vms := virtualmachine.NewREST(scheme, views, kubevirt.NewWriter(c.ExtraConfig.KubeVirt), admit)
	feeder := kubevirt.NewViewFeeder(c.ExtraConfig.KubeVirt, views)

	group := genericapiserver.NewDefaultAPIGroupInfo(hypersdk.GroupName, scheme, runtime.NewParameterCodec(scheme), c.ExtraConfig.Codecs)
	group.NegotiatedSerializer = jsonAndYAML{c.ExtraConfig.Codecs}
	storage := map[string]rest.Storage{
		"virtualmachines":     vms,
		"vmoperations":        operations,
		"vmoperations/status": operationStatus,
	}
	objects := admission.NewObjectInterfacesFromScheme(scheme)
	subresources := virtualmachine.NewOperationRESTs(operations, c.GenericConfig.AdmissionControl, objects)
	for name, sub := range subresources {
		storage["virtualmachines/"+name] = sub
	}
	operations.AdmitAsSubresource(virtualmachine.SubresourceAdmission(subresources))
	vms.AdmitAs(virtualmachine.SubresourceAdmission(subresources),
		virtualmachine.OperationAdmission(c.GenericConfig.AdmissionControl, objects, operations.CreateStrategy))
	vms.OrderAfter(operations.UnderWay)
	bridge := console.NewBridge(console.NewKubeVirtDialer(c.ExtraConfig.ClientConfig))
	storage["virtualmachines/console"] = virtualmachine.NewConsoleREST(vms, bridge, console.Serial)
	storage["virtualmachines/vnc"] = virtualmachine.NewConsoleREST(vms, bridge, console.VNC)
	storage["virtualmachines/usbredir"] = virtualmachine.NewConsoleREST(vms, bridge, console.USBRedir)
	storage["virtualmachines/placement"] = virtualmachine.NewPlacementREST(vms, c.ExtraConfig.Kube)
	historyCfg := historyrest.Config{Store: c.ExtraConfig.History, Codecs: group.NegotiatedSerializer}
	storage["virtualmachines/history"] = historyrest.NewVMREST(historyCfg, vms)
	costs := virtualmachine.NewCostREST(vms, c.ExtraConfig.Metrics, c.ExtraConfig.History, c.ExtraConfig.CloudPrices)
	storage["virtualmachines/cost"] = costs
	storage["costreports"] = costreport.NewREST(vms, costs, group.NegotiatedSerializer)
	storage["clusterhistories"] = historyrest.NewClusterREST(historyCfg)
	policies, err := placementpolicy.NewREST(scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	storage["placementpolicies"] = policies
	scaling, scalingStatus, err := carbonscalingpolicy.NewREST(scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	storage["carbonscalingpolicies"] = scaling
	storage["carbonscalingpolicies/status"] = scalingStatus
	autoscalers, autoscalerStatus, err := vmautoscaler.NewREST(scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	storage["virtualmachineautoscalers"] = autoscalers
	storage["virtualmachineautoscalers/status"] = autoscalerStatus
	storage["virtualmachines/recommendation"] = virtualmachine.NewRecommendationREST(vms, autoscalers,
		&virtualmachine.Pricer{Sampler: c.ExtraConfig.Metrics, Kube: c.ExtraConfig.Kube, Prices: c.ExtraConfig.Prices})
	backups, backupStatus, err := backupschedule.NewREST(scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	storage["backupschedules"] = backups
	dashboards, err := dashboard.NewREST(scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	storage["dashboards"] = dashboards
	storage["backupschedules/status"] = backupStatus
	budgets, budgetStatus, err := budget.NewREST(scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	storage["budgets"] = budgets
	storage["budgets/status"] = budgetStatus
	idle, idleStatus, err := idlevmpolicy.NewREST(scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	storage["idlevmpolicies"] = idle
	storage["idlevmpolicies/status"] = idleStatus
	rebalance, rebalanceStatus, err := rebalancepolicy.NewREST(scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	storage["rebalancepolicies"] = rebalance
	storage["rebalancepolicies/status"] = rebalanceStatus
	group.VersionedResourcesStorageMap["v1alpha1"] = storage
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing %s: %w", hypersdk.GroupName, err)
	}

	if err := vmmetrics.Install(generic, c.ExtraConfig.Metrics); err != nil {
		return nil, fmt.Errorf("installing the metrics APIs: %w", err)
	}
	generic.AddPostStartHookOrDie("hypersdk-vm-metrics", func(ctx genericapiserver.PostStartHookContext) error {
		go func() {
			if err := c.ExtraConfig.Sampler.Start(ctx); err != nil {
				klog.FromContext(ctx).Error(err, "VM metrics sampler stopped")
			}
		}()
		return nil
	})
	generic.AddPostStartHookOrDie("hypersdk-kubevirt-views", func(ctx genericapiserver.PostStartHookContext) error {
		go feeder.Run(ctx)
		return nil
	})
	// Not ready until the VM view has listed every VM once (an empty list
	// would be a wrong answer); from then on ready, however busy the view is.
	if err := generic.AddReadyzChecks(healthz.NamedCheck("kubevirt-views-synced", func(*http.Request) error {
		if !vms.HasSynced() {
			return errors.New("the VM view has not listed KubeVirt's VirtualMachines and instances yet")
		}
		return nil
	})); err != nil {
		return nil, err
	}
	// Nor until it can tell who kube-apiserver forwards requests for: the
	// front-proxy CA comes from a ConfigMap read after start, and before that
	// every forwarded request would be anonymous and refused.
	if rh := c.GenericConfig.Authentication.RequestHeaderConfig; rh != nil && rh.CAContentProvider != nil {
		if err := generic.AddReadyzChecks(healthz.NamedCheck("requestheader-client-ca", func(*http.Request) error {
			if len(rh.CAContentProvider.CurrentCABundleContent()) == 0 {
				return errors.New("the front-proxy client CA has not been read yet")
			}
			return nil
		})); err != nil {
			return nil, err
		}
	}
	return &Server{GenericAPIServer: generic}, nil
}
