#!/usr/bin/env bash
# Prints the directory holding prometheus and promtool, built first from the
# Go module proxy (hack/prometheus pins the version) when not cached, beside
# the control plane's binaries. The history tests run this real Prometheus;
# nothing is taken from PATH. Service discovery plugins are left out
# (remove_all_sd): the tests scrape static targets. A cold build takes about
# 5 minutes on 2 cores; progress goes to stderr, the directory to stdout.
set -euo pipefail

hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${hack}/lib/cached-build.sh"
module_dir="${hack}/prometheus"
key="$(hypersdk::module_key "${module_dir}/go.mod" "${module_dir}/go.sum")"
# v0.316.0 of the Go module is Prometheus 3.16.0.
modver="$(sed -n 's/^[[:space:]]*github.com\/prometheus\/prometheus v0\.\([0-9]*\)\([0-9][0-9]\)\.\([0-9]*\).*/\1.\2.\3/p' "${module_dir}/go.mod")"
version="${modver%%.*}.$((10#$(echo "${modver}" | cut -d. -f2))).${modver##*.}"
bin="$(hypersdk::cache_root)/prometheus-v${version}-${key}/bin"

GOFLAGS_EXTRA="-tags=remove_all_sd" \
LDFLAGS_EXTRA="-X github.com/prometheus/common/version.Version=${version}" \
  hypersdk::cached_build "${module_dir}" "${bin}" "about 5 minutes" \
    prometheus=github.com/prometheus/prometheus/cmd/prometheus \
    promtool=github.com/prometheus/prometheus/cmd/promtool
echo "${bin}"
