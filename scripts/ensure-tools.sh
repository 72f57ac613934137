#!/usr/bin/env bash
# Tools the test suite checks the deploy files with: promtool and the Prometheus server (Debian's `prometheus`
# package), Alertmanager and amtool (`prometheus-alertmanager`). Installed only when missing.
set -euo pipefail

missing=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "ensure-tools: installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
