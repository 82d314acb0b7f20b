#!/usr/bin/env bash
# Prints the directory holding the test control plane's binaries (etcd,
# kube-apiserver, kube-scheduler, kube-controller-manager, kubectl, kwok),
# building them first from the Go module proxy when this version is not cached.
#
# The cache lives outside the repository, keyed by a hash of hack/tools/go.mod and
# go.sum, so every checkout with the same pins reuses one build. A cold build takes
# about 10 minutes on 2 cores; progress goes to stderr, the directory to stdout.
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/tools" && pwd)"
key="$(cat "${tools_dir}/go.mod" "${tools_dir}/go.sum" "${tools_dir}/cmd/etcd/main.go" | sha256sum | cut -c1-16)"
cache_root="${HYPERSDK_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/hypersdk/tools}"
bin="${cache_root}/k8s-v1.37.2-${key}/bin"
binaries=(etcd kube-apiserver kube-scheduler kube-controller-manager kubectl kwok)

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x "${bin}/${b}" ]] || return 1; done
}

if ! complete; then
  mkdir -p "${cache_root}"
  # One builder at a time: parallel test packages may all ask at once.
  exec 9>"${cache_root}/.lock"
  flock 9
  if ! complete; then
    tmp="$(mktemp -d "${cache_root}/build.XXXXXX")"
    trap 'rm -rf "${tmp}"' EXIT
    echo "hypersdk: building the test control plane (etcd, kube-apiserver, kube-scheduler," >&2
    echo "hypersdk: kube-controller-manager, kubectl, kwok) from the Go module proxy into" >&2
    echo "hypersdk: ${bin}. First time only: about 10 minutes on 2 cores." >&2
    cd "${tools_dir}"
    start=${SECONDS}
    n=0
    for b in "${binaries[@]}"; do
      n=$((n + 1))
      if [[ "${b}" == etcd ]]; then pkg=./cmd/etcd; else pkg="$(go list -f '{{.ImportPath}}' tool | grep "/${b}\$")"; fi
      echo "hypersdk: [${n}/${#binaries[@]}] ${b} ($((SECONDS - start))s elapsed)" >&2
      CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "${tmp}/${b}" "${pkg}"
    done
    mkdir -p "$(dirname "${bin}")"
    rm -rf "${bin}"
    mv "${tmp}" "${bin}"
    trap - EXIT
    echo "hypersdk: control plane built in $((SECONDS - start))s" >&2
  fi
fi

# kwok refuses to start without stages: concatenate the ones its module ships
# (nodes turn Ready and keep a lease; pods on them run and get an IP).
stages="${bin}/kwok-stages.yaml"
if [[ ! -s "${stages}" ]]; then
  kwok_dir="$(cd "${tools_dir}" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
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
