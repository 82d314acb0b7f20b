// +k8s:deepcopy-gen=package
// +groupName=hypersdk.io

// Package hypersdk is the internal (hub) version of the hypersdk.io API. Every
// served version converts to and from these types; storage and validation work
// on them.
package hypersdk
