#!/usr/bin/env bash
# Prints the directory holding the test control plane's binaries (etcd,
# kube-apiserver, kube-scheduler, kube-controller-manager, kubectl, kwok),
# building them first from the Go module proxy when this version is not cached.
#
# The cache lives outside the repository, keyed by a hash of hack/tools/go.mod and
# go.sum, so every checkout with the same pins reuses one build. A cold build takes
# about 10 minutes on 2 cores; progress goes to stderr, the directory to stdout.
set -euo pipefail

hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${hack}/lib/cached-build.sh"
tools_dir="${hack}/tools"
key="$(hypersdk::module_key "${tools_dir}/go.mod" "${tools_dir}/go.sum" "${tools_dir}/cmd/etcd/main.go")"
bin="$(hypersdk::cache_root)/k8s-v1.37.2-${key}/bin"

names=(etcd kube-apiserver kube-scheduler kube-controller-manager kubectl kwok)
if ! hypersdk::all_built "${bin}" "${names[@]}"; then
  specs=(etcd=./cmd/etcd)
  tools="$(cd "${tools_dir}" && go list -f '{{.ImportPath}}' tool)"
  for b in "${names[@]:1}"; do specs+=("${b}=$(grep "/${b}\$" <<<"${tools}")"); done
  hypersdk::cached_build "${tools_dir}" "${bin}" "about 10 minutes" "${specs[@]}"
fi

# kwok refuses to start without stages: concatenate the ones its module ships
# (nodes turn Ready and keep a lease; pods on them run and get an IP).
stages="${bin}/kwok-stages.yaml"
if [[ ! -s "${stages}" ]]; then
  kwok_dir="$(cd "${tools_dir}" && go mod download -json sigs.k8s.io/kwok | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  tmp_stages="$(mktemp "${bin}/.stages.XXXXXX")"
  for f in "${kwok_dir}"/kustomize/stage/node/fast/node-initialize.yaml \
           "${kwok_dir}"/kustomize/stage/node/heartbeat-with-lease/*.yaml \
           "${kwok_dir}"/kustomize/stage/pod/fast/*.yaml; do
    echo "---"
    cat "${f}"
  done > "${tmp_stages}"
  mv "${tmp_stages}" "${stages}"
fi
echo "${bin}"
