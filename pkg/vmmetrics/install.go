package vmmetrics

import (
	"fmt"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapi "k8s.io/apiserver/pkg/endpoints"
	"k8s.io/apiserver/pkg/endpoints/discovery"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	"k8s.io/metrics/pkg/apis/external_metrics"
	cmapiserver "sigs.k8s.io/custom-metrics-apiserver/pkg/apiserver"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/apiserver/installer"
	generatedcustom "sigs.k8s.io/custom-metrics-apiserver/pkg/generated/openapi/custommetrics"
	generatedexternal "sigs.k8s.io/custom-metrics-apiserver/pkg/generated/openapi/externalmetrics"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
	cmstorage "sigs.k8s.io/custom-metrics-apiserver/pkg/registry/custom_metrics"
	emstorage "sigs.k8s.io/custom-metrics-apiserver/pkg/registry/external_metrics"
)

// Scheme knows the metrics APIs' types, for the server's OpenAPI namer.
var Scheme = cmapiserver.Scheme

// OpenAPIDefinitions are the metrics APIs' types, to merge into the
// server's own.
func OpenAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	defs := generatedcustom.GetOpenAPIDefinitions(ref)
	for k, v := range generatedexternal.GetOpenAPIDefinitions(ref) {
		defs[k] = v
	}
	return defs
}

// Install serves custom.metrics.k8s.io (every version the library knows)
// and external.metrics.k8s.io from p on server, as the library's own
// adapter server would, and lists them in both discovery documents: the
// aggregator reads the aggregated one, and without the groups there the
// HPA controller would find no metrics API.
func Install(server *genericapiserver.GenericAPIServer, p *Provider) error {
	customInfo := genericapiserver.NewDefaultAPIGroupInfo(custom_metrics.GroupName, cmapiserver.Scheme,
		runtime.NewParameterCodec(cmapiserver.Scheme), cmapiserver.Codecs)
	for i, gv := range customInfo.PrioritizedVersions {
		api := groupVersion(&customInfo, gv, cmstorage.NewREST(p), provider.NewCustomMetricResourceLister(p))
		api.Handlers = &installer.CMHandlers{}
		if err := install(server, api, gv, i == 0); err != nil {
			return err
		}
	}
	externalInfo := genericapiserver.NewDefaultAPIGroupInfo(external_metrics.GroupName, cmapiserver.Scheme,
		metav1.ParameterCodec, cmapiserver.Codecs)
	gv := externalInfo.PrioritizedVersions[0]
	api := groupVersion(&externalInfo, gv, emstorage.NewREST(p), provider.NewExternalMetricResourceLister(p))
	api.Handlers = &installer.EMHandlers{}
	return install(server, api, gv, true)
}

// groupVersion is the library's installer for one group version; the
// caller sets its handlers (custom or external).
func groupVersion(info *genericapiserver.APIGroupInfo, gv schema.GroupVersion, storage rest.Storage,
	lister discovery.APIResourceLister) *installer.MetricsAPIGroupVersion {
	return &installer.MetricsAPIGroupVersion{
		DynamicStorage: storage,
		APIGroupVersion: &genericapi.APIGroupVersion{
			Root:             genericapiserver.APIGroupPrefix,
			GroupVersion:     gv,
			MetaGroupVersion: info.MetaGroupVersion,
			ParameterCodec:   info.ParameterCodec,
			Serializer:       info.NegotiatedSerializer,
			Creater:          info.Scheme,
			Convertor:        info.Scheme,
			UnsafeConvertor:  runtime.UnsafeObjectConvertor(info.Scheme),
			Typer:            info.Scheme,
			Namer:            runtime.Namer(meta.NewAccessor()),
		},
		ResourceLister: lister,
	}
}

// install serves one group version; the preferred one also announces the
// group in the unaggregated /apis.
func install(server *genericapiserver.GenericAPIServer, api *installer.MetricsAPIGroupVersion, gv schema.GroupVersion, preferred bool) error {
	container := server.Handler.GoRestfulContainer
	if err := api.InstallREST(container); err != nil {
		return fmt.Errorf("installing %s: %w", gv, err)
	}
	resources, err := genericapi.ConvertGroupVersionIntoToDiscovery(api.ResourceLister.ListAPIResources())
	if err != nil {
		return fmt.Errorf("discovery of %s: %w", gv, err)
	}
	server.AggregatedDiscoveryGroupManager.AddGroupVersion(gv.Group, apidiscoveryv2.APIVersionDiscovery{
		Version: gv.Version, Resources: resources, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
	})
	if !preferred {
		return nil
	}
	forDiscovery := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
	group := metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{forDiscovery}, PreferredVersion: forDiscovery}
	server.DiscoveryGroupManager.AddGroup(group)
	container.Add(discovery.NewAPIGroupHandler(server.Serializer, group).WebService())
	return nil
}
