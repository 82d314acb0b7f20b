#!/usr/bin/env bash
# Regenerates everything under generated/ and the zz_generated helpers beside
# the API types, with k8s.io/code-generator's kube_codegen.sh from the module
# cache (the version go.mod pins). Never edit the output by hand.
set -o errexit -o nounset -o pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"
module="github.com/hypersdk/hypersdk"
boilerplate="${root}/hack/boilerplate.go.txt"

# `go list -m -f {{.Dir}}` prints nothing for a module not yet downloaded;
# `go mod download -json` downloads it first and prints where it is.
codegen_dir="$(go mod download -json k8s.io/code-generator | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "${codegen_dir}" ]]; then
  echo "could not download k8s.io/code-generator" >&2
  exit 1
fi
source "${codegen_dir}/kube_codegen.sh"

# deepcopy, defaulters and conversions, next to the types.
kube::codegen::gen_helpers --boilerplate "${boilerplate}" "${root}/apis"

# The report lists API rule violations we accept; a new one fails generation
# until it is reviewed (UPDATE_API_KNOWN_VIOLATIONS=true accepts it).
report=()
if [[ "${UPDATE_API_KNOWN_VIOLATIONS:-}" == "true" ]]; then report=(--update-report); fi
# metrics.k8s.io types ship no OpenAPI definitions; the sandbox's simulator
# serves them, so they are generated here too.
export KUBE_CODEGEN_READONLY_PKGS=(k8s.io/metrics/pkg/apis/metrics/v1beta1)
kube::codegen::gen_openapi \
  --output-dir "${root}/generated/openapi" \
  --extra-pkgs k8s.io/metrics/pkg/apis/metrics/v1beta1 \
  --output-pkg "${module}/generated/openapi" \
  --report-filename "${root}/hack/api-rule-violations.list" \
  --output-model-name-file zz_generated.model_name.go \
  "${report[@]}" \
  --boilerplate "${boilerplate}" \
  "${root}/apis"

kube::codegen::gen_client \
  --with-watch \
  --with-applyconfig \
  --applyconfig-openapi-schema <(go run ./hack/openapi-schema) \
  --output-dir "${root}/generated" \
  --output-pkg "${module}/generated" \
  --boilerplate "${boilerplate}" \
  "${root}/apis"
