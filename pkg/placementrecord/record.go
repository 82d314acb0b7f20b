// Package placementrecord is how a placement decision travels from the
// scheduler extender, which makes it, to the placement subresource, which
// serves it: as JSON in an annotation the extender puts on the pod's Binding,
// which kube-apiserver copies onto the pod in the same write.
package placementrecord

import (
	"encoding/json"
	"fmt"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// Annotation on a virt-launcher pod holds the decision that placed it.
const Annotation = "hypersdk.io/placement-decision"

// Encode returns the annotation value for d.
func Encode(d *v1alpha1.PlacementDecision) (string, error) {
	data, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encoding placement decision: %w", err)
	}
	return string(data), nil
}

// Decode reads a pod's decision; ok is false when the pod has none.
func Decode(annotations map[string]string) (d *v1alpha1.PlacementDecision, ok bool, err error) {
	raw, ok := annotations[Annotation]
	if !ok {
		return nil, false, nil
	}
	d = &v1alpha1.PlacementDecision{}
	if err := json.Unmarshal([]byte(raw), d); err != nil {
		return nil, true, fmt.Errorf("decoding annotation %s: %w", Annotation, err)
	}
	return d, true, nil
}
