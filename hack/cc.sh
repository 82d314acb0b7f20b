#!/usr/bin/env bash
# Installs Debian's gcc when no C compiler is there: the race detector needs
# cgo, and no Go module ships a C compiler. Machines of this project's kind
# have gcc already; this is for one that has only Go.
set -euo pipefail
if command -v "$(go env CC)" >/dev/null 2>&1; then
	exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
install() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null; }
if ! install; then
	$sudo apt-get update -qq
	install
fi
gcc --version | head -1
