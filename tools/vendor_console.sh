#!/usr/bin/env bash
# Refresh the web console's vendored front-end libraries from the npm registry (run by hand;
# the files are committed so the gateway serves them with no CDN and no network at run time).
set -euo pipefail
PREACT=10.29.8 HTM=3.1.1 UPLOT=1.6.32
dest="$(cd "$(dirname "$0")/.." && pwd)/services/gateway/console/vendor"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "preact@$PREACT" "htm@$HTM" "uplot@$UPLOT" >/dev/null
for package in preact htm uplot; do mkdir "$package"; tar xzf "$package"-*.tgz -C "$package"; done
mkdir -p "$dest"
cp preact/package/dist/preact.module.js preact/package/hooks/dist/hooks.module.js htm/package/dist/htm.module.js \
  uplot/package/dist/uPlot.iife.min.js uplot/package/dist/uPlot.min.css "$dest/"
sed -i 's#//\# sourceMappingURL=.*##' "$dest"/*.js
for package in preact htm uplot; do echo "== $package =="; cat "$package/package/LICENSE"; echo; done > "$dest/LICENSES.txt"
echo "vendored preact $PREACT, htm $HTM, uPlot $UPLOT into $dest"
