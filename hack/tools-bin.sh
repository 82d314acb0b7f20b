#!/usr/bin/env bash
# Prints the directory holding the test control plane's binaries (etcd,
# kube-apiserver, kube-scheduler, kube-controller-manager, kubectl, kwok),
# building them first from the Go module proxy when this version is not cached.
#
# They are tools of HyperSDK's own module (go.mod's tool block; etcd's server
# through hack/etcd), so they build with the versions HyperSDK builds with:
# most of their packages (client-go, apiserver, grpc, ...) are then the ones
# go vet and the tests compile, and a cold machine compiles them once.
#
# The cache lives outside the repository, keyed by a hash of go.mod and
# go.sum, so every checkout with the same pins reuses one build. A cold build
# takes about 5 minutes on 2 cores after go vet (about 14 before it); progress
# goes to stderr, the directory to stdout.
set -euo pipefail

hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "${hack}")"
source "${hack}/lib/cached-build.sh"
key="$(hypersdk::module_key "${root}/go.mod" "${root}/go.sum" "${hack}/etcd/main.go")"
bin="$(hypersdk::cache_root)/k8s-v1.37.2-${key}/bin"

names=(etcd kube-apiserver kube-scheduler kube-controller-manager kubectl kwok)
if ! hypersdk::all_built "${bin}" "${names[@]}"; then
  specs=(etcd=./hack/etcd)
  tools="$(cd "${root}" && go list -f '{{.ImportPath}}' tool)"
  for b in "${names[@]:1}"; do specs+=("${b}=$(grep "/${b}\$" <<<"${tools}")"); done
  hypersdk::cached_build "${root}" "${bin}" "about 5 minutes after go vet" "${specs[@]}"
fi

# kwok refuses to start without stages: concatenate the ones its module ships
# (nodes turn Ready and keep a lease; pods on them run and get an IP).
stages="${bin}/kwok-stages.yaml"
if [[ ! -s "${stages}" ]]; then
  kwok_dir="$(cd "${root}" && go mod download -json sigs.k8s.io/kwok | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
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
