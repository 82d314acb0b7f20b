// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/hypersdk/hypersdk/apis/hypersdk
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.hypersdk.apis.hypersdk.v1alpha1
// +groupName=hypersdk.io

// Package v1alpha1 is the v1alpha1 version of the hypersdk.io API: a live view
// of KubeVirt virtual machines and the long-running operations on them.
package v1alpha1
