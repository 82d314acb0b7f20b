// Command openapi-schema prints the OpenAPI v2 definitions of the generated
// openapi package as one swagger document. hack/update-codegen.sh feeds it to
// applyconfiguration-gen so the generated apply configurations know each
// type's structure (list types, map keys) for server-side apply.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/hypersdk/hypersdk/generated/openapi"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "openapi-schema: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ref := func(name string) spec.Ref { return spec.MustCreateRef("#/definitions/" + name) }
	defs := openapi.GetOpenAPIDefinitions(ref)
	schemas := make(map[string]spec.Schema, len(defs))
	for name, def := range defs {
		// A definition may carry a v2-only variant; applyconfiguration-gen reads v2.
		if v2, ok := def.Schema.Extensions[common.ExtensionV2Schema].(spec.Schema); ok {
			schemas[name] = v2
			continue
		}
		schemas[name] = def.Schema
	}
	doc := spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        &spec.Info{InfoProps: spec.InfoProps{Title: "HyperSDK", Version: "v1alpha1"}},
		Definitions: schemas,
	}}
	return json.NewEncoder(os.Stdout).Encode(&doc)
}
