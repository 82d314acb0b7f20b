package kubevirt

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestManagedFieldsRoundTrip(t *testing.T) {
	entries := []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "hypersdk.io/v1alpha1",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:cpus":{}}}`)}}}
	joined, err := joinManagedFields(map[string]string{"a": "1"}, entries)
	if err != nil {
		t.Fatal(err)
	}
	rest, got := splitManagedFields(joined)
	if !reflect.DeepEqual(rest, map[string]string{"a": "1"}) || !reflect.DeepEqual(got, entries) {
		t.Errorf("round trip: %v %v, want the annotations and entries back", rest, got)
	}
	// A view without managedFields drops a record it carried; an
	// unreadable record is no managedFields, not an error.
	if joined, _ := joinManagedFields(map[string]string{ManagedFieldsAnnotation: "x"}, nil); len(joined) != 0 {
		t.Errorf("join without entries kept %v", joined)
	}
	if rest, got := splitManagedFields(map[string]string{ManagedFieldsAnnotation: "not json"}); rest != nil || got != nil {
		t.Errorf("split of an unreadable record: %v %v", rest, got)
	}
}
