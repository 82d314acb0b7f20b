// Package metricsapi serves the resource metrics API (metrics.k8s.io) from a
// Source, the way metrics-server does, so that the sandbox's simulated usage
// reaches kubectl top, the HPA and HyperSDK through the standard API.
package metricsapi

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/metrics/pkg/apis/metrics"
	metricsinstall "k8s.io/metrics/pkg/apis/metrics/install"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// Source produces the current metrics.
type Source interface {
	// NodeMetrics of every node, with the node's labels.
	NodeMetrics(ctx context.Context) ([]metrics.NodeMetrics, error)
	// PodMetrics of the pods in namespace (all when empty), with their labels.
	PodMetrics(ctx context.Context, namespace string) ([]metrics.PodMetrics, error)
}

// AddToScheme registers the metrics.k8s.io types in scheme.
func AddToScheme(scheme *runtime.Scheme) {
	metricsinstall.Install(scheme)
}

// Install adds metrics.k8s.io/v1beta1 with nodes and pods to server.
func Install(server *genericapiserver.GenericAPIServer, scheme *runtime.Scheme, codecs serializer.CodecFactory, source Source) error {
	group := genericapiserver.NewDefaultAPIGroupInfo(metrics.GroupName, scheme, metav1.ParameterCodec, codecs)
	group.VersionedResourcesStorageMap[metricsv1beta1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"nodes": &nodeStorage{source: source},
		"pods":  &podStorage{source: source},
	}
	if err := server.InstallAPIGroup(&group); err != nil {
		return fmt.Errorf("installing metrics.k8s.io: %w", err)
	}
	return nil
}

type nodeStorage struct {
	source Source
}

var (
	_ rest.Storage              = &nodeStorage{}
	_ rest.Getter               = &nodeStorage{}
	_ rest.Lister               = &nodeStorage{}
	_ rest.Scoper               = &nodeStorage{}
	_ rest.SingularNameProvider = &nodeStorage{}
	_ rest.Storage              = &podStorage{}
	_ rest.Getter               = &podStorage{}
	_ rest.Lister               = &podStorage{}
	_ rest.Scoper               = &podStorage{}
	_ rest.SingularNameProvider = &podStorage{}
)

func (s *nodeStorage) New() runtime.Object     { return &metrics.NodeMetrics{} }
func (s *nodeStorage) NewList() runtime.Object { return &metrics.NodeMetricsList{} }
func (s *nodeStorage) Destroy()                {}
func (s *nodeStorage) NamespaceScoped() bool   { return false }
func (s *nodeStorage) GetSingularName() string { return "node" }
func (s *nodeStorage) ConvertToTable(ctx context.Context, obj, opts runtime.Object) (*metav1.Table, error) {
	return rest.NewDefaultTableConvertor(metrics.Resource("nodes")).ConvertToTable(ctx, obj, opts)
}

func (s *nodeStorage) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	all, err := s.source.NodeMetrics(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	return nil, apierrors.NewNotFound(metrics.Resource("nodes"), name)
}

func (s *nodeStorage) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	all, err := s.source.NodeMetrics(ctx)
	if err != nil {
		return nil, err
	}
	match := selector(options)
	list := &metrics.NodeMetricsList{}
	for _, m := range all {
		if match(&m.ObjectMeta) {
			list.Items = append(list.Items, m)
		}
	}
	return list, nil
}

type podStorage struct {
	source Source
}

func (s *podStorage) New() runtime.Object     { return &metrics.PodMetrics{} }
func (s *podStorage) NewList() runtime.Object { return &metrics.PodMetricsList{} }
func (s *podStorage) Destroy()                {}
func (s *podStorage) NamespaceScoped() bool   { return true }
func (s *podStorage) GetSingularName() string { return "pod" }
func (s *podStorage) ConvertToTable(ctx context.Context, obj, opts runtime.Object) (*metav1.Table, error) {
	return rest.NewDefaultTableConvertor(metrics.Resource("pods")).ConvertToTable(ctx, obj, opts)
}

func (s *podStorage) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	all, err := s.source.PodMetrics(ctx, ns)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	return nil, apierrors.NewNotFound(metrics.Resource("pods"), name)
}

func (s *podStorage) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	all, err := s.source.PodMetrics(ctx, ns)
	if err != nil {
		return nil, err
	}
	match := selector(options)
	list := &metrics.PodMetricsList{}
	for _, m := range all {
		if match(&m.ObjectMeta) {
			list.Items = append(list.Items, m)
		}
	}
	return list, nil
}

// selector applies label selectors and the metadata field selectors.
func selector(options *metainternalversion.ListOptions) func(*metav1.ObjectMeta) bool {
	label, field := labels.Everything(), fields.Everything()
	if options != nil && options.LabelSelector != nil {
		label = options.LabelSelector
	}
	if options != nil && options.FieldSelector != nil {
		field = options.FieldSelector
	}
	return func(m *metav1.ObjectMeta) bool {
		return label.Matches(labels.Set(m.Labels)) &&
			field.Matches(fields.Set{"metadata.name": m.Name, "metadata.namespace": m.Namespace})
	}
}
