// Package apiserver wires the hypersdk.io aggregated API server: options,
// configuration and the installed resources.
package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/pkg/console"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
	ops "github.com/hypersdk/hypersdk/pkg/operations"
	historyrest "github.com/hypersdk/hypersdk/pkg/registry/history"
	"github.com/hypersdk/hypersdk/pkg/registry/placementpolicy"
	"github.com/hypersdk/hypersdk/pkg/registry/virtualmachine"
	"github.com/hypersdk/hypersdk/pkg/registry/vmoperation"
)

// ExtraConfig is what HyperSDK adds to a generic API server's configuration.
type ExtraConfig struct {
	Scheme *runtime.Scheme
	Codecs serializer.CodecFactory
	// KubeVirt reaches the KubeVirt objects the VM view is computed from.
	KubeVirt kubevirt.Clientset
	// Kube reaches the cluster for checks before operations (nodes, pods,
	// access reviews on behalf of the caller).
	Kube kubernetes.Interface
	// ClientConfig is the server's own identity towards the cluster, used to
	// dial guests through KubeVirt's console subresources.
	ClientConfig *restclient.Config
	// ViewWorkers is how many VMs the view feeder rebuilds at once.
	ViewWorkers int
	// History answers virtualmachines/history and clusterhistories.
	History history.Store
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
	if cfg.ExtraConfig.ViewWorkers <= 0 {
		cfg.ExtraConfig.ViewWorkers = 2
	}
	return CompletedConfig{&completedConfig{cfg.GenericConfig.Complete(), &cfg.ExtraConfig}}
}

// New builds the server and installs the hypersdk.io resources.
func (c completedConfig) New() (*Server, error) {
	if c.ExtraConfig.KubeVirt == nil || c.ExtraConfig.Kube == nil || c.ExtraConfig.History == nil {
		return nil, errors.New("no KubeVirt or Kubernetes client or history store configured")
	}
	generic, err := c.GenericConfig.New("hypersdk-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("creating generic API server: %w", err)
	}
	scheme := c.ExtraConfig.Scheme

	if c.GenericConfig.Authorization.Authorizer == nil {
		return nil, errors.New("no authorizer configured: operations are authorized as their requester")
	}
	admit := &ops.Admission{
		Authorizer: c.GenericConfig.Authorization.Authorizer,
		Precheck:   &ops.Prechecker{Kube: c.ExtraConfig.Kube, KubeVirt: c.ExtraConfig.KubeVirt},
	}
	operations, operationStatus, err := vmoperation.NewREST(scheme, c.GenericConfig.RESTOptionsGetter, admit)
	if err != nil {
		return nil, err
	}
	// Versions start from the wall clock, above any an earlier process gave out.
	vms := virtualmachine.NewREST(scheme, kubevirt.NewWriter(c.ExtraConfig.KubeVirt), uint64(time.Now().UnixMicro()))
	feeder := kubevirt.NewViewFeeder(c.ExtraConfig.KubeVirt, vms, 0)

	group := genericapiserver.NewDefaultAPIGroupInfo(hypersdk.GroupName, scheme, runtime.NewParameterCodec(scheme), c.ExtraConfig.Codecs)
	group.NegotiatedSerializer = jsonAndYAML{c.ExtraConfig.Codecs}
	storage := map[string]rest.Storage{
		"virtualmachines":     vms,
		"vmoperations":        operations,
		"vmoperations/status": operationStatus,
	}
	objects := admission.NewObjectInterfacesFromScheme(scheme)
	for name, sub := range virtualmachine.NewOperationRESTs(operations, c.GenericConfig.AdmissionControl, objects) {
		storage["virtualmachines/"+name] = sub
	}
	bridge := console.NewBridge(console.NewKubeVirtDialer(c.ExtraConfig.ClientConfig))
	storage["virtualmachines/console"] = virtualmachine.NewConsoleREST(vms, bridge, console.Serial)
	storage["virtualmachines/vnc"] = virtualmachine.NewConsoleREST(vms, bridge, console.VNC)
	storage["virtualmachines/placement"] = virtualmachine.NewPlacementREST(vms, c.ExtraConfig.Kube)
	historyCfg := historyrest.Config{Store: c.ExtraConfig.History, Codecs: group.NegotiatedSerializer}
	storage["virtualmachines/history"] = historyrest.NewVMREST(historyCfg, vms)
	storage["clusterhistories"] = historyrest.NewClusterREST(historyCfg)
	policies, err := placementpolicy.NewREST(scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	storage["placementpolicies"] = policies
	group.VersionedResourcesStorageMap["v1alpha1"] = storage
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing %s: %w", hypersdk.GroupName, err)
	}

	workers := c.ExtraConfig.ViewWorkers
	generic.AddPostStartHookOrDie("hypersdk-kubevirt-views", func(ctx genericapiserver.PostStartHookContext) error {
		go feeder.Run(ctx, workers)
		return nil
	})
	// Not ready until the VM view holds every VM: an empty list is a wrong answer.
	if err := generic.AddReadyzChecks(healthz.NamedCheck("kubevirt-views-synced", func(*http.Request) error {
		if !feeder.HasSynced() {
			return errors.New("KubeVirt informers have not synced")
		}
		return nil
	})); err != nil {
		return nil, err
	}
	return &Server{GenericAPIServer: generic}, nil
}
