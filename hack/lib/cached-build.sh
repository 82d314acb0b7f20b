#!/usr/bin/env bash
# Shared by hack/tools-bin.sh and hack/prometheus-bin.sh: build Go commands
# from a pinned module into a cache directory outside the
# repository, keyed by a hash of the module's files, so every checkout with
# the same pins reuses one build. Progress goes to stderr.

# hypersdk::cache_root prints where cached builds live.
hypersdk::cache_root() {
  echo "${HYPERSDK_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/hypersdk/tools}"
}

# hypersdk::all_built <bin dir> <name>... succeeds when every binary is there.
hypersdk::all_built() {
  local bin="$1" name
  shift
  for name in "$@"; do [[ -x "${bin}/${name}" ]] || return 1; done
}

# hypersdk::cached_build <module dir> <bin dir> <estimate> <name=package>...
# builds each package of the module into <bin dir>/<name> unless all are
# there already; <name> is the package's last path element, as go build
# names it. <estimate> is printed before a cold build so nobody thinks it
# hangs. GOFLAGS_EXTRA adds flags to the go build (for example tags).
hypersdk::cached_build() {
  local module_dir="$1" bin="$2" estimate="$3"
  shift 3
  local specs=("$@") spec names=() pkgs=()
  for spec in "${specs[@]}"; do
    names+=("${spec%%=*}")
    pkgs+=("${spec#*=}")
    if [[ "${spec%%=*}" != "$(basename "${spec#*=}")" ]]; then
      echo "hypersdk: ${spec}: go build names the binary $(basename "${spec#*=}")" >&2
      return 1
    fi
  done
  hypersdk::all_built "${bin}" "${names[@]}" && return 0

  local root
  root="$(hypersdk::cache_root)"
  mkdir -p "${root}"
  # One builder per target: parallel test packages may all ask at once.
  # Different targets build side by side (make test starts them together).
  exec 9>"${root}/.$(basename "$(dirname "${bin}")").lock"
  flock 9
  if ! hypersdk::all_built "${bin}" "${names[@]}"; then
    local tmp
    tmp="$(mktemp -d "${root}/build.XXXXXX")"
    # shellcheck disable=SC2064 # expand tmp now: the trap outlives this function's locals
    trap "rm -rf '${tmp}'" EXIT
    echo "hypersdk: building ${names[*]} from the Go module proxy into" >&2
    echo "hypersdk: ${bin}. First time only: ${estimate} on 2 cores." >&2
    local start=${SECONDS}
    # One go build for all of them: it compiles the packages they share
    # once and links one binary while it compiles or links another, where
    # a build per binary left a core idle at the end of each. Static and
    # without -trimpath, as make test builds: a package these binaries share
    # with HyperSDK's (same version) is then compiled once for both.
    # shellcheck disable=SC2086 # GOFLAGS_EXTRA is a list of flags
    (cd "${module_dir}" && CGO_ENABLED=0 go build -ldflags="-s ${LDFLAGS_EXTRA:-}" ${GOFLAGS_EXTRA:-} \
      -o "${tmp}/" "${pkgs[@]}")
    mkdir -p "$(dirname "${bin}")"
    rm -rf "${bin}"
    mv "${tmp}" "${bin}"
    trap - EXIT
    echo "hypersdk: built ${names[*]} in $((SECONDS - start))s" >&2
  fi
  exec 9>&-
}

# hypersdk::module_key <files>... prints a short hash of the files.
hypersdk::module_key() {
  cat "$@" | sha256sum | cut -c1-16
}
