#!/usr/bin/env bash
# Builds what kubectl hyper dashboard embeds from the npm registry: npm ci
# at the versions pkg/dashboard/web/package-lock.json pins (skipped when
# node_modules was installed from this very lock file), then the copy into
# pkg/dashboard/ui/vendor.
set -euo pipefail
cd "$(dirname "$0")/../pkg/dashboard/web"
if ! cmp -s package-lock.json node_modules/.installed-from-lock 2>/dev/null; then
	npm ci --no-audit --no-fund --loglevel=error
	cp package-lock.json node_modules/.installed-from-lock
fi
npm run --silent build
