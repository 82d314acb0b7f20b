package v1alpha1_test

import (
	"sort"
	"strings"
	"testing"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/hypersdk/hypersdk/generated/openapi"
)

// TestEveryFieldIsDocumented: `kubectl explain` shows a field's Go doc
// comment, which openapi-gen copies into the OpenAPI the server publishes;
// a field without one shows "<no description>". Every type and field of
// hypersdk.io must say what it is.
func TestEveryFieldIsDocumented(t *testing.T) {
	defs := openapi.GetOpenAPIDefinitions(func(path string) spec.Ref { return spec.MustCreateRef("#/definitions/" + path) })
	var missing []string
	checked := 0
	for name, def := range defs {
		if !strings.HasPrefix(name, "io.hypersdk.apis.hypersdk.") {
			continue
		}
		missing = append(missing, undocumented(name, def)...)
		checked += len(def.Schema.Properties)
	}
	if checked < 100 {
		t.Fatalf("checked %d fields of hypersdk.io; the definitions were not found", checked)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d fields of hypersdk.io have no doc comment (kubectl explain shows <no description>):\n%s",
			len(missing), checked, strings.Join(missing, "\n"))
	}
}

func undocumented(name string, def common.OpenAPIDefinition) []string {
	short := name[strings.LastIndex(name, ".")+1:]
	var missing []string
	if def.Schema.Description == "" {
		missing = append(missing, short)
	}
	for field, prop := range def.Schema.Properties {
		if prop.Description == "" {
			missing = append(missing, short+"."+field)
		}
	}
	return missing
}
