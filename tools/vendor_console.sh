#!/usr/bin/env bash
# Refresh the web console's vendored front-end libraries from the npm registry (run by hand;
# the files are committed so the gateway serves them with no CDN and no network at run time).
# axe-core, the accessibility checker, goes to the browser tests' own folder: the tests inject it
# into each page; it is never served to users.
set -euo pipefail
PREACT=10.29.8 HTM=3.1.1 UPLOT=1.6.32 AXE=4.14.1
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/services/gateway/console/vendor" tests="$root/tests/e2e/vendor"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "preact@$PREACT" "htm@$HTM" "uplot@$UPLOT" "axe-core@$AXE" >/dev/null
for package in preact htm uplot axe-core; do mkdir "$package"; tar xzf "$package"-*.tgz -C "$package"; done
mkdir -p "$dest" "$tests"
cp preact/package/dist/preact.module.js preact/package/hooks/dist/hooks.module.js htm/package/dist/htm.module.js \
  uplot/package/dist/uPlot.iife.min.js uplot/package/dist/uPlot.min.css "$dest/"
sed -i 's#//\# sourceMappingURL=.*##' "$dest"/*.js
for package in preact htm uplot; do echo "== $package =="; cat "$package/package/LICENSE"; echo; done > "$dest/LICENSES.txt"
cp axe-core/package/axe.min.js "$tests/"
{ echo "== axe-core $AXE (axe.min.js) =="; cat axe-core/package/LICENSE; } > "$tests/LICENSE-axe-core.txt"
echo "vendored preact $PREACT, htm $HTM, uPlot $UPLOT into $dest; axe-core $AXE into $tests"
