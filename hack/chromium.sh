#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser tests when it is
# missing: no Go module ships a browser, and test tools' own browser
# downloads do not reach this network. About 20 seconds, once per machine.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
	exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
install() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
if ! install; then
	$sudo apt-get update -qq
	install
fi
chromium --version
