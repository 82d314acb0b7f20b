package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

func init() {
	localSchemeBuilder.Register(addFieldLabelConversions)
}

// addFieldLabelConversions lists the fields clients may select on, so that
// the server rejects any other field selector with a clear error.
func addFieldLabelConversions(scheme *runtime.Scheme) error {
	selectable := map[string][]string{
		"VirtualMachine": {"metadata.name", "metadata.namespace", "status.phase", "status.nodeName", "spec.cpus"},
		"VMOperation":    {"metadata.name", "metadata.namespace", "spec.vmName", "spec.type", "status.phase"},
	}
	for kind, fields := range selectable {
		allowed := map[string]bool{}
		for _, f := range fields {
			allowed[f] = true
		}
		err := scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind(kind), func(label, value string) (string, string, error) {
			if !allowed[label] {
				return "", "", fmt.Errorf("field label not supported for %s: %s (supported: %v)", kind, label, fields)
			}
			return label, value, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
