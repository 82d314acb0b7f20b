package apiserver

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/hypersdk/hypersdk/apis/hypersdk/install"
)

// NewScheme returns a scheme with every version of hypersdk.io and the
// unversioned meta types the generic API server serves, and its codecs.
func NewScheme() (*runtime.Scheme, serializer.CodecFactory) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	// Options kinds such as ListOptions and DeleteOptions, decoded from v1.
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	scheme.AddUnversionedTypes(schema.GroupVersion{Group: "", Version: "v1"},
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
	return scheme, serializer.NewCodecFactory(scheme)
}

// jsonAndYAML is a codec factory that offers no protobuf: hypersdk.io types
// have no protobuf encoding, and a server that advertises it fails every
// client that prefers it. The namespace controller does: without this,
// deleting a namespace that holds VMOperations never finishes ("does not
// implement the protobuf marshalling interface").
type jsonAndYAML struct {
	serializer.CodecFactory
}

var _ runtime.NegotiatedSerializer = jsonAndYAML{}

// SupportedMediaTypes drops protobuf from the factory's media types.
func (f jsonAndYAML) SupportedMediaTypes() []runtime.SerializerInfo {
	var out []runtime.SerializerInfo
	for _, info := range f.CodecFactory.SupportedMediaTypes() {
		if info.MediaType != runtime.ContentTypeProtobuf {
			out = append(out, info)
		}
	}
	return out
}
