#!/usr/bin/env bash
# Fails when generated code differs from what hack/update-codegen.sh produces:
# generates into a copy of the tree and compares.
set -o errexit -o nounset -o pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

# Copy the tracked and new files, not build output; a tracked file deleted
# from the work tree (and not yet from the index) is left out, as the tree
# is what is checked.
cd "${root}"
git ls-files --cached --others --exclude-standard -z |
  while IFS= read -r -d '' f; do if [[ -e "${f}" ]]; then printf '%s\0' "${f}"; fi; done |
  xargs -0 cp --parents -t "${tmp}"
"${tmp}/hack/update-codegen.sh"

status=0
for dir in generated apis; do
  if ! diff -Naupr "${root}/${dir}" "${tmp}/${dir}"; then status=1; fi
done
if [[ ${status} -ne 0 ]]; then
  echo "generated code is stale: run hack/update-codegen.sh (make generate) and commit the result" >&2
fi
exit ${status}
