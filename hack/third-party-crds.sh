#!/usr/bin/env bash
# Prints a directory holding the CustomResourceDefinitions that
# artifacts/deploy's overlays use but HyperSDK does not ship: cert-manager's
# (Issuer, Certificate, ...) and prometheus-operator's ServiceMonitor, copied
# from their Go modules at the versions pinned here and cached beside the
# control plane's binaries. Tests install them to dry-run the overlays.
set -euo pipefail

hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${hack}/lib/cached-build.sh"
cert_manager=v1.21.2
prometheus_operator=v0.89.0
dir="$(hypersdk::cache_root)/crds-cert-manager-${cert_manager}-prometheus-operator-${prometheus_operator}"

if [[ ! -s "${dir}/monitoring.coreos.com_servicemonitors.yaml" ]]; then
  mkdir -p "$(dirname "${dir}")"
  tmp="$(mktemp -d "$(dirname "${dir}")/crds.XXXXXX")"
  trap 'rm -rf "${tmp}"' EXIT
  module_dir() {
    # Outside any module, so nothing's go.mod or go.sum changes.
    (cd "${tmp}" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  }
  cm="$(module_dir "github.com/cert-manager/cert-manager@${cert_manager}")"
  po="$(module_dir "github.com/prometheus-operator/prometheus-operator@${prometheus_operator}")"
  cp "${cm}"/deploy/crds/*.yaml "${tmp}/"
  cp "${po}/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "${tmp}/"
  rm -f "${tmp}/README.md"
  chmod 644 "${tmp}"/*.yaml
  rm -rf "${dir}"
  mv "${tmp}" "${dir}"
  trap - EXIT
fi
echo "${dir}"
