// Package artifacts holds HyperSDK's manifests as a kustomize tree, and
// embeds them so the sandbox installs exactly what is in the repository (and
// kubectl hyper offers the examples as templates).
package artifacts

import "embed"

// FS holds every manifest under artifacts/.
//
//go:embed kubevirt rbac flowcontrol deploy dashboard sandbox scheduler examples
var FS embed.FS
