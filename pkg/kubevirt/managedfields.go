package kubevirt

import (
	"encoding/json"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ManagedFieldsAnnotation keeps, on the KubeVirt VirtualMachine, the
// hypersdk.io view's managedFields: which manager owns which field of the
// view. KubeVirt's own managedFields describe its schema, not the view's,
// so server-side apply of the view needs its own record; without it every
// field of a VM would belong to "before-first-apply" and any apply that
// changed one would conflict.
const ManagedFieldsAnnotation = "hypersdk.io/managed-fields"

// splitManagedFields is a VM's annotations without the view's
// managedFields, and those managedFields (nil when absent or unreadable,
// as for a VM made through KubeVirt's API).
func splitManagedFields(annotations map[string]string) (map[string]string, []metav1.ManagedFieldsEntry) {
	raw, ok := annotations[ManagedFieldsAnnotation]
	if !ok {
		return annotations, nil
	}
	rest := maps.Clone(annotations)
	delete(rest, ManagedFieldsAnnotation)
	if len(rest) == 0 {
		rest = nil
	}
	var entries []metav1.ManagedFieldsEntry
	if json.Unmarshal([]byte(raw), &entries) != nil {
		return rest, nil
	}
	return rest, entries
}

// joinManagedFields is the annotations a VM is written with: the view's,
// with its managedFields recorded (or the record removed when it has none).
func joinManagedFields(annotations map[string]string, entries []metav1.ManagedFieldsEntry) (map[string]string, error) {
	out := maps.Clone(annotations)
	delete(out, ManagedFieldsAnnotation)
	if len(entries) == 0 {
		return out, nil
	}
	raw, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = map[string]string{}
	}
	out[ManagedFieldsAnnotation] = string(raw)
	return out, nil
}
